package ratehttptest

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// reply is the part of a response the tests look at.
type reply struct {
	status                int
	limit, used, window   string
	id, retryAfter, ctype string
	body                  string
}

// do sends one request through srv.RoundTrip and reads the whole response.
func do(t *testing.T, srv *Server, method, path, body string) reply {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://api.test"+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip(%s %s) error = %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	return reply{
		status: resp.StatusCode,
		limit:  h.Get("X-Ratelimit"), used: h.Get("X-Ratelimit-Used"), window: h.Get("X-Ratelimit-Window"),
		id: h.Get("X-Request-Id"), retryAfter: h.Get("Retry-After"), ctype: h.Get("Content-Type"),
		body: string(b),
	}
}

// status sends one GET through srv.RoundTrip and returns the status; it
// never calls t.Fatal, so goroutines may use it.
func status(srv *Server) (int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://api.test/", nil)
	if err != nil {
		return 0, err
	}
	resp, err := srv.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func get(t *testing.T, srv *Server) reply {
	t.Helper()
	return do(t, srv, http.MethodGet, "/v1/items", "")
}

// boundary returns the first window start strictly after now for windows of
// length w shifted by off since the Unix epoch.
func boundary(now time.Time, w, off time.Duration) time.Time {
	k := floorDiv(now.UnixNano()-int64(off), int64(w)) + 1
	return time.Unix(0, k*int64(w)+int64(off))
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// step is one request of a scenario: at is the arrival, relative to the
// scenario's start.
type step struct {
	at         time.Duration
	wantStatus int
	wantUsed   string
}

func runSteps(t *testing.T, srv *Server, t0 time.Time, steps []step) {
	t.Helper()
	for i, st := range steps {
		sleepUntil(t0.Add(st.at))
		got := get(t, srv)
		if got.status != st.wantStatus || got.used != st.wantUsed {
			t.Errorf("step %d: RoundTrip(+%v) = %d used %q, want %d used %q",
				i, st.at, got.status, got.used, st.wantStatus, st.wantUsed)
		}
	}
}

func TestFixedWindowResetsAtBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2})
		t0 := boundary(time.Now(), time.Minute, 0)
		runSteps(t, srv, t0, []step{
			{0, 200, "1"},
			{0, 200, "0"},
			{0, 429, "0"},
			{time.Minute - time.Nanosecond, 429, "0"},
			{time.Minute, 200, "1"},
			{time.Minute + 30*time.Second, 200, "0"},
			{2*time.Minute - time.Nanosecond, 429, "0"},
			{5 * time.Minute, 200, "1"},
		})
		if got, want := srv.Stats(), (Stats{Accepted: 5, Rejected: 3}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

func TestFixedWindowOffset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: time.Minute, Offset: 15 * time.Second, RetryAfter: true})
		t0 := boundary(time.Now(), time.Minute, 15*time.Second)
		if t0.Second() != 15 {
			t.Fatalf("boundary = %v, want second 15", t0)
		}
		sleepUntil(t0.Add(-10 * time.Second))
		get(t, srv)
		get(t, srv)
		if got := get(t, srv); got.status != 429 || got.retryAfter != "10" {
			t.Errorf("RoundTrip(-10s) = %d Retry-After %q, want 429 Retry-After \"10\"", got.status, got.retryAfter)
		}
		sleepUntil(t0.Add(-time.Nanosecond))
		if got := get(t, srv); got.status != 429 || got.retryAfter != "1" {
			t.Errorf("RoundTrip(-1ns) = %d Retry-After %q, want 429 Retry-After \"1\"", got.status, got.retryAfter)
		}
		sleepUntil(t0)
		if got := get(t, srv); got.status != 200 || got.used != "1" {
			t.Errorf("RoundTrip(boundary) = %d used %q, want 200 used \"1\"", got.status, got.used)
		}
		ws := srv.Windows()
		if len(ws) != 2 || !ws[1].Start.Equal(t0) || !ws[0].Start.Equal(t0.Add(-time.Minute)) {
			t.Errorf("Windows() = %+v, want 2 windows starting at %v and %v", ws, t0.Add(-time.Minute), t0)
		}
	})
}

func TestSlidingWindowExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * time.Second, Policy: SlidingWindow})
		runSteps(t, srv, time.Now().Add(3*time.Second), []step{
			{0, 200, "1"},
			{4 * time.Second, 200, "0"},
			{5 * time.Second, 429, "0"},
			{10*time.Second - time.Nanosecond, 429, "0"},
			{10 * time.Second, 200, "0"}, // the first entry expires at exactly +10s
			{14*time.Second - time.Nanosecond, 429, "0"},
			{14 * time.Second, 200, "0"},
			{30 * time.Second, 200, "1"},
		})
	})
}

func TestTokenBucketRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 4 tokens per second: one every 250ms.
		srv := NewServer(Config{Limit: 4, Window: time.Second, Policy: TokenBucket})
		runSteps(t, srv, time.Now(), []step{
			{0, 200, "3"},
			{0, 200, "2"},
			{0, 200, "1"},
			{0, 200, "0"},
			{0, 429, "0"},
			{249 * time.Millisecond, 429, "0"},
			{250 * time.Millisecond, 200, "0"},
			{750 * time.Millisecond, 200, "1"},
			{10 * time.Second, 200, "3"}, // full again, capped at Limit
		})
	})
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		give Config
		// Requests are sent at these offsets from a window boundary; the last
		// one must be rejected with Retry-After want.
		at   []time.Duration
		want string
	}{
		{"fixed", Config{Limit: 1, Policy: FixedWindow}, []time.Duration{20 * time.Second, 20 * time.Second}, "40"},
		{"fixed rounds up", Config{Limit: 1, Policy: FixedWindow}, []time.Duration{0, 59*time.Second + time.Millisecond}, "1"},
		{"sliding", Config{Limit: 1, Window: 10 * time.Second, Policy: SlidingWindow}, []time.Duration{0, 3500 * time.Millisecond}, "7"},
		{"sliding lowest slot", Config{Limit: 2, Window: 10 * time.Second, Policy: SlidingWindow}, []time.Duration{0, 2 * time.Second, 4 * time.Second}, "6"},
		{"token", Config{Limit: 2, Window: 10 * time.Second, Policy: TokenBucket}, []time.Duration{0, 0, 0}, "5"},
		{"token partial", Config{Limit: 2, Window: 10 * time.Second, Policy: TokenBucket}, []time.Duration{0, 0, time.Second}, "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.give.RetryAfter = true
				srv := NewServer(tt.give)
				t0 := boundary(time.Now(), time.Minute, 0)
				var got reply
				for _, at := range tt.at {
					sleepUntil(t0.Add(at))
					got = get(t, srv)
				}
				if got.status != 429 || got.retryAfter != tt.want {
					t.Errorf("RoundTrip = %d Retry-After %q, want 429 Retry-After %q", got.status, got.retryAfter, tt.want)
				}
			})
		})
	}
	t.Run("off by default", func(t *testing.T) {
		srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow})
		get(t, srv)
		if got := get(t, srv); got.status != 429 || got.retryAfter != "" {
			t.Errorf("RoundTrip = %d Retry-After %q, want 429 and no Retry-After", got.status, got.retryAfter)
		}
	})
}

func TestSetLimitFixedKeepsCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 4})
		t0 := boundary(time.Now(), time.Minute, 0)
		sleepUntil(t0)
		get(t, srv)
		get(t, srv)
		srv.SetLimit(2)
		if got := get(t, srv); got.status != 429 || got.limit != "2" || got.used != "0" {
			t.Errorf("RoundTrip after SetLimit(2) = %d limit %q used %q, want 429 limit \"2\" used \"0\"", got.status, got.limit, got.used)
		}
		sleepUntil(t0.Add(time.Minute))
		runSteps(t, srv, t0.Add(time.Minute), []step{{0, 200, "1"}, {0, 200, "0"}, {0, 429, "0"}})
		srv.SetLimit(3)
		runSteps(t, srv, t0.Add(time.Minute), []step{{0, 200, "0"}})

		want := []WindowStats{
			{Start: t0, Limit: 2, Accepted: 2, Rejected: 1},
			{Start: t0.Add(time.Minute), Limit: 3, Accepted: 3, Rejected: 1},
		}
		if got := srv.Windows(); !equalWindows(got, want) {
			t.Errorf("Windows() = %+v, want %+v", got, want)
		}
	})
}

func TestSetLimitTokenBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 10, Window: 10 * time.Second, Policy: TokenBucket})
		srv.SetLimit(2) // the full bucket is cut to 2 tokens, refilled at 2 per 10s
		runSteps(t, srv, time.Now(), []step{
			{0, 200, "1"},
			{0, 200, "0"},
			{0, 429, "0"},
			{5*time.Second - time.Millisecond, 429, "0"},
			{5 * time.Second, 200, "0"},
		})
		if got := get(t, srv); got.limit != "2" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want \"2\"", got.limit)
		}
	})
}

func TestSetLimitZeroRejectsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 3, Policy: SlidingWindow, RetryAfter: true})
		srv.SetLimit(-1)
		if got := get(t, srv); got.status != 429 || got.limit != "0" || got.retryAfter != "60" {
			t.Errorf("RoundTrip = %d limit %q Retry-After %q, want 429 limit \"0\" Retry-After \"60\"", got.status, got.limit, got.retryAfter)
		}
	})
}

func TestConsume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 5})
		t0 := boundary(time.Now(), time.Minute, 0)
		sleepUntil(t0)
		if got := srv.Consume(0); got != 0 {
			t.Errorf("Consume(0) = %d, want 0", got)
		}
		if srv.Windows() != nil {
			t.Errorf("Windows() after Consume(0) = %+v, want nil", srv.Windows())
		}
		if got := srv.Consume(3); got != 3 {
			t.Errorf("Consume(3) = %d, want 3", got)
		}
		runSteps(t, srv, t0, []step{{0, 200, "1"}})
		if got := srv.Consume(5); got != 1 {
			t.Errorf("Consume(5) = %d, want 1", got)
		}
		runSteps(t, srv, t0, []step{{0, 429, "0"}})
		sleepUntil(t0.Add(time.Minute))
		if got := srv.Consume(10); got != 5 {
			t.Errorf("Consume(10) in a new window = %d, want 5", got)
		}
		if got, want := srv.Stats(), (Stats{Accepted: 1, Rejected: 1, Consumed: 9}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		want := []WindowStats{
			{Start: t0, Limit: 5, Accepted: 1, Rejected: 1, Consumed: 4},
			{Start: t0.Add(time.Minute), Limit: 5, Consumed: 5},
		}
		if got := srv.Windows(); !equalWindows(got, want) {
			t.Errorf("Windows() = %+v, want %+v", got, want)
		}
	})
}

func TestConsumeOtherPolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sliding := NewServer(Config{Limit: 3, Window: 10 * time.Second, Policy: SlidingWindow})
		bucket := NewServer(Config{Limit: 3, Window: 3 * time.Second, Policy: TokenBucket})
		for _, srv := range []*Server{sliding, bucket} {
			if got := srv.Consume(5); got != 3 {
				t.Errorf("%v: Consume(5) = %d, want 3", srv.cfg.Policy, got)
			}
			if got := get(t, srv); got.status != 429 {
				t.Errorf("%v: RoundTrip after Consume = %d, want 429", srv.cfg.Policy, got.status)
			}
		}
		time.Sleep(time.Second)
		if got := bucket.Consume(5); got != 1 {
			t.Errorf("TokenBucket: Consume(5) after 1s = %d, want 1", got)
		}
		time.Sleep(9 * time.Second)
		if got := sliding.Consume(5); got != 3 {
			t.Errorf("SlidingWindow: Consume(5) after expiry = %d, want 3", got)
		}
	})
}

func TestUsedMeansUsed(t *testing.T) {
	tests := []struct {
		policy Policy
		want   []string
	}{
		{FixedWindow, []string{"1", "2", "2"}},
		{SlidingWindow, []string{"1", "2", "2"}},
		{TokenBucket, []string{"1", "2", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(Config{Limit: 2, Policy: tt.policy, UsedMeansUsed: true})
				sleepUntil(boundary(time.Now(), time.Minute, 0))
				var got []string
				for range tt.want {
					got = append(got, get(t, srv).used)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("X-Ratelimit-Used = %q, want %q", got, tt.want)
				}
			})
		})
	}
}

func TestOmitHeaders(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow, OmitHeaders: true, RetryAfter: true})
	get(t, srv)
	got := get(t, srv)
	if got.limit != "" || got.used != "" || got.window != "" {
		t.Errorf("RoundTrip rate-limit headers = %q %q %q, want none", got.limit, got.used, got.window)
	}
	if got.status != 429 || got.id != "req-000002" || got.retryAfter != "3600" {
		t.Errorf("RoundTrip = %d id %q Retry-After %q, want 429 id \"req-000002\" Retry-After \"3600\"", got.status, got.id, got.retryAfter)
	}
}

func TestResponses(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow})
	ok := get(t, srv)
	throttled := get(t, srv)
	if ok.status != 200 || ok.body != `{"ok":true}` || ok.ctype != "application/json" {
		t.Errorf("RoundTrip = %d %q %q, want 200 {\"ok\":true} application/json", ok.status, ok.body, ok.ctype)
	}
	if ok.limit != "1" || ok.used != "0" || ok.window != "hour" || ok.id != "req-000001" {
		t.Errorf("RoundTrip headers = limit %q used %q window %q id %q, want 1 0 hour req-000001", ok.limit, ok.used, ok.window, ok.id)
	}
	if throttled.status != 429 || throttled.ctype != "application/json" || throttled.id != "req-000002" {
		t.Errorf("RoundTrip = %d %q id %q, want 429 application/json id req-000002", throttled.status, throttled.ctype, throttled.id)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(throttled.body), &body); err != nil {
		t.Fatalf("429 body %q: %v", throttled.body, err)
	}
	if want := map[string]string{"error_code": "APIGW.0308", "error_msg": "The request is throttled."}; !reflect.DeepEqual(body, want) {
		t.Errorf("429 body = %v, want %v", body, want)
	}
	if head := do(t, srv, http.MethodHead, "/", ""); head.body != "" {
		t.Errorf("RoundTrip(HEAD) body = %q, want empty", head.body)
	}
}

func TestUnit(t *testing.T) {
	tests := []struct {
		give Config
		want string
	}{
		{Config{}, "minute"},
		{Config{Window: time.Minute}, "minute"},
		{Config{Window: time.Hour}, "hour"},
		{Config{Window: 24 * time.Hour}, "day"},
		{Config{Window: 10 * time.Second}, "10s"},
		{Config{Window: 1500 * time.Millisecond}, "1.5s"},
		{Config{Window: time.Second, Unit: "hour"}, "hour"},
	}
	for _, tt := range tests {
		tt.give.Limit = 1
		if got := get(t, NewServer(tt.give)).window; got != tt.want {
			t.Errorf("NewServer(Window %v, Unit %q): X-Ratelimit-Window = %q, want %q", tt.give.Window, tt.give.Unit, got, tt.want)
		}
	}
}

func TestNewServerPanics(t *testing.T) {
	tests := []struct {
		name string
		give Config
	}{
		{"zero limit", Config{}},
		{"negative limit", Config{Limit: -1}},
		{"negative window", Config{Limit: 1, Window: -time.Second}},
		{"negative latency", Config{Limit: 1, Latency: -time.Second}},
		{"unknown policy", Config{Limit: 1, Policy: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("NewServer(%+v) did not panic", tt.give)
				}
			}()
			NewServer(tt.give)
		})
	}
}

func TestPolicyString(t *testing.T) {
	for give, want := range map[Policy]string{FixedWindow: "FixedWindow", SlidingWindow: "SlidingWindow", TokenBucket: "TokenBucket", 9: "Policy(9)"} {
		if got := give.String(); got != want {
			t.Errorf("Policy(%d).String() = %q, want %q", int(give), got, want)
		}
	}
}

// trackedBody records whether it was closed.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 1, Latency: 2 * time.Second})
		t0 := boundary(time.Now(), time.Minute, 0)
		sleepUntil(t0)

		// The quota decision is taken at arrival: a request arriving while the
		// first is still being served is already over the limit.
		var first int
		var firstErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			first, firstErr = status(srv)
		}()
		time.Sleep(time.Second)
		second := get(t, srv)
		<-done
		if firstErr != nil || first != 200 || second.status != 429 {
			t.Errorf("RoundTrip statuses = %d (%v), %d, want 200, 429", first, firstErr, second.status)
		}
		if got, want := time.Since(t0), 3*time.Second; got != want {
			t.Errorf("second response after %v, want %v", got, want)
		}
	})
}

func TestLatencyRespectsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 5, Latency: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		body := &trackedBody{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://api.test/", body)
		start := time.Now()
		resp, err := srv.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("RoundTrip = %v, %v, want nil, context.DeadlineExceeded", resp, err)
		}
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("RoundTrip returned after %v, want 500ms", got)
		}
		if !body.closed {
			t.Error("RoundTrip did not close the request body")
		}
		if got := srv.Stats().Accepted; got != 1 {
			t.Errorf("Stats().Accepted = %d, want 1 (counted at arrival)", got)
		}

		// A context already done: the request never arrives.
		body = &trackedBody{Reader: strings.NewReader("payload")}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "http://api.test/", body)
		if _, err := srv.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("RoundTrip with a done context error = %v, want context.DeadlineExceeded", err)
		}
		if !body.closed {
			t.Error("RoundTrip with a done context did not close the request body")
		}
		if got := srv.Stats().Accepted; got != 1 {
			t.Errorf("Stats().Accepted = %d, want 1", got)
		}

		// ServeHTTP writes nothing when the context ends during the latency.
		ctx2, cancel2 := context.WithTimeout(t.Context(), time.Second)
		defer cancel2()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx2, http.MethodGet, "/", nil))
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Errorf("ServeHTTP wrote %v %q after the context ended, want nothing", rec.Header(), rec.Body)
		}
	})
}

func TestServeHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 1, Latency: time.Second})
		sleepUntil(boundary(time.Now(), time.Minute, 0))
		var codes []int
		for range 2 {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			codes = append(codes, rec.Code)
		}
		if want := []int{200, 429}; !reflect.DeepEqual(codes, want) {
			t.Errorf("ServeHTTP codes = %v, want %v", codes, want)
		}
	})
}

func TestWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 1})
		if got := srv.Windows(); got != nil {
			t.Errorf("Windows() before any request = %+v, want nil", got)
		}
		t0 := boundary(time.Now(), time.Minute, 0)
		srv.SetLimit(2) // before the first request: no window yet
		runSteps(t, srv, t0, []step{
			{10 * time.Second, 200, "1"},
			{20 * time.Second, 200, "0"},
			{30 * time.Second, 429, "0"},
			// window 1 has no traffic
			{2*time.Minute + 5*time.Second, 200, "1"},
		})
		srv.Consume(1)
		want := []WindowStats{
			{Start: t0, Limit: 2, Accepted: 2, Rejected: 1},
			{Start: t0.Add(time.Minute), Limit: 2},
			{Start: t0.Add(2 * time.Minute), Limit: 2, Accepted: 1, Consumed: 1},
		}
		if got := srv.Windows(); !equalWindows(got, want) {
			t.Errorf("Windows() = %+v, want %+v", got, want)
		}
		if got := srv.Windows()[0].Start.Location(); got != time.UTC {
			t.Errorf("Windows()[0].Start.Location() = %v, want UTC", got)
		}
	})
}

func TestWindowsNonFixedStartAtFirstArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 1, Window: 10 * time.Second, Policy: SlidingWindow})
		time.Sleep(7 * time.Second)
		t0 := time.Now()
		get(t, srv)
		time.Sleep(25 * time.Second)
		get(t, srv)
		get(t, srv)
		want := []WindowStats{
			{Start: t0, Limit: 1, Accepted: 1},
			{Start: t0.Add(10 * time.Second), Limit: 1},
			{Start: t0.Add(20 * time.Second), Limit: 1, Accepted: 1, Rejected: 1},
		}
		if got := srv.Windows(); !equalWindows(got, want) {
			t.Errorf("Windows() = %+v, want %+v", got, want)
		}
	})
}

func equalWindows(got, want []WindowStats) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) {
			return false
		}
		g.Start, w.Start = time.Time{}, time.Time{}
		if g != w {
			return false
		}
	}
	return true
}

func TestHookAndRequestUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow})
		var events []Event
		srv.SetHook(func(e Event) { events = append(events, e) })
		body := &trackedBody{Reader: strings.NewReader("hello")}
		req, _ := http.NewRequest(http.MethodPost, "http://api.test/v1/x?q=1", body)
		req.Header.Set("X-Test", "a")
		resp, err := srv.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request != req {
			t.Error("RoundTrip response.Request is not the request")
		}
		if !body.closed {
			t.Error("RoundTrip did not close the request body")
		}
		if req.Body != body || len(req.Header) != 1 || req.URL.String() != "http://api.test/v1/x?q=1" {
			t.Errorf("RoundTrip modified the request: %+v", req)
		}
		req.Header.Set("X-Test", "changed")
		get(t, srv)
		srv.SetHook(nil)
		get(t, srv)

		if len(events) != 2 {
			t.Fatalf("hook called %d times, want 2", len(events))
		}
		e := events[0]
		want := Event{
			Time: e.Time, Method: "POST", Path: "/v1/x", RequestID: "req-000001", Status: 200, Remaining: 0,
			BodyLen: 5, BodyCRC: crc32.ChecksumIEEE([]byte("hello")), Header: http.Header{"X-Test": {"a"}},
			Processed: true,
		}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("hook event = %+v, want %+v", e, want)
		}
		if !e.Time.Equal(time.Now()) {
			t.Errorf("hook event Time = %v, want %v", e.Time, time.Now())
		}
		if e := events[1]; e.Status != 429 || e.BodyLen != 0 || e.BodyCRC != 0 || e.RequestID != "req-000002" {
			t.Errorf("hook event = %+v, want status 429, no body, req-000002", e)
		}
	})
}

func TestHandler(t *testing.T) {
	calls := 0
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			calls++
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Echo-Path", r.URL.Path)
			w.WriteHeader(http.StatusCreated)
			w.Write(b)
		})})
	got := do(t, srv, http.MethodPut, "/v1/things", "data")
	if got.status != 201 || got.body != "data" || got.used != "0" || got.limit != "1" {
		t.Errorf("RoundTrip = %+v, want 201 echoing the body with rate-limit headers", got)
	}
	if got := do(t, srv, http.MethodPut, "/v1/things", "data"); got.status != 429 || calls != 1 {
		t.Errorf("RoundTrip over the limit = %d with %d handler calls, want 429 and 1", got.status, calls)
	}
}

func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, clients = 20, 50
		srv := NewServer(Config{Limit: limit, Latency: time.Millisecond})
		sleepUntil(boundary(time.Now(), time.Minute, 0))
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range clients {
			wg.Go(func() {
				code, err := status(srv)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[200] != limit || codes[429] != clients-limit {
			t.Errorf("RoundTrip statuses = %v, want %d×200 and %d×429", codes, limit, clients-limit)
		}
		if got, want := srv.Stats(), (Stats{Accepted: limit, Rejected: clients - limit}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

// TestLoopback checks the wire behaviour of Start; it uses real sockets, so it
// runs outside a synctest bubble.
func TestLoopback(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow})
	if got := srv.URL(); got != "" {
		t.Errorf("URL() before Start = %q, want \"\"", got)
	}
	url := srv.Start()
	defer srv.Close()
	if !strings.HasPrefix(url, "http://127.0.0.1:") || srv.Start() != url || srv.URL() != url {
		t.Fatalf("Start() = %q, then %q, URL() = %q; want one http://127.0.0.1 URL", url, srv.Start(), srv.URL())
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	arrived := make(chan Event, 3)
	srv.SetHook(func(e Event) { arrived <- e })
	resp, err := client.Post(url+"/v1/items", "text/plain", strings.NewReader("wire body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != OKBody || resp.Header.Get("X-Ratelimit") != "1" ||
		resp.Header.Get("X-Ratelimit-Used") != "0" || resp.Header.Get("X-Ratelimit-Window") != "hour" ||
		resp.Header.Get("X-Request-Id") != "req-000001" {
		t.Errorf("POST = %d %q %v, want 200 %s with rate-limit headers", resp.StatusCode, b, resp.Header, OKBody)
	}
	if e := <-arrived; e.BodyLen != 9 || e.BodyCRC != crc32.ChecksumIEEE([]byte("wire body")) || e.Path != "/v1/items" {
		t.Errorf("hook event = %+v, want the 9-byte body on /v1/items", e)
	}

	resp, err = client.Get(url + "/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || string(b) != ThrottledBody || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET = %d %q, want 429 %s", resp.StatusCode, b, ThrottledBody)
	}
	<-arrived

	srv.Close()
	srv.Close()
	if got := srv.URL(); got != "" {
		t.Errorf("URL() after Close = %q, want \"\"", got)
	}
}

// TestLoopbackCloseAbortsLatency checks that Close does not wait out the
// latency and that the waiting client gets an error, not an empty 200.
func TestLoopbackCloseAbortsLatency(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Latency: time.Hour})
	url := srv.Start()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	arrived := make(chan Event, 1)
	srv.SetHook(func(e Event) { arrived <- e })

	errc := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	srv.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("GET during Close succeeded, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GET still waiting 10s after Close")
	}
}

// failingBody fails every read.
type failingBody struct{ closed bool }

func (b *failingBody) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }
func (b *failingBody) Close() error             { b.closed = true; return nil }

func TestBodyReadError(t *testing.T) {
	srv := NewServer(Config{Limit: 5, Window: time.Hour, Policy: SlidingWindow})
	body := &failingBody{}
	req, _ := http.NewRequest(http.MethodPost, "http://api.test/", body)
	if resp, err := srv.RoundTrip(req); resp != nil || err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("RoundTrip = %v, %v, want nil and the read error", resp, err)
	}
	if !body.closed {
		t.Error("RoundTrip did not close the failing body")
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", &failingBody{}))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("ServeHTTP with a failing body = %d, want 400", rec.Code)
	}
	if got, want := srv.Stats(), (Stats{Accepted: 2}); got != want {
		t.Errorf("Stats() = %+v, want %+v (counted at arrival)", got, want)
	}

	body = &failingBody{}
	if _, err := srv.RoundTrip(&http.Request{Method: http.MethodGet, Body: body}); err == nil || !body.closed {
		t.Errorf("RoundTrip(nil URL) error = %v, body closed %v; want an error and a closed body", err, body.closed)
	}
}

func TestFloorDiv(t *testing.T) {
	tests := []struct{ a, b, want int64 }{
		{7, 2, 3}, {6, 2, 3}, {0, 5, 0}, {-1, 5, -1}, {-5, 5, -1}, {-6, 5, -2},
	}
	for _, tt := range tests {
		if got := floorDiv(tt.a, tt.b); got != tt.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLowercaseHeaders(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: SlidingWindow, RetryAfter: true, LowercaseHeaders: true})
	for i, want := range []http.Header{
		{"x-ratelimit": {"1"}, "x-ratelimit-used": {"0"}, "x-ratelimit-window": {"hour"}, "x-request-id": {"req-000001"}},
		{"x-ratelimit": {"1"}, "x-ratelimit-used": {"0"}, "x-ratelimit-window": {"hour"}, "x-request-id": {"req-000002"}, "retry-after": {"3600"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/", nil)
		resp, err := srv.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Clone()
		if got.Get("Content-Type") != "application/json" || got.Get("Content-Length") == "" {
			t.Errorf("request %d: RoundTrip header %v, want canonical Content-Type and Content-Length", i, got)
		}
		delete(got, "Content-Type")
		delete(got, "Content-Length")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request %d: RoundTrip header = %v, want %v", i, got, want)
		}
		if v := resp.Header.Get(HeaderLimit); v != "" {
			t.Errorf("request %d: Header.Get(%q) = %q, want \"\" (the key is lowercase)", i, HeaderLimit, v)
		}
	}
}

// TestLowercaseHeadersWire checks that the lowercase names go over the wire
// and that Go's client canonicalises them; it uses real sockets, so it runs
// outside a synctest bubble.
func TestLowercaseHeadersWire(t *testing.T) {
	srv := NewServer(Config{Limit: 1, Window: time.Hour, Policy: GCRA, RetryAfter: true, LowercaseHeaders: true})
	url := srv.Start()
	defer srv.Close()

	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"\r\nx-ratelimit: 1\r\n", "\r\nx-ratelimit-used: 0\r\n", "\r\nx-request-id: req-000001\r\n"} {
		if !strings.Contains(string(raw), line) {
			t.Errorf("raw response %q does not contain %q", raw, line)
		}
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("X-Ratelimit") != "1" || resp.Header.Get("Retry-After") != "3600" {
		t.Errorf("GET = %d %v, want 429 with canonical X-Ratelimit 1 and Retry-After 3600", resp.StatusCode, resp.Header)
	}
}
