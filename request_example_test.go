package ratehttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// A service reads the quota of the upstream it calls: for admission control,
// for the Retry-After of its own 503s, for a status page.
func ExampleTransport_Quota() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Window: time.Hour})
	rt := ratehttp.New(api) // usually ratehttp.New(nil)
	client := &http.Client{Transport: rt}

	req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1/items", nil)
	if _, ok := rt.Quota(req); !ok {
		fmt.Println("nothing known before the first request")
	}
	for range 3 {
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	st, _ := rt.Quota(req)
	fmt.Println(st.Key, "limit", st.Limit, "per", st.Window, "remaining", st.Remaining)
	if st.Wait > 0 {
		// A service would answer its own callers 503 with
		// Retry-After: st.Wait, rather than queue them.
		fmt.Println("busy for", st.Wait)
	}
	// Output:
	// nothing known before the first request
	// http://api.example limit 100 per 1h0m0s remaining 97
}

// One request may wait longer than the Transport's maximum wait, and another
// may not be retried at all.
func ExampleWithRequestOptions() {
	attempts := 0
	unavailable := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempts++
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: r}, nil
	})
	client := &http.Client{Transport: ratehttp.New(unavailable, ratehttp.WithBackoff(0, 0))}

	// The nightly report may wait up to an hour for its quota.
	patient := ratehttp.WithRequestOptions(context.Background(), ratehttp.MaxWait(time.Hour))
	// A payment is never retried behind the caller's back.
	once := ratehttp.WithRequestOptions(context.Background(), ratehttp.Retries(0))

	for _, ctx := range []context.Context{patient, once} {
		attempts = 0
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1/items", nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, "after", attempts, "attempts")
	}
	// Output:
	// 503 after 4 attempts
	// 503 after 1 attempts
}

// Events show what happened to a request: here a 429 with a Retry-After of
// half a second, then a success. Each handler could log, count or add an event to
// the request's OpenTelemetry span
// (trace.SpanFromContext(e.Request.Context()).AddEvent(e.Kind.String())).
func ExampleOnEvent() {
	answers := []int{http.StatusTooManyRequests, http.StatusOK}
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		code := answers[0]
		answers = answers[1:]
		h := http.Header{}
		if code == http.StatusTooManyRequests {
			h.Set("Retry-After", "0.5")
		}
		return &http.Response{StatusCode: code, Header: h, Body: http.NoBody, Request: r}, nil
	})
	client := &http.Client{Transport: ratehttp.New(base)}

	ctx := ratehttp.WithRequestOptions(context.Background(), ratehttp.OnEvent(func(e ratehttp.Event) {
		switch e.Kind {
		case ratehttp.EventResponse:
			fmt.Println("attempt", e.Attempt, "got", e.Status)
		case ratehttp.EventRetry:
			fmt.Println("retry after", e.Wait.Round(100*time.Millisecond), "because of a", e.Reason)
		default:
			fmt.Println(e.Kind)
		}
	}))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1/items", nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// attempt
	// attempt 1 got 429
	// rate_limited
	// retry after 500ms because of a 429
	// attempt
	// attempt 2 got 200
}

// A request refused by the quota comes back at once with the wait it would
// have needed. A loop that sends until it succeeds waits that long (or until
// its context ends) instead of spinning on refusals.
func ExampleRateLimitError_wait() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 2, Window: time.Minute})
	client := &http.Client{Transport: ratehttp.New(api, ratehttp.WithMaxWait(0))}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	refusals := 0
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1/items", nil)
		resp, err := client.Do(req)
		var rl *ratehttp.RateLimitError
		switch {
		case errors.As(err, &rl):
			refusals++
			// Wait as long as the quota needs, or until the context
			// ends: never retry at once.
			select {
			case <-time.After(rl.Wait):
			case <-ctx.Done():
			}
			continue
		case err != nil:
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println("refused", refusals, "times, then the context ended")
	// Output:
	// 200
	// 200
	// refused 1 times, then the context ended
}

// Interactive requests go ahead of batch ones when both wait for a spent
// quota, and batch requests leave the window's last requests to the others.
func ExampleInteractive() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 3, Window: time.Hour})
	client := &http.Client{Transport: ratehttp.New(api, ratehttp.WithMaxWait(0))}
	batch := ratehttp.WithRequestOptions(context.Background(), ratehttp.Batch())
	interactive := ratehttp.WithRequestOptions(context.Background(), ratehttp.Interactive())

	for _, ctx := range []context.Context{batch, batch, batch, interactive} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1/items", nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println("refused:", errors.Is(err, ratehttp.ErrRateLimited))
			continue
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
	// refused: true
	// 200
}

// With WithBurst(1), a client may spend what remains of a window's quota at
// once; by default it sends a twentieth of the limit at once and paces the
// rest.
func ExampleWithBurst() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Window: time.Hour})
	rt := ratehttp.New(api, ratehttp.WithBurst(1), ratehttp.WithMaxWait(0))
	client := &http.Client{Transport: rt}

	sent := 0
	for range 100 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			break // the next one would have to wait
		}
		resp.Body.Close()
		sent++
	}
	fmt.Println(sent, "sent at once, none rejected:", api.Stats().Rejected == 0)
	// Output:
	// 100 sent at once, none rejected: true
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
