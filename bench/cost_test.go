package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

// pairChunk is how many requests BenchmarkPaired sends through one side of a
// pair before it switches to the other.
const pairChunk = 64

// BenchmarkPaired measures each stack's cost as a ratio to the bare base with
// the two interleaved: it alternates between them every pairChunk requests,
// in the same goroutine, and times each chunk. On a shared machine whose speed
// drifts within seconds, both sides of a ratio then see the same machine,
// which separate benchmarks (BenchmarkCost) cannot ensure. The side that goes
// first alternates too, so that neither always follows the other.
//
// One op is a pair: one request through the bare base and one through the
// stack, each on its own base instance. Besides ns/op (the pair's wall time)
// it reports bare-ns/op and impl-ns/op, the time each side's chunks took per
// request (summed over the goroutines, in parallel mode), and x-bare, their
// ratio.
func BenchmarkPaired(b *testing.B) {
	for _, bs := range bases() {
		for _, mode := range []string{"serial", "parallel"} {
			for _, st := range CostStacks() {
				if st.Name == "bare" {
					continue
				}
				b.Run("base="+bs.name+"/mode="+mode+"/impl="+st.Name, func(b *testing.B) {
					bare, url0, stop0 := bs.start(b)
					defer stop0()
					tr, url1, stop1 := bs.start(b)
					defer stop1()
					rt := st.New(tr)
					get(b, bare, newGet(b, url0))
					get(b, rt, newGet(b, url1))
					var bareNs, implNs atomic.Int64 // every goroutine's pairer adds its times
					b.ReportAllocs()
					b.ResetTimer()
					if mode == "serial" {
						// Not b.Loop: see BenchmarkCost.
						p := pairer{bare: bare, rt: rt, req0: newGet(b, url0), req1: newGet(b, url1)}
						for n := 0; n < b.N; n += pairChunk {
							p.run(b, min(pairChunk, b.N-n))
						}
						p.addTo(&bareNs, &implNs)
					} else {
						b.RunParallel(func(pb *testing.PB) {
							p := pairer{bare: bare, rt: rt, req0: newGet(b, url0), req1: newGet(b, url1)}
							for {
								n := 0
								for n < pairChunk && pb.Next() {
									n++
								}
								if n == 0 {
									break
								}
								p.run(b, n)
							}
							p.addTo(&bareNs, &implNs)
						})
					}
					b.StopTimer()
					b0, b1 := bareNs.Load(), implNs.Load()
					b.ReportMetric(float64(b0)/float64(b.N), "bare-ns/op")
					b.ReportMetric(float64(b1)/float64(b.N), "impl-ns/op")
					if b0 > 0 {
						b.ReportMetric(float64(b1)/float64(b0), "x-bare")
					}
				})
			}
		}
	}
}

// pairer sends the chunks of one goroutine of BenchmarkPaired and adds up the
// time each side took.
type pairer struct {
	bare, rt   http.RoundTripper
	req0, req1 *http.Request
	n          int              // chunks sent
	t          [2]time.Duration // bare, stack
}

// run sends n requests through each side, the side that goes first
// alternating from one call to the next.
func (p *pairer) run(tb testing.TB, n int) {
	sides := [2]struct {
		rt  http.RoundTripper
		req *http.Request
	}{{p.bare, p.req0}, {p.rt, p.req1}}
	first := p.n % 2
	p.n++
	t0 := time.Now()
	for range n {
		get(tb, sides[first].rt, sides[first].req)
	}
	t1 := time.Now()
	for range n {
		get(tb, sides[1-first].rt, sides[1-first].req)
	}
	t2 := time.Now()
	p.t[first] += t1.Sub(t0)
	p.t[1-first] += t2.Sub(t1)
}

// addTo adds the time each side took to bare and impl, in nanoseconds.
func (p *pairer) addTo(bare, impl *atomic.Int64) {
	bare.Add(int64(p.t[0]))
	impl.Add(int64(p.t[1]))
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

// sleeper is a base that takes d of the bubble's fake time per request.
type sleeper struct{ d time.Duration }

func (s sleeper) RoundTrip(req *http.Request) (*http.Response, error) {
	time.Sleep(s.d)
	return NewMinStub().RoundTrip(req)
}

// TestPairerTimesEachSide checks that BenchmarkPaired charges each side with
// its own time, whichever goes first.
func TestPairerTimesEachSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := newGet(t, "http://api.example/v1/items")
		p := pairer{bare: sleeper{time.Microsecond}, rt: sleeper{3 * time.Microsecond}, req0: req, req1: req}
		for range 3 {
			p.run(t, 10)
		}
		if want := [2]time.Duration{30 * time.Microsecond, 90 * time.Microsecond}; p.t != want {
			t.Errorf("after 3 runs of 10 requests: times (bare, stack) = %v, want %v", p.t, want)
		}
	})
}
