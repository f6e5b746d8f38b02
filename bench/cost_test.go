package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ratehttp/ratehttp"
)

// A base is what the stacks are measured on top of.
type base struct {
	name string
	// start returns a fresh base transport, the URL to send to and a
	// function releasing both.
	start func(tb testing.TB) (http.RoundTripper, string, func())
}

func bases() []base {
	return []base{
		{name: "stub", start: func(testing.TB) (http.RoundTripper, string, func()) {
			return NewStub(), "http://api.example/v1/items", func() {}
		}},
		{name: "stub-min", start: func(testing.TB) (http.RoundTripper, string, func()) {
			return NewMinStub(), "http://api.example/v1/items", func() {}
		}},
		{name: "loopback", start: func(tb testing.TB) (http.RoundTripper, string, func()) {
			srv := httptest.NewServer(Handler())
			tr := NewLoopbackTransport()
			return tr, srv.URL + "/v1/items", func() {
				tr.CloseIdleConnections()
				srv.Close()
			}
		}},
	}
}

// get sends req through rt and drains and closes the response body, so that
// the connection is reused.
func get(tb testing.TB, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		tb.Fatalf("RoundTrip(%s) error = %v", req.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("RoundTrip(%s) status = %d, want %d", req.URL, resp.StatusCode, http.StatusOK)
	}
}

func newGet(tb testing.TB, url string) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// BenchmarkCost measures one GET with a small body through each stack, on the
// stub base and over loopback, serially and with RunParallel. Each goroutine
// reuses one request, as the stacks must not modify it. Names use key=value
// parts so that benchstat can project them (-col /impl).
//
// Besides ns/op (wall time) it reports cpu-ns/op: the CPU time of the whole
// process (all threads, user and system, the loopback server included) per
// request. On a shared machine, time this process spends descheduled inflates
// ns/op but not cpu-ns/op.
func BenchmarkCost(b *testing.B) {
	for _, bs := range bases() {
		for _, mode := range []string{"serial", "parallel"} {
			for _, st := range CostStacks() {
				b.Run("base="+bs.name+"/mode="+mode+"/impl="+st.Name, func(b *testing.B) {
					tr, url, stop := bs.start(b)
					defer stop()
					rt := st.New(tr)
					// Warm up: the quota model learns the limit, connections open.
					get(b, rt, newGet(b, url))
					req := newGet(b, url)
					b.ReportAllocs()
					b.ResetTimer()
					cpu0, cpuOK := CPUTime()
					if mode == "serial" {
						// Not b.Loop: it measures everything in the first
						// call, which the testing package makes before it
						// sets GOMAXPROCS from -cpu (golang/go#49980), so
						// "-cpu 1" would run with all the machine's Ps.
						for range b.N {
							get(b, rt, req)
						}
					} else {
						b.RunParallel(func(pb *testing.PB) {
							req := newGet(b, url)
							for pb.Next() {
								get(b, rt, req)
							}
						})
					}
					if cpu1, _ := CPUTime(); cpuOK {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}

// TestCostStacks runs every case of BenchmarkCost a few times, serially and
// from several goroutines, so that -short catches a broken setup quickly.
func TestCostStacks(t *testing.T) {
	for _, bs := range bases() {
		for _, st := range CostStacks() {
			t.Run(bs.name+"/"+st.Name, func(t *testing.T) {
				tr, url, stop := bs.start(t)
				defer stop()
				rt := st.New(tr)
				req := newGet(t, url)
				for range 3 {
					get(t, rt, req)
				}
				var wg sync.WaitGroup
				errs := make(chan error, 4)
				for range 4 {
					wg.Go(func() {
						req := newGet(t, url)
						for range 3 {
							resp, err := rt.RoundTrip(req)
							if err != nil {
								errs <- err
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("parallel RoundTrip(%s) error = %v", url, err)
				}
			})
		}
	}
}

// TestStubQuotaNeverBinds checks that the stub's headers announce a quota
// ratehttp never waits for: with WithMaxWait(0) any wait would fail the
// request at once, and a burst far above any pacing burst goes through.
func TestStubQuotaNeverBinds(t *testing.T) {
	rt := ratehttp.New(NewStub(), ratehttp.WithMaxWait(0))
	req := newGet(t, "http://api.example/v1/items")
	for range 10_000 {
		get(t, rt, req)
	}
}
