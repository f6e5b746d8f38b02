package quota

import "time"

// sendLogSize is how many checkpoints a sendLog keeps; they are at least a
// sendLogSize-th of a window apart, so that they span a window.
const sendLogSize = 64

// sendLog remembers, coarsely, when a key's requests took their slots: a
// ring of checkpoints, each the takes from first to last, which moved seq
// from before to after. It bounds what a sliding window can have freed: a
// request frees its slot a window after it was counted at the earliest (a
// log frees it then, a weighted two-window counter later or in part), so
// between two instants the server freed at most the slots of our requests
// sent a window before. The zero value has recorded nothing.
type sendLog struct {
	first, last   [sendLogSize]time.Time
	before, after [sendLogSize]uint64
	next          int // where the next checkpoint goes
	n             int // checkpoints held
}

// record notes a take at now that moved seq from before to after: in the
// newest checkpoint when it began less than a sendLogSize-th of window ago.
func (l *sendLog) record(now time.Time, before, after uint64, window time.Duration) {
	if j := (l.next + sendLogSize - 1) % sendLogSize; l.n > 0 && now.Sub(l.first[j]) < window/sendLogSize {
		l.last[j], l.after[j] = now, after
		return
	}
	l.first[l.next], l.last[l.next] = now, now
	l.before[l.next], l.after[l.next] = before, after
	l.next = (l.next + 1) % sendLogSize
	l.n = min(l.n+1, sendLogSize)
}

// sentBy returns bounds on how many requests had taken their slots by t:
// at least lo, at most hi. cur is the seq of the next request to take one.
func (l *sendLog) sentBy(t time.Time, cur uint64) (lo, hi uint64) {
	hi = cur
	for i := range l.n {
		j := (l.next + sendLogSize - 1 - i) % sendLogSize // newest first
		switch {
		case !l.last[j].After(t):
			return l.after[j], hi
		case l.first[j].After(t):
			hi = l.before[j]
		default:
			hi = l.after[j] // t falls among its takes
		}
	}
	return 0, hi
}

// freed is the most slots a sliding window of length window can have freed
// between from and now by letting our requests go: those sent in
// (from-window, now-window], as far as the log tells. cur is the seq of the
// next request to take a slot.
func (l *sendLog) freed(from, now time.Time, window time.Duration, cur uint64) float64 {
	lo, _ := l.sentBy(now.Add(-window), cur)
	_, hi := l.sentBy(from.Add(-window), cur)
	if lo <= hi {
		return 0
	}
	return float64(lo - hi)
}
