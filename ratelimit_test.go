package ratehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// TestLateResponseDoesNotStallNewWindow: a "remaining 0" response that
// arrives just after the window boundary, for a request sent (and counted)
// before it, belongs to the old window. The new window's first request goes at
// once instead of waiting a whole window.
func TestLateResponseDoesNotStallNewWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 3, Window: time.Minute, Latency: 200 * time.Millisecond})
		client := &http.Client{Transport: New(srv)}
		start := time.Now()
		do := func() time.Time {
			t.Helper()
			resp, err := client.Get("http://api.test/x")
			if err != nil {
				t.Fatalf("Get error = %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("Get status = %d, want 200", resp.StatusCode)
			}
			return time.Now()
		}
		do()
		do()
		// The third request is sent at 59.9 s: counted in window 1, where it
		// spends the quota; its answer comes at 60.1 s, in window 2.
		time.Sleep(time.Until(start.Add(59900 * time.Millisecond)))
		if got := do().Sub(start); got != 60100*time.Millisecond {
			t.Fatalf("third request done at %v, want 60.1s", got)
		}
		if got := do().Sub(start); got != 60300*time.Millisecond {
			t.Errorf("fourth request done at %v, want 60.3s (sent at once in window 2)", got)
		}
		if st := srv.Stats(); st.Rejected != 0 {
			t.Errorf("server rejected %d requests, want 0", st.Rejected)
		}
	})
}

// TestPauseReschedulesWaiters: requests already waiting for their paced slot
// do not go out during a pause that a 429 with Retry-After starts; they wait
// for its end (rate.Limiter.SetLimit alone would not reschedule them).
func TestPauseReschedulesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu   sync.Mutex
			sent []time.Duration
			n    int
		)
		start := time.Now()
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			sent = append(sent, time.Since(start))
			h := http.Header{"X-Ratelimit": {"60"}, "X-Ratelimit-Used": {"50"}, "X-Ratelimit-Window": {"minute"}}
			code := 200
			if n == 12 { // the 12th request is refused: wait 30 s
				code, h["Retry-After"] = 429, []string{"30"}
			}
			return respond(r, code, h, ""), nil
		})
		rt := New(base, WithRetries(0))
		done := make(chan struct{})
		for range 20 {
			go func() {
				defer func() { done <- struct{}{} }()
				resp, err := get(t, context.Background(), rt)
				if err != nil {
					t.Errorf("RoundTrip error = %v", err)
					return
				}
				resp.Body.Close()
			}()
		}
		for range 20 {
			<-done
		}
		mu.Lock()
		defer mu.Unlock()
		// The 12th request is refused with Retry-After: 30 while the quota
		// still has room: nothing may go until 30 s later, and pacing
		// resumes right then.
		at429 := sent[11]
		resumed := false
		for i, at := range sent {
			if at > at429 && at < at429+30*time.Second {
				t.Errorf("request %d sent at %v, inside the pause (%v, %v)", i, at, at429, at429+30*time.Second)
			}
			resumed = resumed || at == at429+30*time.Second
		}
		if !resumed {
			t.Errorf("no request sent at %v, when the pause ends; sent at %v", at429+30*time.Second, sent)
		}
		if len(sent) != 20 {
			t.Errorf("sent %d requests, want 20", len(sent))
		}
	})
}

// TestRetryAfterReadWhereItMeans: Retry-After is read on 429, 503 and
// redirections, and ignored (not even an anomaly) on other responses.
func TestRetryAfterReadWhereItMeans(t *testing.T) {
	for _, tt := range []struct {
		code int
		want bool
	}{{200, false}, {204, false}, {404, false}, {500, false}, {301, true}, {429, true}, {503, true}} {
		now := time.Now()
		for _, v := range []string{"30", "soon"} {
			sig := parseSignal(http.Header{"Retry-After": {v}}, tt.code, now)
			read := sig.hasRetryAfter || sig.anomalies&anomalyRetryAfter != 0
			if read != tt.want {
				t.Errorf("status %d, Retry-After %q: read = %t (signal %+v), want %t", tt.code, v, read, sig, tt.want)
			}
		}
	}
}

// TestIdleQuotasForgotten: a client of many keys keeps a bounded number of
// quotas. Those idle since the previous sweep, with nothing in flight and no
// window of theirs still running, are forgotten; a quota spent until its
// reset, one with a request in flight and one in steady use (whose server
// sends no quota headers) are kept, and the spent one still refuses requests
// without sending them.
func TestIdleQuotasForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var spentSent atomic.Int64
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			switch r.URL.Path {
			case "/spent": // nothing remains in this hour's window
				spentSent.Add(1)
				return respond(r, 200, vendorHeader(10, 0, "hour"), ""), nil
			case "/slow":
				<-release
			case "/plain":
				return respond(r, 200, nil, ""), nil
			}
			return respond(r, 200, vendorHeader(100, 99, "minute"), ""), nil
		}), WithKeyFunc(func(r *http.Request) string { return r.URL.Path }),
			// A spent quota is probed once per window or maximum wait:
			// not during this test.
			WithMaxWait(time.Hour))
		ctx := context.Background()
		get := func(path string) error {
			_, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test"+path))
			return err
		}
		entry := func(path string) *quotaEntry {
			tr.mu.RLock()
			defer tr.mu.RUnlock()
			return tr.quotas[quotaKey{custom: path}]
		}

		if err := get("/spent"); err != nil {
			t.Fatal(err)
		}
		spent := entry("/spent")
		slowDone := make(chan error)
		go func() { slowDone <- get("/slow") }()
		synctest.Wait() // /slow is in flight
		slow := entry("/slow")
		if err := get("/plain"); err != nil {
			t.Fatal(err)
		}
		plain := entry("/plain")

		const rounds, keys = 4, 1000
		most := 0
		for r := range rounds {
			for i := range keys {
				if err := get(fmt.Sprintf("/k%d-%d", r, i)); err != nil {
					t.Fatal(err)
				}
				if i%100 == 0 {
					if err := get("/plain"); err != nil {
						t.Fatal(err)
					}
				}
				tr.mu.RLock()
				most = max(most, len(tr.quotas))
				tr.mu.RUnlock()
			}
			time.Sleep(2 * time.Minute) // the keys' minute windows pass
		}
		if want := 2*minSweep + 3; most > want {
			t.Errorf("quotas held = %d at most, want at most %d for %d keys used once", most, want, rounds*keys+2)
		}
		if e := entry(fmt.Sprintf("/k%d-%d", 0, 0)); e != nil {
			t.Errorf("quota of a key idle for %d sweeps still held, want forgotten", rounds-1)
		}
		if e := entry("/spent"); e != spent {
			t.Errorf("spent quota forgotten (entry %p, want %p)", e, spent)
		}
		if e := entry("/plain"); e != plain {
			t.Errorf("quota in steady use forgotten (entry %p, want %p)", e, plain)
		}
		if e := entry("/slow"); e != slow {
			t.Errorf("quota with a request in flight forgotten (entry %p, want %p)", e, slow)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := do(t, tr, newReq(t, short, http.MethodGet, "http://api.test/spent")); !errors.Is(err, ErrRateLimited) {
			t.Errorf("RoundTrip(/spent) error = %v, want ErrRateLimited", err)
		}
		if n := spentSent.Load(); n != 1 {
			t.Errorf("server saw %d requests to /spent, want 1: the spent quota was relearned", n)
		}
		close(release)
		if err := <-slowDone; err != nil {
			t.Errorf("RoundTrip(/slow) error = %v", err)
		}
	})
}

// TestSweepConcurrent forgets quotas while other goroutines use them (run it
// under -race): every request still reaches the server once, none fails, and
// once the traffic stops every quota can be forgotten.
func TestSweepConcurrent(t *testing.T) {
	var sent atomic.Int64
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return respond(r, 200, nil, ""), nil
	}), WithKeyFunc(func(r *http.Request) string { return r.URL.Path }))
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Keys shared between workers, each used again now and then.
				url := fmt.Sprintf("http://api.test/%d", (w*each+i*7)%(3*minSweep))
				if _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, url)); err != nil {
					t.Errorf("RoundTrip(%s) error = %v", url, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := sent.Load(), int64(workers*each); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
	// Idle now, every quota goes in two sweeps: none was left counting a
	// request in flight or waiting.
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.sweep(time.Now())
	tr.sweep(time.Now())
	if n := len(tr.quotas); n != 0 {
		t.Errorf("quotas held after two idle sweeps = %d, want 0", n)
	}
}

// TestWaitersGoInArrivalOrder: requests that wait for the quota are sent in
// the order they came, across window resets and window probes: none is sent
// after one that came later. (Two let go at the same instant may reach the
// base in either order.) Before the queue, every reset woke all waiters at
// the same instant and they went in the order they took the lock, so a
// waiter could miss several windows.
func TestWaitersGoInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 5, Window: time.Minute, Latency: 10 * time.Millisecond})
		var sent sendOrder
		rt := New(sent.wrap(srv.RoundTrip), WithRetries(0), WithMaxWait(10*time.Minute))
		const n = 23
		var wg sync.WaitGroup
		for i := range n {
			time.Sleep(time.Millisecond) // arrive one by one
			wg.Go(func() {
				if code, err := sendNumbered(context.Background(), rt, i); err != nil || code != 200 {
					t.Errorf("request %d: status %d, error %v; want 200", i, code, err)
				}
			})
		}
		wg.Wait()
		at := sent.times()
		if len(at) != n {
			t.Fatalf("sent %d requests, want %d", len(at), n)
		}
		for i := 1; i < n; i++ {
			if at[i] < at[i-1] {
				t.Errorf("request %d sent at %v, before request %d (at %v), which came earlier", i, at[i], i-1, at[i-1])
			}
		}
		if w := at[n-1] - at[0]; w < 4*time.Minute {
			t.Errorf("requests sent over %v, want at least 4 windows (23 requests, 5 per minute)", w)
		}
	})
}

// TestQueueLeave: a waiter whose context ends leaves the queue, whether it is
// the head or behind it, and the others still go, in order; a newcomer that
// the queue ahead would hold past its deadline is refused at once.
func TestQueueLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every answer says one request of 10 per hour is left: after the
		// first answer the budget holds one more request, then nothing
		// until the hour's reset.
		var sent sendOrder
		rt := New(sent.wrap(func(r *http.Request) (*http.Response, error) {
			h := http.Header{"X-Ratelimit": {"10"}, "X-Ratelimit-Used": {"1"}, "X-Ratelimit-Window": {"hour"}}
			return respond(r, 200, h, ""), nil
		}), WithRetries(0), WithMaxWait(time.Hour))
		send := func(ctx context.Context, i int) error {
			_, err := sendNumbered(ctx, rt, i)
			return err
		}
		if err := send(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		// The budget holds one more request, then nothing until the reset.
		if err := send(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ctxHead, cancelHead := context.WithCancel(context.Background())
		ctxMid, cancelMid := context.WithCancel(context.Background())
		errs := make([]error, 6)
		var wg sync.WaitGroup
		for i := 2; i < 6; i++ {
			ctx := context.Background()
			switch i {
			case 2:
				ctx = ctxHead
			case 4:
				ctx = ctxMid
			}
			wg.Go(func() { errs[i] = send(ctx, i) })
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		if order := sent.get(); len(order) != 2 {
			t.Errorf("sent %v before the reset, want [0 1]", order)
		}
		q, _ := rt.quotaFor(&http.Request{URL: &url.URL{Scheme: "http", Host: "api.test"}})
		if v := q.View(time.Now()); v.Waiting != 4 {
			t.Errorf("waiting = %d, want 4", v.Waiting)
		}
		// A newcomer with a deadline before the reset is refused at once.
		ctxShort, cancelShort := context.WithTimeout(context.Background(), time.Minute)
		defer cancelShort()
		start := time.Now()
		var rl *RateLimitError
		if err := send(ctxShort, 9); !errors.As(err, &rl) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("newcomer with a 1-minute deadline: %v after %v, want a *RateLimitError for its deadline at once", err, time.Since(start))
		}
		cancelMid()
		cancelHead()
		wg.Wait()
		for i, want := range map[int]error{2: context.Canceled, 3: nil, 4: context.Canceled, 5: nil} {
			if !errors.Is(errs[i], want) {
				t.Errorf("request %d: error %v, want %v", i, errs[i], want)
			}
		}
		if order := sent.get(); fmt.Sprint(order) != "[0 1 3 5]" {
			t.Errorf("sent %v, want [0 1 3 5]", order)
		}
		if v := q.View(time.Now()); v.Waiting != 0 || v.InFlight != 0 {
			t.Errorf("queue left with %d waiters, %d in flight, want none", v.Waiting, v.InFlight)
		}
	})
}

// sendNumbered sends request number i (its query parameter, which sendOrder
// reads) through rt and returns the status; the body is closed.
func sendNumbered(ctx context.Context, rt http.RoundTripper, i int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/x?i="+strconv.Itoa(i), nil)
	if err != nil {
		return 0, err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sendOrder records the order in which requests reach a base transport, and
// when, by their query parameter i.
type sendOrder struct {
	mu    sync.Mutex
	order []int
	at    map[int]time.Time
}

// wrap returns a base transport that records each request and passes it to
// next.
func (s *sendOrder) wrap(next func(*http.Request) (*http.Response, error)) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		s.mu.Lock()
		s.order = append(s.order, i)
		if s.at == nil {
			s.at = make(map[int]time.Time)
		}
		s.at[i] = time.Now()
		s.mu.Unlock()
		return next(r)
	}
}

func (s *sendOrder) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// times returns when each request i was sent, as a duration since the first
// was, indexed by i.
func (s *sendOrder) times() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.at[s.order[0]]
	d := make([]time.Duration, len(s.at))
	for i, at := range s.at {
		if i >= 0 && i < len(d) {
			d[i] = at.Sub(first)
		}
	}
	return d
}

// TestSlotAtRollProbesAlone: a request whose paced slot comes after the
// estimated reset goes as the new window's first request, alone; the next in
// line waits for its answer. (It used to go as a routine request, and the
// next, finding the window unprobed, went at the same instant as its probe.)
func TestSlotAtRollProbesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 60, Window: time.Minute, Latency: 10 * time.Millisecond})
		var sent sendOrder
		rt := New(sent.wrap(srv.RoundTrip), WithRetries(0))
		send := func(i int) {
			if _, err := sendNumbered(context.Background(), rt, i); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		start := time.Now()
		send(0) // the probe: 60 per minute, paced at one a second, burst 10
		// At 59.2 s twelve requests come: ten go at once, the eleventh's
		// slot is at 60.2 s, after the reset at 60 s, and the twelfth is
		// queued behind it.
		time.Sleep(59200*time.Millisecond - time.Since(start))
		var wg sync.WaitGroup
		for i := 1; i <= 12; i++ {
			wg.Go(func() { send(i) })
			time.Sleep(time.Microsecond)
		}
		wg.Wait()
		at := sent.times()
		if at[11] != 60200*time.Millisecond {
			t.Fatalf("request 11 sent at %v, want 1m0.2s (its paced slot)", at[11])
		}
		if at[12] == at[11] {
			t.Errorf("request 12 sent at %v, with the new window's probe; want after the probe's answer", at[12])
		}
		if st := srv.Stats(); st.Rejected != 0 {
			t.Errorf("server rejected %d requests, want 0", st.Rejected)
		}
	})
}
