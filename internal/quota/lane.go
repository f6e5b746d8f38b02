package quota

import (
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// A lane holds a quarter of the limiter's burst, the caller's included, at
// most maxLane; with fewer than minLane there is none. After the limiter
// refused a lane's tokens, the next laneRetry draws are single.
const (
	minLane   = 4
	maxLane   = 32
	laneRetry = 16
)

// laneSize is how many tokens a lane holds under a limiter of burst b: one
// lane can push a burst at most a quarter above the limiter's.
func laneSize(b int) int64 {
	return int64(min(b/4, maxLane))
}

// lane lets routine requests through without q.mu (see the engine notes in
// doc.go).
type lane struct {
	left atomic.Int64 // tokens left; far below zero when closed, so that late decrements never wrap
	tmpl Ticket       // the routine fields of its tickets; no lane crosses tmpl.resetAt
}

// fromLane takes a ticket from the open lane into t, if there is one with a
// token left at now, and reports whether it did; t is left alone otherwise.
func (q *Key) fromLane(now time.Time, t *Ticket) bool {
	l := q.lane.Load()
	if l == nil || l.left.Load() <= 0 || !now.Before(l.tmpl.resetAt) || l.left.Add(-1) < 0 {
		return false
	}
	*t = l.tmpl
	t.seq, t.tokens, t.sent, t.conc = q.seq.Add(1)-1, q.tokenSeq.Load(), now, int(q.inflight.Add(1))
	return true
}

// closeLane closes the open lane, if any. It requires q.mu held.
func (q *Key) closeLane() {
	if l := q.lane.Swap(nil); l != nil {
		l.left.Store(math.MinInt32)
	}
}

// laneFits reports whether a lane may stay open at now: a settled model, an
// anchored budget of at least two lanes, no pause, and a limiter whose burst
// makes a lane. It requires q.mu held.
func (q *Key) laneFits(now time.Time) bool {
	n := laneSize(q.burst)
	return n >= minLane && q.settled() && q.news == newsAnchored && q.rate != rate.Inf &&
		!now.Before(q.pauseUntil) && q.budget(now) >= float64(2*n)
}
