package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/ratehttp/ratehttp/bench"
)

// stubURL is where the workload's requests go; the stub answers any URL.
const stubURL = "http://api.example/v1/items"

// yieldEvery is how many requests are counted between two yields. The
// runtime's monitor preempts a goroutine that has run for 10 ms without
// yielding, at a point that depends on the clock; under callgrind 20 requests
// take about 2 ms.
const yieldEvery = 20

// lookupStack returns the stack of [bench.CostStacks] named name.
func lookupStack(name string) (bench.Stack, error) {
	for _, st := range bench.CostStacks() {
		if st.Name == name {
			return st, nil
		}
	}
	return bench.Stack{}, fmt.Errorf("no stack %q in bench.CostStacks", name)
}

// work sends warmup GETs and then n more, one after another from one
// goroutine with one P, through the stack named name over a fresh
// [bench.Stub] (whose answers carry a quota that never binds), reusing one
// request and draining and closing every body, as BenchmarkCost does.
// Callgrind counts instructions only while the n measured requests run, on
// the thread that sends them; it yields between batches of yieldEvery
// requests, uncounted.
//
// No collection runs (as with GOGC=off) and memory profiling is off: it
// samples allocations at random intervals and unwinds the stack of each
// sample, so the count would vary from run to run.
func work(name string, warmup, n int) error {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)
	runtime.MemProfileRate = 0
	st, err := lookupStack(name)
	if err != nil {
		return err
	}
	rt := st.New(bench.NewStub())
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, stubURL, nil)
	if err != nil {
		return err
	}
	// Besides letting the quota model settle, the warm-up fills the
	// runtime's type-assertion caches, which it updates at random calls
	// (about one in a thousand): a cache filled while counting would make
	// the count vary from run to run.
	if err := send(rt, req, warmup); err != nil {
		return err
	}
	for n > 0 {
		k := min(n, yieldEvery)
		n -= k
		toggleCollect()
		err := send(rt, req, k)
		toggleCollect()
		if err != nil {
			return err
		}
		runtime.Gosched()
	}
	return nil
}

// send sends req through rt n times.
func send(rt http.RoundTripper, req *http.Request, n int) error {
	for range n {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("RoundTrip(%s) status = %d, want %d", req.URL, resp.StatusCode, http.StatusOK)
		}
	}
	return nil
}
