package ratehttp

import (
	"errors"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

var _ prometheus.Collector = (*Transport)(nil)

// Label caps. They bound the number of series a [Transport] exports whatever
// traffic it carries: URL paths, queries and request ids are never labels.
const (
	// DefaultMaxHostLabels is how many distinct hosts get their own "host"
	// label value. Requests to further hosts (and to an empty host, a host
	// that is not valid UTF-8 or longer than 255 bytes, or a host literally
	// named "other") are counted under host="other".
	DefaultMaxHostLabels = 100
	// DefaultMaxCodeLabels is how many distinct vendor error codes get their
	// own "error_code" label value in ratehttp_api_errors_total. Further
	// codes, and codes that are longer than 64 bytes or hold a byte outside
	// [A-Za-z0-9._-], are counted as "other"; a response without a code as
	// "none".
	DefaultMaxCodeLabels = 50
)

// Metric names. Every metric has the constant label "client" (see
// [WithClientName]) and the label "host".
const (
	metricRequests  = "ratehttp_requests_total"
	metricAttempts  = "ratehttp_attempts_total"
	metricRetries   = "ratehttp_retries_total"
	metricDuration  = "ratehttp_request_duration_seconds"
	metricWait      = "ratehttp_quota_wait_seconds"
	metricRefused   = "ratehttp_refused_requests_total"
	metricInFlight  = "ratehttp_requests_in_flight"
	metricPace      = "ratehttp_pace_requests_per_second"
	metricLimit     = "ratehttp_quota_limit"
	metricRemaining = "ratehttp_quota_remaining"
	metricWindow    = "ratehttp_quota_window_seconds"
	metricReset     = "ratehttp_quota_reset_seconds"
	metricAnomalies = "ratehttp_header_anomalies_total"
	metricAPIErrors = "ratehttp_api_errors_total"

	metricPolicyLimit     = "ratehttp_quota_policy_limit"
	metricPolicyRemaining = "ratehttp_quota_policy_remaining"
)

// Label values and limits.
const (
	hostOther       = "other"
	maxHostLabelLen = 255
	maxCodeLabelLen = 64
	codeLabelNone   = "none"
	codeLabelOther  = "other"
)

var (
	// Request durations include quota waits and retries; a single wait is
	// bounded by the maximum wait (two minutes by default).
	durationBuckets = newBuckets(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300)
	waitBuckets     = newBuckets(.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 120, 300)
)

// Describe implements [prometheus.Collector]. It sends the descriptors of
// every metric the Transport exports.
//
// Every descriptor carries the constant label client (see [WithClientName]),
// so Transports with different client names can share a registry. Registering
// two Transports with the same client name in one registry fails with a
// [prometheus.AlreadyRegisteredError] whose ExistingCollector is the first.
func (t *Transport) Describe(ch chan<- *prometheus.Desc) {
	m := t.metrics
	if m == nil {
		return
	}
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	for _, d := range m.descs() {
		ch <- d
	}
}

// Collect implements [prometheus.Collector]. Counters and histograms are
// recorded as requests go; the quota gauges are read from the quota model at
// the time of the call, so a scrape costs the requests nothing.
//
// A quota is reported under the host of the first request that used it. When
// several quotas (see [WithKeyFunc]) fall under one host label, the quota
// gauges report the most constrained of them: the one with the least
// remaining. A quota whose limit the server never reported has no gauges.
func (t *Transport) Collect(ch chan<- prometheus.Metric) {
	m := t.metrics
	if m == nil {
		return
	}
	for _, c := range m.collectors() {
		c.Collect(ch)
	}

	m.mu.Lock()
	hosts := make([]*hostMetrics, len(m.all))
	copy(hosts, m.all)
	m.mu.Unlock()
	for _, h := range hosts {
		h.collectCounts(ch)
		h.durations.collect(ch, m.duration, h.host)
		h.waits.collect(ch, m.wait, h.host)
		gauge(ch, m.inFlight, float64(h.inFlight.Load()), h.host)
	}

	t.mu.RLock()
	quotas := make([]*quota, 0, len(t.quotas))
	for _, e := range t.quotas {
		if e.q.hm != nil {
			quotas = append(quotas, e.q)
		}
	}
	t.mu.RUnlock()

	now := time.Now()
	tightest := make(map[*hostMetrics]quotaSnapshot, len(quotas))
	for _, q := range quotas {
		s := q.snapshot(now)
		if !s.known {
			continue
		}
		if cur, ok := tightest[q.hm]; !ok || tighter(s, cur) {
			tightest[q.hm] = s
		}
	}
	for h, s := range tightest {
		gauge(ch, m.limit, float64(s.limit), h.host)
		gauge(ch, m.remaining, float64(s.remaining), h.host)
		gauge(ch, m.pace, s.rate, h.host)
		if s.window > 0 {
			gauge(ch, m.window, s.window.Seconds(), h.host)
		}
		if s.window > 0 || s.resetIn > 0 {
			gauge(ch, m.reset, s.resetIn.Seconds(), h.host)
		}
		for _, p := range s.policies {
			if g, err := prometheus.NewConstMetric(m.policyLimit, prometheus.GaugeValue, float64(p.Limit), h.host, p.Name, p.Unit); err == nil {
				ch <- g
			}
			if g, err := prometheus.NewConstMetric(m.policyRemaining, prometheus.GaugeValue, float64(p.Remaining), h.host, p.Name, p.Unit); err == nil {
				ch <- g
			}
		}
	}
}

// counter sends a counter of d. Like [gauge], it sends nothing for a
// descriptor in error.
func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, n uint64, labels ...string) {
	if c, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(n), labels...); err == nil {
		ch <- c
	}
}

// gauge sends a gauge of d. A descriptor in error (an invalid client name,
// which registration already refused) sends nothing rather than panic.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, host string) {
	if g, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, host); err == nil {
		ch <- g
	}
}

// tighter reports whether quota a is more constrained than b: less remaining,
// then a smaller share of its limit remaining, then a later reset.
func tighter(a, b quotaSnapshot) bool {
	if a.remaining != b.remaining {
		return a.remaining < b.remaining
	}
	// remaining and limit are at most 1e12 each: the products need 128
	// bits.
	xh, xl := bits.Mul64(uint64(a.remaining), uint64(b.limit))
	yh, yl := bits.Mul64(uint64(b.remaining), uint64(a.limit))
	if xh != yh || xl != yl {
		return xh < yh || xh == yh && xl < yl
	}
	return a.resetIn > b.resetIn
}

// metrics holds the collectors of one Transport. A nil *metrics records
// nothing and exports nothing.
//
// Recording never looks a child up by its label values: each hostMetrics
// caches its children, filled on first use, and the host look-up is a read of
// a copy-on-write map, without a lock.
type metrics struct {
	maxHosts, maxCodes int

	retries   *prometheus.CounterVec // host, reason
	refused   *prometheus.CounterVec // host, reason
	anomalies *prometheus.CounterVec // host, kind
	apiErrors *prometheus.CounterVec // host, error_code

	// Counters kept in each hostMetrics' tables, exported at Collect time;
	// variable labels: host, method, code.
	requests, attempts *prometheus.Desc

	// Histograms kept in each hostMetrics, exported at Collect time;
	// variable label: host.
	duration, wait *prometheus.Desc

	// Gauges computed at Collect time; variable label: host.
	inFlight, pace, limit, remaining, window, reset *prometheus.Desc

	// The other policies of a quota whose server reports several;
	// variable labels: host, policy, unit. A quota has at most
	// maxPolicies of them.
	policyLimit, policyRemaining *prometheus.Desc

	// hosts maps a request's URL.Host to its metrics. It holds only the hosts
	// that have a label of their own, so it never grows past maxHosts; it is
	// replaced, never modified, under mu.
	hosts atomic.Pointer[map[string]*hostMetrics]
	other atomic.Pointer[hostMetrics] // host="other", created on first use

	mu    sync.Mutex
	all   []*hostMetrics      // every distinct hostMetrics; requires mu held
	codes map[string]struct{} // vendor error codes with a label; requires mu held
}

func newMetrics(cfg *config) *metrics {
	client := prometheus.Labels{"client": cfg.clientName}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: client}, labels)
	}
	hostDesc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"host"}, client)
	}
	m := &metrics{
		maxHosts: cfg.maxHosts,
		maxCodes: cfg.maxCodes,
		requests: prometheus.NewDesc(metricRequests,
			"Requests completed by RoundTrip, by method and final status code (\"error\" for a transport error, \"refused\" for a request the quota refused locally).",
			[]string{"host", "method", "code"}, client),
		attempts: prometheus.NewDesc(metricAttempts,
			"Attempts sent to the base transport, retries included, by method and status code (\"error\" for a transport error).",
			[]string{"host", "method", "code"}, client),
		retries: counter(metricRetries,
			"Retries started, by reason: 429, 5xx, error (transport error) or policy (a custom retry policy).",
			"host", "reason"),
		refused: counter(metricRefused,
			"Requests refused locally with ErrRateLimited because the quota wait would pass the context deadline (deadline) or the maximum wait (max_wait).",
			"host", "reason"),
		anomalies: counter(metricAnomalies,
			"Rate-limit response headers ignored as nonsense, in the responses read (a settled quota reads one routine answer in eight), by kind.",
			"host", "kind"),
		apiErrors: counter(metricAPIErrors,
			"Error responses turned into APIError (WithAPIErrors), by vendor error code.",
			"host", "error_code"),
		duration:  hostDesc(metricDuration, "Time RoundTrip took, quota waits and retries included."),
		wait:      hostDesc(metricWait, "Time an attempt waited for its quota, for attempts that waited."),
		inFlight:  hostDesc(metricInFlight, "Requests in RoundTrip, waiting for their quota or sent."),
		pace:      hostDesc(metricPace, "Rate at which requests are paced; 0 when they are not."),
		limit:     hostDesc(metricLimit, "Requests per window, as the server last reported."),
		remaining: hostDesc(metricRemaining, "Requests estimated to remain in the current window: the server's last count less the requests sent since."),
		window:    hostDesc(metricWindow, "Length of the quota window, as the server last reported."),
		reset:     hostDesc(metricReset, "Estimated time until the quota window resets."),
		policyLimit: prometheus.NewDesc(metricPolicyLimit,
			"Quota of each of the server's other policies (when its answers describe several: per second and per hour, requests and tokens), by policy name and unit.",
			[]string{"host", "policy", "unit"}, client),
		policyRemaining: prometheus.NewDesc(metricPolicyRemaining,
			"Estimated quota left in each of the server's other policies: its last count less what was sent since (declared tokens, for a token policy).",
			[]string{"host", "policy", "unit"}, client),
		codes: make(map[string]struct{}),
	}
	m.hosts.Store(&map[string]*hostMetrics{})
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.retries, m.refused, m.anomalies, m.apiErrors}
}

// descs returns the descriptors of the metrics Collect builds itself.
func (m *metrics) descs() []*prometheus.Desc {
	return []*prometheus.Desc{m.requests, m.attempts, m.duration, m.wait, m.inFlight, m.pace, m.limit, m.remaining, m.window, m.reset, m.policyLimit, m.policyRemaining}
}

// host returns the metrics of requests to host (a URL's Host). It is cheap
// after the first call for a host: one map read, no lock.
func (m *metrics) host(host string) *hostMetrics {
	if m == nil {
		return nil
	}
	if h := (*m.hosts.Load())[host]; h != nil {
		return h
	}
	return m.addHost(host)
}

// addHost is host's slow path: the first request to host, or a host without
// a label of its own.
func (m *metrics) addHost(host string) *hostMetrics {
	own := validHostLabel(host)
	if !own || len(*m.hosts.Load()) >= m.maxHosts {
		if o := m.other.Load(); o != nil {
			return o
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hosts := *m.hosts.Load()
	if h := hosts[host]; h != nil {
		return h
	}
	if !own || len(hosts) >= m.maxHosts {
		if o := m.other.Load(); o != nil {
			return o
		}
		o := m.newHost(hostOther)
		m.other.Store(o)
		return o
	}
	h := m.newHost(host)
	next := make(map[string]*hostMetrics, len(hosts)+1)
	for k, v := range hosts {
		next[k] = v
	}
	next[host] = h
	m.hosts.Store(&next)
	return h
}

// newHost creates the metrics of one host label. It requires m.mu held.
func (m *metrics) newHost(label string) *hostMetrics {
	h := &hostMetrics{
		m:         m,
		host:      label,
		durations: newHistogram(durationBuckets),
		waits:     newHistogram(waitBuckets),
	}
	m.all = append(m.all, h)
	return h
}

// validHostLabel reports whether host may be a label value of its own.
func validHostLabel(host string) bool {
	return host != "" && host != hostOther && len(host) <= maxHostLabelLen && utf8.ValidString(host)
}

// hostMetricsFor returns the metrics of req's host: q's own when q was created
// for that host (always, with the default key function), else a look-up.
func (t *Transport) hostMetricsFor(q *quota, req *http.Request) *hostMetrics {
	h := q.hm
	if h == nil || req == nil || req.URL == nil || h.host == req.URL.Host {
		return h
	}
	return t.metrics.host(req.URL.Host)
}

// hostMetrics caches the per-host children so RoundTrip does no label look-up.
// A nil *hostMetrics records nothing, so every method is safe to call without
// a check.
type hostMetrics struct {
	m    *metrics
	host string // label value

	inFlight atomic.Int64

	// A request that took exactly one attempt, the usual case, is counted
	// once, in once; Collect adds it to both counters. Other requests
	// (retried, or refused before any attempt) are counted in requests, and
	// their attempts in attempts.
	once, requests, attempts countTable
	durations, waits         histogram
	retries                  [len(retryReasons)]lazyCounter
	refusals                 [len(refusalReasons)]lazyCounter
	anomalyCounts            [len(anomalyKinds)]lazyCounter

	mu        sync.Mutex
	apiErrors map[string]prometheus.Counter // by label; requires mu held
}

var (
	retryReasons   = [...]string{"429", "5xx", "error", "policy"}
	refusalReasons = [...]string{"deadline", "max_wait"}
)

// attempt records an attempt of a request that [hostMetrics.single] will
// not record.
func (h *hostMetrics) attempt(method string, code int, err error) {
	if h == nil {
		return
	}
	h.attempts.add(methodIndex(method), codeIndex(code, err))
}

// request records a request that did not take exactly one attempt, with the
// time RoundTrip took.
func (h *hostMetrics) request(method string, code int, err error, d time.Duration) {
	if h == nil {
		return
	}
	h.requests.add(methodIndex(method), codeIndex(code, err))
	h.durations.observe(d)
}

// single records a request that took exactly one attempt, with the time
// RoundTrip took: one count stands for the request and its attempt.
func (h *hostMetrics) single(method string, code int, err error, d time.Duration) {
	if h == nil {
		return
	}
	h.once.add(methodIndex(method), codeIndex(code, err))
	h.durations.observe(d)
}

// collectCounts sends the requests and attempts counters of h.
func (h *hostMetrics) collectCounts(ch chan<- prometheus.Metric) {
	for method := range numMethods {
		for block := range numCodeBlocks {
			once := h.once.block(method, block)
			requests := h.requests.block(method, block)
			attempts := h.attempts.block(method, block)
			if once == nil && requests == nil && attempts == nil {
				continue
			}
			for i := range codesPerBlock {
				s := once.load(i)
				reqs, atts := s+requests.load(i), s+attempts.load(i)
				if reqs == 0 && atts == 0 {
					continue
				}
				code := codeName(block*codesPerBlock + i)
				if reqs > 0 {
					counter(ch, h.m.requests, reqs, h.host, methodNames[method], code)
				}
				if atts > 0 {
					counter(ch, h.m.attempts, atts, h.host, methodNames[method], code)
				}
			}
		}
	}
}

func (h *hostMetrics) retry(reason string) {
	if h == nil {
		return
	}
	i := len(retryReasons) - 1 // policy
	for j, r := range retryReasons {
		if r == reason {
			i = j
			break
		}
	}
	h.retries[i].get(h.m.retries, h.host, retryReasons[i]).Inc()
}

func (h *hostMetrics) wait(d time.Duration) {
	if h == nil {
		return
	}
	h.waits.observe(d)
}

func (h *hostMetrics) refused(reason string) {
	if h == nil {
		return
	}
	i := 0 // deadline
	if reason == refusalReasons[1] {
		i = 1
	}
	h.refusals[i].get(h.m.refused, h.host, refusalReasons[i]).Inc()
}

func (h *hostMetrics) inflight(delta int) {
	if h == nil {
		return
	}
	h.inFlight.Add(int64(delta))
}

func (h *hostMetrics) anomalies(a anomaly) {
	if h == nil {
		return
	}
	for i, k := range anomalyKinds {
		if a&k.bit != 0 {
			h.anomalyCounts[i].get(h.m.anomalies, h.host, k.name).Inc()
		}
	}
}

func (h *hostMetrics) apiError(code string) {
	if h == nil {
		return
	}
	label := h.m.codeLabel(code)
	h.mu.Lock()
	c := h.apiErrors[label]
	if c == nil {
		if h.apiErrors == nil {
			h.apiErrors = make(map[string]prometheus.Counter)
		}
		c = h.m.apiErrors.WithLabelValues(h.host, label)
		h.apiErrors[label] = c
	}
	h.mu.Unlock()
	c.Inc()
}

// codeLabel returns the label value of a vendor error code. The code comes
// from the server, so it is checked and the distinct values are capped.
func (m *metrics) codeLabel(code string) string {
	if code == "" {
		return codeLabelNone
	}
	if !validCodeLabel(code) {
		return codeLabelOther
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.codes[code]; ok {
		return code
	}
	if len(m.codes) >= m.maxCodes {
		return codeLabelOther
	}
	code = string([]byte(code)) // keep no reference to the response body
	m.codes[code] = struct{}{}
	return code
}

func validCodeLabel(s string) bool {
	if len(s) > maxCodeLabelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Methods with a label value of their own; any other is "other". The empty
// method is GET, as in net/http.
var methodNames = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "other",
}

const numMethods = len(methodNames)

func methodIndex(m string) int {
	switch m {
	case "", http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodConnect:
		return 6
	case http.MethodOptions:
		return 7
	case http.MethodTrace:
		return 8
	}
	return numMethods - 1
}

// Code indexes: 0–499 are the status codes 100–599, then the other values of
// the "code" label.
const (
	codeError   = 500 + iota // a transport error
	codeRefused              // refused locally by the quota (ErrRateLimited)
	codeOther                // a status code outside 100–599
	numCodes

	codesPerBlock = 100
	numCodeBlocks = (numCodes + codesPerBlock - 1) / codesPerBlock
)

func codeIndex(code int, err error) int {
	switch {
	case err != nil:
		if errors.Is(err, ErrRateLimited) {
			return codeRefused
		}
		return codeError
	case code >= 100 && code <= 599:
		return code - 100
	}
	return codeOther
}

func codeName(i int) string {
	switch i {
	case codeError:
		return "error"
	case codeRefused:
		return "refused"
	case codeOther:
		return "other"
	}
	return strconv.Itoa(i + 100)
}

// countTable counts by (method, code index). Blocks of codesPerBlock counts
// are allocated on first use, so a host that sees a few status codes for a
// few methods costs a few kilobytes, and counting is one atomic addition.
type countTable struct {
	blocks [numMethods][numCodeBlocks]atomic.Pointer[countBlock]
}

type countBlock [codesPerBlock]atomic.Uint64

func (t *countTable) add(method, code int) {
	p := &t.blocks[method][code/codesPerBlock]
	b := p.Load()
	if b == nil {
		p.CompareAndSwap(nil, new(countBlock))
		b = p.Load()
	}
	b[code%codesPerBlock].Add(1)
}

// block returns the counts of codes block*codesPerBlock onwards for method,
// nil if none was counted.
func (t *countTable) block(method, block int) *countBlock {
	return t.blocks[method][block].Load()
}

// load returns the i-th count of b; 0 for a nil b.
func (b *countBlock) load(i int) uint64 {
	if b == nil {
		return 0
	}
	return b[i].Load()
}

// lazyCounter is a counter child created on first use.
type lazyCounter struct {
	p atomic.Pointer[counterRef]
}

type counterRef struct{ c prometheus.Counter }

// get returns the child of vec for (host, value), creating it on first use;
// when goroutines race, the first cached wins.
func (l *lazyCounter) get(vec *prometheus.CounterVec, host, value string) prometheus.Counter {
	if r := l.p.Load(); r != nil {
		return r.c
	}
	l.p.CompareAndSwap(nil, &counterRef{vec.WithLabelValues(host, value)})
	return l.p.Load().c
}
