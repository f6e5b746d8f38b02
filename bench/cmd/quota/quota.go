package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/bench"
	"github.com/ratehttp/ratehttp/ratehttptest"
	"golang.org/x/time/rate"
)

// A kind is one way a user might stay inside the quota.
type kind struct {
	name string
	note string
	// new wraps base for a server allowing limit requests per window; runLen
	// bounds how long anything may wait.
	new func(base http.RoundTripper, limit int, window, runLen time.Duration) http.RoundTripper
}

var kinds = []kind{
	{
		name: "ratehttp",
		note: "ratehttp.New(base), no options",
		new: func(base http.RoundTripper, _ int, _, _ time.Duration) http.RoundTripper {
			return ratehttp.New(base)
		},
	},
	{
		name: "plain",
		note: "http.Transport alone",
		new: func(base http.RoundTripper, _ int, _, _ time.Duration) http.RoundTripper {
			return base
		},
	},
	{
		name: "retryablehttp",
		note: "go-retryablehttp defaults (RetryMax 4, backoff 1 s to 30 s), Logger nil",
		new: func(base http.RoundTripper, _ int, _, _ time.Duration) http.RoundTripper {
			return &retryablehttp.RoundTripper{Client: bench.NewRetryableClient(base, 4, time.Second, 30*time.Second)}
		},
	},
	{
		name: "static",
		note: "rate.Limiter at limit/window, burst 1, set by hand to the true limit",
		new: func(base http.RoundTripper, limit int, window, _ time.Duration) http.RoundTripper {
			return &bench.Limited{Base: base, Limiter: staticLimiter(limit, window)}
		},
	},
	{
		name: "static+retry",
		note: "go-retryablehttp defaults over the static rate.Limiter",
		new: func(base http.RoundTripper, limit int, window, _ time.Duration) http.RoundTripper {
			lim := &bench.Limited{Base: base, Limiter: staticLimiter(limit, window)}
			return &retryablehttp.RoundTripper{Client: bench.NewRetryableClient(lim, 4, time.Second, 30*time.Second)}
		},
	},
	{
		name: "failsafe",
		note: "failsafehttp round tripper: retry policy (3 retries, backoff 250 ms to 30 s) around a bursty rate limiter of limit per window that waits",
		new: func(base http.RoundTripper, limit int, window, runLen time.Duration) http.RoundTripper {
			rl := ratelimiter.NewBurstyBuilder[*http.Response](uint(limit), window).WithMaxWaitTime(runLen).Build()
			return failsafehttp.NewRoundTripper(base, bench.NewFailsafeRetry(3, 250*time.Millisecond), rl)
		},
	},
}

func staticLimiter(limit int, window time.Duration) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(limit)/window.Seconds()), 1)
}

// A scenario is what happens to the quota during a run.
type scenario struct {
	name string
	note string
	// clients is how many clients of the kind share the server.
	clients int
	// offset shifts the server's windows from the UTC-aligned boundaries, as
	// a fraction of a window.
	offset float64
	// during runs alongside the workers from the start of the run until
	// ctx ends; nil for none. boundary(k) is the start of window k.
	during func(ctx context.Context, srv *ratehttptest.Server, p params, boundary func(k int) time.Time)
}

var scenarios = []scenario{
	{name: "steady", note: "fixed window, one client", clients: 1},
	{
		name: "halved", note: "the limit drops to half at the start of window 3", clients: 1,
		during: func(ctx context.Context, srv *ratehttptest.Server, p params, boundary func(int) time.Time) {
			if sleepUntil(ctx, boundary(3)) {
				srv.SetLimit(p.limit / 2)
			}
		},
	},
	{name: "offset", note: "fixed window, one client, the server's windows start half a window after UTC-aligned boundaries", clients: 1, offset: 0.5},
	{name: "shared", note: "4 clients of the kind share the server, workers split between them", clients: 4},
	{
		name: "background", note: "a background consumer takes 30% of each window's quota, evenly spread", clients: 1,
		during: func(ctx context.Context, srv *ratehttptest.Server, p params, _ func(int) time.Time) {
			n := max(int(p.consume*float64(p.limit)+0.5), 1)
			tick := time.NewTicker(p.window / time.Duration(n))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					srv.Consume(1)
				}
			}
		},
	},
}

// params are the settings of every run.
type params struct {
	limit   int           // requests per window
	window  time.Duration // window length
	windows int           // windows per run, the first (partial) one skipped
	phase   float64       // fraction of a window between a boundary and the start of the load
	consume float64       // share of the quota the background consumer takes
}

// result is the outcome of one run.
type result struct {
	scenario, kind string
	workers        int

	available, accepted int   // over the measured windows
	rejected, rejSteady int   // 429s over the run, and over the measured windows
	attempts            int   // requests the server saw
	successes, failures int   // calls that returned 200, or another status
	errors              int   // calls that returned an error before the run's end
	consumed, limits    int   // the background consumer's grants and the sum of limits, over the measured windows
	perClient           []int // successes of each client
	p50, p99            time.Duration
	elapsed             time.Duration
}

func (r result) utilisation() float64 {
	if r.available == 0 {
		return 0
	}
	return float64(r.accepted) / float64(r.available)
}

func (r result) attemptsPerSuccess() float64 {
	if r.successes == 0 {
		return 0
	}
	return float64(r.attempts) / float64(r.successes)
}

// run drives unlimited demand from workers goroutines, split between the
// scenario's clients, against a fresh loopback server, for p.windows windows
// and half a window.
// The load starts p.phase into a window so that no limiter starts in phase
// with the server by chance; that first, partial window is not measured.
func run(ctx context.Context, sc scenario, k kind, workers int, p params) (result, error) {
	offset := time.Duration(sc.offset * float64(p.window))
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: p.limit, Window: p.window, Offset: offset})
	url := srv.Start() + "/v1/items"
	defer srv.Close()

	// Windows of a FixedWindow server start at offset + k*window. Window 0
	// is the partial one the load starts in; window k >= 1 starts at
	// boundary(k).
	now := time.Now()
	start := alignDown(now, p.window, offset).Add(time.Duration(p.phase * float64(p.window)))
	if start.Before(now.Add(20 * time.Millisecond)) {
		start = start.Add(p.window)
	}
	first := alignDown(start, p.window, offset).Add(p.window)
	boundary := func(k int) time.Time { return first.Add(time.Duration(k-1) * p.window) }
	// The load runs half a window past the last measured one. Ending at a
	// boundary would cut off the requests that limiters send as a window
	// opens: the server would count them, and their callers not.
	end := boundary(p.windows).Add(p.window / 2)
	runLen := end.Sub(start)

	if !sleepUntil(ctx, start) {
		return result{}, ctx.Err()
	}
	// Clients are built at the start of the load, out of phase with the
	// server's windows, so that a limiter whose periods start when it is
	// built (failsafe-go's) is not in phase by accident.
	var clients []*http.Client
	var bases []*http.Transport
	for range sc.clients {
		base := bench.NewLoopbackTransport()
		bases = append(bases, base)
		clients = append(clients, &http.Client{Transport: k.new(base, p.limit, p.window, runLen)})
	}
	defer func() {
		for _, b := range bases {
			b.CloseIdleConnections()
		}
	}()

	rctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	var wg sync.WaitGroup
	if sc.during != nil {
		wg.Go(func() { sc.during(rctx, srv, p, boundary) })
	}
	stats := make([]workerStats, workers)
	for i := range workers {
		c := clients[i%len(clients)]
		wg.Go(func() { stats[i] = work(rctx, c, url) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}

	r := result{scenario: sc.name, kind: k.name, workers: workers, elapsed: time.Since(start)}
	r.perClient = make([]int, len(clients))
	var lat []time.Duration
	for i, s := range stats {
		r.perClient[i%len(clients)] += s.successes
		r.successes += s.successes
		r.failures += s.failures
		r.errors += s.errors
		lat = append(lat, s.latencies...)
	}
	slices.Sort(lat)
	r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	st := srv.Stats()
	r.rejected = st.Rejected
	r.attempts = st.Accepted + st.Rejected
	// Windows reports windows up to the last request only: a window after
	// it (a stack that stopped sending) was available all the same, at the
	// limit then in force.
	recs := make(map[time.Time]ratehttptest.WindowStats)
	for _, w := range srv.Windows() {
		recs[w.Start.UTC()] = w
	}
	limit := p.limit
	for k := 1; k < p.windows; k++ {
		w, ok := recs[boundary(k).UTC()]
		if ok {
			limit = w.Limit
		} else {
			w = ratehttptest.WindowStats{Limit: limit}
		}
		r.available += max(w.Limit-w.Consumed, 0)
		r.consumed += w.Consumed
		r.limits += w.Limit
		r.accepted += w.Accepted
		r.rejSteady += w.Rejected
	}
	return r, nil
}

// workerStats is what one worker saw.
type workerStats struct {
	successes, failures, errors int
	latencies                   []time.Duration // of successes
}

// work sends GET requests back to back until ctx ends. A call cut short by
// the end of the run counts for nothing. After any other error the worker
// pauses 10 ms, so that a stack that fails fast cannot spin.
func work(ctx context.Context, c *http.Client, url string) workerStats {
	var s workerStats
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			panic(err) // a constant, valid URL
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				// The run is over, or the stack knows that no wait could end
				// before it is.
				return s
			}
			s.errors++
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		d := time.Since(t0)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ctx.Err() != nil {
			return s
		}
		if resp.StatusCode == http.StatusOK {
			s.successes++
			s.latencies = append(s.latencies, d)
		} else {
			s.failures++
		}
	}
	return s
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

// alignDown returns the start of the window of length w containing t, with
// windows starting at offset + k*w since the Unix epoch, as a FixedWindow
// server aligns them.
func alignDown(t time.Time, w, offset time.Duration) time.Time {
	ns := t.UnixNano() - int64(offset)
	return time.Unix(0, ns-ns%int64(w)+int64(offset)).UTC()
}

// sleepUntil sleeps until t and reports whether ctx was still live then.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeTable prints the results of one scenario as a Markdown table.
func writeTable(w io.Writer, sc scenario, rs []result) {
	fmt.Fprintf(w, "\n### %s: %s\n\n", sc.name, sc.note)
	extra := ""
	switch sc.name {
	case "background":
		extra = " consumer's share |"
	case "shared":
		extra = " successes per client |"
	}
	fmt.Fprintf(w, "| kind | workers | utilisation | accepted/available | 429s (run) | 429s (measured) | attempts/success | p50 | p99 | non-200 | errors |%s\n", extra)
	fmt.Fprint(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if extra != "" {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %.1f%% | %d/%d | %d | %d | %.2f | %s | %s | %d | %d |",
			r.kind, r.workers, 100*r.utilisation(), r.accepted, r.available,
			r.rejected, r.rejSteady, r.attemptsPerSuccess(), fmtDur(r.p50), fmtDur(r.p99), r.failures, r.errors)
		switch sc.name {
		case "background":
			share := 0.0
			if r.limits > 0 {
				share = 100 * float64(r.consumed) / float64(r.limits)
			}
			fmt.Fprintf(w, " %.1f%% |", share)
		case "shared":
			fmt.Fprintf(w, " %s |", joinInts(r.perClient))
		}
		fmt.Fprintln(w)
	}
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " / ")
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
