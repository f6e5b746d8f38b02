package ratehttp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Regression tests of the defects issue 18 lists, and of the guard's
// behaviour seen from the Transport. Each fails on the engine before the
// guard.

// TestSpentQuota429NotRetried: a 429 whose headers say an hourly quota is
// spent is returned at once; it was retried after the maximum wait, then the
// quota refused the retry, and the caller got a RateLimitError after 2
// minutes and lost the response.
func TestSpentQuota429NotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		base := &script{codes: []int{429}, header: func(int) http.Header { return vendorHeader(10, 0, "hour") }}
		resp, err := get(t, context.Background(), New(base))
		if err != nil {
			t.Fatalf("RoundTrip error = %v, want the 429", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || time.Since(start) != 0 || base.calls.Load() != 1 {
			t.Errorf("RoundTrip = %d after %v and %d attempts, want 429 at once after 1", resp.StatusCode, time.Since(start), base.calls.Load())
		}
	})
}

// TestWaitBehindProbeBounded: requests waiting for the answer to the first
// request wait no longer than the maximum wait, however long it takes; they
// waited the whole 10 minutes.
func TestWaitBehindProbeBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			time.Sleep(10 * time.Minute)
			return respond(r, 200, vendorHeader(100, 99, "hour"), ""), nil
		}), WithMaxWait(time.Second))
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { get(t, context.Background(), tr) }) // the probe
		synctest.Wait()
		for range 4 {
			wg.Go(func() {
				_, err := get(t, context.Background(), tr)
				var rl *RateLimitError
				if !errors.As(err, &rl) || time.Since(start) != time.Second {
					t.Errorf("RoundTrip behind the probe = %v after %v, want a *RateLimitError after 1s", err, time.Since(start))
				}
			})
		}
		wg.Wait()
	})
}

// TestBasePanicReleasesKey: a panic in the base transport, recovered above,
// leaves neither the key's probe in flight (which held every later request)
// nor the in-flight gauge up.
func TestBasePanicReleasesKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls++; calls == 1 {
				panic("base transport bug")
			}
			return respond(r, 200, vendorHeader(100, 99, "hour"), ""), nil
		}))
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RoundTrip did not panic")
				}
			}()
			get(t, context.Background(), tr)
		}()
		start := time.Now()
		resp, err := get(t, context.Background(), tr)
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("RoundTrip after a panic = %v after %v, want a response at once", err, time.Since(start))
		}
		resp.Body.Close()
		for _, mf := range gather(t, tr) {
			if mf.GetName() == metricInFlight {
				for _, m := range mf.GetMetric() {
					if v := m.GetGauge().GetValue(); v != 0 {
						t.Errorf("%s = %v after the panic, want 0", metricInFlight, v)
					}
				}
			}
		}
	})
}

// TestEventPanicReleasesKey: a panic in an event handler after the quota let
// the request go and before the base was called, recovered above, leaves no
// request counted in flight: not the key's first request, whose probe held
// every later one, nor one that had waited for it.
func TestEventPanicReleasesKey(t *testing.T) {
	for _, kind := range []EventKind{EventAttempt, EventWait} {
		t.Run(kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var panics atomic.Int32
				tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
					time.Sleep(time.Second)
					return respond(r, 200, vendorHeader(100, 99, "hour"), ""), nil
				}), WithEvents(func(e Event) {
					if e.Kind == kind && panics.Add(1) == 1 {
						panic("event handler bug")
					}
				}))
				var wg sync.WaitGroup
				for range 2 { // the second waits for the first's answer
					wg.Go(func() {
						defer func() { recover() }()
						if resp, err := get(t, context.Background(), tr); err == nil {
							resp.Body.Close()
						}
					})
					time.Sleep(time.Millisecond)
				}
				wg.Wait()
				if panics.Load() == 0 {
					t.Fatalf("no %v event", kind)
				}
				start := time.Now()
				resp, err := get(t, context.Background(), tr)
				if err != nil || time.Since(start) != time.Second {
					t.Fatalf("RoundTrip after the panic = %v after %v, want a response after the base's second", err, time.Since(start))
				}
				resp.Body.Close()
				for _, qs := range tr.Quotas() {
					if qs.InFlight != 0 {
						t.Errorf("quota %v: %d requests in flight after the panic, want 0", qs.Key, qs.InFlight)
					}
				}
			})
		})
	}
}

// TestBrokenBaseNilBody: a base that returns a response with a nil Body and
// an error does not make RoundTrip panic.
func TestBrokenBaseNilBody(t *testing.T) {
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Request: r}, errors.New("broken")
	}), WithRetries(0))
	if resp, err := get(t, context.Background(), tr); resp != nil || err == nil {
		t.Errorf("RoundTrip = %v, %v; want nil and the error", resp, err)
	}
}

// TestTighterLargeLimits: the most constrained of two quotas with limits near
// the headers' bound (1e12) is found without overflow.
func TestTighterLargeLimits(t *testing.T) {
	a := quotaSnapshot{known: true, limit: 1e12, remaining: 3e11}
	b := quotaSnapshot{known: true, limit: 4e11, remaining: 3e11}
	if !tighter(a, b) || tighter(b, a) {
		t.Errorf("tighter(30%% left, 75%% left) = %v, tighter(75%%, 30%%) = %v; want true, false", tighter(a, b), tighter(b, a))
	}
}

// TestSpentBudgetProbed: a budget that reads spent with no reset the server
// sent is tested by one request per window or maximum wait, whichever is
// shorter; it refused every request for good. Meanwhile requests are
// refused at once.
func TestSpentBudgetProbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		remaining := 0
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			return respond(r, 200, http.Header{"X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Remaining": {strconv.Itoa(remaining)}}, ""), nil
		}), WithMaxWait(0))
		ctx := context.Background()
		if _, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/")); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/")); !errors.Is(err, ErrRateLimited) {
				t.Fatalf("request %d on a spent budget: %v, want ErrRateLimited", i, err)
			}
		}
		remaining = 9 // the server refilled, and says nothing of when
		time.Sleep(time.Second)
		if _, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/")); err != nil {
			t.Fatalf("probe after a second: %v, want it sent", err)
		}
		if _, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/")); err != nil {
			t.Fatalf("request after the probe found 9 remaining: %v", err)
		}
		if calls != 3 {
			t.Errorf("server saw %d requests, want 3", calls)
		}
	})
}

// TestUnforeseen429Probes: after a 429 the model did not foresee, the key
// sends one request at a time until an answer that is not a 429, with
// doubling waits; it used to send the next slot's request into the same
// rejection, at full pace.
func TestUnforeseen429Probes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var sends []time.Duration
		inFlight, most := 0, 0
		rejectUntil := start.Add(3 * time.Second)
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			sends = append(sends, time.Since(start))
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			code := 200
			if time.Now().After(start.Add(time.Second)) && time.Now().Before(rejectUntil) {
				code = 429
			}
			// The server claims plenty remains: the model cannot foresee
			// the 429s.
			return respond(r, code, http.Header{"X-Ratelimit-Limit": {"1000"}, "X-Ratelimit-Remaining": {"900"}}, ""), nil
		}), WithRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/"))
				}
			})
		}
		wg.Wait()
		// From the first 429 (just after 1s) to the first success after
		// 3s, no more than 3 requests started in any second.
		var during []time.Duration
		for _, s := range sends {
			if s > time.Second+20*time.Millisecond && s < 3*time.Second {
				during = append(during, s)
			}
		}
		for i := range during {
			n := 0
			for _, s := range during[i:] {
				if s < during[i]+time.Second {
					n++
				}
			}
			if n > 3 {
				t.Fatalf("%d requests in the second from %v while the server rejected: %v", n, during[i], during)
			}
		}
		if len(during) == 0 {
			t.Errorf("no probe while the server rejected")
		}
	})
}

// bucketBase is a token bucket in the style of tollbooth and redis_rate
// handlers: rate per second in RateLimit-Limit, the tokens left in
// RateLimit-Remaining, and a reset of "1" (the next second), nothing else.
type bucketBase struct {
	mu                 sync.Mutex
	rate, capacity     float64
	tokens             float64
	last               time.Time
	accepted, rejected int
}

func (b *bucketBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = b.capacity
	} else {
		b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	code := 200
	if b.tokens >= 1 {
		b.tokens--
		b.accepted++
	} else {
		code = 429
		b.rejected++
	}
	h := http.Header{
		"Ratelimit-Limit":     {strconv.Itoa(int(b.rate))},
		"Ratelimit-Remaining": {strconv.Itoa(int(b.tokens))},
		"Ratelimit-Reset":     {"1"},
	}
	if code == 429 {
		h.Set("Retry-After", "1")
	}
	b.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	return respond(r, code, h, ""), nil
}

// TestWindowGuessedFromResets: a server that sends a reset but no window (a
// token bucket answering "reset in 1 s" every time) is paced at its limit
// per the longest wait for a reset seen, one request at a time. The budget
// was spread until the reset instead: 9 requests a second of 20.
func TestWindowGuessedFromResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &bucketBase{rate: 20, capacity: 10}
		tr := New(base)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var refused atomic.Int64
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test/"))
					if rl, ok := errors.AsType[*RateLimitError](err); ok {
						refused.Add(1)
						sleepCtx(ctx, max(rl.Wait, time.Millisecond))
					}
				}
			})
		}
		wg.Wait()
		t.Logf("bucket accepted %d, rejected %d; %d refused locally", base.accepted, base.rejected, refused.Load())
		// 20 s at 20 per second, and the bucket's 10.
		if allowed := 20*20 + 10; base.accepted < allowed*95/100 || base.rejected > base.accepted/100 {
			t.Errorf("bucket accepted %d of %d, rejected %d; want at least 95%% and at most 1%% rejected", base.accepted, allowed, base.rejected)
		}
	})
}
