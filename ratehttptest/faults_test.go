package ratehttptest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestFaultScheduleReproducible(t *testing.T) {
	faults := []Fault{
		{Kind: FaultReset, Rate: 0.1},
		{Kind: FaultThrottle, Rate: 0.2},
		{Kind: FaultEcho, Every: 7},
	}
	const n = 14000
	run := func(seed uint64) []FaultKind {
		fs := newFaultState(append([]Fault(nil), faults...), seed)
		out := make([]FaultKind, n)
		for i := range out {
			if f, _ := fs.pick(); f != nil {
				out[i] = f.Kind
			}
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	if !equalKinds(a, b) {
		t.Error("two schedules with seed 42 differ")
	}
	if equalKinds(a, c) {
		t.Error("schedules with seeds 42 and 43 are equal")
	}
	counts := map[FaultKind]int{}
	for i, k := range a {
		if (i+1)%7 == 0 && k != FaultEcho {
			t.Fatalf("request %d got %v, want echo (Every: 7)", i+1, k)
		}
		counts[k]++
	}
	// 12000 requests draw from the Rates; the schedule is fixed by the seed,
	// so these bounds (±15%) cannot flake.
	rest := n - n/7
	for _, tt := range []struct {
		kind FaultKind
		rate float64
	}{{FaultReset, 0.1}, {FaultThrottle, 0.2}} {
		want := tt.rate * float64(rest)
		if got := float64(counts[tt.kind]); got < 0.85*want || got > 1.15*want {
			t.Errorf("%v injected %v times in %d requests, want about %v", tt.kind, got, rest, want)
		}
	}
	if counts[FaultEcho] != n/7 {
		t.Errorf("echo injected %d times, want %d", counts[FaultEcho], n/7)
	}
}

func equalKinds(a, b []FaultKind) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestFaultValidation(t *testing.T) {
	tests := []struct {
		name string
		give []Fault
	}{
		{"no kind", []Fault{{Rate: 0.1}}},
		{"unknown kind", []Fault{{Kind: faultKinds, Rate: 0.1}}},
		{"neither rate nor every", []Fault{{Kind: FaultReset}}},
		{"both rate and every", []Fault{{Kind: FaultReset, Rate: 0.1, Every: 2}}},
		{"rate over 1", []Fault{{Kind: FaultReset, Rate: 1.5}}},
		{"negative every", []Fault{{Kind: FaultReset, Every: -1}}},
		{"rates over 1", []Fault{{Kind: FaultReset, Rate: 0.6}, {Kind: FaultEcho, Rate: 0.6}}},
		{"status 200", []Fault{{Kind: FaultServerError, Rate: 0.1, Status: 200}}},
		{"negative delay", []Fault{{Kind: FaultSlowHeaders, Rate: 0.1, Delay: -1}}},
		{"negative size", []Fault{{Kind: FaultHugeBody, Rate: 0.1, Size: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("NewServer(Faults: %v) did not panic", tt.give)
				} else if s, _ := r.(string); !strings.HasPrefix(s, "ratehttptest: Config.Faults: ") {
					t.Errorf("NewServer(Faults: %v) panicked with %v", tt.give, r)
				}
			}()
			NewServer(Config{Limit: 1, Faults: tt.give})
		})
	}
}

func TestFaultKindString(t *testing.T) {
	for k := FaultReset; k < faultKinds; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "FaultKind(") {
			t.Errorf("FaultKind(%d).String() = %q, want a name", int(k), s)
		}
	}
	if got, want := FaultKind(0).String(), "FaultKind(0)"; got != want {
		t.Errorf("FaultKind(0).String() = %q, want %q", got, want)
	}
}

// faultCase is one fault injected into every request, and what a client
// must see of it, in memory and on the wire.
type faultCase struct {
	name          string
	give          Fault
	method        string
	wantReset     bool // no response: a connection error
	wantStatus    int
	wantProcessed bool // the API (hook) saw the request
	wantLen       int64
	wantBodyErr   bool // reading the body fails after wantLen bytes
	check         func(t *testing.T, resp *http.Response, body []byte)
}

const secretHeader = "Bearer t0ken"

var faultCases = []faultCase{
	{name: "reset", give: Fault{Kind: FaultReset}, wantReset: true},
	{name: "reset after", give: Fault{Kind: FaultResetAfter}, wantReset: true, wantProcessed: true},
	{
		name: "reset mid body", give: Fault{Kind: FaultResetMidBody, Size: 1000},
		wantStatus: 200, wantProcessed: true, wantLen: 500, wantBodyErr: true,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if resp.ContentLength != 1000 || !bytes.HasPrefix(body, []byte(OKBody)) {
				t.Errorf("ContentLength = %d, body %.20q…, want 1000, %q…", resp.ContentLength, body, OKBody)
			}
		},
	},
	{
		name: "503 retry-after processed", give: Fault{Kind: FaultServerError, Status: 503, RetryAfter: "1", Processed: true},
		wantStatus: 503, wantProcessed: true, wantLen: -1,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			h := resp.Header
			if h.Get("Retry-After") != "1" || h.Get(HeaderLimit) != "10" || h.Get(HeaderRequestID) == "" {
				t.Errorf("headers = %v, want Retry-After 1 and the quota headers", h)
			}
			if want := `{"error_code":"SVC.0503","error_msg":"Service Unavailable"}`; string(body) != want {
				t.Errorf("body = %s, want %s", body, want)
			}
		},
	},
	{
		name: "500 from a proxy", give: Fault{Kind: FaultServerError, Status: 500},
		wantStatus: 500, wantLen: -1,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if h := resp.Header; h.Get("Retry-After") != "" || h.Get(HeaderLimit) != "" || h.Get(HeaderRequestID) != "" {
				t.Errorf("headers = %v, want no Retry-After, quota or request id", h)
			}
		},
	},
	{
		name: "429 garbage retry-after", give: Fault{Kind: FaultThrottle, RetryAfter: "soon"},
		wantStatus: 429, wantLen: int64(len(ThrottledBody)),
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if got := resp.Header.Get("Retry-After"); got != "soon" {
				t.Errorf("Retry-After = %q, want soon", got)
			}
		},
	},
	{
		name: "slow headers", give: Fault{Kind: FaultSlowHeaders, Delay: 300 * time.Millisecond},
		wantStatus: 200, wantProcessed: true, wantLen: int64(len(OKBody)),
	},
	{
		name: "huge header", give: Fault{Kind: FaultHugeHeader},
		wantStatus: 200, wantProcessed: true, wantLen: int64(len(OKBody)),
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if n := len(resp.Header.Get(HeaderUsed)); n != 64<<10 {
				t.Errorf("len(%s) = %d, want 64 KiB", HeaderUsed, n)
			}
		},
	},
	{
		name: "huge body", give: Fault{Kind: FaultHugeBody, Size: 8 << 20},
		wantStatus: 500, wantLen: 8 << 20,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if !bytes.HasPrefix(body, []byte(patternText+patternText)) || resp.ContentLength != 8<<20 {
				t.Errorf("ContentLength = %d, body %.40q…, want 8 MiB of %q", resp.ContentLength, body, patternText)
			}
		},
	},
	{
		name: "proxy html", give: Fault{Kind: FaultProxyHTML},
		wantStatus: 502, wantLen: -1,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if !bytes.Contains(body, []byte("<title>502 Bad Gateway</title>")) || resp.Header.Get("Content-Type") != "text/html" {
				t.Errorf("Content-Type %q, body %.60q…, want nginx's HTML page", resp.Header.Get("Content-Type"), body)
			}
		},
	},
	{
		name: "echo", give: Fault{Kind: FaultEcho, Status: 401, Processed: true},
		wantStatus: 401, wantProcessed: true, wantLen: -1,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if !bytes.Contains(body, []byte(secretHeader)) || !bytes.Contains(body, []byte("q=1")) ||
				resp.Header.Get("X-Echo-Authorization") != secretHeader {
				t.Errorf("echo body %s, headers %v, want the request's header and query echoed", body, resp.Header)
			}
		},
	},
	{
		name: "head gets no huge body", give: Fault{Kind: FaultHugeBody}, method: http.MethodHead,
		wantStatus: 500, wantLen: 0,
	},
}

// closeRecorder records whether a request body was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeRecorder) Close() error { b.closed.Store(true); return nil }

func TestFaultRoundTrip(t *testing.T) {
	for _, tt := range faultCases {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := tt.give
				f.Every = 1
				srv := NewServer(Config{Limit: 10, Faults: []Fault{f}})
				var events []Event
				srv.SetHook(func(e Event) { events = append(events, e) }) // RoundTrip calls it synchronously
				method := cmp.Or(tt.method, http.MethodPost)
				body := &closeRecorder{Reader: strings.NewReader("payload")}
				req, _ := http.NewRequest(method, "http://api.test/v1/items?q=1", body)
				req.Header.Set("Authorization", secretHeader)
				start := time.Now()
				resp, err := srv.RoundTrip(req)
				elapsed := time.Since(start)
				if !body.closed.Load() {
					t.Error("request body not closed")
				}
				checkFaultEvents(t, events, f.Kind, tt.wantProcessed, method)
				if got, want := srv.FaultStats(), map[FaultKind]int{f.Kind: 1}; !equalStats(got, want) {
					t.Errorf("FaultStats() = %v, want %v", got, want)
				}
				if tt.wantReset {
					if resp != nil || !errors.Is(err, syscall.ECONNRESET) {
						t.Fatalf("RoundTrip() = %v, %v, want ECONNRESET", resp, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("RoundTrip() error = %v", err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tt.wantStatus || resp.Request != req {
					t.Errorf("RoundTrip() status = %d, want %d (Request kept: %v)", resp.StatusCode, tt.wantStatus, resp.Request == req)
				}
				if want := f.Delay; elapsed != want {
					t.Errorf("RoundTrip() took %v, want %v", elapsed, want)
				}
				got, rerr := io.ReadAll(resp.Body)
				checkBody(t, got, rerr, tt, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) })
				if tt.check != nil {
					tt.check(t, resp, got)
				}
			})
		})
	}
}

// checkFaultEvents checks that the hook saw the one request, a POST or HEAD
// of "payload" that got fault kind, as processed or not.
func checkFaultEvents(t *testing.T, events []Event, kind FaultKind, processed bool, method string) {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("hook called %d times, want 1", len(events))
	}
	e := events[0]
	if e.Fault != kind || e.Processed != processed || (e.RequestID != "") != processed || e.Method != method || e.Path != "/v1/items" {
		t.Errorf("hook event = %+v, want Fault %v, Processed %v, a RequestID only if processed, %s /v1/items", e, kind, processed, method)
	}
	if !processed && (e.Status != 0 || e.Remaining != 0) {
		t.Errorf("hook event Status = %d, Remaining = %d, want 0, 0 for a request the API did not process", e.Status, e.Remaining)
	}
	if method == http.MethodPost && (e.BodyLen != 7 || e.BodyCRC != crc32.ChecksumIEEE([]byte("payload"))) {
		t.Errorf("hook event BodyLen = %d, BodyCRC = %08x, want the 7 bytes of %q", e.BodyLen, e.BodyCRC, "payload")
	}
	if e.Header.Get("Authorization") != secretHeader {
		t.Errorf("hook event Header = %v, want the request's", e.Header)
	}
}

func checkBody(t *testing.T, got []byte, err error, tt faultCase, wantErr func(error) bool) {
	t.Helper()
	if tt.wantLen >= 0 && int64(len(got)) != tt.wantLen {
		t.Errorf("read %d bytes of body, want %d", len(got), tt.wantLen)
	}
	switch {
	case tt.wantBodyErr && !wantErr(err):
		t.Errorf("reading body: error = %v, want a connection error", err)
	case !tt.wantBodyErr && err != nil:
		t.Errorf("reading body: error = %v", err)
	}
}

func equalStats(a, b map[FaultKind]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFaultWire(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tt := range faultCases {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.give
			f.Every = 1
			srv := NewServer(Config{Limit: 10, Faults: []Fault{f}})
			var (
				mu     sync.Mutex
				events []Event
			)
			srv.SetHook(func(e Event) {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			})
			url := srv.Start()
			defer srv.Close()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()

			method := cmp.Or(tt.method, http.MethodPost)
			req, _ := http.NewRequest(method, url+"/v1/items?q=1", strings.NewReader("payload"))
			req.Header.Set("Authorization", secretHeader)
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			elapsed := time.Since(start)
			if tt.wantReset {
				if resp != nil || !isConnError(err) {
					t.Fatalf("RoundTrip() = %v, %v, want a connection error", resp, err)
				}
			} else {
				if err != nil {
					t.Fatalf("RoundTrip() error = %v", err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("RoundTrip() status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if elapsed < f.Delay {
					t.Errorf("RoundTrip() took %v, want at least %v", elapsed, f.Delay)
				}
				got, rerr := io.ReadAll(resp.Body)
				checkBody(t, got, rerr, tt, isConnError)
				if tt.check != nil {
					tt.check(t, resp, got)
				}
			}
			srv.Close() // waits for the handler, so the hook has run
			mu.Lock()
			defer mu.Unlock()
			checkFaultEvents(t, events, f.Kind, tt.wantProcessed, method)
		})
	}
}

// isConnError reports whether err is what a client sees of a connection
// dropped by the server.
func isConnError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func TestFaultServerErrorCycles(t *testing.T) {
	srv := NewServer(Config{Limit: 10, Faults: []Fault{{Kind: FaultServerError, Every: 1}}})
	var got []int
	for range 5 {
		code, err := status(srv)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, code)
	}
	if want := []int{500, 502, 503, 504, 500}; !equalInts(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaultBadRateHeaders(t *testing.T) {
	srv := NewServer(Config{Limit: 100, Faults: []Fault{{Kind: FaultBadRateHeaders, Every: 1}}})
	for i, v := range append(badRateHeaders[:], badRateHeaders[0]) { // the variants cycle
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/", nil)
		resp, err := srv.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("variant %d: status = %d, want 200", i, resp.StatusCode)
		}
		if got := resp.Header[v.name]; len(got) != 1 || got[0] != v.value {
			t.Errorf("variant %d: %s = %q, want [%q]", i, v.name, got, v.value)
		}
	}
}

func TestFaultEndlessBody(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		srv := NewServer(Config{Limit: 10, Faults: []Fault{{Kind: FaultEndlessBody, Every: 1}}})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/", nil)
		resp, err := srv.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if n, err := io.CopyN(io.Discard, resp.Body, 16<<20); n != 16<<20 || err != nil {
			t.Fatalf("read %d bytes, error %v; want 16 MiB", n, err)
		}
		cancel()
		if _, err := resp.Body.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel: error = %v, want context.Canceled", err)
		}
	})
	t.Run("wire", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		srv := NewServer(Config{Limit: 10, Faults: []Fault{{Kind: FaultEndlessBody, Every: 1}}})
		url := srv.Start()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !errors.Is(err, context.DeadlineExceeded) || n == 0 {
			t.Errorf("read %d bytes, error %v; want some, then the deadline", n, err)
		}
		done := make(chan struct{})
		go func() { srv.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close() blocked on the endless body's handler")
		}
	})
}

// A client that stops reading an endless body, or waits for a head that
// trickles for an hour, without closing the connection must not make Close
// hang: the Server's write or wait is cut short.
func TestFaultWireCloseUnblocksWriter(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, f := range []Fault{
		{Kind: FaultEndlessBody, Every: 1, Processed: true},
		{Kind: FaultSlowHeaders, Every: 1, Delay: time.Hour},
	} {
		t.Run(f.Kind.String(), func(t *testing.T) {
			srv := NewServer(Config{Limit: 10, Faults: []Fault{f}})
			url := srv.Start()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			hooked := make(chan struct{}, 1)
			srv.SetHook(func(Event) { hooked <- struct{}{} })
			closed := make(chan struct{})
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					_, err = resp.Body.Read(make([]byte, 1)) // then stop reading
					<-closed
					resp.Body.Close()
				}
				errc <- err
			}()
			<-hooked
			done := make(chan struct{})
			go func() { srv.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("Close() blocked on a faulty handler")
			}
			close(closed)
			<-errc
			<-done
		})
	}
}

func TestFaultStatsEmpty(t *testing.T) {
	srv := NewServer(Config{Limit: 1})
	get(t, srv)
	if got := srv.FaultStats(); got == nil || len(got) != 0 {
		t.Errorf("FaultStats() = %#v, want an empty map", got)
	}
}

// Requests the schedule spares are served as usual, and only the faults that
// process a request count against the quota.
func TestFaultMixKeepsQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 5, Window: time.Hour, Faults: []Fault{
			{Kind: FaultReset, Every: 2},
			{Kind: FaultResetAfter, Every: 3},
		}})
		var codes []int
		var resets int
		for range 12 {
			code, err := status(srv)
			if err != nil {
				resets++
				continue
			}
			codes = append(codes, code)
		}
		// Requests 2,4,…,12 reset before (6), 3 and 9 reset after (2): the
		// API processed 12-6 = 6 requests; the 6th of them is over the limit.
		if resets != 8 {
			t.Errorf("resets = %d, want 8", resets)
		}
		if got, want := srv.Stats(), (Stats{Accepted: 5, Rejected: 1}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		if want := []int{200, 200, 200, 429}; !equalInts(codes, want) {
			t.Errorf("statuses = %v, want %v", codes, want)
		}
		if got, want := srv.FaultStats(), map[FaultKind]int{FaultReset: 6, FaultResetAfter: 2}; !equalStats(got, want) {
			t.Errorf("FaultStats() = %v, want %v", got, want)
		}
	})
}

// The hook sees every request the Server receives, also those a fault
// answers in place of the API, and its events tell which those are.
func TestHookSeesEveryRequest(t *testing.T) {
	srv := NewServer(Config{Limit: 10, Window: time.Hour, Policy: SlidingWindow, Faults: []Fault{
		{Kind: FaultReset, Every: 2},
		{Kind: FaultThrottle, Every: 3},
	}})
	var events []Event
	srv.SetHook(func(e Event) { events = append(events, e) }) // RoundTrip calls it synchronously
	for range 6 {
		status(srv) // requests 2, 4 and 6 reset, 3 throttled
	}
	type seen struct {
		fault     FaultKind
		processed bool
		id        string
		status    int
	}
	want := []seen{
		{0, true, "req-000001", 200},
		{FaultReset, false, "", 0},
		{FaultThrottle, false, "", 0},
		{FaultReset, false, "", 0},
		{0, true, "req-000002", 200},
		{FaultReset, false, "", 0},
	}
	var got []seen
	for _, e := range events {
		got = append(got, seen{e.Fault, e.Processed, e.RequestID, e.Status})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hook events (Fault, Processed, RequestID, Status) = %v, want %v", got, want)
	}
	if got, want := srv.Stats(), (Stats{Accepted: 2}); got != want {
		t.Errorf("Stats() = %+v, want %+v: the requests the API did not process do not count", got, want)
	}
}

// A Server that resets every third connection and answers every second
// request 503 with a Retry-After: requests are numbered in arrival order, so
// the schedule is the same in every run.
func ExampleFault() {
	srv := NewServer(Config{Limit: 100, Faults: []Fault{
		{Kind: FaultReset, Every: 3},
		{Kind: FaultServerError, Status: 503, RetryAfter: "1", Every: 2},
	}})
	client := &http.Client{Transport: srv}
	for range 6 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			continue
		}
		resp.Body.Close()
		fmt.Printf("%d Retry-After=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	fmt.Println(srv.FaultStats())
	// Output:
	// 200 Retry-After=""
	// 503 Retry-After="1"
	// Get "http://api.example/v1/items": read tcp: read: connection reset by peer
	// 503 Retry-After="1"
	// 200 Retry-After=""
	// Get "http://api.example/v1/items": read tcp: read: connection reset by peer
	// map[reset:2 server_error:2]
}
