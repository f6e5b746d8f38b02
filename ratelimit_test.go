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
