package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ratehttp/ratehttp"
)

// loadTest drives one target from a pool of workers, each sending requests
// back to back.
type loadTest struct {
	client      *http.Client
	target      *url.URL // for messages; the requests come from newRequest
	newRequest  func(context.Context) (*http.Request, error)
	concurrency int
	n           int64         // requests to send in all; 0 means no limit
	offered     *rate.Limiter // cap on the offered rate; nil means none
	stats       *stats
}

// result is how a load test ended.
type result struct {
	elapsed     time.Duration
	interrupted bool // ctx ended (Ctrl-C) before the duration or -n did
}

// run sends requests until duration has passed (0: no limit), n requests are
// done or ctx ends, and waits for every worker. report is called with the
// start time before the workers start, and its result when they have all
// stopped.
//
// It sends one request first, alone: a target that cannot be reached is
// reported as one error instead of a flood of them, and ratehttp learns the
// quota from its response before the workers start.
func (lt *loadTest) run(ctx context.Context, duration time.Duration, report func(start time.Time) (stop func())) (result, error) {
	start := time.Now()
	// The workers stop by cancellation, not by a deadline: a deadline would
	// make ratehttp refuse the last requests at once (their wait could not
	// end in time), and they would show as refused rather than as not sent.
	work, stop := context.WithCancel(ctx)
	defer stop()
	if duration > 0 {
		t := time.AfterFunc(duration, stop)
		defer t.Stop()
	}

	var started atomic.Int64
	started.Add(1)
	status, err := lt.one(work)
	switch {
	case work.Err() != nil, errors.Is(err, ratehttp.ErrRateLimited):
		// Stopped during the first request, or held back by the quota:
		// carry on to the summary.
	case err != nil:
		return result{}, fmt.Errorf("cannot reach %s", describeErr(err))
	case status >= 400 && status != http.StatusTooManyRequests:
		return result{}, fmt.Errorf("%s: the first request got %d %s", redact(lt.target), status, http.StatusText(status))
	}

	stopReport := report(start)
	var wg sync.WaitGroup
	for range lt.concurrency {
		wg.Go(func() { lt.work(work, &started) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopReport()
	return result{elapsed: elapsed, interrupted: ctx.Err() != nil}, nil
}

// work sends requests one after another until ctx ends or n have started.
func (lt *loadTest) work(ctx context.Context, started *atomic.Int64) {
	for ctx.Err() == nil {
		if lt.n > 0 && started.Add(1) > lt.n {
			return
		}
		if lt.offered != nil && lt.offered.Wait(ctx) != nil {
			return
		}
		lt.one(ctx)
	}
}

// one sends one request, reads its response and records the outcome. It
// returns the final status (0 without a response) and the error.
func (lt *loadTest) one(ctx context.Context) (int, error) {
	tr := &trace{}
	req, err := lt.newRequest(context.WithValue(ctx, traceKey{}, tr))
	if err != nil {
		lt.stats.done(ctx, tr, 0, err, 0, 0)
		return 0, err
	}
	start := time.Now()
	resp, err := lt.client.Do(req)
	inDo := time.Since(start)
	status := 0
	if err == nil {
		status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// What Do spent outside the attempts themselves was spent waiting:
	// for the quota, or between retries.
	waited := max(inDo-time.Duration(tr.sending.Load()), 0)
	lt.stats.done(ctx, tr, status, err, time.Since(start), waited)
	return status, err
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
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.base.RoundTrip(req)
	if tr, ok := req.Context().Value(traceKey{}).(*trace); ok {
		tr.attempts.Add(1)
		tr.sending.Add(int64(time.Since(start)))
	}
	c.stats.attempt(resp, c.used)
	return resp, err
}

// stats are the counts of a load test. Counters are atomic, so that the
// progress line reads them without stopping the workers.
type stats struct {
	attempts  atomic.Int64 // requests sent by the base transport, retries included
	throttled atomic.Int64 // attempts answered 429
	retries   atomic.Int64 // attempts after a request's first

	requests  atomic.Int64 // requests finished, in any way but cancellation
	successes atomic.Int64 // final status below 400
	rejected  atomic.Int64 // final status 429: the retries ran out
	refused   atomic.Int64 // refused locally by ratehttp (ErrRateLimited)
	failed    atomic.Int64 // any other error or status of 400 and above
	cancelled atomic.Int64 // cut off by the end of the run
	waited    atomic.Int64 // nanoseconds waited, for the quota and between retries

	mu       sync.Mutex
	statuses map[int]int64 // final statuses of finished requests; requires mu
	firstErr string        // the first failure; requires mu
	latency  reservoir     // of finished requests; requires mu
	quota    quotaHeaders  // from the newest response; requires mu
}

func newStats() *stats {
	return &stats{
		statuses: map[int]int64{},
		latency:  reservoir{size: 100_000},
		quota:    quotaHeaders{limit: -1, remaining: -1},
	}
}

// attempt records one attempt's response, nil after a transport error.
func (s *stats) attempt(resp *http.Response, used ratehttp.UsedMeaning) {
	s.attempts.Add(1)
	if resp == nil {
		return
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		s.throttled.Add(1)
	}
	if q, ok := parseQuotaHeaders(resp.Header, used); ok {
		s.mu.Lock()
		s.quota = q
		s.mu.Unlock()
	}
}

// done records a request's outcome. ctx is the load test's: a request that
// failed because it ended was cut off, and is not counted as finished.
func (s *stats) done(ctx context.Context, tr *trace, status int, err error, latency, waited time.Duration) {
	if n := tr.attempts.Load(); n > 1 {
		s.retries.Add(n - 1)
	}
	if err != nil && ctx.Err() != nil {
		s.cancelled.Add(1)
		return
	}
	s.requests.Add(1)
	s.waited.Add(int64(waited))
	switch {
	case err != nil && errors.Is(err, ratehttp.ErrRateLimited):
		s.refused.Add(1)
	case err != nil:
		s.failed.Add(1)
	case status == http.StatusTooManyRequests:
		s.rejected.Add(1)
	case status >= 400:
		s.failed.Add(1)
	default:
		s.successes.Add(1)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if status != 0 {
		s.statuses[status]++
	}
	if s.firstErr == "" {
		switch {
		case err != nil && !errors.Is(err, ratehttp.ErrRateLimited):
			s.firstErr = describeErr(err)
		case status >= 400 && status != http.StatusTooManyRequests:
			s.firstErr = fmt.Sprintf("status %d %s", status, http.StatusText(status))
		}
	}
	if err == nil {
		s.latency.add(latency)
	}
}

// reservoir keeps a uniform sample of at most size durations out of all
// those added (Vitter's algorithm R), so memory stays bounded however long
// the run.
type reservoir struct {
	size   int
	seen   int64
	sample []time.Duration
}

func (r *reservoir) add(d time.Duration) {
	r.seen++
	if len(r.sample) < r.size {
		r.sample = append(r.sample, d)
		return
	}
	if i := rand.Int64N(r.seen); i < int64(r.size) {
		r.sample[i] = d
	}
}

// percentiles returns the nearest-rank percentiles ps (0 < p ≤ 100) of the
// sample, zero when it is empty.
func (r *reservoir) percentiles(ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if len(r.sample) == 0 {
		return out
	}
	sorted := slices.Clone(r.sample)
	slices.Sort(sorted)
	for i, p := range ps {
		rank := int(p/100*float64(len(sorted))+0.999999) - 1
		out[i] = sorted[min(max(rank, 0), len(sorted)-1)]
	}
	return out
}

// quotaHeaders is what one response's headers said about the quota; -1 and 0
// mean unknown.
type quotaHeaders struct {
	limit, remaining int64
	window           time.Duration
}

// parseQuotaHeaders reads the common quota headers: the vendor's X-Ratelimit,
// X-Ratelimit-Used (read as used says; unknown with auto) and
// X-Ratelimit-Window; GitHub's X-RateLimit-Limit and -Remaining; and the IETF
// drafts' RateLimit-Limit and -Remaining, with a window from "w=". It is a
// display aid: ratehttp's own parser, which the pacing uses, knows more.
func parseQuotaHeaders(h http.Header, used ratehttp.UsedMeaning) (quotaHeaders, bool) {
	q := quotaHeaders{limit: -1, remaining: -1}
	switch {
	case h.Get("X-Ratelimit") != "":
		q.limit = headerInt(h.Get("X-Ratelimit"))
		n := headerInt(h.Get("X-Ratelimit-Used"))
		switch {
		case n < 0:
		case used == ratehttp.UsedRemaining:
			q.remaining = n
		case used == ratehttp.UsedUsed && q.limit >= 0:
			q.remaining = max(q.limit-n, 0)
		}
		q.window = time.Hour // the vendor's default
		if w := h.Get("X-Ratelimit-Window"); w != "" {
			q.window = parseWindow(w)
		}
	case h.Get("X-Ratelimit-Limit") != "":
		q.limit = headerInt(h.Get("X-Ratelimit-Limit"))
		q.remaining = headerInt(h.Get("X-Ratelimit-Remaining"))
	case h.Get("Ratelimit-Limit") != "":
		v := h.Get("Ratelimit-Limit")
		q.limit = headerInt(v)
		q.remaining = headerInt(h.Get("Ratelimit-Remaining"))
		if _, w, ok := strings.Cut(v+";"+h.Get("Ratelimit-Policy"), ";w="); ok {
			w, _, _ = strings.Cut(w, ";")
			w, _, _ = strings.Cut(w, ",")
			q.window = time.Duration(headerInt(w)) * time.Second
		}
	}
	return q, q.limit >= 0
}

// headerInt reads the leading decimal digits of v ("100", "100, 100;w=60"),
// or returns -1.
func headerInt(v string) int64 {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// parseWindow reads a window length: a unit ("minute", "2 hours"), a Go
// duration ("5s") or seconds ("60"). It returns 0 for anything else.
func parseWindow(v string) time.Duration {
	v = strings.ToLower(strings.TrimSpace(v))
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	digits := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz \t")
	n := int64(1)
	if digits != "" {
		if n = headerInt(digits); n < 0 {
			return 0
		}
	}
	unit := strings.TrimSpace(strings.TrimSuffix(v[len(digits):], "s"))
	switch unit {
	case "":
		if digits == "" {
			return 0
		}
		return time.Duration(n) * time.Second
	case "second", "sec":
		return time.Duration(n) * time.Second
	case "minute", "min":
		return time.Duration(n) * time.Minute
	case "hour":
		return time.Duration(n) * time.Hour
	case "day":
		return time.Duration(n) * 24 * time.Hour
	}
	return 0
}
