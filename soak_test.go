package ratehttp

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// The soak tests drive 64 goroutines of GET, PUT and POST calls through two
// Transports (one returning responses, one with WithAPIErrors) against a
// ratehttptest.Server that injects every fault it knows, and check what must
// hold however the server misbehaves:
//
//   - every call ends, with a response or an error of a kind that this
//     package, net or net/http defines, by its deadline (plus a margin on the
//     wire);
//   - every body the server received is the one the caller sent (CRC-32),
//     and every 200 body read in full names the caller's own request;
//   - a call that must not be replayed (a POST without Idempotency-Key, a
//     PUT whose body has no GetBody) is executed by the server at most once;
//     the client sends the POST again only after a 429, the PUT never;
//   - the server never accepts more than its quota in a window;
//   - no goroutine, file descriptor or memory is left behind, although
//     100 MiB and endless bodies were offered.
//
// They run twice. On the loopback wire (TestSoakLoopback) the faults are real
// TCP resets, truncated and trickled responses, and http.Transport's own
// connection handling and retries take part: only this run can prove that no
// connection or descriptor leaks. In memory inside a synctest bubble
// (TestSoakSynctest) the same workload runs on a fake clock: it is exact
// (every call must end no later than its deadline, without margin), covers
// many more quota windows in little time, and its fault schedule is
// reproducible (the retries' jitter is not).
//
// By default they make 64×24 calls on the wire (about 15 s with -race on two
// cores: the quota of 150 a second is the bound) and 64×40 in memory (a few
// seconds). -soak.long (or RATEHTTP_SOAK_LONG=1) makes 64×500 and 64×1000.

var soakLongFlag = flag.Bool("soak.long", false, "run the soak tests at full length")

func soakLong() bool { return *soakLongFlag || os.Getenv("RATEHTTP_SOAK_LONG") == "1" }

const (
	soakWorkers     = 64
	soakCallTimeout = 5 * time.Second
	// soakReadLimit bounds what a caller reads of any body.
	soakReadLimit = 2 << 20
	// soakHeapLimit bounds the live heap after the run and a GC: the
	// server offered 100 MiB and endless bodies, none of which may be held.
	soakHeapLimit = 64 << 20
	// soakPeakLimit bounds the heap sampled during the run: 64 callers
	// each holding an APIError body (1 MiB at most) and a read buffer fit
	// well below it; a single 100 MiB body read into memory does not.
	soakPeakLimit = 96 << 20
)

// soakFaults is the fault mix, about 30% of requests in all: every kind the
// simulator has, except FaultEcho (see security_test.go).
func soakFaults() []ratehttptest.Fault {
	type F = ratehttptest.Fault
	return []F{
		{Kind: ratehttptest.FaultReset, Rate: 0.02},
		{Kind: ratehttptest.FaultResetAfter, Rate: 0.02},
		{Kind: ratehttptest.FaultResetMidBody, Rate: 0.02},
		{Kind: ratehttptest.FaultServerError, Rate: 0.03}, // 500, 502, 503, 504 in turn
		{Kind: ratehttptest.FaultServerError, Rate: 0.01, Status: 503, RetryAfter: "1"},
		{Kind: ratehttptest.FaultServerError, Rate: 0.01, Status: 500, Processed: true},
		{Kind: ratehttptest.FaultServerError, Rate: 0.01, Status: 502, RetryAfter: "0", Processed: true},
		{Kind: ratehttptest.FaultThrottle, Rate: 0.01, RetryAfter: "soon"},
		{Kind: ratehttptest.FaultThrottle, Rate: 0.005, RetryAfter: "-1"},
		{Kind: ratehttptest.FaultThrottle, Rate: 0.002, RetryAfter: strings.Repeat("9", 40)},
		{Kind: ratehttptest.FaultSlowHeaders, Rate: 0.01, Delay: 300 * time.Millisecond},
		{Kind: ratehttptest.FaultSlowHeaders, Rate: 0.002, Delay: 2 * soakCallTimeout}, // past every deadline
		{Kind: ratehttptest.FaultBadRateHeaders, Rate: 0.04},
		{Kind: ratehttptest.FaultHugeHeader, Rate: 0.01},
		{Kind: ratehttptest.FaultHugeBody, Rate: 0.003},    // 100 MiB
		{Kind: ratehttptest.FaultEndlessBody, Rate: 0.003}, // never ends
		{Kind: ratehttptest.FaultEndlessBody, Rate: 0.002, Processed: true},
		{Kind: ratehttptest.FaultProxyHTML, Rate: 0.02},
		{Kind: ratehttptest.FaultProxyHTML, Rate: 0.005, Status: 504, Processed: true},
	}
}

// soakOptions configure both Transports: quick retries, and a maximum wait
// that caps the pause a 40-digit Retry-After asks for.
func soakOptions() []Option {
	return []Option{
		WithRetries(3),
		WithBackoff(5*time.Millisecond, 100*time.Millisecond),
		WithMaxWait(time.Second),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
}

// Kinds of calls that must not be replayed.
const (
	soakStreamed = "PUT without GetBody"
	soakUnkeyed  = "POST without Idempotency-Key"
)

// Headers the soak sets on every request.
const (
	soakIDHeader  = "X-Soak-Id"
	soakCRCHeader = "X-Soak-Crc"
	soakLenHeader = "X-Soak-Len"
)

// soakLedger is what the server saw: executions (the handler ran) and bodies
// that did not match what their caller sent.
type soakLedger struct {
	mu        sync.Mutex
	executed  map[string]int
	corrupt   []string
	truncated int // bodies the server received only in part (the caller gave up)
}

func newSoakLedger() *soakLedger { return &soakLedger{executed: map[string]int{}} }

func (l *soakLedger) badf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.corrupt) < 20 {
		l.corrupt = append(l.corrupt, fmt.Sprintf(format, args...))
	}
}

// hook checks the body of every request the server received: accepted,
// rejected, or answered by a fault.
func (l *soakLedger) hook(e ratehttptest.Event) {
	id := e.Header.Get(soakIDHeader)
	want, _ := strconv.ParseInt(e.Header.Get(soakLenHeader), 10, 64)
	switch {
	case e.BodyLen == want && fmt.Sprintf("%08x", e.BodyCRC) != e.Header.Get(soakCRCHeader):
		l.badf("%s %s: server received a body with CRC %08x, want %s", e.Method, id, e.BodyCRC, e.Header.Get(soakCRCHeader))
	case e.BodyLen > want:
		l.badf("%s %s: server received %d body bytes, want %d", e.Method, id, e.BodyLen, want)
	case e.BodyLen < want:
		l.mu.Lock()
		l.truncated++
		l.mu.Unlock()
	}
}

// ServeHTTP is the API: it runs for every accepted request whose body was
// read in full, checks the body again and records the execution.
func (l *soakLedger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(soakIDHeader)
	body, _ := io.ReadAll(r.Body)
	if crc := fmt.Sprintf("%08x", crc32.ChecksumIEEE(body)); crc != r.Header.Get(soakCRCHeader) || strconv.Itoa(len(body)) != r.Header.Get(soakLenHeader) {
		l.badf("%s %s: executed with a %d-byte body of CRC %s, want %s bytes of CRC %s",
			r.Method, id, len(body), crc, r.Header.Get(soakLenHeader), r.Header.Get(soakCRCHeader))
	}
	l.mu.Lock()
	l.executed[id]++
	l.mu.Unlock()
	resp := soakReply(id)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	io.WriteString(w, resp)
}

func soakReply(id string) string { return `{"ok":true,"id":"` + id + `"}` }

// soakBase is the Transports' base: it records the outcome of every attempt
// of each call, by status (0 for an error).
type soakBase struct {
	rt       http.RoundTripper
	mu       sync.Mutex
	attempts map[string][]int
}

func (b *soakBase) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(r)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	b.mu.Lock()
	id := r.Header.Get(soakIDHeader)
	b.attempts[id] = append(b.attempts[id], code)
	b.mu.Unlock()
	return resp, err
}

func (b *soakBase) CloseIdleConnections() {
	if c, ok := b.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// soakStats is what the callers saw.
type soakStats struct {
	mu         sync.Mutex
	calls      int
	outcomes   map[string]int // "200", "503", "error rate_limited", …
	bodyErrors map[string]int
	once       map[string]string // calls that must not be replayed: id → kind
	late       []string          // calls that ended after deadline + margin
	untyped    []string          // errors no class explains
	mixups     []string          // 200 bodies naming another request
	maxOver    time.Duration     // latest end relative to the deadline
}

func newSoakStats() *soakStats {
	return &soakStats{outcomes: map[string]int{}, bodyErrors: map[string]int{}, once: map[string]string{}, maxOver: -soakCallTimeout}
}

func appendCapped(s []string, v string) []string {
	if len(s) < 20 {
		s = append(s, v)
	}
	return s
}

// errorClass names the kind of a call's error, or "" when it is of no kind
// a caller can handle.
func errorClass(err error) string {
	var (
		rl *RateLimitError
		ae *APIError
	)
	switch {
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.As(err, &ae):
		return "api_error " + strconv.Itoa(ae.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection_reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected_eof"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	case errors.Is(err, net.ErrClosed):
		// http.Transport closed the connection on a reset while the
		// request body was still being written.
		return "connection_closed"
	}
	return ""
}

// soakRun is one soak: the workload, then the invariants.
type soakRun struct {
	base    http.RoundTripper // the server, in memory or through an http.Transport
	url     string
	calls   int           // per worker
	margin  time.Duration // allowed lateness past a call's deadline
	seed    uint64
	ledger  *soakLedger
	stats   *soakStats
	counter *soakBase
}

func (r *soakRun) work() {
	r.counter = &soakBase{rt: r.base, attempts: map[string][]int{}}
	plain := New(r.counter, soakOptions()...)
	apiErrs := New(r.counter, append(soakOptions(), WithAPIErrors(DefaultErrorBodyLimit))...)
	clients := []*http.Client{{Transport: plain}, {Transport: apiErrs}}
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(r.seed, uint64(w)))
			client := clients[w%2]
			for i := range r.calls {
				r.call(client, rng, fmt.Sprintf("w%02d-%05d", w, i))
			}
		})
	}
	wg.Wait()
	plain.CloseIdleConnections()
	apiErrs.CloseIdleConnections()
}

// call makes one call and records its outcome.
func (r *soakRun) call(client *http.Client, rng *rand.Rand, id string) {
	var (
		method   = http.MethodGet
		body     []byte
		kind     string // set for calls that must not be replayed
		idemKey  bool
		stream   bool
		pickOp   = rng.IntN(100)
		bodySize = rng.IntN(16 << 10)
	)
	if rng.IntN(20) == 0 {
		bodySize = rng.IntN(256 << 10)
	}
	switch {
	case pickOp < 35:
	case pickOp < 55:
		method = http.MethodPut
	case pickOp < 62:
		method, stream, kind = http.MethodPut, true, soakStreamed
	case pickOp < 81:
		method, kind = http.MethodPost, soakUnkeyed
	default:
		method, idemKey = http.MethodPost, true
	}
	if method != http.MethodGet {
		body = make([]byte, bodySize)
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
	}
	var rb io.Reader
	if body != nil {
		rb = bytes.NewReader(body)
		if stream {
			rb = struct{ io.Reader }{rb} // no GetBody: cannot be replayed
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	req, _ := http.NewRequestWithContext(ctx, method, r.url+"/v1/items/"+id, rb)
	req.Header.Set(soakIDHeader, id)
	req.Header.Set(soakCRCHeader, fmt.Sprintf("%08x", crc32.ChecksumIEEE(body)))
	req.Header.Set(soakLenHeader, strconv.Itoa(len(body)))
	if idemKey {
		req.Header.Set("Idempotency-Key", id)
	}

	outcome, bodyErr, mixup := "", "", ""
	resp, err := client.Do(req)
	if err != nil {
		outcome = "error " + errorClass(err)
	} else {
		outcome = strconv.Itoa(resp.StatusCode)
		got, rerr := io.ReadAll(io.LimitReader(resp.Body, soakReadLimit))
		resp.Body.Close()
		switch {
		case rerr != nil:
			bodyErr = errorClass(rerr)
			if bodyErr == "" {
				bodyErr = "untyped: " + rerr.Error()
			}
		case resp.StatusCode == http.StatusOK && !bytes.Equal(bytes.TrimRight(got, " "), []byte(soakReply(id))):
			mixup = fmt.Sprintf("%s %s: 200 body %.80q, want %s", method, id, got, soakReply(id))
		}
	}
	over := time.Since(deadline)

	s := r.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.outcomes[outcome]++
	if bodyErr != "" {
		s.bodyErrors[bodyErr]++
		if strings.HasPrefix(bodyErr, "untyped") {
			s.untyped = appendCapped(s.untyped, fmt.Sprintf("%s %s: reading body: %s", method, id, bodyErr))
		}
	}
	if err != nil && errorClass(err) == "" {
		s.untyped = appendCapped(s.untyped, fmt.Sprintf("%s %s: %v", method, id, err))
	}
	if mixup != "" {
		s.mixups = appendCapped(s.mixups, mixup)
	}
	if kind != "" {
		s.once[id] = kind
	}
	s.maxOver = max(s.maxOver, over)
	if over > r.margin {
		s.late = appendCapped(s.late, fmt.Sprintf("%s %s ended %v after its deadline (%s)", method, id, over, outcome))
	}
}

// check asserts the invariants that do not depend on the path.
func (r *soakRun) check(t *testing.T, srv *ratehttptest.Server) {
	t.Helper()
	s, l := r.stats, r.ledger
	if s.calls != soakWorkers*r.calls {
		t.Errorf("%d calls ended, want %d", s.calls, soakWorkers*r.calls)
	}
	for _, m := range s.late {
		t.Errorf("late: %s", m)
	}
	for _, m := range s.untyped {
		t.Errorf("untyped error: %s", m)
	}
	for _, m := range s.mixups {
		t.Errorf("response mix-up: %s", m)
	}
	for _, m := range l.corrupt {
		t.Errorf("corrupt body: %s", m)
	}
	// The server's count is the proof; the client's attempts say why. A
	// POST may follow a 429 (the server said it did not process it); a
	// body without GetBody is never sent again.
	var twice int
	for id, kind := range s.once {
		n, codes := l.executed[id], r.counter.attempts[id]
		var replayed bool
		for i, c := range codes {
			replayed = replayed || i < len(codes)-1 && (c != http.StatusTooManyRequests || kind == soakStreamed)
		}
		switch {
		case n > 1:
			if twice++; twice <= 10 {
				t.Errorf("%s %s executed %d times by the server, want at most 1 (attempts answered %v)", kind, id, n, codes)
			}
		case replayed:
			if twice++; twice <= 10 {
				t.Errorf("%s %s sent again after answers %v; only a 429 allows it, and only with GetBody", kind, id, codes)
			}
		}
	}
	for i, w := range srv.Windows() {
		if w.Accepted+w.Consumed > w.Limit {
			t.Errorf("window %d (%v): accepted %d + consumed %d > limit %d", i, w.Start, w.Accepted, w.Consumed, w.Limit)
		}
	}
	// The server enforces its quota whatever the client does; the client's
	// part is to pace so that it rarely hears 429 from the quota itself
	// (FaultThrottle's 429s are not counted here). Under these faults, with
	// 64 goroutines and one-second windows, the in-memory run measures
	// 2.5–5.3% (22 runs: about three to five a window, most of them from
	// requests in flight when a window runs out); the bound leaves room for
	// that spread. 64 goroutines without pacing offer the server many times
	// its quota, and most of their requests would be refused.
	if st := srv.Stats(); st.Rejected*10 > st.Accepted+st.Rejected {
		t.Errorf("the quota refused %d of %d requests, want at most 10%%", st.Rejected, st.Accepted+st.Rejected)
	}
	faults := srv.FaultStats()
	kinds := map[ratehttptest.FaultKind]bool{}
	for _, f := range soakFaults() {
		kinds[f.Kind] = true
	}
	for k := range kinds {
		if faults[k] == 0 {
			t.Errorf("fault %v never injected: the run proves nothing about it", k)
		}
	}
	if ok := s.outcomes["200"]; ok < s.calls/5 {
		t.Errorf("%d calls of %d got a 200, want at least a fifth: the soak barely ran", ok, s.calls)
	}
}

// report logs the run's figures.
func (r *soakRun) report(t *testing.T, srv *ratehttptest.Server, d time.Duration, peak, after uint64) {
	t.Helper()
	var attempts, retried, retries int
	for _, codes := range r.counter.attempts {
		n := len(codes)
		attempts += n
		if n > 1 {
			retried++
			retries += n - 1
		}
	}
	var executed, twiceKeyed int
	for _, n := range r.ledger.executed {
		executed += n
		if n > 1 {
			twiceKeyed++
		}
	}
	st := srv.Stats()
	t.Logf("soak: %d calls by %d goroutines in %v; %d attempts reached the base transport, %d retries (%d calls retried)",
		r.stats.calls, soakWorkers, d.Round(time.Millisecond), attempts, retries, retried)
	t.Logf("soak: server accepted %d, rejected %d (429 by quota) in %d windows; executed %d (%d calls, all idempotent, more than once); %d bodies truncated by callers giving up",
		st.Accepted, st.Rejected, len(srv.Windows()), executed, twiceKeyed, r.ledger.truncated)
	t.Logf("soak: faults injected: %s", formatCounts(srv.FaultStats()))
	t.Logf("soak: outcomes: %s", formatCounts(r.stats.outcomes))
	t.Logf("soak: body read errors: %s", formatCounts(r.stats.bodyErrors))
	t.Logf("soak: latest end relative to the deadline %v (margin %v); peak heap %.1f MiB, after GC %.1f MiB",
		r.stats.maxOver.Round(time.Millisecond), r.margin, float64(peak)/(1<<20), float64(after)/(1<<20))
}

func formatCounts[K comparable](m map[K]int) string {
	var parts []string
	for _, k := range slices.SortedFunc(maps.Keys(m), func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }) {
		parts = append(parts, fmt.Sprintf("%v=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// heapSampler records the peak of the live heap while a run lasts.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			h.peak.Store(max(h.peak.Load(), heapBytes()))
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) finish() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// heapBytes is the heap occupied by objects, live or not yet swept.
func heapBytes() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

// liveHeap is the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the first may leave finalizers' objects
	return heapBytes()
}

func checkHeap(t *testing.T, peak, after uint64) {
	t.Helper()
	if after > soakHeapLimit {
		t.Errorf("heap after the run = %.1f MiB, want < %d MiB", float64(after)/(1<<20), soakHeapLimit>>20)
	}
	if peak > soakPeakLimit {
		t.Errorf("peak heap during the run = %.1f MiB, want < %d MiB", float64(peak)/(1<<20), soakPeakLimit>>20)
	}
}

// openFDs counts this process's open file descriptors, or -1 where
// /proc/self/fd does not exist.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// soakServerConfig is a quota the callers exceed: 64 goroutines want more
// than limit requests a second, so the client must pace them.
func soakServerConfig(ledger *soakLedger, limit int, latency time.Duration) ratehttptest.Config {
	return ratehttptest.Config{
		Limit:     limit,
		Window:    time.Second,
		Latency:   latency,
		Handler:   ledger,
		Faults:    soakFaults(),
		FaultSeed: 20240601,
	}
}

// TestSoakLoopback runs the soak on the loopback wire, in real time.
func TestSoakLoopback(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	calls := 24
	if soakLong() {
		calls = 500
	}
	fdsBefore := openFDs()
	heapBefore := liveHeap()
	sampler := startHeapSampler()
	start := time.Now()

	ledger := newSoakLedger()
	cfg := soakServerConfig(ledger, 150, time.Millisecond)
	srv := ratehttptest.NewServer(cfg)
	srv.SetHook(ledger.hook)
	url := srv.Start()
	base := &http.Transport{MaxIdleConnsPerHost: soakWorkers}
	run := &soakRun{base: base, url: url, calls: calls, margin: time.Second, seed: 1, ledger: ledger, stats: newSoakStats()}
	run.work()
	srv.Close()
	base.CloseIdleConnections()
	run.finish(t, srv, time.Since(start), sampler, heapBefore)

	// Descriptors close asynchronously after the last response is read;
	// give the runtime a moment, then allow a little slack (the poller's own).
	if fdsBefore >= 0 {
		var fds int
		for wait := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if fds = openFDs(); fds <= fdsBefore+2 || time.Now().After(wait) {
				break
			}
		}
		t.Logf("soak: open file descriptors %d before, %d after", fdsBefore, fds)
		if fds > fdsBefore+2 {
			t.Errorf("open file descriptors: %d after the run, %d before; want at most 2 more", fds, fdsBefore)
		}
	}
}

// TestSoakSynctest runs the soak in memory on synctest's fake clock. Every
// call must end no later than its deadline: there is no scheduling noise to
// allow for.
func TestSoakSynctest(t *testing.T) {
	calls := 40
	if soakLong() {
		calls = 1000
	}
	heapBefore := liveHeap()
	sampler := startHeapSampler()
	start := time.Now()
	var (
		run *soakRun
		srv *ratehttptest.Server
		cfg ratehttptest.Config
	)
	synctest.Test(t, func(t *testing.T) {
		ledger := newSoakLedger()
		cfg = soakServerConfig(ledger, 100, 20*time.Millisecond)
		srv = ratehttptest.NewServer(cfg)
		srv.SetHook(ledger.hook)
		run = &soakRun{base: srv, url: "http://api.test", calls: calls, margin: 0, seed: 2, ledger: ledger, stats: newSoakStats()}
		fake := time.Now()
		run.work()
		t.Logf("soak: %v of fake time", time.Since(fake))
	})
	run.finish(t, srv, time.Since(start), sampler, heapBefore)
}

// finish ends a soak run that took d: it stops the heap sampler, checks the
// ledger and the server, reports, and checks the heap against heapBefore.
func (r *soakRun) finish(t *testing.T, srv *ratehttptest.Server, d time.Duration, sampler *heapSampler, heapBefore uint64) {
	t.Helper()
	peak := sampler.finish()
	peak -= min(peak, heapBefore)
	r.check(t, srv)
	after := liveHeap()
	r.report(t, srv, d, peak, after)
	checkHeap(t, peak, after)
}

// TestFaultLone429DoesNotLockWindow: one 429 that says nothing (no
// Retry-After, no rate-limit headers, as a proxy, a WAF or a burst limit in
// front of the API sends it) must not stop the client for the rest of its
// window estimate, here up to an hour, while the server still has 995 of
// its 1000 requests. The client may pause, but must send again within a
// minute: a request refused locally teaches the model nothing, so a pause
// that only the window's end lifts is a stall.
func TestFaultLone429DoesNotLockWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Window: time.Hour, Latency: 10 * time.Millisecond})
		var n atomic.Int32
		proxy := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 5 {
				return respond(r, http.StatusTooManyRequests, nil, "slow down"), nil
			}
			return srv.RoundTrip(r)
		})
		tr := New(proxy, WithRetries(0))
		var at429, recovered time.Time
		for range 120 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/v1/items", nil)
			resp, err := tr.RoundTrip(req)
			cancel()
			switch {
			case err != nil:
			case resp.StatusCode == http.StatusTooManyRequests:
				at429 = time.Now()
			case !at429.IsZero() && recovered.IsZero():
				recovered = time.Now()
			}
			if err == nil {
				resp.Body.Close()
			}
			time.Sleep(time.Second)
		}
		if at429.IsZero() {
			t.Fatal("the proxy's 429 never reached the caller")
		}
		if recovered.IsZero() || recovered.Sub(at429) > time.Minute {
			t.Errorf("after a lone 429 without headers at %v, no request was sent again for %v (server: %+v); want one within a minute",
				at429.Format("15:04:05"), time.Since(at429).Round(time.Second), srv.Stats())
		}
	})
}
