package ratehttp

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// QuotaState is one quota as a [Transport] sees it at one instant: what the
// server reported, and the Transport's own estimates. It is a copy: it does
// not change as the quota does.
type QuotaState struct {
	// Key names the quota: the request's scheme and host, such as
	// "https://api.example.com", or the key of [WithKeyFunc].
	Key string
	// Known reports that the server reported a quota: Limit, Remaining
	// and Reset mean something only then.
	Known bool
	// Limit is how many requests the server allows per Window.
	Limit int64
	// Remaining is the Transport's estimate of how many more requests the
	// current window allows: what the server last reported, less the
	// requests sent since (those in flight included) and what other
	// clients are expected to have taken. It is never negative.
	Remaining int64
	// Window is the length of the quota's window; 0 when unknown.
	Window time.Duration
	// Reset is the estimated end of the current window; zero when unknown.
	Reset time.Time
	// Pace is how many requests per second the Transport lets through;
	// 0 when it does not pace.
	Pace float64
	// Wait is how long a request made now would wait before it is sent,
	// as far as the Transport can foresee: behind a pause, a spent
	// budget, the requests already waiting and the pace. A service may
	// use it as the Retry-After of its own 503s.
	Wait time.Duration
	// Family is the kind of limiter the Transport believes the server
	// runs, as far as its answers have shown: "fixed window", "sliding
	// window" (slots come back one by one), "bucket" (a refill was seen or
	// the window is only guessed from resets), "no headers" (the server
	// reports no quota: the safety net alone paces the key) or "unknown"
	// (no answer yet). It is informational: the belief changes as answers
	// come, and the names may grow.
	Family string
	// Throttled reports that the key drew a 429 it did not foresee and
	// sends one request at a time until an answer that is not a 429.
	Throttled bool
	// Policies are the server's other limits on the quota, when its
	// answers describe several (see [PolicyState]); nil otherwise.
	Policies []PolicyState
	// InFlight and Waiting count the requests sent and not answered yet,
	// and those waiting for the quota.
	InFlight, Waiting int
}

// Quota returns the state of the quota that req would use, and false when
// the Transport holds none for it (no request used it yet, or it was
// forgotten after an idle spell). It sends nothing and creates nothing.
func (t *Transport) Quota(req *http.Request) (QuotaState, bool) {
	if req == nil || req.URL == nil {
		return QuotaState{}, false
	}
	k := quotaKey{scheme: req.URL.Scheme, host: req.URL.Host}
	if t.cfg.keyFunc != nil {
		k = quotaKey{custom: t.cfg.keyFunc(req)}
	}
	t.mu.RLock()
	e := t.quotas[k]
	if e != nil && e.routed.Load() {
		e = t.quotas[routeKey(req)]
	}
	t.mu.RUnlock()
	if e == nil {
		return QuotaState{}, false
	}
	return e.q.state(time.Now()), true
}

// Quotas returns the state of every quota the Transport holds, sorted by
// key.
func (t *Transport) Quotas() []QuotaState {
	t.mu.RLock()
	qs := make([]*quota, 0, len(t.quotas))
	for _, e := range t.quotas {
		qs = append(qs, e.q)
	}
	t.mu.RUnlock()
	now := time.Now()
	out := make([]QuotaState, len(qs))
	for i, q := range qs {
		out[i] = q.state(now)
	}
	slices.SortFunc(out, func(a, b QuotaState) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// state reads q's state at now.
func (q *quota) state(now time.Time) QuotaState {
	v := q.View(now)
	return QuotaState{
		Key:       q.key,
		Known:     v.Known,
		Limit:     v.Limit,
		Remaining: v.Remaining,
		Window:    v.Window,
		Reset:     v.Reset,
		Pace:      v.Pace,
		Wait:      v.Wait,
		Family:    v.Family.String(),
		Throttled: v.Throttled,
		Policies:  policyStates(v.Policies),
		InFlight:  v.InFlight,
		Waiting:   v.Waiting,
	}
}
