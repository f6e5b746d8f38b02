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

// The Transport learns the quota from the response headers: after three
// requests against a quota of three per day, the fourth is refused at once,
// without being sent, because its deadline is shorter than the wait for the
// day's reset.
func Example() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 3, Window: 24 * time.Hour})
	client := &http.Client{Transport: ratehttp.New(api)} // usually ratehttp.New(nil)

	for range 3 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status, "remaining", resp.Header.Get("X-Ratelimit-Used"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1/items", nil)
	_, err := client.Do(req)
	fmt.Println(errors.Is(err, ratehttp.ErrRateLimited), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("server saw", api.Stats().Accepted+api.Stats().Rejected, "requests")
	// Output:
	// 200 OK remaining 2
	// 200 OK remaining 1
	// 200 OK remaining 0
	// true true
	// server saw 3 requests
}

// CheckResponse turns an error response into a matchable error without
// consuming its body.
func ExampleCheckResponse_transport() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: 24 * time.Hour})
	// Without the Transport: the second request reaches the server and is refused.
	client := &http.Client{Transport: api}
	for range 2 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		err = ratehttp.CheckResponse(resp)
		resp.Body.Close()
		var apiErr *ratehttp.APIError
		if errors.As(err, &apiErr) {
			fmt.Println(apiErr.StatusCode, apiErr.Code, errors.Is(err, ratehttp.ErrRateLimited))
		} else {
			fmt.Println(resp.StatusCode, err)
		}
	}
	// Output:
	// 200 <nil>
	// 429 APIGW.0308 true
}
