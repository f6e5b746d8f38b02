package ratehttptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file makes a Server misbehave on purpose: Config.Faults lists the
// faults, Config.FaultSeed makes their schedule reproducible, and
// Server.FaultStats counts what was injected.
//
// A fault either processes the request first (the quota counts it, the hook
// and Config.Handler see it, then the reply is spoilt) or replaces the API
// altogether (a proxy or a network in front of it answered, or dropped the
// connection, and the API never saw the request: no quota, no handler, no
// X-Request-Id). The hook sees both sorts, with Event.Fault set and
// Event.Processed telling them apart. Tests that check "a POST is never
// executed twice" count the events with Processed set, or the executions in
// the handler, and use faults of both sorts: a retry after a fault that
// processed executes twice.

// FaultKind names a way in which a [Server] misbehaves. See [Fault].
type FaultKind int

const (
	// FaultReset drops the connection before any response, without the API
	// seeing the request. In memory, RoundTrip returns a [*net.OpError]
	// wrapping [syscall.ECONNRESET]; on the wire the connection is hijacked
	// and closed with a TCP reset.
	FaultReset FaultKind = iota + 1
	// FaultResetAfter processes the request, then drops the connection
	// before any response, as FaultReset does: the client cannot tell that
	// the request was executed.
	FaultResetAfter
	// FaultResetMidBody processes the request and sends the response's
	// status and headers with a Content-Length of Fault.Size bytes (64 KiB
	// by default; the real body padded with spaces), but only half of the
	// body. In memory, reading the body fails after those bytes with the
	// error of FaultReset; on the wire the connection is closed there, and
	// the client sees [io.ErrUnexpectedEOF] (a TCP reset could destroy the
	// bytes still in flight, and make the fault a FaultResetAfter).
	FaultResetMidBody
	// FaultServerError answers with Fault.Status and the JSON error body
	// {"error_code":"SVC.0500","error_msg":"Internal Server Error"} (code
	// and text following the status), with the Retry-After header
	// Fault.RetryAfter if not empty. A zero Status cycles through 500, 502,
	// 503 and 504.
	FaultServerError
	// FaultThrottle answers 429 with [ThrottledBody] and the Retry-After
	// header Fault.RetryAfter, verbatim, whatever it holds (such as "soon",
	// "-1" or forty digits). It never processes the request, since a 429
	// says that the server did not.
	FaultThrottle
	// FaultSlowHeaders processes the request and delays the response's
	// head by Fault.Delay (one second by default). On the wire the status
	// line and headers trickle out in eight pieces spread over the delay,
	// then the body follows and the connection is closed.
	FaultSlowHeaders
	// FaultBadRateHeaders processes the request and spoils one of its
	// rate-limit headers with nonsense: a negative, non-numeric, empty or
	// overflowing limit or count, a remaining count far over the limit, an
	// absurd or empty window, or a GitHub-style remaining count of -7. The
	// n-th such fault uses the n-th of these variants, cyclically.
	FaultBadRateHeaders
	// FaultHugeHeader processes the request and sets the header
	// Fault.Header (X-Ratelimit-Used by default) to Fault.Size digits (64 KiB
	// by default).
	FaultHugeHeader
	// FaultHugeBody answers with Fault.Status (500 by default) and a
	// text/plain body of Fault.Size bytes (100 MiB by default), with its
	// Content-Length. The body is generated as it is read: it costs the
	// Server no memory. In memory it flows at 64 MiB/s (it waits a
	// millisecond every 64 KiB), as it would through a network.
	FaultHugeBody
	// FaultEndlessBody answers with Fault.Status (500 by default) and a
	// text/plain body that never ends: in memory it flows at 64 MiB/s, as
	// FaultHugeBody's does, and reading it fails only when the request's
	// context ends; on the wire it is sent chunked until the client goes
	// away or the Server is closed.
	FaultEndlessBody
	// FaultProxyHTML answers with Fault.Status (502 by default) and the HTML
	// error page of a proxy in front of the API, without rate-limit headers
	// unless the request was processed.
	FaultProxyHTML
	// FaultEcho answers with Fault.Status (400 by default), a JSON error
	// body that echoes the request's method, URI (query included) and
	// headers, and an X-Echo-<Name> response header per request header, as
	// a hostile or debugging server might. Its error_msg is the constant
	// "request echoed".
	FaultEcho

	faultKinds = iota + 1 // one more than the last kind
)

var faultNames = [faultKinds]string{
	FaultReset:          "reset",
	FaultResetAfter:     "reset_after",
	FaultResetMidBody:   "reset_mid_body",
	FaultServerError:    "server_error",
	FaultThrottle:       "throttle",
	FaultSlowHeaders:    "slow_headers",
	FaultBadRateHeaders: "bad_rate_headers",
	FaultHugeHeader:     "huge_header",
	FaultHugeBody:       "huge_body",
	FaultEndlessBody:    "endless_body",
	FaultProxyHTML:      "proxy_html",
	FaultEcho:           "echo",
}

// String returns the kind's name in snake case, such as "reset_mid_body".
func (k FaultKind) String() string {
	if k > 0 && k < faultKinds {
		return faultNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one way in which a [Server] misbehaves, and how often. Exactly one
// of Rate and Every must be set. The other fields are read only by the kinds
// whose documentation names them; zero values mean the kind's defaults.
type Fault struct {
	Kind FaultKind
	// Rate is the probability, in (0, 1], that a request gets this fault.
	// The draws come from a PCG source seeded with Config.FaultSeed, one per
	// request in arrival order, so a schedule is reproducible: the n-th
	// request gets the same fault in every run. The Rates of a Config must
	// add up to at most 1; each request gets at most one fault.
	Rate float64
	// Every injects the fault into every Every-th request: the Every-th,
	// the 2·Every-th, and so on, counting every request the Server
	// received. Every faults are checked before Rate faults, in order.
	Every int
	// Processed makes FaultServerError, FaultHugeBody, FaultEndlessBody,
	// FaultProxyHTML and FaultEcho process the request (quota, handler)
	// before answering with the fault, keeping the rate-limit and
	// X-Request-Id headers. Without it they replace the API. The hook sees
	// the request either way, with [Event].Processed saying which. The
	// other kinds ignore it: see [Fault.Processes].
	Processed bool
	// Status is the status code of FaultServerError, FaultHugeBody,
	// FaultEndlessBody, FaultProxyHTML and FaultEcho: zero for the kind's
	// default, else 400 to 599.
	Status int
	// RetryAfter is the Retry-After value of FaultServerError and
	// FaultThrottle, sent verbatim; "" sends none.
	RetryAfter string
	// Delay is how late FaultSlowHeaders sends the head.
	Delay time.Duration
	// Size is the length of FaultResetMidBody's promised body, of
	// FaultHugeHeader's value and of FaultHugeBody's body, in bytes.
	Size int64
	// Header is the header FaultHugeHeader fills.
	Header string
}

// Processes reports whether the fault lets the API process the request
// before spoiling the reply: always for FaultResetAfter, FaultResetMidBody,
// FaultSlowHeaders, FaultBadRateHeaders and FaultHugeHeader; never for
// FaultReset and FaultThrottle; as Processed says for the others.
func (f Fault) Processes() bool {
	switch f.Kind {
	case FaultResetAfter, FaultResetMidBody, FaultSlowHeaders, FaultBadRateHeaders, FaultHugeHeader:
		return true
	case FaultReset, FaultThrottle:
		return false
	}
	return f.Processed
}

// String describes the fault, such as "server_error 503 Retry-After=\"1\"
// processed every 7".
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(f.Kind.String())
	if f.Status != 0 {
		fmt.Fprintf(&b, " %d", f.Status)
	}
	if f.RetryAfter != "" {
		fmt.Fprintf(&b, " Retry-After=%q", f.RetryAfter)
	}
	if f.Processes() {
		b.WriteString(" processed")
	}
	if f.Every > 0 {
		fmt.Fprintf(&b, " every %d", f.Every)
	} else {
		fmt.Fprintf(&b, " rate %g", f.Rate)
	}
	return b.String()
}

// Defaults of the Fault fields.
const (
	defaultMidBodySize = 64 << 10
	defaultHeaderSize  = 64 << 10
	defaultHugeBody    = 100 << 20
	defaultSlowHeaders = time.Second
)

func (f *Fault) status(n int) int {
	if f.Status != 0 {
		return f.Status
	}
	switch f.Kind {
	case FaultServerError:
		return [...]int{500, 502, 503, 504}[(n-1)%4]
	case FaultProxyHTML:
		return http.StatusBadGateway
	case FaultEcho:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func orDefault[T int64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// validate panics, as NewServer does for a bad Config, if f is unusable.
func (f *Fault) validate() {
	msg := ""
	switch {
	case f.Kind <= 0 || f.Kind >= faultKinds:
		msg = "unknown Kind " + f.Kind.String()
	case (f.Rate > 0) == (f.Every > 0) || f.Rate < 0 || f.Every < 0 || f.Rate > 1:
		msg = "exactly one of Rate, in (0, 1], and Every, > 0, must be set"
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		msg = "Status must be 0 or 400 to 599"
	case f.Delay < 0 || f.Size < 0:
		msg = "Delay and Size must not be negative"
	}
	if msg != "" {
		panic("ratehttptest: Config.Faults: " + f.String() + ": " + msg)
	}
}

// faultState schedules the faults of a Server. A nil *faultState injects
// nothing.
type faultState struct {
	faults []Fault // frozen copy of Config.Faults

	mu    sync.Mutex
	n     int        // requests seen; requires mu held
	rng   *rand.Rand // requires mu held
	stats [faultKinds]int
}

// newFaultState returns the schedule of faults, or nil if there are none. It
// panics if a fault is invalid or the rates add up to more than 1.
func newFaultState(faults []Fault, seed uint64) *faultState {
	if len(faults) == 0 {
		return nil
	}
	var sum float64
	for i := range faults {
		faults[i].validate()
		sum += faults[i].Rate
	}
	if sum > 1+1e-9 {
		panic(fmt.Sprintf("ratehttptest: Config.Faults: rates add up to %g, more than 1", sum))
	}
	return &faultState{
		faults: append([]Fault(nil), faults...),
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// pick returns the fault of the next request, or nil, and how many faults of
// that kind were injected, this one included.
func (fs *faultState) pick() (*Fault, int) {
	if fs == nil {
		return nil, 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.n++
	u := fs.rng.Float64() // drawn for every request, so the schedule depends on n only
	var f *Fault
	for i := range fs.faults {
		if e := fs.faults[i].Every; e > 0 && fs.n%e == 0 {
			f = &fs.faults[i]
			break
		}
	}
	for i := 0; f == nil && i < len(fs.faults); i++ {
		if r := fs.faults[i].Rate; r > 0 {
			if u < r {
				f = &fs.faults[i]
			}
			u -= r
		}
	}
	if f == nil {
		return nil, 0
	}
	fs.stats[f.Kind]++
	return f, fs.stats[f.Kind]
}

// FaultStats returns how many faults of each kind the Server injected since
// it was created. Kinds never injected are absent; the map is the caller's.
func (s *Server) FaultStats() map[FaultKind]int {
	m := make(map[FaultKind]int)
	if s.faults == nil {
		return m
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for k, n := range s.faults.stats {
		if n > 0 {
			m[FaultKind(k)] = n
		}
	}
	return m
}

// faultReply is what a Server sends in place of its normal reply.
type faultReply struct {
	resp  *http.Response // nil: the connection drops without a response
	cut   int64          // >= 0: the connection drops after cut bytes of the body
	delay time.Duration  // the head is sent this late
}

// errReset is what a client sees of a connection reset, in memory.
func errReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// roundTripFault is RoundTrip for a request that gets fault f, the n-th of
// its kind. r is the handler side's clone of req.
func (s *Server) roundTripFault(req, r *http.Request, f *Fault, n int) (*http.Response, error) {
	rep, err := s.faultReply(r, f, n)
	if err != nil {
		return nil, err
	}
	if rep.resp == nil {
		return nil, errReset()
	}
	ctx := req.Context()
	if err := sleep(ctx, rep.delay); err != nil {
		return nil, err
	}
	resp := rep.resp
	var body io.Reader = resp.Body
	if rep.cut >= 0 {
		body = io.MultiReader(io.LimitReader(body, rep.cut), errReader{errReset()})
	}
	paced := f.Kind == FaultHugeBody || f.Kind == FaultEndlessBody
	resp.Body = &faultBody{ctx: ctx, r: body, paced: paced}
	resp.Request = req
	return resp, nil
}

// faultBody is an in-memory fault body. Like a body read from the wire, it
// fails once the request's context has ended. Huge and endless bodies also
// flow at a bounded rate, paceChunk bytes a millisecond (64 MiB/s): a reader
// that never stops then meets its deadline even on synctest's fake clock,
// which a goroutine that never blocks would hold still, and it has read
// hundreds of megabytes at most, not all the memory there is.
type faultBody struct {
	ctx    context.Context
	r      io.Reader
	paced  bool
	credit int         // bytes that may be read before the next pause
	closed atomic.Bool // Close may come from another goroutine
}

const paceChunk = 64 << 10

func (b *faultBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.paced {
		if b.credit <= 0 {
			if err := sleep(b.ctx, time.Millisecond); err != nil {
				return 0, err
			}
			b.credit = paceChunk
		}
		p = p[:min(len(p), b.credit)]
	}
	n, err := b.r.Read(p)
	b.credit -= n
	return n, err
}

func (b *faultBody) Close() error { b.closed.Store(true); return nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// serveOrFault serves r on the wire, or answers with the fault the schedule
// picks for it.
func (s *Server) serveOrFault(w http.ResponseWriter, r *http.Request) error {
	f, n := s.faults.pick()
	if f == nil {
		return s.serve(w, r, 0)
	}
	rep, err := s.faultReply(r, f, n)
	if err != nil {
		return err
	}
	rep.write(w, r)
	return nil
}

// bypass records r, which fault kind answers in place of the API: the body
// is read and closed, as by a proxy in front of the API, and the hook sees
// the request, but the quota does not, and no X-Request-Id is issued. A
// read error is not reported: the fault's reply goes out all the same.
func (s *Server) bypass(r *http.Request, kind FaultKind) {
	s.mu.Lock()
	now, hook := time.Now(), s.hook
	s.mu.Unlock()
	n, crc, _, _ := readBody(r.Body, false)
	if hook != nil {
		hook(Event{
			Time: now, Method: r.Method, Path: r.URL.Path,
			BodyLen: n, BodyCRC: crc, Header: r.Header.Clone(), Fault: kind,
		})
	}
}

// faultReply processes r if f says so, and returns the reply of fault f, the
// n-th of its kind. It returns serve's error if processing failed.
func (s *Server) faultReply(r *http.Request, f *Fault, n int) (faultReply, error) {
	rep := faultReply{cut: -1}
	var served *http.Response
	if f.Processes() {
		rec := httptest.NewRecorder()
		if err := s.serve(rec, r, f.Kind); err != nil {
			return rep, err
		}
		served = rec.Result()
	} else {
		s.bypass(r, f.Kind)
	}
	switch f.Kind {
	case FaultReset, FaultResetAfter:
		return rep, nil
	case FaultResetMidBody:
		body, _ := io.ReadAll(served.Body) // a recorder's body
		size := max(int(orDefault(f.Size, defaultMidBodySize)), len(body))
		body = append(body, bytes.Repeat([]byte(" "), size-len(body))...)
		rep.resp = faultResponse(served, served.StatusCode, "", bytes.NewReader(body), int64(size))
		rep.cut = int64(size / 2)
	case FaultServerError:
		code := f.status(n)
		body := fmt.Sprintf(`{"error_code":"SVC.%04d","error_msg":%q}`, code, http.StatusText(code))
		rep.resp = faultResponse(served, code, "application/json", strings.NewReader(body), int64(len(body)))
		if f.RetryAfter != "" {
			rep.resp.Header.Set("Retry-After", f.RetryAfter)
		}
	case FaultThrottle:
		rep.resp = faultResponse(nil, http.StatusTooManyRequests, "application/json", strings.NewReader(ThrottledBody), int64(len(ThrottledBody)))
		if f.RetryAfter != "" {
			rep.resp.Header.Set("Retry-After", f.RetryAfter)
		}
	case FaultSlowHeaders:
		rep.resp = served
		rep.delay = orDefault(f.Delay, defaultSlowHeaders)
	case FaultBadRateHeaders:
		rep.resp = served
		v := badRateHeaders[(n-1)%len(badRateHeaders)]
		served.Header[v.name] = []string{v.value}
	case FaultHugeHeader:
		rep.resp = served
		name := f.Header
		if name == "" {
			name = HeaderUsed
		}
		served.Header.Set(name, strings.Repeat("9", int(orDefault(f.Size, defaultHeaderSize))))
	case FaultHugeBody:
		size := orDefault(f.Size, defaultHugeBody)
		rep.resp = faultResponse(served, f.status(n), "text/plain; charset=utf-8", &pattern{n: size}, size)
	case FaultEndlessBody:
		rep.resp = faultResponse(served, f.status(n), "text/plain; charset=utf-8", &pattern{n: -1}, -1)
	case FaultProxyHTML:
		code := f.status(n)
		page := proxyPage(code)
		rep.resp = faultResponse(served, code, "text/html", strings.NewReader(page), int64(len(page)))
	case FaultEcho:
		code := f.status(n)
		b, _ := json.Marshal(map[string]any{
			"error_code": fmt.Sprintf("ECHO.%04d", code),
			"error_msg":  "request echoed",
			"request":    map[string]any{"method": r.Method, "uri": r.RequestURI, "header": r.Header},
		})
		rep.resp = faultResponse(served, code, "application/json", bytes.NewReader(b), int64(len(b)))
		for k, v := range r.Header {
			rep.resp.Header["X-Echo-"+k] = v
		}
	}
	if r.Method == http.MethodHead {
		rep.resp.Body, rep.cut = http.NoBody, -1
	}
	return rep, nil
}

// badRateHeaders are the variants of FaultBadRateHeaders, in order.
var badRateHeaders = [...]struct{ name, value string }{
	{HeaderLimit, "-5"},
	{HeaderUsed, "-1"},
	{HeaderLimit, "lots"},
	{HeaderUsed, "many"},
	{HeaderLimit, ""},
	{HeaderUsed, ""},
	{HeaderUsed, "1000000000"}, // remaining far over the limit
	{HeaderLimit, "99999999999999999999999"},
	{HeaderWindow, "10000 days"},
	{HeaderWindow, "0"},
	{HeaderWindow, "-1 minute"},
	{HeaderWindow, "1ns"},
	{HeaderWindow, ""},
	{"X-Ratelimit-Remaining", "-7"}, // makes the response look like GitHub's
}

// faultResponse returns a response with status code and body, keeping the headers of
// served (the processed reply) if any. A length of -1 means unknown.
func faultResponse(served *http.Response, code int, contentType string, body io.Reader, length int64) *http.Response {
	h := http.Header{}
	if served != nil {
		h = served.Header.Clone()
		h.Del("Content-Length")
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(body), ContentLength: length,
	}
}

// proxyPage is the error page of an nginx in front of the API, padded as
// nginx pads it so that browsers show it.
func proxyPage(code int) string {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	return "<html>\r\n<head><title>" + status + "</title></head>\r\n<body>\r\n<center><h1>" + status +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" +
		strings.Repeat("<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n", 6)
}

// pattern is a body of n bytes (endless if n < 0) of repeated text,
// generated as it is read.
type pattern struct {
	n   int64
	off int
}

const patternText = "internal server error; "

// patternBlock is patternText repeated, read-only. Its length is a multiple
// of the text's, so that reading it cyclically continues the pattern.
var patternBlock = bytes.Repeat([]byte(patternText), 1<<10)

func (p *pattern) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	if p.n > 0 && int64(len(b)) > p.n {
		b = b[:p.n]
	}
	for n := 0; n < len(b); {
		c := copy(b[n:], patternBlock[p.off:])
		n += c
		p.off = (p.off + c) % len(patternBlock)
	}
	if p.n > 0 {
		p.n -= int64(len(b))
	}
	return len(b), nil
}

// write sends the reply on the wire.
func (rep faultReply) write(w http.ResponseWriter, r *http.Request) {
	switch {
	case rep.resp == nil:
		reset(w)
	case rep.delay > 0 || rep.cut >= 0:
		rep.writeRaw(w, r)
	default:
		h := w.Header()
		for k, v := range rep.resp.Header {
			h[k] = v
		}
		w.WriteHeader(rep.resp.StatusCode)
		copyBody(r.Context(), w, http.NewResponseController(w), rep.resp.Body)
	}
}

// reset closes the connection with a TCP reset, or aborts the response when
// the connection cannot be hijacked (HTTP/2).
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// writeRaw writes the reply on the hijacked connection: the head trickled
// over rep.delay, then the body or its first rep.cut bytes, then it closes
// the connection.
func (rep faultReply) writeRaw(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	resp := rep.resp
	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Write(&head)
	head.WriteString("Connection: close\r\n\r\n")
	const pieces = 8
	b := head.Bytes()
	for i := range pieces {
		if sleep(ctx, rep.delay/pieces) != nil {
			return
		}
		if _, err := conn.Write(b[i*len(b)/pieces : (i+1)*len(b)/pieces]); err != nil {
			return
		}
	}
	body := resp.Body
	if rep.cut >= 0 {
		body = io.NopCloser(io.LimitReader(body, rep.cut))
	}
	copyBody(ctx, conn, conn, body)
}

// copyBody copies body to w until it ends, a write fails, or ctx ends (the
// client went away or the Server is closing): then a write deadline in the
// past unblocks the write in progress.
func copyBody(ctx context.Context, w io.Writer, dl interface{ SetWriteDeadline(time.Time) error }, body io.Reader) {
	stop := context.AfterFunc(ctx, func() { dl.SetWriteDeadline(time.Now()) })
	defer stop()
	io.Copy(w, body)
}
