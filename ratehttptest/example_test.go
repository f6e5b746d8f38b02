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

// NewServer does not listen: Start does, on a loopback address, and returns
// the URL that httptest.NewServer would have given at once.
func ExampleServer_Start() {
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow})
	fmt.Printf("before Start: URL() = %q\n", srv.URL())
	url := srv.Start()
	defer srv.Close()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 2 {
		resp, err := client.Get(url + "/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	// Output:
	// before Start: URL() = ""
	// 200 req-000001
	// 429 req-000002
}

// The hook sees every request, also those a fault answers in place of the
// API: Processed is false for them, and Fault names the fault.
func ExampleServer_SetHook() {
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 10, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, Every: 2},                  // a proxy answers
		{Kind: ratehttptest.FaultServerError, Status: 500, Every: 3, Processed: true}, // the API answers 500
	}})
	srv.SetHook(func(e ratehttptest.Event) {
		fault := "none" // Fault is 0 when the reply is the API's own
		if e.Fault != 0 {
			fault = e.Fault.String()
		}
		fmt.Printf("hook: %s %s processed=%v fault=%s status=%d id=%q\n",
			e.Method, e.Path, e.Processed, fault, e.Status, e.RequestID)
	})
	client := &http.Client{Transport: srv}
	for range 3 {
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println("client:", resp.StatusCode)
	}
	fmt.Printf("%+v\n", srv.Stats())
	// Output:
	// hook: GET /v1/items processed=true fault=none status=200 id="req-000001"
	// client: 200
	// hook: GET /v1/items processed=false fault=server_error status=0 id=""
	// client: 503
	// hook: GET /v1/items processed=true fault=server_error status=200 id="req-000002"
	// client: 500
	// {Accepted:2 Rejected:0 Consumed:0}
}
