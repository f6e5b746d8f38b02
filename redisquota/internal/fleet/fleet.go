// Package fleet holds what redisquota's fleet tests tell their child
// processes (internal/fleetclient) and what these report.
package fleet

import "time"

// Spec is what a process does.
type Spec struct {
	URL      string
	Redis    string
	Workers  int
	Start    time.Time     // when to start sending
	Duration time.Duration // how long to send
	Timeout  time.Duration // each request's deadline
	Limit    int64         // redisquota.WithLimit, with Window; 0: none
	Window   time.Duration
}

// Report is what a process did.
type Report struct {
	OK, Throttled, Failed, Refused int // final outcomes of requests
	// Late counts requests that returned more than LateSlack after their
	// deadline; MaxLate is the most one did, in nanoseconds.
	Late    int
	MaxLate int64
	// Stall is the longest a 1ms sleep of the process overslept during
	// the run, or how late it woke at Start if that was longer, in
	// nanoseconds: how long the machine left it waiting.
	Stall int64
	// Metrics are the Budget's and the Transport's counters and gauges,
	// summed over the label result, by name and the other labels' values
	// ("ratehttp_shared_takes_total/lease").
	Metrics map[string]float64
}

// LateSlack is how long after its deadline a request may return.
const LateSlack = 100 * time.Millisecond

// WatchStalls sleeps 1ms at a time until stop is closed, and returns the
// longest it overslept.
func WatchStalls(stop <-chan struct{}) time.Duration {
	var worst time.Duration
	for {
		select {
		case <-stop:
			return worst
		default:
		}
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		worst = max(worst, time.Since(t0)-time.Millisecond)
	}
}
