package quota

import (
	"time"

	"golang.org/x/time/rate"
)

// View is a key's state at one instant, as the Transport reports it (its
// QuotaState and its metrics). It is a copy.
type View struct {
	// Known reports that the server reported a quota: Limit, Remaining
	// and Reset mean something only then.
	Known bool
	// Limit is the requests allowed per Window; Remaining the estimate of
	// what the current window still allows, never negative.
	Limit, Remaining int64
	// Window is the quota's window; 0 when unknown.
	Window time.Duration
	// Reset is the estimated end of the current window; zero when
	// unknown or past.
	Reset time.Time
	// Pace is the requests per second let through; 0 when not paced.
	Pace float64
	// Wait is how long a request made now would wait, as far as can be
	// foreseen (View only; Snapshot leaves it 0).
	Wait time.Duration
	// Family is the kind of limiter the answers have shown.
	Family Family
	// Throttled: the guard is probing after a 429 the model did not
	// foresee.
	Throttled bool
	// Policies are the response's other policies (see gates.go).
	Policies []PolicyView
	// InFlight and Waiting count the requests sent and not answered yet,
	// and those waiting for the quota.
	InFlight, Waiting int
}

// Snapshot reads the key's state at now without changing it, for metrics:
// the window is not rolled forward, and Wait is not computed.
func (q *Key) Snapshot(now time.Time) View {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.view(now)
}

// View reads the key's state at now, the window rolled forward to now, with
// the wait a request made now would foresee.
func (q *Key) View(now time.Time) View {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now)
	v := q.view(now)
	v.Wait = q.waitFor(now)
	return v
}

// view is the state at now, but Wait. It requires q.mu held.
func (q *Key) view(now time.Time) View {
	v := View{
		Known:     q.limit > 0,
		Limit:     q.limit,
		Window:    q.window,
		Family:    q.shownFamily(),
		Throttled: q.guard.State() == Probing,
		InFlight:  int(q.inflight.Load()),
		Waiting:   int(q.waiting.Load()),
		Policies:  q.policies(now),
	}
	if v.Known {
		v.Remaining = max(int64(q.budget(now)), 0)
		if q.resetAt.After(now) {
			v.Reset = q.resetAt
		}
	}
	if q.rate != rate.Inf {
		v.Pace = float64(q.rate)
	}
	return v
}

// waitFor is how long a request made at now would wait, as far as it can be
// foreseen (see QuotaState.Wait). It requires q.mu held.
func (q *Key) waitFor(now time.Time) time.Duration {
	d := q.queueWait(now, 0)
	if g := q.guard.Until(now, q.bounds(now)); g.Sub(now) > d {
		d = g.Sub(now)
	}
	if q.head == nil && q.rate != rate.Inf && q.rate > 0 {
		if tok := q.lim.TokensAt(now); tok < 1 {
			d = max(d, time.Duration((1-tok)/float64(q.rate)*float64(time.Second)))
		}
	}
	return max(d, 0)
}

// shownFamily is the family the key's answers have shown (see Family): none
// before an answer, no headers for a server that reports no quota, and a
// bucket where the window is only guessed from its resets. It requires q.mu
// held.
func (q *Key) shownFamily() Family {
	switch {
	case !q.heard():
		return FamilyUnknown
	case q.limit <= 0:
		return FamilyNoHeaders
	case q.windowFrom == windowGuessed:
		return FamilyBucket
	case q.family == FamilyUnknown:
		return FamilyFixedWindow // the rules it follows until it knows
	}
	return q.family
}

// Quota is the key's quota as the server reported it: requests per window,
// and the window; zero when unknown.
func (q *Key) Quota() (limit int64, window time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limit, q.window
}
