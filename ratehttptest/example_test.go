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
