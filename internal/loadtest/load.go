package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratehttp/ratehttp"
)

// loadTest drives its targets in one of two models.
//
// Closed (rate 0, the default): concurrency workers, each sending a request
// as soon as its previous one is done, so that the offered rate follows the
// latency, as in hey or ab.
//
// Open (rate > 0): requests start at a constant arrival rate whatever the
// latency, as in vegeta or k6's constant-arrival-rate, each on a goroutine
// of its own, so the pool grows as needed; arrivals that would put more than
// maxWorkers requests in flight are dropped and counted.
type loadTest struct {
	client      *http.Client
	newRequest  func(ctx context.Context, i int64) (*http.Request, error) // the i-th request, from 0
	concurrency int                                                       // closed model: workers
	rate        float64                                                   // open model: arrivals per second; 0 for the closed model
	maxWorkers  int                                                       // open model: bound on the requests in flight
	rampUp      time.Duration                                             // to full concurrency or full rate
	timeout     time.Duration                                             // per request, waits included; 0 means none
	n           int64                                                     // requests to start in all; 0 means no limit
	stats       *stats
}

// result is how a load test ended.
type result struct {
	elapsed     time.Duration
	interrupted bool  // ctx ended (Ctrl-C) before the duration or -n did
	asked       int64 // open model: arrivals the schedule called for, dropped ones included
	due         int64 // open model: arrivals due by the end, had the scheduler kept up
}

// run sends requests until duration has passed (0: no limit), n requests have
// started or ctx ends, and waits for every request. report is called with the
// start time before the load starts, and its result when every request is
// done.
//
// It sends one request first, alone: a target that cannot be reached is
// reported as one error instead of a flood of them, and ratehttp learns the
// quota from its response before the load starts. Its status does not matter:
// error paths can be load-tested.
func (lt *loadTest) run(ctx context.Context, duration time.Duration, report func(start time.Time) (stop func())) (result, error) {
	start := time.Now()
	lt.stats.begin(start)
	// The requests stop by cancellation, not by a deadline: a deadline would
	// make ratehttp refuse the last requests at once (their wait could not
	// end in time), and they would show as refused rather than as not sent.
	work, stop := context.WithCancel(ctx)
	defer stop()
	if duration > 0 {
		t := time.AfterFunc(duration, stop)
		defer t.Stop()
	}

	var next atomic.Int64 // index of the next request
	lt.stats.started(start)
	o := lt.one(work, next.Add(1)-1)
	switch {
	case work.Err() != nil, o.timeout, errors.Is(o.err, ratehttp.ErrRateLimited):
		// Stopped during the first request, out of time, or held back by
		// the quota: the target is there.
	case o.err != nil:
		return result{}, fmt.Errorf("cannot reach %s", describeErr(o.err))
	}

	stopReport := report(start)
	var res result
	if lt.rate > 0 {
		res.asked, res.due = lt.open(work, start, &next)
	} else {
		lt.closed(work, &next)
	}
	res.elapsed = time.Since(start)
	stopReport()
	res.interrupted = ctx.Err() != nil
	return res, nil
}

// closed runs the closed model: workers sending requests back to back,
// started evenly over the ramp-up.
func (lt *loadTest) closed(ctx context.Context, next *atomic.Int64) {
	var wg sync.WaitGroup
	for w := range lt.concurrency {
		delay := lt.rampUp * time.Duration(w) / time.Duration(lt.concurrency)
		wg.Go(func() {
			if delay > 0 && !sleep(ctx, delay) {
				return
			}
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if lt.n > 0 && i >= lt.n {
					return
				}
				lt.stats.started(time.Now())
				lt.one(ctx, i)
			}
		})
	}
	wg.Wait()
}

// open runs the open model: requests started on the schedule's arrivals,
// arrival 0 being the first request, at start. It returns the arrivals the
// schedule called for and those that were due by the time it stopped; fewer
// called for than due means the scheduler could not keep up.
func (lt *loadTest) open(ctx context.Context, start time.Time, next *atomic.Int64) (asked, due int64) {
	s := schedule{rate: lt.rate, rampUp: lt.rampUp}
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	asked = 1 // the first request
	full := func() bool { return lt.n > 0 && next.Load() >= lt.n }
	for !full() {
		timer.Reset(time.Until(start.Add(s.at(asked))))
		select {
		case <-ctx.Done():
			return asked, s.due(time.Since(start))
		case <-timer.C:
		}
		elapsed := time.Since(start)
		for ; s.at(asked) <= elapsed && !full(); asked++ {
			now := time.Now()
			if lt.stats.inFlight.Load() >= int64(lt.maxWorkers) {
				lt.stats.drop(now)
				continue
			}
			lt.stats.started(now)
			i := next.Add(1) - 1
			wg.Go(func() { lt.one(ctx, i) })
		}
	}
	return asked, asked
}

// schedule gives the open model's arrival times: rate per second, reached by
// a linear ramp from zero over rampUp.
type schedule struct {
	rate   float64
	rampUp time.Duration
}

// at returns when arrival k (from 0) is due, since the start. Arrival 0 is
// at the start. During the ramp, the count of arrivals due by t is
// rate·t²/(2·rampUp), after it rate·(t − rampUp/2), plus one for arrival 0.
func (s schedule) at(k int64) time.Duration {
	d, kf := s.rampUp.Seconds(), float64(k)
	var t float64
	if inRamp := s.rate * d / 2; kf <= inRamp {
		t = math.Sqrt(2 * d * kf / s.rate)
	} else {
		t = d + (kf-inRamp)/s.rate
	}
	return time.Duration(math.Ceil(t * float64(time.Second)))
}

// due returns how many arrivals are due by elapsed: those k with at(k) ≤
// elapsed.
func (s schedule) due(elapsed time.Duration) int64 {
	d, t := s.rampUp.Seconds(), elapsed.Seconds()
	var count float64
	if t < d {
		count = s.rate * t * t / (2 * d)
	} else {
		count = s.rate * (t - d/2)
	}
	n := int64(count) + 1
	for n > 0 && s.at(n-1) > elapsed { // rounding: at is the authority
		n--
	}
	for s.at(n) <= elapsed {
		n++
	}
	return n
}

// one sends the i-th request, reads its response and records the outcome.
func (lt *loadTest) one(ctx context.Context, i int64) outcome {
	tr := &trace{}
	rctx := context.WithValue(ctx, traceKey{}, tr)
	if lt.timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(rctx, lt.timeout)
		defer cancel()
	}
	var o outcome
	req, err := lt.newRequest(rctx, i)
	if err != nil {
		o.err = err
		lt.stats.done(ctx, time.Now(), tr, o)
		return o
	}
	start := time.Now()
	resp, err := lt.client.Do(req)
	inDo := time.Since(start)
	if err == nil {
		o.status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	end := time.Now()
	o.err = err
	o.timeout = err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded)
	o.latency = end.Sub(start)
	// What Do spent outside the attempts themselves was spent waiting:
	// for the quota, or between retries.
	o.waited = max(inDo-time.Duration(tr.sending.Load()), 0)
	lt.stats.done(ctx, end, tr, o)
	return o
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// redact returns u without user info, query or fragment, which may hold
// secrets.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// describeErr says what went wrong with a request, naming the URL without its
// secrets.
func describeErr(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err.Error()
	}
	target := "the target"
	if u, perr := url.Parse(ue.URL); perr == nil {
		target = redact(u)
	}
	return target + ": " + ue.Err.Error()
}
