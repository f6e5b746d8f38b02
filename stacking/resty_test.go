package stacking_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// resty over ratehttp, with ratehttp retrying: the recommended stacking.
// resty's retry count is 0 by default; leave it so. A request that keeps
// failing then costs 1 + 3 attempts (ratehttp's default of 3 retries), and a
// request that ratehttp refuses locally comes back at once as a
// *ratehttp.RateLimitError, tried once.
func Example_resty() {
	// An API that answers 503 to every request, with Retry-After: 0 so that
	// the example does not wait.
	down := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	// An API whose quota of 1 request an hour another client has spent: it
	// answers 429 with Retry-After: 3600.
	spent := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow, RetryAfter: true})
	spent.Consume(1)

	for _, api := range []*ratehttptest.Server{down, spent} {
		sent := 0
		api.SetHook(func(ratehttptest.Event) { sent++ }) // every request the API receives
		// In real code ratehttp.New(nil). resty's SetRetryCount stays 0.
		client := resty.New().SetTransport(ratehttp.New(api))

		for range 2 {
			sent = 0
			resp, err := client.R().Get("http://api.example/v1/items")
			if rl, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
				fmt.Printf("refused locally, the quota needs %v: tried %d, sent %d\n", rl.Wait.Round(time.Minute), resp.Request.Attempt, sent)
				continue
			}
			if err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("%d: tried %d, sent %d\n", resp.StatusCode(), resp.Request.Attempt, sent)
		}
	}
	// Output:
	// 503: tried 1, sent 4
	// 503: tried 1, sent 4
	// 429: tried 1, sent 1
	// refused locally, the quota needs 1h0m0s: tried 1, sent 0
}

// resty retrying over ratehttp, for code that must keep resty's retries:
// ratehttp.WithRetries(0) turns ratehttp's off, so a request that keeps
// failing costs 1 + SetRetryCount attempts. The retry condition does not
// retry a local refusal. A retry condition replaces resty's default (retry
// every error), so it must say which errors to retry. resty waits at least
// SetRetryWaitTime (100 ms by default) before any retry; before retrying a
// 429, ratehttp then holds the retry until the quota allows it, within the
// deadline and the maximum wait, or refuses it at once.
func Example_restyRetrying() {
	down := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	spent := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow, RetryAfter: true})
	spent.Consume(1)

	for _, api := range []*ratehttptest.Server{down, spent} {
		sent := 0
		api.SetHook(func(ratehttptest.Event) { sent++ })
		client := resty.New().
			SetTransport(ratehttp.New(api, ratehttp.WithRetries(0))).
			SetRetryCount(3).
			AddRetryCondition(func(r *resty.Response, err error) bool {
				if err != nil {
					_, refused := errors.AsType[*ratehttp.RateLimitError](err)
					return !refused // not sent: a retry now would be refused too
				}
				return r.StatusCode() == http.StatusTooManyRequests ||
					r.StatusCode() >= 500 && r.StatusCode() != http.StatusNotImplemented
			})

		resp, err := client.R().Get("http://api.example/v1/items")
		if rl, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
			fmt.Printf("refused locally, the quota needs %v: tried %d, sent %d\n", rl.Wait.Round(time.Minute), resp.Request.Attempt, sent)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d: tried %d, sent %d\n", resp.StatusCode(), resp.Request.Attempt, sent)
	}
	// Output:
	// 503: tried 4, sent 4
	// refused locally, the quota needs 1h0m0s: tried 2, sent 1
}
