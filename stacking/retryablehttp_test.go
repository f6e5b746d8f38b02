package stacking_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// go-retryablehttp's Client over ratehttp, with ratehttp retrying: the
// recommended stacking when code (or a library such as an API SDK) wants a
// *retryablehttp.Client. Its own retries are off, so a request that keeps
// failing costs 1 + 3 attempts (ratehttp's default of 3 retries), not the
// 5 × 4 = 20 of both layers' defaults; and a request that ratehttp refuses
// locally comes back at once as a *ratehttp.RateLimitError, tried once.
//
// retryablehttp calls CloseIdleConnections after every error, and ratehttp
// passes it to its base transport: in real code, give ratehttp a base of its
// own, such as http.DefaultTransport.(*http.Transport).Clone(), rather than
// nil (http.DefaultTransport, whose pool the whole program shares).
func Example_retryablehttp() {
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
		tries := 0
		client := &retryablehttp.Client{
			HTTPClient: &http.Client{Transport: ratehttp.New(api)}, // in real code a base of its own (above)
			RetryMax:   0,                                          // ratehttp retries; retrying here too multiplies the attempts
			CheckRetry: func(context.Context, *http.Response, error) (bool, error) {
				return false, nil // nothing for this layer to retry
			},
			ErrorHandler:   retryablehttp.PassthroughErrorHandler, // return ratehttp's error as it is
			RequestLogHook: func(retryablehttp.Logger, *http.Request, int) { tries++ },
			// Logger: nil, unlike retryablehttp.NewClient's, which prints to stderr.
		}

		for range 2 {
			sent, tries = 0, 0
			resp, err := client.Get("http://api.example/v1/items")
			if rl, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
				fmt.Printf("refused locally, the quota needs %v: tried %d, sent %d\n", rl.Wait.Round(time.Minute), tries, sent)
				continue
			}
			if err != nil {
				fmt.Println(err)
				return
			}
			resp.Body.Close()
			fmt.Printf("%d: tried %d, sent %d\n", resp.StatusCode, tries, sent)
		}
	}
	// Output:
	// 503: tried 1, sent 4
	// 503: tried 1, sent 4
	// 429: tried 1, sent 1
	// refused locally, the quota needs 1h0m0s: tried 1, sent 0
}

// go-retryablehttp retrying over ratehttp, for code that must keep
// retryablehttp's retries: ratehttp.WithRetries(0) turns ratehttp's off, so a
// request that keeps failing costs 1 + RetryMax attempts. CheckRetry does not
// retry a local refusal, and Backoff does not wait before retrying a 429:
// ratehttp holds the retry until the quota allows it, within the deadline and
// the maximum wait, or refuses it at once.
//
// Note that retryablehttp.DefaultRetryPolicy retries a 5xx whatever the
// method, a POST included, where ratehttp retries only idempotent requests.
func Example_retryablehttpRetrying() {
	down := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	spent := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow, RetryAfter: true})
	spent.Consume(1)

	for _, api := range []*ratehttptest.Server{down, spent} {
		sent := 0
		api.SetHook(func(ratehttptest.Event) { sent++ })
		tries := 0
		client := &retryablehttp.Client{
			HTTPClient:   &http.Client{Transport: ratehttp.New(api, ratehttp.WithRetries(0))},
			RetryMax:     3,
			RetryWaitMin: time.Second,
			RetryWaitMax: 30 * time.Second,
			CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
				if _, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
					return false, nil // not sent: a retry now would be refused too
				}
				return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
			},
			Backoff: func(min, max time.Duration, n int, resp *http.Response) time.Duration {
				if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
					return 0 // ratehttp waits for the quota, or refuses at once
				}
				return retryablehttp.DefaultBackoff(min, max, n, resp) // honours Retry-After on a 503
			},
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: func(retryablehttp.Logger, *http.Request, int) { tries++ },
		}

		resp, err := client.Get("http://api.example/v1/items")
		if rl, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
			fmt.Printf("refused locally, the quota needs %v: tried %d, sent %d\n", rl.Wait.Round(time.Minute), tries, sent)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Printf("%d: tried %d, sent %d\n", resp.StatusCode, tries, sent)
	}
	// Output:
	// 503: tried 4, sent 4
	// refused locally, the quota needs 1h0m0s: tried 2, sent 1
}
