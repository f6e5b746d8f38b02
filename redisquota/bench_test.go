package redisquota

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp"
)

// stub is a base transport that answers every request at once with a 200
// announcing a quota too large to bind: what the benchmarks measure is the
// cost of the shared budget, not waits.
type stub struct{}

func (stub) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	h := http.Header{}
	h["X-Ratelimit"] = []string{"1000000000"}
	h["X-Ratelimit-Used"] = []string{"999999999"}
	h["X-Ratelimit-Window"] = []string{"minute"}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), ContentLength: 11, Request: req,
	}, nil
}

// BenchmarkShared measures a request through a Transport on the stub base,
// with its local model alone (impl=local) and with a Budget in a real
// redis-server on loopback (impl=shared), from 1 and from 64 goroutines.
// impl=shared reports requests per Redis call (req/call).
func BenchmarkShared(b *testing.B) {
	rs := startRedis(b)
	rdb := rs.client(b)
	for _, workers := range []int{1, 64} {
		for _, impl := range []string{"local", "shared"} {
			b.Run(fmt.Sprintf("workers=%d/impl=%s", workers, impl), func(b *testing.B) {
				var opts []ratehttp.Option
				var budget *Budget
				if impl == "shared" {
					budget = New(rdb, WithKeyPrefix("bench:"+strconv.Itoa(workers)+":"+strconv.Itoa(b.N)+":"))
					opts = append(opts, ratehttp.WithSharedBudget(budget))
				}
				rt := ratehttp.New(stub{}, opts...)
				req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://api.example/v1/items", nil)
				if err != nil {
					b.Fatal(err)
				}
				var calls0 float64
				if budget != nil {
					calls0 = redisCalls(b, budget)
				}
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range workers {
					n := b.N / workers
					if w < b.N%workers {
						n++
					}
					wg.Go(func() {
						for range n {
							resp, err := rt.RoundTrip(req)
							if err != nil {
								b.Error(err)
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if budget != nil {
					calls := redisCalls(b, budget) - calls0
					b.ReportMetric(float64(b.N)/max(calls, 1), "req/call")
				}
			})
		}
	}
}

// TestBenchmarkQuotaNeverBinds: the stub's quota never makes the shared
// budget wait, so BenchmarkShared measures its cost alone.
func TestBenchmarkQuotaNeverBinds(t *testing.T) {
	rs := startRedis(t)
	budget := New(rs.client(t))
	rt := ratehttp.New(stub{}, ratehttp.WithSharedBudget(budget))
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://api.example/v1/items", nil)
	start := time.Now()
	for range 5000 {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := counter(t, budget, "takes", outcomeWait); got != 0 {
		t.Errorf("%v takes waited in %v, want none", got, time.Since(start))
	}
	calls := redisCalls(t, budget)
	t.Logf("5000 requests, %.0f Redis calls: %.1f requests per call", calls, 5000/calls)
	if calls > 5000/16 {
		t.Errorf("%.0f Redis calls for 5000 requests, want at most %d", calls, 5000/16)
	}
}
