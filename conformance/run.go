package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ratehttp/ratehttp"
)

// Options tune a run. Zero fields take the defaults.
type Options struct {
	// Workers is the number of goroutines, each with unlimited demand.
	// The default is 8.
	Workers int
	// Duration is how long the workers run. The default is 10 s or five of
	// the case's windows, whichever is longer (the first window, in which
	// a client learns the quota, is not measured), plus 100 ms so that the last
	// window, opened a little after the run started, ends inside it.
	Duration time.Duration
	// RequestTimeout bounds each request, its waits inside the client
	// included. The default is 5 s.
	RequestTimeout time.Duration
	// MaxPerWorker bounds the requests of each worker. The default is 200,000.
	MaxPerWorker int
}

func (o Options) withDefaults(c Case) Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Duration <= 0 {
		o.Duration = max(10*time.Second, 5*c.Window) + 100*time.Millisecond
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.MaxPerWorker <= 0 {
		o.MaxPerWorker = 200_000
	}
	return o
}

// Result is what one run of one case with one client measured. Server-side
// figures cover the measured span [From, To) unless said otherwise.
type Result struct {
	Case   string
	Client Client

	Start, End time.Time // the run
	From, To   time.Time // the measured span

	// Accepted, Rejected and Other count the server's answers in the span.
	Accepted, Rejected, Other int
	// Allowance is what the server would have accepted in the span.
	Allowance float64
	// WorstSecond is the most rejections in one second, from From to End.
	WorstSecond int

	// P50 and P99 are the latencies of the requests that got a response and
	// started in the span, waits in the client included.
	P50, P99 time.Duration
	// Responses counts the responses the workers got over the whole run;
	// FinalRejected those of them with status 429 or 503.
	Responses, FinalRejected int
	// Refused counts requests refused locally (ratehttp.ErrRateLimited).
	Refused int
	// Errors counts other errors before the end of the run; FirstError is
	// the first of them.
	Errors     int
	FirstError string

	// ServerAccepted and ServerRejected are the server's own totals over the
	// whole run; WireAccepted and WireRejected count the attempts the client
	// sent (retries included) and their answers.
	ServerAccepted, ServerRejected int
	WireAccepted, WireRejected     int
	// FromServer reports whether the span's figures come from the server's
	// log (else from the attempts as the client sent them).
	FromServer bool
}

// Share returns the share of the allowance used, or 0 when there was none.
func (r Result) Share() float64 {
	if r.Allowance <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Allowance
}

// RejectShare returns the share of the span's attempts that were rejected.
func (r Result) RejectShare() float64 {
	return float64(r.Rejected) / float64(max(r.Accepted+r.Rejected, 1))
}

// String summarises the result on one line.
func (r Result) String() string {
	src := "client attempts"
	if r.FromServer {
		src = "server log"
	}
	s := fmt.Sprintf("%s/%s: span %.2fs..%.2fs: accepted %d of %.1f allowed (%.1f%%), rejected %d of %d attempts (%.2f%%), other statuses %d, worst second %d; p50 %v p99 %v; responses %d (final 429/503 %d), refused %d, errors %d; whole run: server %d/%d, wire %d/%d accepted/rejected (figures from the %s)",
		r.Case, r.Client, r.From.Sub(r.Start).Seconds(), r.To.Sub(r.Start).Seconds(),
		r.Accepted, r.Allowance, 100*r.Share(), r.Rejected, r.Accepted+r.Rejected, 100*r.RejectShare(), r.Other, r.WorstSecond,
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Responses, r.FinalRejected, r.Refused, r.Errors,
		r.ServerAccepted, r.ServerRejected, r.WireAccepted, r.WireRejected, src)
	if r.FirstError != "" {
		s += "; first error: " + r.FirstError
	}
	return s
}

// Run starts a fresh limiter of case c, drives it with a client of the given
// kind from o.Workers goroutines for o.Duration, stops it and returns what it
// measured. It returns Start's error, if any. Cancelling ctx ends the run
// early.
func Run(ctx context.Context, c Case, kind Client, o Options) (Result, error) {
	o = o.withDefaults(c)
	tg, err := c.Start()
	if err != nil {
		return Result{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			tg.Stop()
		}
	}()

	base := newBase(o.Workers)
	wire := &recorder{base: base}
	client := &http.Client{Transport: kind.transport(wire, c)}

	start := time.Now()
	end := start.Add(o.Duration)
	// The end of the run cancels rather than passes a deadline, so that
	// clients do not refuse requests for running into it.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(o.Duration, cancel)
	defer timer.Stop()

	stats := make([]workerStats, o.Workers)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Go(func() { stats[i].work(runCtx, client, tg.URL, end, o) })
	}
	wg.Wait()
	client.CloseIdleConnections()
	tg.Stop()
	stopped = true
	base.CloseIdleConnections()

	r := Result{Case: c.Name, Client: kind, Start: start, End: end}
	r.WireAccepted, r.WireRejected = wire.log.Counts()
	ev := wire.log.Events()
	if tg.Log != nil {
		ev = tg.Log.Events()
		r.FromServer = true
	}
	switch {
	case tg.Count != nil:
		r.ServerAccepted, r.ServerRejected = tg.Count()
	case tg.Log != nil:
		r.ServerAccepted, r.ServerRejected = tg.Log.Counts()
	default:
		r.ServerAccepted, r.ServerRejected = -1, -1
	}

	sp := measuredSpan(c, tg.Epoch, ev, start, end)
	r.From, r.To, r.Allowance = sp.from, sp.to, sp.allowance
	t := count(ev, sp.from, sp.to)
	r.Accepted, r.Rejected, r.Other = t.accepted, t.rejected, t.other
	r.WorstSecond = worstSecond(ev, sp.from, end)

	var lat []time.Duration
	for _, s := range stats {
		r.Responses += s.responses
		r.FinalRejected += s.finalRejected
		r.Refused += s.refused
		r.Errors += s.errors
		if r.FirstError == "" {
			r.FirstError = s.firstError
		}
		for _, l := range s.latencies {
			if !l.start.Before(sp.from) {
				lat = append(lat, l.d)
			}
		}
	}
	r.P99 = percentile(lat, 0.99)
	r.P50 = percentile(lat, 0.50)
	return r, nil
}

// workerStats is what one worker saw.
type workerStats struct {
	responses, finalRejected, refused, errors int
	firstError                                string
	latencies                                 []latency
}

type latency struct {
	start time.Time
	d     time.Duration
}

// work sends requests one after another until ctx ends or o.MaxPerWorker is
// reached. A request refused locally with a *ratehttp.RateLimitError is
// followed by a sleep of its Wait, bounded by end.
func (s *workerStats) work(ctx context.Context, client *http.Client, url string, end time.Time, o Options) {
	for range o.MaxPerWorker {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		resp, err := get(ctx, client, url, o.RequestTimeout)
		switch {
		case err == nil:
			s.responses++
			if rejected(resp.StatusCode) {
				s.finalRejected++
			}
			s.latencies = append(s.latencies, latency{start: t0, d: time.Since(t0)})
		case errors.Is(err, ratehttp.ErrRateLimited):
			s.refused++
			var rl *ratehttp.RateLimitError
			if errors.As(err, &rl) && rl.Wait > 0 {
				sleep(ctx, min(rl.Wait, time.Until(end)))
			}
		case ctx.Err() == nil:
			s.errors++
			if s.firstError == "" {
				s.firstError = err.Error()
			}
			sleep(ctx, 10*time.Millisecond) // no tight loop on a broken server
		}
	}
}

// get sends one GET with its own timeout and reads and closes the body.
func get(ctx context.Context, client *http.Client, url string, timeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	return resp, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
