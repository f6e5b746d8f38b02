package ratehttp

import (
	"context"
	"io"
	"net/http"
	"sync"
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

// settledQuota returns the quota of a Transport that has seen three answers
// of a vendor quota of 1000 per hour, and the request it sends.
func settledQuota(t *testing.T) (*quota, *http.Request, http.Header) {
	t.Helper()
	h := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"900"}, "X-Ratelimit-Window": {"hour"}}
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return respond(r, 200, h, ""), nil
	}))
	for range 3 {
		resp, err := get(t, context.Background(), tr)
		if err != nil {
			t.Fatalf("RoundTrip error = %v", err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
	return tr.quotaFor(req), req, h
}

// TestConfirmingObservationSkippedUnderContention: while another goroutine
// holds the model, a response that only confirms it is skipped instead of
// waiting for the lock; it is folded in when the lock is free.
func TestConfirmingObservationSkippedUnderContention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, req, h := settledQuota(t)
		ctx := context.Background()

		tk, _, err := q.acquire(ctx, time.Now())
		if err != nil || !tk.routine {
			t.Fatalf("acquire = %+v, %v; want a routine ticket", tk, err)
		}
		q.mu.Lock() // another goroutine holds the model
		anchor := q.anchorSeq
		q.observe(tk, respond(req, 200, h, ""), time.Now()) // would deadlock if it waited
		if q.anchorSeq != anchor {
			t.Errorf("contended observe moved the anchor from %d to %d, want it skipped", anchor, q.anchorSeq)
		}
		if n := q.inflight.Load(); n != 0 {
			t.Errorf("in flight after a skipped observe = %d, want 0", n)
		}
		q.mu.Unlock()

		tk, _, err = q.acquire(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		q.observe(tk, respond(req, 200, h, ""), time.Now())
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.anchorSeq != tk.seq {
			t.Errorf("uncontended observe: anchor = %d, want %d (folded in)", q.anchorSeq, tk.seq)
		}
	})
}

// TestConfirms lists what makes a response news that must be folded in, even
// under contention.
func TestConfirms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _, _ := settledQuota(t)
		now := time.Now()
		tk, _, err := q.acquire(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		q.observe(tk, nil, now)
		same := signal{dialect: dialectVendor, limit: 1000, count: 899, window: time.Hour}
		tests := []struct {
			name string
			tk   func(ticket) ticket
			code int
			sig  func(signal) signal
			at   time.Duration
			want bool
		}{
			{name: "same quota, same window", want: true},
			{name: "4xx with the same quota", code: 404, want: true},
			{name: "server reset equal to the estimate", sig: func(s signal) signal { s.reset = tk.resetAt; return s }, want: true},
			{name: "not routine", tk: func(t ticket) ticket { t.routine = false; return t }},
			{name: "429", code: 429},
			{name: "503", code: 503},
			{name: "anomaly", sig: func(s signal) signal { s.anomalies = anomalyWindow; return s }},
			{name: "new limit", sig: func(s signal) signal { s.limit = 500; return s }},
			{name: "no limit", sig: func(s signal) signal { s.limit = 0; return s }},
			{name: "new window", sig: func(s signal) signal { s.window = time.Minute; return s }},
			{name: "new dialect", sig: func(s signal) signal { s.dialect = dialectGitHub; return s }},
			{name: "other server reset", sig: func(s signal) signal { s.reset = tk.resetAt.Add(-time.Second); return s }},
			{name: "answer after the estimated reset", at: tk.resetAt.Sub(now)},
		}
		for _, tt := range tests {
			k, sig, code := tk, same, 200
			if tt.tk != nil {
				k = tt.tk(k)
			}
			if tt.sig != nil {
				sig = tt.sig(sig)
			}
			if tt.code != 0 {
				code = tt.code
			}
			if got := k.confirms(code, sig, now.Add(tt.at)); got != tt.want {
				t.Errorf("%s: confirms = %t, want %t", tt.name, got, tt.want)
			}
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
		q := newQuota("test", &config{maxWait: time.Minute, backoffBase: time.Second}, nil)
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/", nil)
		now := time.Now()
		for _, v := range []string{"30", "soon"} {
			tk := q.take(now)
			sig := q.observe(tk, respond(req, tt.code, http.Header{"Retry-After": {v}}, ""), now)
			read := sig.hasRetryAfter || sig.anomalies&anomalyRetryAfter != 0
			if read != tt.want {
				t.Errorf("status %d, Retry-After %q: read = %t (signal %+v), want %t", tt.code, v, read, sig, tt.want)
			}
		}
	}
}

// TestNoSkipOnceOthersSeen: once another client is seen taking from the
// quota, every response is folded in, contended or not.
func TestNoSkipOnceOthersSeen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _, _ := settledQuota(t)
		q.mu.Lock()
		q.otherRate = 0.5
		q.mu.Unlock()
		tk, _, err := q.acquire(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if tk.routine {
			t.Errorf("ticket routine with others seen taking from the quota, want not")
		}
		q.observe(tk, nil, time.Now())
	})
}
