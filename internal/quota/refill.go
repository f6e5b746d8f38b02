package quota

import "time"

// Refill learning: a sample spans at least refillSpan and refillCount
// requests; a sample that starts and ends with the server's bucket full (what
// remains is the limit, less our requests in flight) only shows that slots
// come back at least as fast as we sent, and the estimate becomes
// refillGrowth times that rate, if higher.
const (
	refillSpan   = 200 * time.Millisecond
	refillCount  = 3
	refillGrowth = 1.5
)

// refillMeter measures the rate at which a bucket frees slots, in requests
// per second, from the remaining counts of a key's answers. The zero value
// has measured nothing.
type refillMeter struct {
	// rate is the estimate; 0 until measured.
	rate float64
	// The sample under way starts at the request numbered seq, sent at
	// sent, whose answer saw rem remaining; have says one started.
	seq  uint64
	rem  int64
	sent time.Time
	have bool
}

// restart drops the sample under way: a reset, not a refill, came between.
func (m *refillMeter) restart() { m.have = false }

// learn folds the answer to the request behind t, which saw rem remaining
// with overlap of our requests in flight around it, into the estimate, under
// a quota of limit per window: what the server freed between the sample's
// start and t is the rise in remaining plus our requests sent in between.
// The estimate never falls below limit/window.
func (m *refillMeter) learn(t *Ticket, rem, overlap, limit int64, window time.Duration) {
	if !m.have || t.seq < m.seq {
		if !m.have {
			m.seq, m.rem, m.sent, m.have = t.seq, rem, t.sent, true
		}
		return
	}
	span := t.sent.Sub(m.sent)
	n := int64(t.seq - m.seq)
	if span < refillSpan || n < refillCount {
		return
	}
	obs := float64(rem-m.rem+n) / span.Seconds()
	base := float64(limit) / window.Seconds()
	// Full at both ends: the server refilled all we sent in between.
	switch full := rem >= limit-1-overlap && m.rem >= limit-1-overlap; {
	case full:
		// Grow from what we sent, not from the estimate: under light
		// demand a full bucket says nothing past our own rate, and an
		// estimate grown sample after sample would let a later burst of
		// demand go at any speed.
		m.rate = max(m.rate, max(base, obs)*refillGrowth)
	case obs > 0:
		m.rate = max((m.rate+obs)/2, base)
	}
	m.seq, m.rem, m.sent = t.seq, rem, t.sent
}
