// Package ratehttp provides an [http.RoundTripper] that keeps a client inside
// a server's rate limit, retries what is safe to retry, exports Prometheus
// metrics and turns API error bodies into Go errors.
//
// # Quota
//
// Every request belongs to a quota key (by default the URL's scheme and host;
// see [WithKeyFunc]). For each key the [Transport] keeps a model of the
// server's quota, learned from the headers of its responses: the vendor's
// X-ratelimit, X-ratelimit-used and X-ratelimit-window, the IETF RateLimit
// fields (current and older drafts), GitHub's X-RateLimit-* and Retry-After.
// It paces requests with a [golang.org/x/time/rate] limiter at the server's
// rate, keeps its own budget of what remains in the window (counting requests
// still in flight), and when the budget is spent waits for the window's
// estimated reset. Light or bursty load is not delayed as long as it fits in
// the burst: after an idle spell, up to a twentieth of the window's limit (at
// least ten, at most a hundred; see [WithBurst]) go at once, and the rest at
// the pace. [Transport.Quota] and [Transport.Quotas] report each key's
// quota.
//
// Every response is read while the model is being learned. Once it is
// settled (the quota, its window and the meaning of the headers known, no
// other client seen taking from the quota, no anomaly in the newest response
// read), one answer in eight that is neither a 429 nor a 5xx is read and the
// others are not: they only cost an atomic decrement. News such as a new limit then
// shows at most seven answers late; 429s, 5xx and answers that come after
// the window's estimated reset are always read.
//
// Quotas are created on first use and forgotten when they have been idle for
// a while (nothing in flight or waiting, no pause, their window over), once a
// Transport holds more than a thousand: a client of many hosts or keys does
// not keep a quota for each forever. A quota forgotten is learned again from
// its next response.
//
// Headers that make no sense (negative, non-numeric, remaining over the
// limit, absurd windows) are ignored and counted; the last good state is kept.
// In a settled model, an anomaly in an unread answer goes uncounted; one
// read makes every answer read until one comes clean.
//
// # Waiting and errors
//
// After a 429 the model did not foresee, a key sends one request at a time
// until an answer that is not a 429, waiting the Retry-After (at least half
// a second) or a doubling interval between them, and its pace drops and climbs back (see
// internal/quota's Guard): a key that draws 429s never keeps sending at full
// pace into them.
//
// Requests of one priority that wait for their quota go in the order they
// came, across pauses, window resets and changes of the quota. A request waits only as
// long as its context allows, and no wait it foresees may pass the maximum
// wait ([WithMaxWait]): a request behind others foresees at least what they
// need, and the first in line its own slot. A wait that could not finish in
// time is not started: RoundTrip returns at once a [*RateLimitError], which
// matches [ErrRateLimited] and, when the deadline was the reason,
// [context.DeadlineExceeded]. A cancelled context returns promptly with an
// error that matches the context's error.
//
// # Per-request options and priorities
//
// [WithRequestOptions] attaches options to a request's context: its own
// maximum wait ([MaxWait]), retry count ([Retries]), event handler
// ([OnEvent]) and priority. When requests queue for a quota, [Interactive]
// ones go first, then those with no priority, then [Batch] ones, each in
// arrival order; only the request at the head of the queue, which may hold a
// slot of the pace, is never overtaken (unless it is a batch request held
// back by the reserve). Batch requests leave the last requests of a window's
// budget (a hundredth of the limit, at least one) to the others: under a
// saturated quota a request of higher priority finds them, and a window used
// by batch requests alone goes a hundredth short.
//
// # Events
//
// [WithEvents] and [OnEvent] receive an [Event] at each step of a request:
// a wait for the quota, a refusal, each attempt and its answer, a 429, a
// retry. They cost nothing when unset.
//
// # Retries
//
// 429 responses are retried for every method; 5xx responses (except 501) and
// transport errors only for idempotent requests. Bodies are replayed through
// [http.Request.GetBody]; a request whose body cannot be replayed is sent
// once. When retries run out, the last response is returned with a nil error.
// See [WithRetries] and [WithRetryPolicy]. Retries run on
// github.com/hashicorp/go-retryablehttp, configured so that none of its
// defaults (logging, reading bodies into memory, dropping the last response,
// closing idle connections) reach the caller.
//
// Put authentication or request-signing transports below the Transport (as
// its base), so that every attempt is signed afresh.
//
// # Metrics
//
// A Transport is a [prometheus.Collector]: register it on a registry of your
// own (nothing touches the default one). It exports requests, attempts,
// retries, waits and refusals by host, and the quota as the server reports it
// (limit, remaining, window, estimated reset, pace), read at scrape time.
// Label values are bounded: hosts beyond [DefaultMaxHostLabels] and vendor
// error codes beyond [DefaultMaxCodeLabels] collapse into "other". Use
// [WithClientName] to tell several Transports apart in one registry.
package ratehttp

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

var _ http.RoundTripper = (*Transport)(nil)

// Transport is an [http.RoundTripper] that paces requests to the quota the
// server reports, retries what is safe to retry and records metrics.
//
// Create one with [New]; the zero value is not usable. A Transport is safe for
// concurrent use by multiple goroutines, and its configuration is fixed at
// New. Like [http.Transport], it should be reused rather than created per
// request: the quota model lives in it.
type Transport struct {
	base    http.RoundTripper
	cfg     config
	metrics *metrics

	mu      sync.RWMutex
	quotas  map[quotaKey]*quotaEntry
	buckets map[bucketKey]*quotaEntry  // the quota of each bucket a server named (see bucketNews); requires mu held
	sweepAt int                        // len(quotas) at which idle quotas are next forgotten; requires mu held
	last    atomic.Pointer[quotaEntry] // the quota used last: most clients talk to one host
	clock   clock
}

// quotaEntry pairs a quota with its key, for Transport.last. Each quota has
// one, made with it, so switching hosts allocates nothing.
type quotaEntry struct {
	key quotaKey
	q   *quota
	// routed: the host's answers name buckets, so its requests are keyed
	// by route (see buckets.go). Set only on a host's entry under the
	// default key, and never stored in Transport.last.
	routed atomic.Bool
}

// quotaKey identifies a quota without building a string per request.
type quotaKey struct{ scheme, host, custom string }

// config is the frozen configuration of a Transport.
type config struct {
	keyFunc     func(*http.Request) string
	used        UsedMeaning
	maxWait     time.Duration
	retries     int
	backoffBase time.Duration
	backoffCap  time.Duration
	policy      RetryPolicy
	ownPolicy   bool // WithRetryPolicy replaced DefaultRetryPolicy
	logger      *slog.Logger
	clientName  string
	apiErrors   bool
	errorLimit  int64
	maxHosts    int
	maxCodes    int
	burst       float64 // WithBurst's share of the window; negative: burstFor
	events      func(Event)
	shared      SharedBudget
	// engine is what the quota engine needs of the above (see
	// engineConfig).
	engine    iquota.Config
	engineSet bool
}

// Defaults of the options.
const (
	DefaultMaxWait     = 2 * time.Minute
	DefaultRetries     = 3
	DefaultBackoffBase = 250 * time.Millisecond
	DefaultBackoffCap  = 30 * time.Second
)

// An Option configures a [Transport] at [New].
//
// Every option takes its argument as given, and zero means none: a zero (or
// negative) number turns the thing off ([WithMaxWait](0): never wait;
// [WithRetries](0): no retry; [WithBackoff](0, 0): no delay between retries;
// [WithBurst](0): one request at a time; [WithAPIErrors](0): no body read).
// To keep a default, leave the option out. A function or a name has no
// "none": a nil function or an empty name keeps the default.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithKeyFunc makes f choose the quota a request belongs to, for servers that
// count per API token, project or path rather than per host. Requests with
// equal keys share one quota. The default (and a nil f) is the URL's scheme
// and host. The key appears in no error message and no metric.
func WithKeyFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.keyFunc = f })
}

// WithUsedMeaning says how to read the vendor's X-ratelimit-used header. The
// default is [UsedRemaining], as the vendor documents.
func WithUsedMeaning(m UsedMeaning) Option {
	return optionFunc(func(c *config) { c.used = m })
}

// WithMaxWait bounds how long a request may wait for its quota, and for a
// retry ([MaxWait] sets it for one request). A request that would wait longer fails at once with a
// [*RateLimitError]. The bound applies to each wait a request foresees:
// behind other waiting requests, the least they need; first in line, its own
// slot (see the package documentation); a wait it cannot foresee (for the
// answer to another request's probe, for its turn) ends at the bound with a
// [*RateLimitError]. It never shortens a wait the server asks for: a retry
// whose Retry-After (or the quota's pause) is longer is not made, and the
// response is returned. The default is [DefaultMaxWait]; zero or negative
// means a request never waits.
func WithMaxWait(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxWait = max(d, 0) })
}

// WithBurst sets how much of a window's quota may go at once, as a share
// between 0 and 1 of the limit the server reports: after an idle spell, up
// to share·limit requests (rounded up, at least one) go without waiting for
// the pace, as long as the window's remaining budget allows them; the rest
// are paced at limit per window. WithBurst(1) lets a client with 99 of 100
// remaining send 99 requests at once. A larger burst uses the quota sooner
// in the window, and a server whose own limiter is a token bucket smaller
// than the burst answers the excess with 429s.
//
// The default is a twentieth of the limit, at least ten (or the whole limit
// when it is smaller) and at most a hundred, and one request at a time
// against a sliding window. Zero or negative means one request at a time; a
// share above 1 counts as 1. The burst is one, whatever this option says,
// while the window is only guessed and after a 429 the Transport did not
// foresee (see the package documentation).
func WithBurst(share float64) Option {
	return optionFunc(func(c *config) {
		c.burst = max(share, 0)
		if share != share { // NaN
			c.burst = 0
		}
	})
}

// WithRetries sets how many times a request may be retried after its first
// attempt. The default is [DefaultRetries]; zero or negative disables
// retries. [Retries] sets it for one request.
func WithRetries(n int) Option {
	return optionFunc(func(c *config) { c.retries = max(n, 0) })
}

// WithBackoff sets the exponential backoff between retries: the n-th retry
// waits a random duration in [0, min(cap, base·2ⁿ⁻¹)] ("full jitter"), and
// never more than the maximum wait. A Retry-After header wins over it, and
// the quota still paces every retry. Defaults are [DefaultBackoffBase] and
// [DefaultBackoffCap]. Zero or negative means no delay: WithBackoff(0, 0)
// retries at once; a cap below base counts as base.
func WithBackoff(base, cap time.Duration) Option {
	return optionFunc(func(c *config) {
		c.backoffBase, c.backoffCap = max(base, 0), max(cap, 0)
	})
}

// WithRetryPolicy replaces [DefaultRetryPolicy] in deciding which attempts are
// retried. Whatever the policy says, a request is never retried when its
// context has ended or when its body cannot be replayed. A nil p keeps the
// default.
func WithRetryPolicy(p RetryPolicy) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.policy, c.ownPolicy = p, true
		}
	})
}

// WithLogger makes the Transport log retries and quota waits at debug level,
// and refusals at warn level, to l. Log records carry the method and host,
// never the path, query or headers. The default (and a nil l) logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithClientName sets the value of the constant "client" label on every
// metric, so that several Transports can be registered in one registry. The
// default (and an empty name) is "default".
func WithClientName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.clientName = name
		}
	})
}

// WithAPIErrors makes RoundTrip return an [*APIError] (and close the body)
// for a final response with status 400 or above, after retries. It is a
// deliberate departure from the [http.RoundTripper] contract, which returns
// every response with a nil error: opt in only where the caller wants errors.
// [http.Client] wraps the error in a [*url.Error]; [errors.As] reaches it. At
// most limit bytes of the body are read (pass [DefaultErrorBodyLimit] for
// the usual bound); zero or negative reads none, and the error carries the
// status alone.
func WithAPIErrors(limit int64) Option {
	return optionFunc(func(c *config) {
		c.apiErrors = true
		c.errorLimit = max(limit, 0)
	})
}

// New returns a Transport that sends requests through base. A nil base means
// [http.DefaultTransport].
func New(base http.RoundTripper, opts ...Option) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{
		base: base,
		cfg: config{
			maxWait:     DefaultMaxWait,
			retries:     DefaultRetries,
			backoffBase: DefaultBackoffBase,
			backoffCap:  DefaultBackoffCap,
			policy:      DefaultRetryPolicy,
			clientName:  "default",
			maxHosts:    DefaultMaxHostLabels,
			maxCodes:    DefaultMaxCodeLabels,
			burst:       -1,
		},
		quotas:  make(map[quotaKey]*quotaEntry),
		buckets: make(map[bucketKey]*quotaEntry),
		sweepAt: minSweep,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&t.cfg)
		}
	}
	if t.cfg.backoffCap < t.cfg.backoffBase {
		t.cfg.backoffCap = t.cfg.backoffBase
	}
	t.metrics = newMetrics(&t.cfg)
	t.cfg.engineConfig()
	return t
}

// CloseIdleConnections closes the idle connections of the base transport, if
// it has such a method.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if c, ok := t.base.(closeIdler); ok {
		c.CloseIdleConnections()
	}
}

// quotaFor returns the quota of req's key, creating it on first use, and the
// metrics of req's host (see hostMetricsFor).
func (t *Transport) quotaFor(req *http.Request) (*quota, *hostMetrics) {
	if t.cfg.keyFunc == nil {
		// No key has a custom part: the scheme and host tell them apart.
		// A quota made for req's host has that host's metrics.
		u := req.URL
		if e := t.last.Load(); e != nil && e.key.host == u.Host && e.key.scheme == u.Scheme {
			return e.q, e.q.hm
		}
		e := t.lookUp(quotaKey{scheme: u.Scheme, host: u.Host}, req)
		if e.routed.Load() {
			e = t.lookUp(routeKey(req), req)
		}
		return e.q, e.q.hm
	}
	k := quotaKey{custom: t.cfg.keyFunc(req)}
	var q *quota
	if e := t.last.Load(); e != nil && e.key.custom == k.custom {
		q = e.q
	} else {
		q = t.lookUp(k, req).q
	}
	return q, t.hostMetricsFor(q, req)
}

// lookUp is quotaFor's slow path: the quota of key k, which is not the last
// one used. It reads the clock only to forget idle quotas (see sweep), so
// that the fast path does not carry the time.
func (t *Transport) lookUp(k quotaKey, req *http.Request) *quotaEntry {
	// last is stored under mu, so that it never holds a quota a sweep has
	// just forgotten, nor a host's whose requests are keyed by route (see
	// routeBy: either it sees this store, or this sees routed).
	t.mu.RLock()
	e := t.quotas[k]
	if e != nil {
		t.last.Store(e)
		if e.routed.Load() {
			t.last.CompareAndSwap(e, nil)
		}
	}
	t.mu.RUnlock()
	if e == nil {
		t.mu.Lock()
		if e = t.quotas[k]; e == nil {
			if len(t.quotas) >= t.sweepAt {
				t.sweep(time.Now())
			}
			name := k.custom
			switch {
			case t.cfg.keyFunc != nil:
			case k.scheme == "":
				name = k.host + " " + k.custom // a route (see routeKey)
			default:
				name = k.scheme + "://" + k.host
			}
			e = &quotaEntry{key: k, q: newQuota(name, req.URL.Host, &t.cfg, t.metrics.host(req.URL.Host))}
			t.quotas[k] = e
		}
		t.last.Store(e)
		t.mu.Unlock()
	}
	return e
}

// minSweep is the number of quotas a Transport holds before it first looks
// for idle ones to forget.
const minSweep = 1024

// sweep forgets the quotas that have been idle since the previous sweep and
// hold nothing that still binds (see quota.idle), so that a client of many
// hosts or keys does not keep a quota for each forever. A quota forgotten is
// learned again from its next response.
//
// The next sweep runs once as many quotas as were kept busy (at least
// minSweep) have been created: a sweep's cost is spread over the quotas
// created since the previous one, and the number of quotas held stays
// within about three times the busy ones, or their number plus twice
// minSweep. It requires t.mu held.
func (t *Transport) sweep(now time.Time) {
	busy := 0
	// Keys that share a bucket share an entry: each entry is judged once.
	var shared map[*quotaEntry]bool
	if len(t.buckets) > 0 {
		shared = make(map[*quotaEntry]bool)
	}
	for k, e := range t.quotas {
		idle, seen, judged := false, false, false
		if shared != nil {
			idle, judged = shared[e]
		}
		if !judged {
			idle, seen = e.q.Idle(now)
			if shared != nil {
				shared[e] = idle
			}
		}
		switch {
		case idle:
			delete(t.quotas, k)
			t.last.CompareAndSwap(e, nil)
		case seen:
			busy++
		}
	}
	for b, e := range t.buckets {
		if shared[e] {
			delete(t.buckets, b)
		}
	}
	t.sweepAt = len(t.quotas) + max(minSweep, busy)
}

// RoundTrip implements [http.RoundTripper]. It waits for the request's quota,
// sends it through the base transport and retries it as configured. It never
// modifies req and always closes req.Body. A response obtained is returned
// with a nil error, unless [WithAPIErrors] asks otherwise.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("ratehttp: nil Request.URL")
	}
	start := t.clock.now()
	c := t.newCall(req.Context())
	q, hm := t.quotaFor(req)
	hm.inflight(1)
	defer hm.inflight(-1) // also when the base panics
	resp, took, sent, err := t.attempt(req, q, hm, start, c, 1)
	switch {
	case t.retryable(req, c, resp, err):
		if sent {
			hm.attempt(req.Method, statusOf(resp), err)
		}
		resp, err = t.retry(req, q, c, resp, err)
		hm.request(req.Method, statusOf(resp), err, time.Since(start))
	case sent:
		hm.single(req.Method, statusOf(resp), err, took)
	default:
		hm.request(req.Method, statusOf(resp), err, took)
	}
	if err == nil && t.cfg.apiErrors && resp.StatusCode >= 400 {
		return nil, t.apiError(q, resp)
	}
	return resp, err
}

// attempt sends req once, as attempt n of call c, after waiting for the
// quota, and folds the outcome into the quota. now is the current time, and
// took the time from now until the outcome came (the clock is read as little
// as possible: it is slow on some machines). sent reports whether the base
// transport was called; when it was not, attempt closes req.Body. The caller
// records the attempt in the metrics.
func (t *Transport) attempt(req *http.Request, q *quota, hm *hostMetrics, now time.Time, c call, n int) (resp *http.Response, took time.Duration, sent bool, err error) {
	var (
		tk     ticket
		waited time.Duration
	)
	if t.cfg.shared == nil {
		// A lane's ticket first, without Acquire's frame; then
		// q.Acquire, not q.acquire: one call less on every request's
		// path.
		if w := c.want(req, n); !q.Lane(now, w, &tk) {
			if waited, err = q.Acquire(req.Context(), now, w, c.maxWait(), &tk); err != nil {
				err = q.refusal(err)
			}
		}
	} else {
		waited, err = t.admitShared(req, q, now, c, n, &tk)
	}
	// Once the request took its slot, if an event handler or the base
	// panics, the quota learns that the request got no response before the
	// panic goes on: a probe left in flight would hold the key for good when
	// something above recovers (an http.Server does).
	panicked := err == nil
	defer func() {
		if panicked {
			q.observe(&tk, nil, time.Now())
		}
	}()
	emitting := c.emitting()
	if waited > 0 {
		hm.wait(waited)
		if emitting && err == nil {
			c.emit(Event{Kind: EventWait, Request: req, Attempt: n, Wait: waited})
		}
	}
	if err != nil {
		closeBody(req)
		reason := "canceled"
		var rl *RateLimitError
		if errors.As(err, &rl) {
			reason = refusalReason(rl)
			hm.refused(reason)
			t.log(slog.LevelWarn, "ratehttp: request refused by the quota", req, slog.Duration("wait", rl.Wait))
		}
		if emitting {
			c.emit(Event{Kind: EventRefused, Request: req, Attempt: n, Err: err, Wait: waited, Reason: reason})
		}
		return nil, time.Since(now), false, err
	}
	if emitting {
		c.emit(Event{Kind: EventAttempt, Request: req, Attempt: n})
	}
	resp, err = t.base.RoundTrip(req)
	panicked = false
	if err != nil && resp != nil {
		// A broken base transport: keep the contract ourselves.
		if resp.Body != nil {
			resp.Body.Close()
		}
		resp = nil
	}
	if err == nil && resp == nil {
		err = errNilResponse
	}
	took = time.Since(now) // the monotonic clock alone: cheaper
	end := now.Add(took)
	if a := q.observe(&tk, resp, end); a != 0 {
		if a&bucketNamed != 0 {
			t.bucketNews(q, req, resp, end)
		}
		hm.anomalies(a) // counts the anomalies only
	}
	if emitting {
		t.emitResponse(c, req, n, resp, err, end.Sub(tk.Sent()))
	}
	return resp, took, true, err
}

// admitShared waits until req may be sent: for the shared budget, then for
// q (see quota.acquire, which fills tk).
func (t *Transport) admitShared(req *http.Request, q *quota, now time.Time, c call, n int, tk *ticket) (time.Duration, error) {
	waited, err := t.takeShared(req.Context(), t.cfg.shared, req, q, c)
	if err != nil {
		return waited, err
	}
	if waited > 0 {
		now = time.Now()
	}
	w, err := q.acquire(req.Context(), now, c.want(req, n), c.maxWait(), tk)
	return waited + w, err
}

// emitResponse emits the events of attempt n's outcome, which took d.
func (t *Transport) emitResponse(c call, req *http.Request, n int, resp *http.Response, err error, d time.Duration) {
	code := statusOf(resp)
	c.emit(Event{Kind: EventResponse, Request: req, Attempt: n, Status: code, Err: err, Duration: d})
	if code == http.StatusTooManyRequests {
		var wait time.Duration
		if v := resp.Header["Retry-After"]; len(v) > 0 {
			wait, _ = parseRetryAfter(v[0], time.Now())
		}
		c.emit(Event{Kind: EventRateLimited, Request: req, Attempt: n, Status: code, Wait: wait})
	}
}

// apiError turns a final error response into an *APIError, draining and
// closing its body.
func (t *Transport) apiError(q *quota, resp *http.Response) error {
	e, _, _ := newAPIError(resp, t.cfg.errorLimit)
	drain(resp.Body)
	t.hostMetricsFor(q, resp.Request).apiError(e.Code)
	return e
}

func (t *Transport) log(level slog.Level, msg string, req *http.Request, attrs ...slog.Attr) {
	l := t.cfg.logger
	if l == nil || !l.Enabled(req.Context(), level) {
		return
	}
	attrs = append(attrs, slog.String("method", req.Method), slog.String("host", req.URL.Host))
	l.LogAttrs(req.Context(), level, msg, attrs...)
}

func refusalReason(e *RateLimitError) string {
	if e.Err != nil {
		return "deadline"
	}
	return "max_wait"
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
