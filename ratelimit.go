package ratehttp

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// UsedMeaning says how to read the vendor's X-ratelimit-used header.
type UsedMeaning int

const (
	// UsedRemaining reads X-ratelimit-used as the number of requests remaining
	// in the window, as the vendor's documentation says despite the name. It is
	// the default.
	UsedRemaining = UsedMeaning(iquota.UsedRemaining)
	// UsedUsed reads X-ratelimit-used as the number of requests already used in
	// the window, for servers that follow the header's name.
	UsedUsed = UsedMeaning(iquota.UsedUsed)
	// UsedAuto infers the meaning from how the value moves between responses
	// within a window: it falls with our requests if it counts what remains and
	// rises if it counts what was used. Until two responses tell, requests for
	// the key are sent one at a time.
	UsedAuto = UsedMeaning(iquota.UsedAuto)
)

// quota is one key's quota: the engine's model of it (internal/quota's
// Key, which the package's notes describe), with what this package adds:
// the key's name, for errors, and its host's metrics. The engine reads no
// header: observe parses the answer's headers into an Observation, and only
// when the engine does not skip it.
type quota struct {
	iquota.Key
	key string
	hm  *hostMetrics
	// names says what kind of header names the base gives this key's
	// answers (see headerOf): unknown until an answer without any
	// rate-limit header under its names as held comes; then namesAsIs
	// when they were canonical, or namesLower when one began in lower case.
	names atomic.Uint32
	// host is the host of the requests that made the quota.
	host string
}

// Kinds of header names (see quota.names).
const (
	namesUnknown = iota
	namesAsIs
	namesLower
)

func newQuota(key, host string, opts *config, hm *hostMetrics) *quota {
	q := &quota{key: key, host: host, hm: hm}
	q.Init(opts.engineConfig())
	return q
}

// engineConfig is what the engine needs of c, made once (New makes it, so
// that the Transport's keys never race on it).
func (c *config) engineConfig() *iquota.Config {
	if !c.engineSet {
		c.engine = iquota.Config{
			Used:        iquota.UsedMeaning(c.used),
			Burst:       c.burst,
			MaxWait:     c.maxWait,
			BackoffBase: c.backoffBase,
			Retried:     c.retried,
		}
		c.engineSet = true
	}
	return &c.engine
}

// ticket is a request's slot, from acquire to observe.
type ticket = iquota.Ticket

// acquire waits until a request that wants w may be sent, for at most
// maxWait, and fills t with its ticket (see iquota.Key.Acquire). A wait
// that cannot end in time is a *RateLimitError.
func (q *quota) acquire(ctx context.Context, now time.Time, w iquota.Want, maxWait time.Duration, t *ticket) (time.Duration, error) {
	waited, err := q.Acquire(ctx, now, w, maxWait, t)
	if err != nil {
		err = q.refusal(err)
	}
	return waited, err
}

// refusal is the error of a request the engine refused with err: a
// *RateLimitError for a wait that could not end in time.
func (q *quota) refusal(err error) error {
	var we *iquota.WaitError
	if errors.As(err, &we) {
		return &RateLimitError{Key: q.key, Wait: we.Wait, Err: we.Err}
	}
	return err
}

// observe folds the outcome of the request behind t into the quota: resp, or
// none. It returns the anomalies of the response's headers: none when there
// was no response, or when it went unread (see iquota.Key.Skip); and
// bucketNamed, which is no anomaly, when the answer names a bucket or a
// global limit, for the Transport (see bucketNews).
func (q *quota) observe(t *ticket, resp *http.Response, now time.Time) anomaly {
	if resp == nil {
		q.Fail(t, now)
		return 0
	}
	if q.Skip(t, resp.StatusCode, now) {
		return 0
	}
	h := resp.Header
	sig := parseSignal(h, resp.StatusCode, now)
	if sig.dialect == dialectNone && q.names.Load() != namesAsIs {
		if h = q.lowerNames(h); h != nil {
			sig = parseSignal(h, resp.StatusCode, now)
		} else {
			h = resp.Header
		}
	}
	if multiPolicy(sig.dialect) {
		return q.observeDetail(t, h, resp.StatusCode, now)
	}
	o := observation(resp.StatusCode, &sig)
	if q.Observe(t, &o, now) {
		sig.anomalies |= anomalyRetryAfter
	}
	if sig.dialect == dialectGitHub && len(h["X-Ratelimit-Bucket"]) > 0 ||
		resp.StatusCode == http.StatusTooManyRequests && globalLimit(h) {
		sig.anomalies |= bucketNamed
	}
	return sig.anomalies
}

// observeDetail is observe for an answer whose dialect may describe several
// policies: the ones that do not bind become the engine's gates. It is apart
// so that the others do not pay for the detail.
func (q *quota) observeDetail(t *ticket, h http.Header, code int, now time.Time) anomaly {
	var (
		det detail
		ps  [iquota.MaxPolicies]iquota.Policy
	)
	sig := parseSignalDetail(h, code, now, &det)
	o := observation(code, &sig)
	o.Policies = det.gates(ps[:0])
	if q.Observe(t, &o, now) {
		sig.anomalies |= anomalyRetryAfter
	}
	return sig.anomalies
}

// lowerNames returns h with canonical names when the key's base gives names
// that begin in lower case (an in-memory base other than net/http's, which
// canonicalises the names it reads), nil when its names are canonical. It
// looks at the names of the key's first answers that carry no rate-limit
// header under their names as held, until one shows which kind the base
// gives: a walk over the map, which an answer without rate-limit headers
// (a server that sends none) then no longer pays for.
func (q *quota) lowerNames(h http.Header) http.Header {
	c := canonical(h)
	switch {
	case c != nil:
		q.names.Store(namesLower)
	case len(h) > 0:
		q.names.Store(namesAsIs)
	}
	return c
}

// observation is what sig tells the engine of an answer with status code.
func observation(code int, sig *signal) iquota.Observation {
	return iquota.Observation{
		Status:        code,
		Dialect:       uint8(sig.dialect),
		Vendor:        sig.dialect == dialectVendor,
		Limit:         sig.limit,
		Count:         sig.count,
		Window:        sig.window,
		Reset:         sig.reset,
		RetryAfter:    sig.retryAfter,
		HasRetryAfter: sig.hasRetryAfter,
		Anomalous:     sig.anomalies != 0,
	}
}

// gates appends to ps the policies of d that do not bind.
func (d *detail) gates(ps []iquota.Policy) []iquota.Policy {
	for i := range int(d.npolicies) {
		if i == int(d.binding) {
			continue
		}
		p := d.policies[i]
		ps = append(ps, iquota.Policy{Name: p.name, Unit: p.unit, Limit: p.limit, Remaining: p.count, Reset: p.reset})
	}
	return ps
}

// sharedQuota is what q knows of its quota, for a SharedBudget.
func (q *quota) sharedQuota() SharedQuota {
	l, w := q.Quota()
	return SharedQuota{Limit: l, Window: w}
}

// quotaSnapshot is the state of a quota as metrics report it.
type quotaSnapshot struct {
	known     bool          // the server reported a quota
	limit     int64         // requests per window
	remaining int64         // our estimate of what remains in the window, at least 0
	window    time.Duration // 0 when unknown
	resetIn   time.Duration // estimated time to the window's reset, 0 when unknown
	rate      float64       // paced requests per second; 0 when not paced
	policies  []PolicyState // the server's other policies, if any
}

// snapshot reads the quota's state at now without changing it.
func (q *quota) snapshot(now time.Time) quotaSnapshot {
	v := q.Snapshot(now)
	s := quotaSnapshot{known: v.Known, limit: v.Limit, window: v.Window}
	if !s.known {
		return s
	}
	s.remaining, s.rate, s.policies = v.Remaining, v.Pace, policyStates(v.Policies)
	if !v.Reset.IsZero() {
		s.resetIn = v.Reset.Sub(now)
	}
	return s
}
