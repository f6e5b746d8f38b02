package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/bench"
)

// flaky is a base transport that drains every request body and answers 503
// to the first fails attempts of a round, then 200. It records how many
// bytes each attempt carried.
type flaky struct {
	fails int

	mu    sync.Mutex
	calls int
	sizes []int64
}

func (f *flaky) attempts() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.sizes...)
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	var n int64
	if req.Body != nil {
		n, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	f.mu.Lock()
	f.calls++
	f.sizes = append(f.sizes, n)
	status := http.StatusOK
	if f.calls <= f.fails {
		status = http.StatusServiceUnavailable
	}
	f.mu.Unlock()
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(&constReader{n: 2}),
		Request: req,
	}, nil
}

// constReader yields n bytes of a repeating pattern without holding them in
// memory, so that the request body itself costs no heap.
type constReader struct {
	n, off int64
}

func (r *constReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = byte(r.off + int64(i))
	}
	r.off += int64(len(p))
	return len(p), nil
}

func (r *constReader) Close() error { return nil }

// A client sends one PUT of size bytes through base, retrying as it does.
type client struct {
	name string
	note string
	do   func(base http.RoundTripper, url string, size int64) (*http.Response, error)
}

// newPut returns a PUT whose body, and each body GetBody returns, streams
// size bytes from nothing.
func newPut(url string, size int64) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, url, &constReader{n: size})
	if err != nil {
		panic(err) // a constant, valid URL
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return &constReader{n: size}, nil }
	return req
}

const retries = 3

var clients = []client{
	{
		name: "bare",
		note: "one attempt through the base, no retries: the floor",
		do: func(base http.RoundTripper, url string, size int64) (*http.Response, error) {
			return base.RoundTrip(newPut(url, size))
		},
	},
	{
		name: "ratehttp",
		note: "ratehttp.New(base, WithRetries(3), WithBackoff(1ms, 1ms)): replays with GetBody",
		do: func(base http.RoundTripper, url string, size int64) (*http.Response, error) {
			t := ratehttp.New(base, ratehttp.WithRetries(retries), ratehttp.WithBackoff(time.Millisecond, time.Millisecond))
			return t.RoundTrip(newPut(url, size))
		},
	},
	{
		name: "retryablehttp",
		note: "retryablehttp.RoundTripper (RetryMax 3, wait 1 ms): FromRequest reads the body into memory",
		do: func(base http.RoundTripper, url string, size int64) (*http.Response, error) {
			rt := &retryablehttp.RoundTripper{Client: bench.NewRetryableClient(base, retries, time.Millisecond, time.Millisecond)}
			return rt.RoundTrip(newPut(url, size))
		},
	},
	{
		name: "retryablehttp-readerfunc",
		note: "retryablehttp.NewRequest with a ReaderFunc and Client.Do: the streaming way it offers",
		do: func(base http.RoundTripper, url string, size int64) (*http.Response, error) {
			c := bench.NewRetryableClient(base, retries, time.Millisecond, time.Millisecond)
			body := retryablehttp.ReaderFunc(func() (io.Reader, error) { return &constReader{n: size}, nil })
			req, err := retryablehttp.NewRequestWithContext(context.Background(), http.MethodPut, url, body)
			if err != nil {
				return nil, err
			}
			req.ContentLength = size
			return c.Do(req)
		},
	},
	{
		name: "failsafe",
		note: "failsafehttp round tripper with a retry policy (3 retries, 1 ms): reads the body into memory",
		do: func(base http.RoundTripper, url string, size int64) (*http.Response, error) {
			rt := failsafehttp.NewRoundTripper(base, bench.NewFailsafeRetry(retries, time.Millisecond))
			return rt.RoundTrip(newPut(url, size))
		},
	},
}

// measurement is the memory one PUT cost.
type measurement struct {
	client     string
	attempts   []int64 // bytes the base received per attempt
	status     int
	peak       uint64 // highest HeapAlloc sampled, less HeapAlloc before
	totalAlloc uint64 // TotalAlloc delta
	samples    int
	elapsed    time.Duration
}

// measure sends one PUT of size bytes with c, sampling HeapAlloc every
// interval. It collects garbage first, so that the baseline is the live heap.
func measure(c client, size int64, interval time.Duration) (measurement, error) {
	base := &flaky{fails: retries}
	if c.name == "bare" {
		base.fails = 0
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var (
		peak    atomic.Uint64
		samples atomic.Int64
		done    = make(chan struct{})
		wg      sync.WaitGroup
	)
	peak.Store(before.HeapAlloc)
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			samples.Add(1)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})

	start := time.Now()
	resp, err := c.do(base, "http://api.example/upload", size)
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	close(done)
	wg.Wait()
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w", c.name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if after.HeapAlloc > peak.Load() {
		peak.Store(after.HeapAlloc)
	}
	return measurement{
		client:     c.name,
		attempts:   base.attempts(),
		status:     resp.StatusCode,
		peak:       peak.Load() - before.HeapAlloc,
		totalAlloc: after.TotalAlloc - before.TotalAlloc,
		samples:    int(samples.Load()),
		elapsed:    elapsed,
	}, nil
}
