package ratehttptest_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// A client whose transport is the in-memory server: the third request in the
// window is throttled. X-Ratelimit-Used carries the remaining count, as the
// vendor sends it.
func Example() {
	srv := ratehttptest.NewServer(ratehttptest.Config{
		Limit:  2,
		Window: time.Hour,
		Policy: ratehttptest.SlidingWindow, // no window boundary to cross while the example runs
	})
	client := &http.Client{Transport: srv}
	for range 3 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("X-Request-Id"),
			"limit", resp.Header.Get("X-Ratelimit"),
			"used", resp.Header.Get("X-Ratelimit-Used"),
			"per", resp.Header.Get("X-Ratelimit-Window"))
	}
	fmt.Printf("%+v\n", srv.Stats())
	// Output:
	// 200 req-000001 limit 2 used 1 per hour
	// 200 req-000002 limit 2 used 0 per hour
	// 429 req-000003 limit 2 used 0 per hour
	// {Accepted:2 Rejected:1 Consumed:0}
}

// A GCRA server, as throttled or redis_rate configure one: a sustained rate
// of 60 requests per hour, bursts of 2, and Retry-After on 429.
// X-Ratelimit carries the burst.
func ExampleConfig_gcra() {
	srv := ratehttptest.NewServer(ratehttptest.Config{
		Limit:      60,
		Window:     time.Hour,
		Policy:     ratehttptest.GCRA,
		Burst:      2,
		RetryAfter: true,
	})
	client := &http.Client{Transport: srv}
	for range 3 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, "limit", resp.Header.Get("X-Ratelimit"),
			"used", resp.Header.Get("X-Ratelimit-Used"),
			"retry", resp.Header.Values("Retry-After"))
	}
	// Output:
	// 200 limit 2 used 1 retry []
	// 200 limit 2 used 0 retry []
	// 429 limit 2 used 0 retry [60]
}
