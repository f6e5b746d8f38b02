// Package ratehttptest provides a simulated API that enforces a request quota,
// for testing clients of rate-limited services, in the way [net/http/httptest]
// provides test servers.
//
// A [Server] answers like the vendor whose headers this module handles: every
// response carries X-Ratelimit (the limit per window), X-Ratelimit-Used (by
// default the number of requests REMAINING in the window, as the vendor
// documents despite the name), X-Ratelimit-Window (the window's unit, such as
// "minute") and X-Request-Id. A request over the quota gets status 429 and the
// vendor's JSON error body:
//
//	{"error_code":"APIGW.0308","error_msg":"The request is throttled."}
//
// # Use
//
// [NewServer] does NOT listen, unlike [httptest.NewServer]: it returns an
// in-memory Server, with no socket, no URL and no goroutine. The Server is an
// [http.RoundTripper], so most tests plug it in as a client's transport and
// never open a socket:
//
//	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 2, Window: time.Minute})
//	client := &http.Client{Transport: srv}
//	resp, err := client.Get("http://api.example/v1/items") // the host is ignored
//
// Tests that need the wire call [Server.Start], which listens on a loopback
// address and returns the URL (what [httptest.NewServer] does at once), and
// [Server.Close] when done:
//
//	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 2, Window: time.Minute})
//	url := srv.Start() // such as "http://127.0.0.1:38017"
//	defer srv.Close()
//	resp, err := http.Get(url + "/v1/items")
//
// It is also an [http.Handler], for a server of your own.
//
// # Policies
//
// Config.Policy chooses the algorithm of a real limiter, so that a client is
// not tuned against one only: fixed windows ([FixedWindow]), a sliding log
// ([SlidingWindow]), the two-window estimate of HAProxy, Cloudflare and
// go-chi/httprate ([WeightedWindow]), a token bucket ([TokenBucket]), the GCRA
// of throttled and redis_rate ([GCRA]) and the leaky bucket of nginx and
// Shopify ([LeakyBucket]). Config.CountRejected makes the counting policies
// count the requests they reject, as HAProxy does; Config.Burst sets the
// capacity of the bucket policies; Config.Offset sets the phase of the
// windows. Some servers report their quota differently:
// Config.UsedMeansUsed, Config.NegativeRemaining and Config.LowercaseHeaders
// change the headers, and Config.OmitHeaders removes them, leaving 429 and,
// with Config.RetryAfter, Retry-After. Config.Dialect sends the quota in the
// headers of another API ([DialectIETF], [DialectGitHub], [DialectOpenAI],
// [DialectShopify], ...), so that a test can simulate the API its client
// really talks to.
//
// # Time
//
// The in-memory path ([Server.RoundTrip]) starts no goroutine and does no I/O;
// it reads the clock with [time.Now] and waits with timers only. Inside a
// [testing/synctest] bubble it therefore runs on the bubble's fake clock, and
// scenarios spanning hours of quota windows run instantly and exactly. Do not
// use [Server.Start] inside a bubble: the fake clock cannot advance while a
// goroutine is blocked on network I/O.
//
// # Inspection
//
// [Server.Stats] and [Server.Windows] report what the server accepted and
// rejected, per window; [Server.SetHook] observes every request, with its
// body's length and CRC-32, also those a fault answered in place of the API
// ([Event].Processed and [Event].Fault say which); [Server.SetLimit] and
// [Server.Consume] change the quota mid-run as a real API's operators and
// other clients would.
// Config.RetryAfter adds a Retry-After header, which the vendor never sends.
//
// # Faults
//
// Config.Faults makes the Server misbehave on a reproducible schedule:
// connection resets before, after or in the middle of a response, 5xx and
// 429 answers with odd Retry-After values, slow or nonsensical headers, huge
// and endless bodies, a proxy's HTML page, a server echoing the request. See
// [Fault]; [Server.FaultStats] counts what was injected.
package ratehttptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes a [Server]. Only Limit is required.
type Config struct {
	// Limit is the number of requests allowed per window. It must be > 0;
	// [Server.SetLimit] changes it later.
	Limit int
	// Window is the length of a quota window. Zero means one minute.
	Window time.Duration
	// Unit is the text sent in X-Ratelimit-Window. Empty means derived from
	// Window: "minute" for 1m, "hour" for 1h, "day" for 24h, and otherwise the
	// Go duration string, such as "10s".
	Unit string
	// Policy is the counting algorithm. The zero value is FixedWindow.
	Policy Policy
	// Offset is the phase of the windows: they start at Offset + k*Window
	// since the Unix epoch. FixedWindow and WeightedWindow enforce their
	// quota on these windows, and [Server.Windows] reports them under every
	// policy. Zero means aligned to the epoch, except that the policies
	// without windows of their own (SlidingWindow, TokenBucket, GCRA and
	// LeakyBucket) then report windows starting at their first request; to
	// align theirs to the epoch, set Offset to Window. A negative Offset or
	// one beyond Window is taken modulo Window.
	Offset time.Duration
	// Burst is the capacity of the bucket policies (TokenBucket, GCRA,
	// LeakyBucket): the largest burst they accept at once, while Limit per
	// Window is their sustained rate. X-Ratelimit carries it. Zero means
	// Limit, following [Server.SetLimit]. It must not be negative, and must
	// be zero under the other policies.
	Burst int
	// CountRejected makes the counting policies (FixedWindow, SlidingWindow,
	// WeightedWindow) count the requests they reject as well as those they
	// accept, as HAProxy stick tables do: a client that keeps sending into
	// 429s keeps its own count up. It must be false under the bucket
	// policies. The default, false, counts accepted requests only.
	// [Server.Consume] is never counted beyond what it is granted.
	CountRejected bool
	// NegativeRemaining reports the remaining count unclamped: Limit minus
	// the count, below zero when more than Limit are counted (with
	// CountRejected, or after [Server.SetLimit] lowered the limit under the
	// count). It applies to X-Ratelimit-Used and [Event].Remaining. The
	// default, false, reports 0 instead of a negative count.
	NegativeRemaining bool
	// UsedMeansUsed makes X-Ratelimit-Used carry the number of requests used
	// instead of the number remaining (the vendor's default): X-Ratelimit
	// minus the unclamped remaining count, at least 0. That is the count of
	// FixedWindow and SlidingWindow, floor(estimate) of WeightedWindow, the
	// capacity minus the whole tokens of TokenBucket and GCRA, and the level
	// rounded up of LeakyBucket.
	UsedMeansUsed bool
	// OmitHeaders suppresses the quota headers of the Dialect under every
	// policy, making a server that tells its quota only with 429 (and
	// Retry-After, if RetryAfter is set). X-Request-Id is still sent. The
	// default, false, sends them.
	OmitHeaders bool
	// Dialect is the spelling of the quota headers: those of the vendor
	// (the zero value, DialectVendor) or of another API, such as
	// DialectGitHub or DialectOpenAI, so that a test can simulate the API
	// its client talks to. See [Dialect].
	Dialect Dialect
	// RetryAfter adds a Retry-After header to 429 responses: the whole seconds,
	// rounded up and at least 1, until the current window resets (FixedWindow)
	// or until the next request would be accepted if no other arrived
	// (other policies; for GCRA, max(TAT, now) + T - Burst*T - now, as
	// throttled and redis_rate compute it). The vendor never sends it, so the
	// default is false.
	RetryAfter bool
	// LowercaseHeaders writes the names of the headers the Server sets itself
	// (x-ratelimit, x-ratelimit-used, x-ratelimit-window, x-request-id and
	// retry-after; not Content-Type or Content-Length) in lowercase, directly
	// into the [http.Header] map, as an HTTP/2 peer sends them: Header.Get
	// with the canonical name does not find them. This matters on the
	// in-memory path ([Server.RoundTrip], [Server.ServeHTTP]) only: over the
	// wire ([Server.Start]) the lowercase names are sent, but Go's client
	// canonicalises them as it reads the response. A Config.Handler that sets
	// the canonical names adds headers beside the lowercase ones. The default,
	// false, writes canonical names.
	LowercaseHeaders bool
	// Latency is the service time of every request, accepted or not. The quota
	// decision is taken at arrival, before the wait; a request whose context
	// ends during the wait still counts. Zero means no wait.
	Latency time.Duration
	// Handler serves accepted requests after the rate-limit headers are set;
	// it may overwrite them. Its request's Body holds the full request body.
	// Nil means status 200 with the body {"ok":true}.
	Handler http.Handler
	// Faults are the misbehaviours the Server injects, each at its rate or
	// period; see [Fault]. Nil means none.
	Faults []Fault
	// FaultSeed seeds the draws of the Faults' Rates, so that a schedule
	// can be replayed.
	FaultSeed uint64
}

// Stats counts what a [Server] decided since it was created.
type Stats struct {
	// Accepted and Rejected count requests served with the quota decision
	// "accepted" or "rejected" (429).
	Accepted, Rejected int
	// Consumed counts the quota granted to [Server.Consume]; it is not
	// included in Accepted.
	Consumed int
}

// WindowStats is the accounting of one window, as reported by [Server.Windows].
type WindowStats struct {
	// Start is the window's first instant.
	Start time.Time
	// Limit is the limit in force at the window's end: the limit when it
	// started, or the one set by the last [Server.SetLimit] during it. It is
	// the quota available in the window under every policy: for the bucket
	// policies, the tokens earned (or the level drained) per Window, whatever
	// Config.Burst is. A burst can make one window accept more than Limit.
	Limit int
	// Accepted, Rejected and Consumed count as in [Stats].
	Accepted, Rejected, Consumed int
}

// Event describes one request seen by a [Server], for the hook set with
// [Server.SetHook].
type Event struct {
	// Time is the request's arrival: when the quota decision was taken, or
	// when a fault took the request over.
	Time time.Time
	// Method and Path are the request's method and URL path.
	Method, Path string
	// RequestID is the X-Request-Id sent with the response, or "" if the
	// API did not process the request (see Processed).
	RequestID string
	// Status is the quota decision: 200 if accepted, 429 if rejected, 0 if
	// the API did not process the request (see Processed). Neither a
	// Config.Handler's own status nor a fault's is reflected.
	Status int
	// Remaining is the number of requests remaining after the decision, as
	// [Policy] defines it per policy (whole tokens for TokenBucket), whatever
	// Config.UsedMeansUsed says. It is negative only with
	// Config.NegativeRemaining.
	Remaining int
	// BodyLen and BodyCRC are the length and CRC-32 (IEEE) of the request
	// body as the Server received it, also when a fault answered in place of
	// the API; both are 0 for a request without a body.
	BodyLen int64
	BodyCRC uint32
	// Header is a clone of the request header.
	Header http.Header
	// Processed reports whether the API processed the request: the quota
	// decision was taken (Status, Remaining and RequestID hold it), the
	// request counts in [Stats], and Config.Handler ran if it was accepted.
	// It is false only for a request that a fault answered in place of the
	// API (see [Fault.Processes]): then Status and Remaining are 0 and
	// RequestID is "".
	Processed bool
	// Fault is the kind of fault injected into the request's reply, or 0
	// when the reply is the API's own. A fault that processes the request
	// first sets both Fault and Processed.
	Fault FaultKind
}

// Header names and bodies sent by a [Server].
const (
	// HeaderLimit carries the limit per window, or the capacity
	// (Config.Burst) under the bucket policies.
	HeaderLimit = "X-Ratelimit"
	// HeaderUsed carries the requests remaining in the window, or the
	// requests used with Config.UsedMeansUsed.
	HeaderUsed = "X-Ratelimit-Used"
	// HeaderWindow carries the window's unit (see Config.Unit).
	HeaderWindow = "X-Ratelimit-Window"
	// HeaderRequestID carries "req-000001", "req-000002", … counting every
	// request the Server served, accepted or not.
	HeaderRequestID = "X-Request-Id"

	// ThrottledBody is the body of every 429 response; its Content-Type is
	// application/json.
	ThrottledBody = `{"error_code":"APIGW.0308","error_msg":"The request is throttled."}`
	// OKBody is the body of accepted requests when Config.Handler is nil.
	OKBody = `{"ok":true}`
)

// Server is a simulated API enforcing a request quota. It implements
// [http.RoundTripper] (in memory) and [http.Handler], and can serve itself on a
// loopback address with [Server.Start]; it does not listen until then. Most
// tests want it as the Transport of an [http.Client].
//
// A Server is safe for concurrent use. Its configuration is frozen by
// [NewServer], except the limit ([Server.SetLimit]) and the hook
// ([Server.SetHook]). The zero value is not usable; call [NewServer].
type Server struct {
	cfg  Config // frozen copy; cfg.Limit is the initial limit only
	unit string

	mu      sync.Mutex
	limit   int         // requires mu held
	nextID  int         // last X-Request-Id number issued; requires mu held
	hook    func(Event) // requires mu held; called without it
	stats   Stats       // requires mu held
	lim     limiter     // the Policy's state; requires mu held
	origin  time.Time   // first event, for unaligned windows; valid once windows is non-empty
	windows []windowRec // windows with events, ascending idx; requires mu held
	faults  *faultState // nil without Config.Faults; has its own lock

	srvMu  sync.Mutex // guards ts and cancel; never held with mu
	ts     *httptest.Server
	cancel context.CancelFunc
}

// windowRec is a window that saw an event; gaps between records are windows
// without events.
type windowRec struct {
	idx int64
	WindowStats
}

var (
	_ http.RoundTripper = (*Server)(nil)
	_ http.Handler      = (*Server)(nil)
)

// NewServer returns a Server for cfg that is NOT listening: unlike
// [httptest.NewServer], it opens no socket, has no URL and starts no
// goroutine. Use the Server in memory, as the Transport of an [http.Client]
// (the usual way, and the only one inside a [testing/synctest] bubble), or
// call [Server.Start] to listen on a loopback address, as
// [httptest.NewServer] does at once, and [Server.Close] when done:
//
//	srv := ratehttptest.NewServer(cfg)
//	client := &http.Client{Transport: srv} // in memory: no socket, any host
//
//	url := srv.Start() // on the wire: "http://127.0.0.1:<port>"
//	defer srv.Close()
//
// The Server is also an [http.Handler], for a server of your own.
//
// It panics if cfg is invalid: Limit <= 0, a negative Window, Latency or
// Burst, an unknown Policy, Burst under a counting policy, CountRejected
// under a bucket policy, an unknown Dialect, or an invalid Fault.
func NewServer(cfg Config) *Server {
	if msg := cfg.invalid(); msg != "" {
		panic("ratehttptest: " + msg)
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	s := &Server{cfg: cfg, unit: cfg.Unit, limit: cfg.Limit, lim: newLimiter(cfg)}
	s.faults = newFaultState(cfg.Faults, cfg.FaultSeed)
	if s.unit == "" {
		s.unit = unitOf(cfg.Window)
	}
	return s
}

// invalid returns why cfg is invalid, or "" if it is valid.
func (cfg *Config) invalid() string {
	switch {
	case cfg.Limit <= 0:
		return "Config.Limit must be > 0"
	case cfg.Window < 0:
		return "Config.Window must not be negative"
	case cfg.Latency < 0:
		return "Config.Latency must not be negative"
	case cfg.Policy < FixedWindow || cfg.Policy > LeakyBucket:
		return "unknown Config.Policy " + cfg.Policy.String()
	case cfg.Burst < 0:
		return "Config.Burst must not be negative"
	case cfg.Burst != 0 && !cfg.Policy.isBucket():
		return "Config.Burst is for bucket policies, not " + cfg.Policy.String()
	case cfg.CountRejected && cfg.Policy.isBucket():
		return "Config.CountRejected is for counting policies, not " + cfg.Policy.String()
	case cfg.Dialect < DialectVendor || cfg.Dialect > DialectShopify:
		return "unknown Config.Dialect " + cfg.Dialect.String()
	}
	return ""
}

func unitOf(w time.Duration) string {
	switch w {
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return w.String()
}

// RoundTrip serves req in memory and returns the response a client would
// receive. It enforces the quota at arrival, reads and closes req.Body, waits
// Config.Latency, then answers 200 (or Config.Handler's answer) or 429.
//
// If req's context is already done, RoundTrip returns its error and the
// request does not count. If the context ends during the latency, RoundTrip
// returns ctx.Err(); the request counts as decided at arrival. If reading the
// body fails, the request counts and RoundTrip returns the read error. The
// request itself is never modified, and its Body is always closed. The Host of
// req.URL is ignored.
func (s *Server) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req.Body)
		return nil, errors.New("ratehttptest: nil Request.URL")
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req.Body)
		return nil, err
	}
	// The handler side gets its own request, as a server would, so that
	// replacing its Body or reading fields leaves the caller's untouched.
	r := req.Clone(ctx)
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "192.0.2.1:1234" // TEST-NET-1, like httptest.NewRequest
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	if f, n := s.faults.pick(); f != nil {
		return s.roundTripFault(req, r, f, n)
	}
	rec := httptest.NewRecorder()
	if err := s.serve(rec, r, 0); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// ServeHTTP serves r with the same behaviour as [Server.RoundTrip]. If r's
// context ends during the latency, it returns without writing a response. If
// reading the body fails, it answers 400.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.serveOrFault(w, r); err != nil && r.Context().Err() == nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// serveWire is the loopback handler. Unlike ServeHTTP, it aborts the
// connection when the request's context ends during the latency (the client
// left, or Close was called), so a client still connected sees an error
// rather than an empty 200.
func (s *Server) serveWire(w http.ResponseWriter, r *http.Request) {
	if err := s.serveOrFault(w, r); err != nil {
		if r.Context().Err() != nil {
			panic(http.ErrAbortHandler)
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// decision is what the quota said about one request at its arrival.
type decision struct {
	now        time.Time
	id         string
	accepted   bool
	limit      int
	remaining  int
	used       int
	reset      time.Duration // until the quota is back (see Dialect)
	retryAfter time.Duration // 0 unless rejected with Config.RetryAfter
	hook       func(Event)
}

// serve processes r as the API: the quota decision, the hook, then after
// the latency the answer. kind is the fault that will spoil the reply, or 0.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, kind FaultKind) error {
	d := s.arrive()
	n, crc, body, readErr := readBody(r.Body, d.accepted && s.cfg.Handler != nil)
	if d.hook != nil {
		status := http.StatusOK
		if !d.accepted {
			status = http.StatusTooManyRequests
		}
		d.hook(Event{
			Time: d.now, Method: r.Method, Path: r.URL.Path, RequestID: d.id,
			Status: status, Remaining: d.remaining,
			BodyLen: n, BodyCRC: crc, Header: r.Header.Clone(),
			Processed: true, Fault: kind,
		})
	}
	if readErr != nil {
		return fmt.Errorf("ratehttptest: reading request body: %w", readErr)
	}
	if err := sleep(r.Context(), s.cfg.Latency); err != nil {
		return err
	}

	s.writeHeaders(w.Header(), d)
	switch {
	case !d.accepted:
		writeJSON(w, r, http.StatusTooManyRequests, ThrottledBody)
	case s.cfg.Handler != nil:
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.cfg.Handler.ServeHTTP(w, r)
	default:
		writeJSON(w, r, http.StatusOK, OKBody)
	}
	return nil
}

// writeHeaders sets the headers of decision d in h.
func (s *Server) writeHeaders(h http.Header, d decision) {
	set := h.Set
	if s.cfg.LowercaseHeaders {
		set = func(name, value string) { h[strings.ToLower(name)] = []string{value} }
	}
	set(HeaderRequestID, d.id)
	if !s.cfg.OmitHeaders {
		s.writeDialect(set, d)
	}
	if d.retryAfter > 0 {
		secs := (d.retryAfter + time.Second - 1) / time.Second
		set("Retry-After", strconv.FormatInt(int64(max(secs, 1)), 10))
	}
}

// arrive takes the quota decision for one request arriving now.
func (s *Server) arrive() decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.nextID++
	d := decision{now: now, id: fmt.Sprintf("req-%06d", s.nextID), hook: s.hook, limit: s.lim.capacity(s.limit)}
	rec := s.windowAt(now)
	d.accepted = s.lim.take(now, s.limit, 1) == 1
	if d.accepted {
		rec.Accepted++
		s.stats.Accepted++
	} else {
		s.lim.reject(now)
		rec.Rejected++
		s.stats.Rejected++
		if s.cfg.RetryAfter {
			d.retryAfter = s.lim.wait(now, s.limit)
		}
	}
	d.remaining, d.used = s.quota(now, d.limit)
	d.reset = s.resetIn(now, s.limit, d.used)
	return d
}

// quota returns the remaining count to report after a decision at now, and
// the used count: capacity minus the unclamped remaining count, at least 0.
// Requires mu held.
func (s *Server) quota(now time.Time, capacity int) (remaining, used int) {
	remaining = s.lim.remaining(now, s.limit)
	used = max(0, capacity-remaining)
	if !s.cfg.NegativeRemaining {
		remaining = max(0, remaining)
	}
	return remaining, used
}

// aligned reports whether the accounting windows are aligned to the Unix
// epoch and Config.Offset rather than to the first event.
func (s *Server) aligned() bool {
	return s.cfg.Policy.periodic() || s.cfg.Offset != 0
}

// index returns the number of the window containing t. Requires mu held.
func (s *Server) index(t time.Time) int64 {
	if s.aligned() {
		return periods{s.cfg.Window, s.cfg.Offset}.index(t)
	}
	return floorDiv(int64(t.Sub(s.origin)), int64(s.cfg.Window))
}

// windowStart returns the first instant of window idx. Requires mu held.
func (s *Server) windowStart(idx int64) time.Time {
	if s.aligned() {
		return periods{s.cfg.Window, s.cfg.Offset}.start(idx)
	}
	return s.origin.Add(time.Duration(idx) * s.cfg.Window)
}

// windowAt returns the record of the window containing t, creating it if
// needed. The first call fixes the origin of unaligned windows. A t before
// the last record (a wall clock stepped back) is counted in the last record.
// Requires mu held.
func (s *Server) windowAt(t time.Time) *WindowStats {
	if len(s.windows) == 0 {
		s.origin = t
	}
	idx := s.index(t)
	if n := len(s.windows); n > 0 && idx <= s.windows[n-1].idx {
		return &s.windows[n-1].WindowStats
	}
	s.windows = append(s.windows, windowRec{idx: idx, WindowStats: WindowStats{Start: s.windowStart(idx), Limit: s.limit}})
	return &s.windows[len(s.windows)-1].WindowStats
}

// SetLimit changes the limit from now on; responses report the new limit (or
// the bucket's capacity, Config.Burst, if it is not zero). A negative n is
// taken as 0, which rejects every request.
//
// A FixedWindow or WeightedWindow keeps its counts, so lowering the limit
// below them rejects requests until they age out. A SlidingWindow keeps its
// log. A TokenBucket is refilled at the old rate up to now, then refills at
// the new rate and holds at most its capacity (n when Burst is zero). A GCRA
// keeps its theoretical arrival time, as a GCRA store does when its rate
// changes, and spaces later requests by Window/n. A LeakyBucket is drained at
// the old rate up to now, then at the new rate; its level is kept, even above
// a lowered capacity.
func (s *Server) SetLimit(n int) {
	n = max(n, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.lim.setLimit(now, s.limit, n)
	s.limit = n
	if len(s.windows) > 0 {
		s.windowAt(now).Limit = n
	}
}

// Consume lets a background consumer take up to n requests of the quota now,
// as if another client had made them, and returns how many were granted. The
// grants count in [Stats].Consumed and [WindowStats].Consumed, not in Accepted,
// and call no hook. The part not granted is not counted, even with
// Config.CountRejected. A non-positive n grants nothing and is not recorded.
func (s *Server) Consume(n int) int {
	if n <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	rec := s.windowAt(now)
	g := s.lim.take(now, s.limit, n)
	rec.Consumed += g
	s.stats.Consumed += g
	return g
}

// Stats returns the counts since the Server was created.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Windows returns one entry per window, oldest first, from the window of the
// first request (or [Server.Consume]) to the window of the latest request,
// Consume or [Server.SetLimit], including windows without traffic between them.
// The windows are consecutive and Window long. FixedWindow and WeightedWindow
// report their enforcement windows; the other policies report windows that
// start at Config.Offset + k*Window since the Unix epoch if Offset is not
// zero, and at their first arrival otherwise. Windows returns nil before the
// first request.
func (s *Server) Windows() []WindowStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.windows) == 0 {
		return nil
	}
	out := make([]WindowStats, 0, s.windows[len(s.windows)-1].idx-s.windows[0].idx+1)
	for i, rec := range s.windows {
		if i > 0 {
			prev := s.windows[i-1]
			for k := prev.idx + 1; k < rec.idx; k++ {
				out = append(out, WindowStats{Start: s.windowStart(k), Limit: prev.Limit})
			}
		}
		out = append(out, rec.WindowStats)
	}
	return out
}

// SetHook sets a function called once for every request the Server
// receives, without any lock of the Server held; it may run concurrently for
// concurrent requests. For a request the API processes, it is called after
// the quota decision and after the body is read, before the latency. For a
// request that a fault answers in place of the API (see [Fault.Processes]),
// it is called after the body is read, with [Event].Processed false and
// [Event].Fault set; a fault that processes the request sets Fault too. It
// is not called for a request whose context had ended before
// [Server.RoundTrip] received it (that request is not received), nor for
// [Server.Consume]. A nil f removes the hook.
func (s *Server) SetHook(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// Start serves s on a loopback address (127.0.0.1, HTTP/1.1, no TLS) and
// returns its URL, such as "http://127.0.0.1:38017". It is idempotent while
// started; after [Server.Close] it starts a new listener. Like
// [httptest.NewServer], it panics if it cannot listen.
func (s *Server) Start() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.ts != nil {
		return s.ts.URL
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("ratehttptest: listening on loopback: " + err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ts = &httptest.Server{Listener: l, Config: &http.Server{
		Handler:     http.HandlerFunc(s.serveWire),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}}
	s.cancel = cancel
	s.ts.Start()
	return s.ts.URL
}

// URL returns the loopback server's URL, or "" if it is not started.
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Close stops the loopback server, if started, and waits for its requests to
// finish; requests waiting out the latency are aborted, and their clients get
// an error. It
// does not reset the quota or the counts. Close is a no-op if the server is
// not started.
func (s *Server) Close() {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.ts == nil {
		return
	}
	s.cancel()
	s.ts.Close()
	s.ts, s.cancel = nil, nil
}

func readBody(body io.ReadCloser, keep bool) (n int64, crc uint32, data []byte, err error) {
	if body == nil {
		return 0, 0, nil, nil
	}
	defer body.Close()
	h := crc32.NewIEEE()
	var buf bytes.Buffer
	var dst io.Writer = h
	if keep {
		dst = io.MultiWriter(h, &buf)
	}
	n, err = io.Copy(dst, body)
	return n, h.Sum32(), buf.Bytes(), err
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// sleep waits d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}
