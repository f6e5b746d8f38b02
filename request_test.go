package ratehttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// spentFor returns a base whose first answer says the hourly quota of 100 is
// spent, and every later one that 99 remain.
func spentOnce() roundTripFunc {
	var mu sync.Mutex
	n := 0
	return func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n++
		left := "99"
		if n == 1 {
			left = "0"
		}
		mu.Unlock()
		h := http.Header{"X-Ratelimit": {"100"}, "X-Ratelimit-Used": {left}, "X-Ratelimit-Window": {"minute"}}
		return respond(r, 200, h, ""), nil
	}
}

// TestRequestMaxWait: a request's MaxWait replaces the Transport's, longer
// or shorter.
func TestRequestMaxWait(t *testing.T) {
	tests := []struct {
		name      string
		transport time.Duration
		give      []RequestOption
		wantErr   bool
	}{
		{"transport's bound refuses", 10 * time.Second, nil, true},
		{"longer for one request", 10 * time.Second, []RequestOption{MaxWait(5 * time.Minute)}, false},
		{"shorter for one request", time.Hour, []RequestOption{MaxWait(0)}, true},
		{"later option wins", time.Hour, []RequestOption{MaxWait(0), MaxWait(time.Hour)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := New(spentOnce(), WithMaxWait(tt.transport))
				if _, err := get(t, context.Background(), rt); err != nil {
					t.Fatal(err)
				}
				ctx := WithRequestOptions(context.Background(), tt.give...)
				start := time.Now()
				resp, err := get(t, ctx, rt)
				if (err != nil) != tt.wantErr {
					t.Fatalf("RoundTrip error = %v, want error %v", err, tt.wantErr)
				}
				if err != nil {
					if !errors.Is(err, ErrRateLimited) || time.Since(start) != 0 {
						t.Errorf("RoundTrip error = %v after %v, want ErrRateLimited at once", err, time.Since(start))
					}
					return
				}
				resp.Body.Close()
				if time.Since(start) == 0 {
					t.Errorf("RoundTrip did not wait for the spent quota")
				}
			})
		})
	}
}

// TestRequestRetries: Retries replaces WithRetries for one request, and the
// options of a context carry over to one derived with more options.
func TestRequestRetries(t *testing.T) {
	tests := []struct {
		name string
		give []RequestOption
		want int
	}{
		{"transport's", nil, 4},
		{"off", []RequestOption{Retries(0)}, 1},
		{"one", []RequestOption{Retries(1)}, 2},
		{"negative is none", []RequestOption{Retries(-3)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{codes: []int{503}}
			rt := New(s, WithBackoff(0, 0))
			ctx := WithRequestOptions(context.Background(), Interactive())
			ctx = WithRequestOptions(ctx, tt.give...)
			resp, err := get(t, ctx, rt)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := int(s.calls.Load()); got != tt.want {
				t.Errorf("attempts = %d, want %d", got, tt.want)
			}
			if o := ctx.Value(requestOptionsKey{}).(*requestOptions); o.priority != priorityInteractive {
				t.Errorf("priority = %d after a second WithRequestOptions, want interactive kept", o.priority)
			}
		})
	}
}

// TestZeroBackoffRetriesAtOnce: WithBackoff(0, 0) means no delay between
// retries, and WithAPIErrors(0) reads no body.
func TestZeroValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{codes: []int{503, 503, 200}}
		start := time.Now()
		resp, err := get(t, context.Background(), New(s, WithBackoff(0, 0)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || time.Since(start) != 0 {
			t.Errorf("status %d after %v, want 200 at once", resp.StatusCode, time.Since(start))
		}
	})
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return respond(r, 400, http.Header{"Content-Type": {"application/json"}}, `{"error_code":"X.1","error_msg":"bad"}`), nil
	})
	_, err := get(t, context.Background(), New(base, WithAPIErrors(0)))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "" {
		t.Errorf("WithAPIErrors(0): error %#v, want an *APIError with status 400 and no code read", err)
	}
}

// TestEvents: the handlers see a request's events in order, the
// Transport's before the request's.
func TestEvents(t *testing.T) {
	type seen struct {
		who  string
		kind EventKind
		n    int
		code int
	}
	var got []seen
	record := func(who string) func(Event) {
		return func(e Event) { got = append(got, seen{who, e.Kind, e.Attempt, e.Status}) }
	}
	s := &script{codes: []int{429, 200}, header: retryAfter("0")}
	rt := New(s, WithEvents(record("t")), WithBackoff(0, 0))
	ctx := WithRequestOptions(context.Background(), OnEvent(record("r")))
	resp, err := get(t, ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var kinds []string
	for i, e := range got {
		if i%2 == 0 && (e.who != "t" || got[i+1].who != "r" || got[i+1].kind != e.kind) {
			t.Fatalf("events %v: want each event to the Transport's handler, then the request's", got)
		}
		if e.who == "t" {
			kinds = append(kinds, e.kind.String())
		}
	}
	want := []string{"attempt", "response", "rate_limited", "retry", "attempt", "response"}
	if !slices.Equal(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}
	if e := got[len(got)-1]; e.n != 2 || e.code != 200 {
		t.Errorf("last event: attempt %d status %d, want attempt 2 status 200", e.n, e.code)
	}

	// A refusal, and no events at all without handlers.
	got = nil
	synctest.Test(t, func(t *testing.T) {
		rt := New(spentOnce(), WithEvents(record("t")), WithMaxWait(time.Second))
		get(t, context.Background(), rt)
		_, err := get(t, context.Background(), rt)
		if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("RoundTrip error = %v, want ErrRateLimited", err)
		}
	})
	if e := got[len(got)-1]; e.kind != EventRefused {
		t.Errorf("last event %v, want refused", e.kind)
	}
}

// TestPriorities: under a spent budget, interactive requests go before the
// batch ones that came earlier (though not before the head of the queue),
// and batch requests leave the last of a window's budget to the others.
func TestPriorities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 5, Window: time.Minute, Latency: 10 * time.Millisecond})
		var sent sendOrder
		rt := New(sent.wrap(srv.RoundTrip), WithRetries(0), WithMaxWait(10*time.Minute))
		batch := WithRequestOptions(context.Background(), Batch())
		interactive := WithRequestOptions(context.Background(), Interactive())
		var wg sync.WaitGroup
		send := func(ctx context.Context, i int) {
			wg.Go(func() {
				if code, err := sendNumbered(ctx, rt, i); err != nil || code != 200 {
					t.Errorf("request %d: status %d, error %v; want 200", i, code, err)
				}
			})
			time.Sleep(time.Millisecond)
		}
		for i := range 8 { // 0-7 batch: four go, the fifth is the reserve
			send(batch, i)
		}
		time.Sleep(time.Second)
		if n := len(sent.get()); n != 4 {
			t.Errorf("batch requests sent in the first window: %d, want 4 (the last is left to others)", n)
		}
		send(interactive, 8) // takes the reserve at once
		time.Sleep(100 * time.Millisecond)
		if order := sent.get(); len(order) != 5 || order[4] != 8 {
			t.Errorf("sent %v, want the interactive request 8 fifth, at once", order)
		}
		send(batch, 9)
		send(interactive, 10)
		wg.Wait()
		order := sent.get()
		if i, j := slices.Index(order, 10), slices.Index(order, 5); i > j+1 {
			t.Errorf("sent %v: interactive request 10 behind more than the head of the queue", order)
		}
		if i, j := slices.Index(order, 10), slices.Index(order, 9); i > j {
			t.Errorf("sent %v: interactive request 10 after batch request 9", order)
		}
	})
}

// TestBurstOption: with WithBurst(1), 50 concurrent calls with 99 of 100
// remaining all go at once; by default they are paced after a burst of ten.
func TestBurstOption(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
		want func(time.Duration) bool
	}{
		{"WithBurst(1)", []Option{WithBurst(1)}, func(d time.Duration) bool { return d == 0 }},
		{"default", nil, func(d time.Duration) bool { return d > 10*time.Second }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Window: time.Minute, Offset: 30 * time.Second})
				var sent sendOrder
				rt := New(sent.wrap(srv.RoundTrip), tt.opts...)
				if code, err := sendNumbered(context.Background(), rt, 0); err != nil || code != 200 {
					t.Fatalf("first request: %d %v", code, err)
				}
				var wg sync.WaitGroup
				for i := 1; i <= 50; i++ {
					wg.Go(func() { sendNumbered(context.Background(), rt, i) })
				}
				wg.Wait()
				at := sent.times()
				last := slices.Max(at) - at[1]
				if !tt.want(last) {
					t.Errorf("50 calls sent over %v", last)
				}
				if st := srv.Stats(); st.Rejected != 0 {
					t.Errorf("%d rejected, want 0", st.Rejected)
				}
			})
		})
	}
}

// TestQuotaState: the state of each key, as the server reported it and as
// the Transport estimates it.
func TestQuotaState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 10, Window: time.Hour})
		rt := New(srv, WithKeyFunc(func(r *http.Request) string { return r.Header.Get("Tenant") }))
		req := func(tenant string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://api.test/x", nil)
			r.Header.Set("Tenant", tenant)
			return r
		}
		if _, ok := rt.Quota(req("b")); ok {
			t.Errorf("Quota of an unused key: ok")
		}
		for _, tenant := range []string{"b", "a", "a"} {
			resp, err := rt.RoundTrip(req(tenant))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		st, ok := rt.Quota(req("a"))
		if !ok || !st.Known || st.Limit != 10 || st.Window != time.Hour || st.Key != "a" || st.Throttled || st.Family != "fixed window" {
			t.Errorf("Quota(a) = %+v, %v", st, ok)
		}
		// The server's counter is shared by both tenants: 7 remain.
		if st.Remaining != 7 || st.Reset.IsZero() || st.Pace <= 0 || st.InFlight != 0 {
			t.Errorf("Quota(a) = %+v, want 7 remaining, a reset and a pace", st)
		}
		all := rt.Quotas()
		if len(all) != 2 || all[0].Key != "a" || all[1].Key != "b" {
			t.Errorf("Quotas() = %+v, want a then b", all)
		}
		// A spent quota: the wait is the time to the reset.
		for range 7 {
			resp, _ := rt.RoundTrip(req("a"))
			resp.Body.Close()
		}
		st, _ = rt.Quota(req("a"))
		if st.Remaining != 0 || st.Wait != time.Until(st.Reset) || st.Wait <= 0 {
			t.Errorf("spent: %+v, want 0 remaining and a wait until the reset", st)
		}
	})
	if _, ok := New(nil).Quota(&http.Request{}); ok {
		t.Errorf("Quota of a request without URL: ok")
	}
}

// TestEventKindString names every kind.
func TestEventKindString(t *testing.T) {
	for k := EventWait; k <= EventRetry; k++ {
		if s := k.String(); s == "unknown" || s == "" || strings.ContainsAny(s, " -") {
			t.Errorf("EventKind(%d).String() = %q", k, s)
		}
	}
	if s := EventKind(99).String(); s != "unknown" {
		t.Errorf("EventKind(99).String() = %q, want unknown", s)
	}
}

// TestCost: a request's declared cost comes out of the budget whole: with 10
// of 100 left, a request of cost 20 waits for the window (refused here, its
// wait past the maximum), and one of cost 5 goes. (Without WithBurst(1) the
// pace, 100 an hour, would space the costly requests too.)
func TestCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		left := 100
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			n, _ := strconv.Atoi(r.Header.Get("Cost"))
			left -= max(n, 1)
			h := http.Header{"X-Ratelimit": {"100"}, "X-Ratelimit-Used": {strconv.Itoa(left)}, "X-Ratelimit-Window": {"hour"}}
			return respond(r, 200, h, ""), nil
		})
		rt := New(base, WithMaxWait(time.Minute), WithBurst(1)) // the pace does not hold them: the budget does
		send := func(cost int) error {
			ctx := WithRequestOptions(context.Background(), Cost(cost))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/x", nil)
			req.Header.Set("Cost", strconv.Itoa(cost))
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		for range 9 {
			if err := send(10); err != nil {
				t.Fatal(err)
			}
		}
		if err := send(20); !errors.Is(err, ErrRateLimited) {
			t.Errorf("cost 20 with 10 left: error %v, want ErrRateLimited", err)
		}
		if err := send(5); err != nil {
			t.Errorf("cost 5 with 10 left: error %v, want none", err)
		}
		if st, _ := rt.Quota(&http.Request{URL: &url.URL{Scheme: "http", Host: "api.test"}}); st.Remaining != 5 {
			t.Errorf("remaining = %d, want 5", st.Remaining)
		}
	})
}

// TestPrioritiesReserveServesSeveral: with a reserve of several requests (a
// hundredth of 500), interactive requests that come one after another while
// a batch request waits held by the reserve all go at once: each finds the
// held batch request at the head and goes before it.
func TestPrioritiesReserveServesSeveral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 500, Window: time.Hour, Latency: 10 * time.Millisecond})
		rt := New(srv, WithRetries(0), WithMaxWait(2*time.Hour), WithBurst(1))
		batch := WithRequestOptions(context.Background(), Batch())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					if code, err := sendNumbered(batch, rt, 0); err != nil || code != 200 {
						return
					}
					if srv.Stats().Accepted >= 600 {
						return
					}
				}
			})
		}
		time.Sleep(time.Minute) // the batch workers spend all but the reserve, then wait
		// The model's budget may be one request high, and the reserve
		// keep 4: 8 workers race between taking their slots and reaching
		// the server, which may count a request after a newer one whose
		// answer then anchors the budget (seen under -race in about one
		// run in fifteen, at 79e5b8c as since).
		got := srv.Stats().Accepted
		if got != 495 && got != 496 {
			t.Errorf("batch requests accepted in the window: %d, want 495 (500 less the reserve of 5; 496 when the count is one short)", got)
		}
		interactive := WithRequestOptions(context.Background(), Interactive())
		for i := range 500 - got {
			start := time.Now()
			if code, err := sendNumbered(interactive, rt, i); err != nil || code != 200 {
				t.Fatalf("interactive request %d: %d, %v", i, code, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("interactive request %d took %v, want the reserve at once", i, d)
			}
		}
		wg.Wait()
	})
}

// TestRetried: the engine's spent-window test goes only with a request whose
// 429 would be retried: another attempt allowed (by the Transport or the
// request's options), a body that can be replayed, and the default retry
// policy.
func TestRetried(t *testing.T) {
	get := func(ctx context.Context) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/", nil)
		return r
	}
	unreplayable, _ := http.NewRequest(http.MethodPost, "http://api.test/", io.NopCloser(strings.NewReader("x")))
	noRetries := WithRequestOptions(context.Background(), Retries(0))
	for _, tt := range []struct {
		name string
		opts []Option
		req  *http.Request
		n    int
		want bool
	}{
		{"first attempt", nil, get(context.Background()), 1, true},
		{"last attempt", []Option{WithRetries(2)}, get(context.Background()), 3, false},
		{"WithRetries(0)", []Option{WithRetries(0)}, get(context.Background()), 1, false},
		{"Retries(0) for the request", nil, get(noRetries), 1, false},
		{"a body without GetBody", nil, unreplayable, 1, false},
		{"WithRetryPolicy", []Option{WithRetryPolicy(func(*http.Request, *http.Response, error) bool { return true })}, get(context.Background()), 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(http.DefaultTransport, tt.opts...)
			if got := tr.cfg.retried(tt.req, tt.n); got != tt.want {
				t.Errorf("retried = %v, want %v", got, tt.want)
			}
		})
	}
}
