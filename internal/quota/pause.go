package quota

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// PausedFor is how long the quota would at least hold a request sent now:
// a pause, a spent budget, the guard's next probe.
func (q *Key) PausedFor(now time.Time) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now)
	until := q.pauseUntil
	if q.empty(now) && !q.stale(now) {
		if e := q.emptyUntil(now); e.After(until) {
			until = e
		}
	}
	if g := q.guard.Until(now, q.bounds(now)); g.After(until) {
		until = g
	}
	return max(until.Sub(now), 0)
}

// slot is how long the key pauses after a 429 that does not say the quota
// is spent: one request's share of the window, at least the backoff base. It
// requires q.mu held.
func (q *Key) slot() time.Duration {
	d := q.cfg.BackoffBase
	if q.limit > 0 && q.window > 0 {
		d = max(d, q.window/time.Duration(q.limit))
	}
	return d
}

// longestRetryAfter is the longest Retry-After believed: the window, at
// least an hour. A longer one is nonsense (a 40-digit number of seconds, say),
// counted and ignored. It requires q.mu held.
func (q *Key) longestRetryAfter() time.Duration {
	return max(q.window, time.Hour)
}

// SensibleRetryAfter reports whether the quota believes a Retry-After of d
// (see longestRetryAfter).
func (q *Key) SensibleRetryAfter(d time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return d <= q.longestRetryAfter()
}

// bounds is what the guard needs to know of the model. It requires q.mu
// held.
func (q *Key) bounds(now time.Time) Bounds {
	pace := math.Inf(1)
	if r, _ := q.modelPace(now); r != rate.Inf {
		pace = float64(r)
	}
	limit := max(q.cfg.MaxWait, q.slot())
	if q.window > 0 {
		limit = min(limit, q.window)
	}
	return Bounds{Pace: pace, Slot: q.slot(), MaxInterval: limit}
}

// Pause holds every request of the key until until, as a Retry-After does:
// for a limit the server applies beyond the key (Discord's global one, which
// one key's 429 reports for all). An earlier instant than the pause already
// running changes nothing.
func (q *Key) Pause(until time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if until.After(q.pauseUntil) {
		q.pauseUntil = until
		q.renew(q.pace(until))
	}
}
