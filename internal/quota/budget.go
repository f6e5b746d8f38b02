package quota

import (
	"math"
	"time"
)

// budget is how many more requests the current window allows, by our
// estimate: what the newest response reported, less our requests sent after
// it, less what others are expected to have taken since. In slot mode the
// server frees slots as time passes, so they are earned back at its rate. It
// requires q.mu held.
func (q *Key) budget(now time.Time) float64 {
	if q.news != newsAnchored {
		return float64(q.limit - int64(q.seq.Load()-q.winFirstSeq))
	}
	b := float64(q.anchorRem - int64(q.seq.Load()-q.anchorSeq-1))
	if q.otherRate == 0 && !q.slots() {
		return b
	}
	age := now.Sub(q.anchorSent).Seconds()
	if q.slots() && q.window > 0 {
		// Slots come back at the server's rate, and never more than
		// the limit are free at once. A sliding window of known length
		// frees no slot before the request that took it is a window
		// old: a burst comes back a window later, not at the rate. (A
		// window only guessed may be a bucket's, whose refill owes
		// nothing to when we sent; and once other clients are seen
		// taking from the quota, their requests free slots too, which
		// our log does not know.)
		cur := q.seq.Load()
		sent := float64(cur - q.anchorSeq - 1)
		earned := math.Floor(age * q.slotRate())
		if q.family == FamilySlidingWindow && q.windowFrom != windowGuessed && q.sends != nil && q.otherRate == 0 {
			earned = min(earned, q.sends.freed(q.anchorSent, now, q.window, cur))
		}
		b = min(float64(q.anchorRem)+earned, float64(q.limit)) - sent
	}
	if q.otherRate > 0 {
		// Others are expected to have taken otherRate*age, and half a
		// request more: their rate is an average, and the last request
		// of a window that their expected share leaves us is theirs as
		// often as not (a background consumer off a boundary drew a 429
		// in every other window). So less than one request left reads
		// spent.
		b -= 0.5
	}
	return b - q.otherRate*age
}

// empty reports whether the budget is spent: less than half a request is
// expected to remain. It requires q.mu held.
func (q *Key) empty(now time.Time) bool {
	return q.limit > 0 && q.budget(now) < 0.5
}

// reserveHolds reports whether the batch reserve holds back a request of
// priority p at now: batch requests do not take the last requests of a
// window's budget, a hundredth of the limit and at least one, so that
// requests of higher priority find them. It requires q.mu held.
func (q *Key) reserveHolds(now time.Time, w Want) bool {
	return w.Prio < 0 && q.limit > 0 && q.budget(now)-float64(w.Cost-1) < float64(batchReserve(q.limit))+0.5
}

// batchReserve is how much of a window's budget batch requests leave to the
// others.
func batchReserve(limit int64) int64 {
	return max(limit/100, 1)
}
