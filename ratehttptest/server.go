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
// The Server is an [http.RoundTripper], so most tests plug it in as a client's
// transport and never open a socket:
//
//	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 2, Window: time.Minute})
//	client := &http.Client{Transport: srv}
//	resp, err := client.Get("http://api.example/v1/items") // the host is ignored
//
// It is also an [http.Handler], and [Server.Start] serves it on a loopback
// address for tests that need the wire.
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
// body's length and CRC-32; [Server.SetLimit] and [Server.Consume] change the
// quota mid-run as a real API's operators and other clients would.
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
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Policy selects how a [Server] counts requests against its limit.
type Policy int

const (
	// FixedWindow counts requests in windows aligned to multiples of
	// Config.Window since the Unix epoch (so minute, hour and day windows start
	// on UTC boundaries), shifted by Config.Offset. The count resets at each
	// window's start.
	FixedWindow Policy = iota
	// SlidingWindow accepts a request if fewer than Limit requests were
	// accepted in the Window before it (a sliding log). A request accepted at
	// ts stops counting at exactly ts+Window.
	SlidingWindow
	// TokenBucket keeps a bucket of Limit tokens, full at the start and refilled
	// continuously at Limit tokens per Window; each accepted request takes one
	// token. X-Ratelimit-Used reports the whole tokens left. Tokens are
	// floating point; a token due at an instant is available at that instant
	// (within 1e-9 of a token).
	TokenBucket
)

// String returns the policy's name, such as "FixedWindow".
func (p Policy) String() string {
	switch p {
	case FixedWindow:
		return "FixedWindow"
	case SlidingWindow:
		return "SlidingWindow"
	case TokenBucket:
		return "TokenBucket"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

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
	// Offset shifts the FixedWindow boundaries: windows start at
	// Offset + k*Window since the Unix epoch. Zero means aligned. Other
	// policies ignore it.
	Offset time.Duration
	// UsedMeansUsed makes X-Ratelimit-Used carry the number of requests used
	// in the window instead of the number remaining (the vendor's default).
	UsedMeansUsed bool
	// OmitHeaders suppresses the X-Ratelimit, X-Ratelimit-Used and
	// X-Ratelimit-Window headers. X-Request-Id is still sent, and Retry-After
	// is governed by RetryAfter alone.
	OmitHeaders bool
	// RetryAfter adds a Retry-After header to 429 responses: the whole seconds,
	// rounded up and at least 1, until the current window resets (FixedWindow)
	// or until the next request would be accepted (other policies). The vendor
	// never sends it, so the default is false.
	RetryAfter bool
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
	// started, or the one set by the last [Server.SetLimit] during it.
	Limit int
	// Accepted, Rejected and Consumed count as in [Stats].
	Accepted, Rejected, Consumed int
}

// Event describes one request seen by a [Server], for the hook set with
// [Server.SetHook].
type Event struct {
	// Time is the request's arrival, when the quota decision was taken.
	Time time.Time
	// Method and Path are the request's method and URL path.
	Method, Path string
	// RequestID is the X-Request-Id sent with the response.
	RequestID string
	// Status is the quota decision: 200 if accepted, 429 if rejected. A
	// Config.Handler's own status is not reflected.
	Status int
	// Remaining is the number of requests remaining after the decision (whole
	// tokens for TokenBucket), whatever Config.UsedMeansUsed says.
	Remaining int
	// BodyLen and BodyCRC are the length and CRC-32 (IEEE) of the request
	// body; both are 0 for a request without a body.
	BodyLen int64
	BodyCRC uint32
	// Header is a clone of the request header.
	Header http.Header
}

// Header names and bodies sent by a [Server].
const (
	// HeaderLimit carries the limit per window.
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

// tokenEpsilon absorbs float rounding in the token bucket, so that a token due
// at an exact instant is available at that instant.
const tokenEpsilon = 1e-9

// Server is a simulated API enforcing a request quota. It implements
// [http.RoundTripper] (in memory) and [http.Handler], and can serve itself on a
// loopback address with [Server.Start]. Most tests want it as the Transport
// of an [http.Client].
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
	hook    func(Event) // requires mu held
	stats   Stats       // requires mu held
	origin  time.Time   // first event, for non-fixed windows; valid once windows is non-empty
	windows []windowRec // windows with events, ascending idx; requires mu held
	log     []time.Time // SlidingWindow: accepted instants, oldest first
	tokens  float64     // TokenBucket: tokens left at last
	last    time.Time   // TokenBucket: last refill; zero before the first event
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

// NewServer returns an in-memory Server for cfg. It starts no goroutine and
// opens no socket. It panics if cfg is invalid: Limit <= 0, a negative Window
// or Latency, an unknown Policy, or an invalid Fault.
func NewServer(cfg Config) *Server {
	switch {
	case cfg.Limit <= 0:
		panic("ratehttptest: Config.Limit must be > 0")
	case cfg.Window < 0:
		panic("ratehttptest: Config.Window must not be negative")
	case cfg.Latency < 0:
		panic("ratehttptest: Config.Latency must not be negative")
	case cfg.Policy < FixedWindow || cfg.Policy > TokenBucket:
		panic("ratehttptest: unknown Config.Policy " + cfg.Policy.String())
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	s := &Server{cfg: cfg, unit: cfg.Unit, limit: cfg.Limit, tokens: float64(cfg.Limit)}
	s.faults = newFaultState(cfg.Faults, cfg.FaultSeed)
	if s.unit == "" {
		s.unit = unitOf(cfg.Window)
	}
	return s
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
	if err := s.serve(rec, r); err != nil {
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
	retryAfter time.Duration // 0 unless rejected with Config.RetryAfter
	hook       func(Event)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
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
		})
	}
	if readErr != nil {
		return fmt.Errorf("ratehttptest: reading request body: %w", readErr)
	}
	if err := sleep(r.Context(), s.cfg.Latency); err != nil {
		return err
	}

	h := w.Header()
	h.Set(HeaderRequestID, d.id)
	if !s.cfg.OmitHeaders {
		h.Set(HeaderLimit, strconv.Itoa(d.limit))
		if s.cfg.UsedMeansUsed {
			h.Set(HeaderUsed, strconv.Itoa(d.used))
		} else {
			h.Set(HeaderUsed, strconv.Itoa(d.remaining))
		}
		h.Set(HeaderWindow, s.unit)
	}
	switch {
	case !d.accepted:
		if d.retryAfter > 0 {
			secs := (d.retryAfter + time.Second - 1) / time.Second
			h.Set("Retry-After", strconv.FormatInt(int64(max(secs, 1)), 10))
		}
		writeJSON(w, r, http.StatusTooManyRequests, ThrottledBody)
	case s.cfg.Handler != nil:
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.cfg.Handler.ServeHTTP(w, r)
	default:
		writeJSON(w, r, http.StatusOK, OKBody)
	}
	return nil
}

// arrive takes the quota decision for one request arriving now.
func (s *Server) arrive() decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.nextID++
	d := decision{now: now, id: fmt.Sprintf("req-%06d", s.nextID), hook: s.hook, limit: s.limit}
	rec := s.windowAt(now)
	d.accepted = s.admit(now, 1, rec) == 1
	if d.accepted {
		rec.Accepted++
		s.stats.Accepted++
	} else {
		rec.Rejected++
		s.stats.Rejected++
		if s.cfg.RetryAfter {
			d.retryAfter = s.retryAfter(now)
		}
	}
	d.remaining, d.used = s.quota(rec)
	return d
}

// admit grants up to n units of quota at now and returns how many it granted.
// rec is the window containing now. Requires mu held.
func (s *Server) admit(now time.Time, n int, rec *WindowStats) int {
	var free int
	switch s.cfg.Policy {
	case FixedWindow:
		free = s.limit - rec.Accepted - rec.Consumed
	case SlidingWindow:
		s.expire(now)
		free = s.limit - len(s.log)
	case TokenBucket:
		s.refill(now)
		free = int(math.Floor(s.tokens + tokenEpsilon))
	}
	g := max(0, min(n, free))
	switch s.cfg.Policy {
	case SlidingWindow:
		for range g {
			s.log = append(s.log, now)
		}
	case TokenBucket:
		s.tokens -= float64(g)
	}
	return g
}

// quota returns the remaining and used counts as of the last admit. Requires
// mu held.
func (s *Server) quota(rec *WindowStats) (remaining, used int) {
	switch s.cfg.Policy {
	case FixedWindow:
		used = rec.Accepted + rec.Consumed
		return max(0, s.limit-used), used
	case SlidingWindow:
		return max(0, s.limit-len(s.log)), len(s.log)
	default:
		remaining = max(0, int(math.Floor(s.tokens+tokenEpsilon)))
		return remaining, max(0, s.limit-remaining)
	}
}

// expire drops sliding-log entries that are a Window old or older. Requires mu held.
func (s *Server) expire(now time.Time) {
	i := 0
	for i < len(s.log) && now.Sub(s.log[i]) >= s.cfg.Window {
		i++
	}
	s.log = s.log[i:]
}

// refill adds the tokens earned since the last refill. Requires mu held.
func (s *Server) refill(now time.Time) {
	if !s.last.IsZero() {
		if el := now.Sub(s.last); el > 0 {
			s.tokens += float64(el) * float64(s.limit) / float64(s.cfg.Window)
			s.tokens = min(s.tokens, float64(s.limit))
		}
	}
	s.last = now
}

// retryAfter returns the time from now until a request could be accepted:
// the window's reset for FixedWindow, the next free slot otherwise. Requires
// mu held, after admit.
func (s *Server) retryAfter(now time.Time) time.Duration {
	w := s.cfg.Window
	switch s.cfg.Policy {
	case FixedWindow:
		return s.windowStart(s.index(now) + 1).Sub(now)
	case SlidingWindow:
		if s.limit <= 0 || len(s.log) < s.limit {
			return w
		}
		return s.log[len(s.log)-s.limit].Add(w).Sub(now)
	default:
		if s.limit <= 0 {
			return w
		}
		need := 1 - tokenEpsilon - s.tokens // as admit judges it
		return time.Duration(math.Ceil(need * float64(w) / float64(s.limit)))
	}
}

// index returns the number of the window containing t. Requires mu held.
func (s *Server) index(t time.Time) int64 {
	w := int64(s.cfg.Window)
	if s.cfg.Policy == FixedWindow {
		return floorDiv(t.UnixNano()-int64(s.cfg.Offset), w)
	}
	return floorDiv(int64(t.Sub(s.origin)), w)
}

// windowStart returns the first instant of window idx. Requires mu held.
func (s *Server) windowStart(idx int64) time.Time {
	if s.cfg.Policy == FixedWindow {
		return time.Unix(0, idx*int64(s.cfg.Window)+int64(s.cfg.Offset)).UTC()
	}
	return s.origin.Add(time.Duration(idx) * s.cfg.Window)
}

// windowAt returns the record of the window containing t, creating it if
// needed. The first call fixes the origin of non-fixed windows. A t before
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

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// SetLimit changes the limit from now on; responses report the new limit.
// A FixedWindow keeps the current window's count, so lowering the limit below
// it rejects requests until the window resets. A SlidingWindow keeps its log.
// A TokenBucket is refilled at the old rate up to now, then refills at the new
// rate and holds at most n tokens. A negative n is taken as 0, which rejects
// every request.
func (s *Server) SetLimit(n int) {
	n = max(n, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.cfg.Policy == TokenBucket {
		s.refill(now)
		s.tokens = min(s.tokens, float64(n))
	}
	s.limit = n
	if len(s.windows) > 0 {
		s.windowAt(now).Limit = n
	}
}

// Consume lets a background consumer take up to n requests of the quota now,
// as if another client had made them, and returns how many were granted. The
// grants count in [Stats].Consumed and [WindowStats].Consumed, not in Accepted,
// and call no hook. A non-positive n grants nothing and is not recorded.
func (s *Server) Consume(n int) int {
	if n <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	rec := s.windowAt(now)
	g := s.admit(now, n, rec)
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
// FixedWindow reports its enforcement windows; other policies report
// consecutive Window-long periods starting at the first arrival. Windows
// returns nil before the first request.
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

// SetHook sets a function called for every request after the quota decision
// and after the body is read, before the latency, without any lock of the
// Server held; it may run concurrently for concurrent requests. A nil f
// removes the hook. Calls to [Server.Consume] do not call it.
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
