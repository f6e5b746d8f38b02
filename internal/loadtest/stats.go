package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratehttp/ratehttp"
)

// maxErrorKinds bounds the distinct error messages counted; the rest are
// counted under "other errors".
const maxErrorKinds = 10

// stats are the counts of a load test: totals, and the same per second of
// the run. Counters are atomic, so that the progress line reads them without
// stopping the workers; everything else requires mu.
type stats struct {
	issued    atomic.Int64 // requests started by the load generator
	dropped   atomic.Int64 // arrivals not started: -max-workers requests were in flight
	attempts  atomic.Int64 // requests sent by the base transport, retries included
	answered  atomic.Int64 // attempts that got a response, of any status
	throttled atomic.Int64 // attempts answered 429
	retries   atomic.Int64 // attempts after a request's first
	bytesIn   atomic.Int64 // response bytes read, of every attempt
	bytesOut  atomic.Int64 // request body bytes sent, of every attempt
	inFlight  atomic.Int64 // requests started and not finished
	peak      atomic.Int64 // the most requests in flight at once

	requests  atomic.Int64 // requests finished, in any way but cancellation
	successes atomic.Int64 // final status below 400
	rejected  atomic.Int64 // final status 429: the retries ran out
	refused   atomic.Int64 // refused locally by ratehttp (ErrRateLimited)
	failed    atomic.Int64 // any other error or status of 400 and above, timeouts included
	timeouts  atomic.Int64 // failed because -timeout passed
	cancelled atomic.Int64 // cut off by the end of the run
	waited    atomic.Int64 // nanoseconds waited, for the quota and between retries

	mu         sync.Mutex
	start      time.Time        // of the run; requires mu
	statuses   map[int]int64    // final statuses of finished requests; requires mu
	errs       map[string]int64 // requests that got no response, by error; requires mu
	firstErr   string           // the first failure; requires mu
	latency    histogram        // of finished requests with a response; requires mu
	quota      quotaHeaders     // from the newest response; requires mu
	firstQuota quotaHeaders     // from the first response with quota headers; requires mu
	firstTaken bool             // whether that response was not a 429; requires mu
	seconds    []*second        // the run, second by second; requires mu
}

// second is what happened in one second of the run. Attempts are counted
// when their response (or error) came, requests when they started or ended.
type second struct {
	requests, dropped                int64
	sent, ok, throttled, other, errs int64 // attempts, and how they were answered
	refused                          int64
	limit, remaining                 int64   // the newest quota headers; -1: none in this second
	gaugeLimit, gaugeRemaining       float64 // ratehttp's gauges at the newest sample; -1: none
	pace                             float64 // ratehttp's pace at the newest sample; -1: none
	inFlight                         int64   // at the newest sample
	bytesIn, bytesOut                int64
	latency                          histogram // of requests that finished in this second
}

func newStats() *stats {
	return &stats{
		statuses:   map[int]int64{},
		errs:       map[string]int64{},
		quota:      quotaHeaders{limit: -1, remaining: -1},
		firstQuota: quotaHeaders{limit: -1, remaining: -1},
	}
}

// begin sets the start of the run, second 0 of the time series.
func (s *stats) begin(t time.Time) {
	s.mu.Lock()
	s.start = t
	s.mu.Unlock()
}

// at returns the second holding t, creating it and those before it. Events
// before the start count in second 0. It requires mu.
func (s *stats) at(t time.Time) *second {
	i := max(int(t.Sub(s.start)/time.Second), 0)
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, &second{limit: -1, remaining: -1, gaugeLimit: -1, gaugeRemaining: -1, pace: -1})
	}
	return s.seconds[i]
}

// started records a request handed to the client at t.
func (s *stats) started(t time.Time) {
	s.issued.Add(1)
	peak := s.inFlight.Add(1)
	for p := s.peak.Load(); peak > p && !s.peak.CompareAndSwap(p, peak); p = s.peak.Load() {
	}
	s.mu.Lock()
	s.at(t).requests++
	s.mu.Unlock()
}

// drop records an arrival at t that was not started.
func (s *stats) drop(t time.Time) {
	s.dropped.Add(1)
	s.mu.Lock()
	s.at(t).dropped++
	s.mu.Unlock()
}

// attempt records one attempt, answered at t with resp (nil after a
// transport error). req is the attempt's request, for the bytes it sent.
func (s *stats) attempt(t time.Time, req *http.Request, resp *http.Response, used ratehttp.UsedMeaning) {
	s.attempts.Add(1)
	out := max(req.ContentLength, 0)
	s.bytesOut.Add(out)
	var q quotaHeaders
	hasQuota := false
	if resp != nil {
		s.answered.Add(1)
		if resp.StatusCode == http.StatusTooManyRequests {
			s.throttled.Add(1)
		}
		q, hasQuota = parseQuotaHeaders(resp.Header, used)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.at(t)
	sec.sent++
	sec.bytesOut += out
	switch {
	case resp == nil && req.Context().Err() != nil:
		return // cut off by the end of the run, or by -timeout
	case resp == nil:
		sec.errs++
		return
	case resp.StatusCode == http.StatusTooManyRequests:
		sec.throttled++
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		sec.ok++
	default:
		sec.other++
	}
	if hasQuota {
		s.quota = q
		sec.limit, sec.remaining = q.limit, q.remaining
		if s.firstQuota.limit < 0 {
			s.firstQuota = q
			s.firstTaken = resp.StatusCode != http.StatusTooManyRequests
		}
	}
}

// read records n response bytes read at t.
func (s *stats) read(t time.Time, n int64) {
	s.bytesIn.Add(n)
	s.mu.Lock()
	s.at(t).bytesIn += n
	s.mu.Unlock()
}

// sample records, at t, ratehttp's gauges and the requests in flight.
func (s *stats) sample(t time.Time, g gauges) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.at(t)
	sec.inFlight = s.inFlight.Load()
	if v, ok := g[gaugePace]; ok {
		sec.pace = v
	}
	if v, ok := g[gaugeLimit]; ok {
		sec.gaugeLimit = v
	}
	if v, ok := g[gaugeRemaining]; ok {
		sec.gaugeRemaining = v
	}
}

// outcome is how one request ended.
type outcome struct {
	status  int   // final status; 0 without a response
	err     error // from Do or from reading the body
	timeout bool  // err is -timeout passing
	latency time.Duration
	waited  time.Duration // for the quota and between retries
}

// done records a request's outcome at t. ctx is the load test's: a request
// that failed because it ended was cut off, and is not counted as finished.
func (s *stats) done(ctx context.Context, t time.Time, tr *trace, o outcome) {
	s.inFlight.Add(-1)
	if n := tr.attempts.Load(); n > 1 {
		s.retries.Add(n - 1)
	}
	if o.err != nil && ctx.Err() != nil {
		s.cancelled.Add(1)
		return
	}
	s.requests.Add(1)
	s.waited.Add(int64(o.waited))
	refused := o.err != nil && errors.Is(o.err, ratehttp.ErrRateLimited)
	switch {
	case refused:
		s.refused.Add(1)
	case o.err != nil:
		s.failed.Add(1)
		if o.timeout {
			s.timeouts.Add(1)
		}
	case o.status == http.StatusTooManyRequests:
		s.rejected.Add(1)
	case o.status >= 400:
		s.failed.Add(1)
	default:
		s.successes.Add(1)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.at(t)
	if refused {
		sec.refused++
	}
	if o.status != 0 {
		s.statuses[o.status]++
	}
	if o.err != nil && !refused {
		msg := "timeout (-timeout)"
		if !o.timeout {
			msg = describeErr(o.err)
		}
		if _, ok := s.errs[msg]; !ok && len(s.errs) >= maxErrorKinds {
			msg = "other errors"
		}
		s.errs[msg]++
		if s.firstErr == "" {
			s.firstErr = msg
		}
	}
	if s.firstErr == "" && o.err == nil && o.status >= 400 && o.status != http.StatusTooManyRequests {
		s.firstErr = fmt.Sprintf("status %d %s", o.status, http.StatusText(o.status))
	}
	if o.err == nil {
		s.latency.add(o.latency)
		sec.latency.add(o.latency)
	}
}

// traceKey is the context key of a request's *trace.
type traceKey struct{}

// trace accumulates what the counting transport saw of one request's
// attempts. Attempts of one request run one after another, but on the
// goroutine of whoever calls the transport, hence the atomics.
type trace struct {
	attempts atomic.Int64
	sending  atomic.Int64 // nanoseconds inside the base transport
}

// countingTransport sits below ratehttp, so that it sees every attempt,
// retries included, and every response's quota headers.
type countingTransport struct {
	base  http.RoundTripper
	stats *stats
	used  ratehttp.UsedMeaning
	now   func() time.Time
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := c.now()
	resp, err := c.base.RoundTrip(req)
	end := c.now()
	if tr, ok := req.Context().Value(traceKey{}).(*trace); ok {
		tr.attempts.Add(1)
		tr.sending.Add(int64(end.Sub(start)))
	}
	c.stats.attempt(end, req, resp, c.used)
	if resp != nil && resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, stats: c.stats, now: c.now}
	}
	return resp, err
}

// countingBody counts the bytes read from a response body, when it is
// closed.
type countingBody struct {
	io.ReadCloser
	stats *stats
	now   func() time.Time
	n     atomic.Int64
	once  sync.Once
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	b.once.Do(func() { b.stats.read(b.now(), b.n.Load()) })
	return b.ReadCloser.Close()
}
