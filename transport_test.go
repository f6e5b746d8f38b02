package ratehttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// roundTripFunc is a stub base transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// countingBody records whether it was closed and how much was read.
type countingBody struct {
	io.Reader
	closed atomic.Bool
	read   atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { b.closed.Store(true); return nil }

func respond(r *http.Request, code int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		StatusCode: code, Status: http.StatusText(code), Header: header, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		ProtoMajor: 1, ProtoMinor: 1,
	}
}

// script answers the n-th attempt (from 0) with codes[n], the last code
// repeating, and counts the attempts.
type script struct {
	codes  []int
	header func(n int) http.Header
	calls  atomic.Int32
	bodies []*countingBody
	mu     sync.Mutex
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int(s.calls.Add(1)) - 1
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	code := s.codes[min(n, len(s.codes)-1)]
	var h http.Header
	if s.header != nil {
		h = s.header(n)
	}
	resp := respond(r, code, h, strings.Repeat("x", 10<<10))
	tb := &countingBody{Reader: resp.Body}
	resp.Body = tb
	s.mu.Lock()
	s.bodies = append(s.bodies, tb)
	s.mu.Unlock()
	return resp, nil
}

func retryAfter(v string) func(int) http.Header {
	return func(n int) http.Header {
		if n > 0 {
			return nil
		}
		return http.Header{"Retry-After": {v}}
	}
}

func get(t *testing.T, ctx context.Context, rt http.RoundTripper) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/v1/items?token=secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	return rt.RoundTrip(req)
}

func TestNewNilBase(t *testing.T) {
	if got := New(nil).base; got != http.DefaultTransport {
		t.Errorf("New(nil).base = %v, want http.DefaultTransport", got)
	}
}

// TestRetryAfter: a Retry-After is waited for exactly; one longer than the
// maximum wait is not shortened: the request is not retried and the 429 is
// returned (with WithMaxWait(0) too, where it was once retried at once); a
// nonsense one (longer than an hour with no window known) is ignored, and the
// retry goes as the guard's first probe.
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		give       func(now time.Time) string
		opts       []Option
		want       time.Duration
		wantStatus int
	}{
		{"seconds", func(time.Time) string { return "30" }, nil, 30 * time.Second, 200},
		{"http date", func(now time.Time) string { return now.Add(30 * time.Second).UTC().Format(http.TimeFormat) }, nil, 30 * time.Second, 200},
		{"longer than the default maximum wait", func(time.Time) string { return "600" }, nil, 0, 429},
		{"longer than WithMaxWait", func(time.Time) string { return "60" }, []Option{WithMaxWait(45 * time.Second)}, 0, 429},
		{"WithMaxWait(0)", func(time.Time) string { return "30" }, []Option{WithMaxWait(0)}, 0, 429},
		{"a year: nonsense, ignored", func(time.Time) string { return "31536000" }, nil, iquota.MinProbeWait, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				base := &script{codes: []int{429, 200}, header: retryAfter(tt.give(start))}
				resp, err := get(t, context.Background(), New(base, tt.opts...))
				if err != nil {
					t.Fatalf("RoundTrip error = %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("RoundTrip status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("waited %v, want exactly %v", got, tt.want)
				}
				wantCalls := int32(1)
				if tt.wantStatus == 200 {
					wantCalls = 2
				}
				if got := base.calls.Load(); got != wantCalls {
					t.Errorf("attempts = %d, want %d", got, wantCalls)
				}
			})
		})
	}
}

// TestDeadlineShorterThanRetryAfter: the retry's wait is not started. The 429
// obtained is returned with a nil error (the RoundTripper contract); the next
// request, which the quota would hold past its deadline, fails at once with a
// *RateLimitError that matches both ErrRateLimited and DeadlineExceeded.
func TestDeadlineShorterThanRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		base := &script{codes: []int{429, 200}, header: retryAfter("30")}
		rt := New(base)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		resp, err := get(t, ctx, rt)
		if err != nil {
			t.Fatalf("RoundTrip error = %v, want the 429 response", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || time.Since(start) != 0 || base.calls.Load() != 1 {
			t.Errorf("RoundTrip = %d after %v and %d attempts, want 429 at once after 1", resp.StatusCode, time.Since(start), base.calls.Load())
		}

		_, err = get(t, ctx, rt)
		var rl *RateLimitError
		if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second RoundTrip error = %v, want *RateLimitError matching ErrRateLimited and DeadlineExceeded", err)
		}
		if rl.Wait != 30*time.Second || time.Since(start) != 0 {
			t.Errorf("RateLimitError.Wait = %v after %v, want 30s at once", rl.Wait, time.Since(start))
		}
		if base.calls.Load() != 1 {
			t.Errorf("attempts = %d, want 1: the refused request must not be sent", base.calls.Load())
		}
	})
}

// TestMaxWaitRefusesAtOnce: an hourly quota spent means a wait of about an
// hour for its reset, more than the maximum wait: the request fails at once,
// unsent, and the error does not claim a deadline.
func TestMaxWaitRefusesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		base := &script{codes: []int{200}, header: func(int) http.Header {
			return http.Header{"X-Ratelimit": {"10"}, "X-Ratelimit-Used": {"0"}, "X-Ratelimit-Window": {"hour"}}
		}}
		rt := New(base)
		resp, err := get(t, context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = get(t, context.Background(), rt)
		var rl *RateLimitError
		if !errors.As(err, &rl) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("RoundTrip error = %v, want *RateLimitError without DeadlineExceeded", err)
		}
		if rl.Wait != time.Hour || time.Since(start) != 0 || base.calls.Load() != 1 {
			t.Errorf("RateLimitError.Wait = %v after %v and %d attempts, want 1h at once after 1", rl.Wait, time.Since(start), base.calls.Load())
		}
	})
}

func TestCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		base := &script{codes: []int{503}}
		rt := New(base, WithBackoff(time.Hour, time.Hour), WithMaxWait(2*time.Hour))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		_, err := get(t, ctx, rt)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip error = %v, want context.Canceled", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("RoundTrip returned after %v, want 1s (at the cancellation)", got)
		}
	})
}

func TestCancelDuringQuotaWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &script{codes: []int{429, 200}, header: retryAfter("60")}
		rt := New(base, WithRetries(0))
		resp, err := get(t, context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Second, cancel)
		_, err = get(t, ctx, rt)
		if !errors.Is(err, context.Canceled) || time.Since(start) != 5*time.Second {
			t.Errorf("RoundTrip = %v after %v, want context.Canceled after 5s", err, time.Since(start))
		}
	})
}

// TestRetriesSpent: the last response is returned with a nil error, and every
// intermediate one was drained (boundedly) and closed.
func TestRetriesSpent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &script{codes: []int{503}}
		resp, err := get(t, context.Background(), New(base))
		if err != nil {
			t.Fatalf("RoundTrip error = %v, want the last 503", err)
		}
		if resp.StatusCode != 503 {
			t.Errorf("RoundTrip status = %d, want 503", resp.StatusCode)
		}
		if got := base.calls.Load(); got != DefaultRetries+1 {
			t.Errorf("attempts = %d, want %d", got, DefaultRetries+1)
		}
		last := base.bodies[len(base.bodies)-1]
		if last.closed.Load() {
			t.Error("the returned response's body was closed")
		}
		if b, _ := io.ReadAll(resp.Body); len(b) != 10<<10 {
			t.Errorf("returned body has %d bytes, want %d", len(b), 10<<10)
		}
		resp.Body.Close()
		for i, b := range base.bodies[:len(base.bodies)-1] {
			if !b.closed.Load() || b.read.Load() > 4<<10 {
				t.Errorf("intermediate body %d: closed %v after reading %d bytes, want closed after at most 4 KiB", i, b.closed.Load(), b.read.Load())
			}
		}
	})
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name   string
		method string
		header http.Header
		body   func() (io.Reader, bool) // reader, and whether GetBody is set
		codes  []int
		opts   []Option
		want   int32 // attempts
	}{
		{name: "GET 503 retried", method: "GET", codes: []int{503, 200}, want: 2},
		{name: "GET 501 not retried", method: "GET", codes: []int{501, 200}, want: 1},
		{name: "GET 404 not retried", method: "GET", codes: []int{404, 200}, want: 1},
		{name: "POST 503 not retried", method: "POST", codes: []int{503, 200}, want: 1},
		{name: "POST 429 retried", method: "POST", codes: []int{429, 200}, want: 2},
		{name: "POST 503 with Idempotency-Key retried", method: "POST", header: http.Header{"Idempotency-Key": {"k1"}}, codes: []int{503, 200}, want: 2},
		{name: "POST 503 with X-Idempotency-Key retried", method: "POST", header: http.Header{"X-Idempotency-Key": {"k1"}}, codes: []int{503, 200}, want: 2},
		{name: "PUT 502 retried", method: "PUT", codes: []int{502, 502, 200}, want: 3},
		{name: "DELETE 504 retried", method: "DELETE", codes: []int{504, 200}, want: 2},
		{name: "retries disabled", method: "GET", codes: []int{503, 200}, opts: []Option{WithRetries(0)}, want: 1},
		{name: "WithRetries(1)", method: "GET", codes: []int{503}, opts: []Option{WithRetries(1)}, want: 2},
		{
			name: "body without GetBody sent once", method: "PUT", codes: []int{429, 200}, want: 1,
			body: func() (io.Reader, bool) { return io.MultiReader(strings.NewReader("stream")), false },
		},
		{
			name: "custom policy retries 400", method: "GET", codes: []int{400, 200}, want: 2,
			opts: []Option{WithRetryPolicy(func(_ *http.Request, resp *http.Response, err error) bool {
				return err == nil && resp.StatusCode == 400
			})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := &script{codes: tt.codes}
				var body io.Reader
				if tt.body != nil {
					body, _ = tt.body()
				}
				req, _ := http.NewRequest(tt.method, "http://api.test/x", body)
				if tt.body != nil {
					req.GetBody = nil
				}
				for k, v := range tt.header {
					req.Header[k] = v
				}
				resp, err := New(base, append([]Option{WithBackoff(time.Millisecond, time.Millisecond)}, tt.opts...)...).RoundTrip(req)
				if err != nil {
					t.Fatalf("RoundTrip(%s) error = %v", tt.method, err)
				}
				resp.Body.Close()
				if got := base.calls.Load(); got != tt.want {
					t.Errorf("RoundTrip(%s) attempts = %d, want %d", tt.method, got, tt.want)
				}
			})
		})
	}
}

func TestTransportErrorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				return nil, errors.New("connection reset by peer")
			}
			return respond(r, 200, nil, "ok"), nil
		})
		resp, err := get(t, context.Background(), New(base, WithBackoff(time.Millisecond, time.Millisecond)))
		if err != nil || resp.StatusCode != 200 || calls.Load() != 2 {
			t.Fatalf("RoundTrip = %v, %v after %d attempts; want 200 after 2", resp, err, calls.Load())
		}
		resp.Body.Close()

		// A POST's transport error is not replayed, and comes back as is.
		calls.Store(0)
		req, _ := http.NewRequest("POST", "http://api.test/x", strings.NewReader("b"))
		_, err = New(base).RoundTrip(req)
		if err == nil || !strings.Contains(err.Error(), "connection reset") || calls.Load() != 1 {
			t.Errorf("POST RoundTrip error = %v after %d attempts, want the transport error after 1", err, calls.Load())
		}
	})
}

// TestRedirectNotFollowed: the retry engine's inner client returns a 3xx as
// is; following redirects is the caller's http.Client's business.
func TestRedirectNotFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &script{codes: []int{503, 302, 200}, header: func(int) http.Header {
			return http.Header{"Location": {"http://api.test/elsewhere"}}
		}}
		resp, err := get(t, context.Background(), New(base, WithBackoff(time.Millisecond, time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 || base.calls.Load() != 2 {
			t.Errorf("RoundTrip = %d after %d attempts, want 302 after 2", resp.StatusCode, base.calls.Load())
		}
	})
}

// TestRequestNotMutated: the caller's request is the same after RoundTrip,
// and its body is closed, on success, on retries and on refusal.
func TestRequestNotMutated(t *testing.T) {
	for _, codes := range [][]int{{200}, {503, 503, 200}, {503}} {
		synctest.Test(t, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest("PUT", "http://api.test/x?q=1", body)
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("payload")), nil }
			req.Header.Set("Authorization", "Bearer t")
			before := *req
			hdr := req.Header.Clone()
			resp, err := New(&script{codes: codes}, WithBackoff(time.Millisecond, time.Millisecond)).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if req.Body != before.Body || req.URL != before.URL || req.Method != before.Method ||
				req.ContentLength != before.ContentLength || req.Host != before.Host || req.URL.String() != "http://api.test/x?q=1" {
				t.Errorf("codes %v: request fields changed", codes)
			}
			if len(req.Header) != len(hdr) || req.Header.Get("Authorization") != "Bearer t" {
				t.Errorf("codes %v: header = %v, want %v", codes, req.Header, hdr)
			}
			if !body.closed.Load() {
				t.Errorf("codes %v: req.Body not closed", codes)
			}
		})
	}
	// Refused by the quota without being sent: the body is closed too.
	synctest.Test(t, func(t *testing.T) {
		rt := New(&script{codes: []int{429}, header: retryAfter("60")}, WithRetries(0))
		resp, _ := get(t, context.Background(), rt)
		resp.Body.Close()
		body := &countingBody{Reader: strings.NewReader("payload")}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "PUT", "http://api.test/x", body)
		if _, err := rt.RoundTrip(req); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("RoundTrip error = %v, want ErrRateLimited", err)
		}
		if !body.closed.Load() {
			t.Error("refused request's body not closed")
		}
	})
}

type idleCloser struct {
	http.RoundTripper
	closed atomic.Int32
}

func (c *idleCloser) CloseIdleConnections() { c.closed.Add(1) }

func TestCloseIdleConnections(t *testing.T) {
	base := &idleCloser{RoundTripper: &script{codes: []int{503}}}
	rt := New(base, WithBackoff(time.Millisecond, time.Millisecond))
	synctest.Test(t, func(t *testing.T) {
		resp, err := get(t, context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	if got := base.closed.Load(); got != 0 {
		t.Errorf("spent retries closed idle connections %d times, want 0", got)
	}
	rt.CloseIdleConnections()
	if got := base.closed.Load(); got != 1 {
		t.Errorf("CloseIdleConnections reached the base %d times, want 1", got)
	}
}

// TestBigBodyNotBuffered: a 64 MiB body retried 3 times is streamed from
// GetBody on every attempt, never held in memory.
func TestBigBodyNotBuffered(t *testing.T) {
	const size = 64 << 20
	newBody := func() io.ReadCloser { return io.NopCloser(io.LimitReader(zeros{}, size)) }
	var sent []int64
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		sent = append(sent, n)
		return respond(r, 503, nil, ""), nil
	})
	rt := New(base, WithBackoff(time.Nanosecond, time.Nanosecond))
	req, _ := http.NewRequest("PUT", "http://api.test/blob", newBody())
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := rt.RoundTrip(req)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(sent) != 4 || sent[0] != size || sent[3] != size {
		t.Fatalf("attempts sent %v bytes, want 4 × %d", sent, size)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("allocated %d bytes for a 64 MiB body sent 4 times, want < 1 MiB", grown)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestLoopbackReplay checks retries on the wire: byte-identical bodies on each
// attempt of a PUT, POST retried on 429 but not on 503, a streaming body sent
// once, and one connection reused across the attempts.
func TestLoopbackReplay(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
		codes  []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		code := codes[min(len(bodies)-1, len(codes)-1)]
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, strings.Repeat("e", 100))
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	defer base.CloseIdleConnections()

	reset := func(c ...int) {
		mu.Lock()
		bodies, codes = nil, c
		mu.Unlock()
	}
	do := func(method string, body io.Reader, ctx context.Context) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+"/x", body)
		resp, err := New(base, WithBackoff(time.Millisecond, time.Millisecond)).RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip(%s) error = %v", method, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("PUT body identical on every attempt, one connection", func(t *testing.T) {
		reset(503, 502, 200)
		var newConns atomic.Int32
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) {
				if !i.Reused {
					newConns.Add(1)
				}
			},
		})
		base.CloseIdleConnections()
		if got := do("PUT", strings.NewReader("the payload ✓"), ctx); got != 200 {
			t.Errorf("status = %d, want 200", got)
		}
		if len(bodies) != 3 {
			t.Fatalf("server saw %d attempts, want 3", len(bodies))
		}
		for i, b := range bodies {
			if b != "the payload ✓" {
				t.Errorf("attempt %d body = %q, want %q", i, b, "the payload ✓")
			}
		}
		if got := newConns.Load(); got != 1 {
			t.Errorf("new connections = %d across 3 attempts, want 1 (reused)", got)
		}
	})
	t.Run("POST not retried on 503", func(t *testing.T) {
		reset(503, 200)
		if got := do("POST", strings.NewReader("x"), context.Background()); got != 503 || len(bodies) != 1 {
			t.Errorf("POST = %d after %d attempts, want 503 after 1", got, len(bodies))
		}
	})
	t.Run("POST retried on 429", func(t *testing.T) {
		reset(429, 200)
		if got := do("POST", strings.NewReader("x"), context.Background()); got != 200 || len(bodies) != 2 || bodies[1] != "x" {
			t.Errorf("POST = %d after %d attempts (%q), want 200 after 2", got, len(bodies), bodies)
		}
	})
	t.Run("streaming body sent once", func(t *testing.T) {
		reset(503, 200)
		pr, pw := io.Pipe()
		go func() { pw.Write([]byte("streamed")); pw.Close() }()
		if got := do("PUT", pr, context.Background()); got != 503 || len(bodies) != 1 || bodies[0] != "streamed" {
			t.Errorf("PUT = %d after %d attempts, want 503 after 1", got, len(bodies))
		}
	})
}

// TestLoggerQuietAndSafe: nothing is logged by default; with a logger, retry
// records carry no path, query or credential.
func TestLoggerQuietAndSafe(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	synctest.Test(t, func(t *testing.T) {
		rt := New(&script{codes: []int{503, 200}}, WithLogger(l), WithBackoff(time.Millisecond, time.Millisecond))
		req, _ := http.NewRequest("GET", "http://api.test/v1/secret-path?token=s3cr3t", nil)
		req.Header.Set("Authorization", "Bearer s3cr3t")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	out := buf.String()
	if !strings.Contains(out, "retrying") {
		t.Errorf("log = %q, want a retry record", out)
	}
	for _, secret := range []string{"s3cr3t", "secret-path", "Bearer"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

func TestAPIErrorsOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{"X-Request-Id": {"3f2a"}, "Content-Type": {"application/json"}}
			return respond(r, 404, h, `{"error_code":"AS.0001","error_msg":"The format of message is error"}`), nil
		})
		client := &http.Client{Transport: New(base, WithAPIErrors(DefaultErrorBodyLimit))}
		_, err := client.Get("http://api.test/x")
		var ae *APIError
		if !errors.As(err, &ae) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get error = %v, want *APIError matching ErrNotFound", err)
		}
		if ae.Code != "AS.0001" || ae.RequestID != "3f2a" {
			t.Errorf("APIError = %+v, want code AS.0001 and request id 3f2a", ae)
		}
	})
}
