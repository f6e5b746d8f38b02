package loadtest

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reporter samples ratehttp's gauges into the time series every quarter of
// a second, and prints the progress line: redrawn in place on a terminal, a
// plain line every two seconds otherwise (a log, a pipe, CI).
type reporter struct {
	w        io.Writer
	terminal bool
	open     bool // the open model: show the requests in flight
	stats    *stats
	gauges   func() gauges
}

// start samples and prints progress until the returned function is called;
// that function waits for the last sample and line.
func (r *reporter) start(t0 time.Time) (stop func()) {
	const sampleEvery = 250 * time.Millisecond
	printEvery := 2 * time.Second
	if r.terminal {
		printEvery = sampleEvery
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		printed := time.Duration(0)
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				g := r.gauges()
				r.stats.sample(now, g)
				if elapsed := now.Sub(t0); elapsed-printed >= printEvery-sampleEvery/2 {
					printed = elapsed
					r.print(elapsed, g)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		g := r.gauges()
		r.stats.sample(time.Now(), g)
		if r.terminal {
			r.print(time.Since(t0), g) // the final counts, then leave the line
			fmt.Fprintln(r.w)
		}
	}
}

func (r *reporter) print(elapsed time.Duration, g gauges) {
	st := r.stats
	st.mu.Lock()
	q := st.quota
	st.mu.Unlock()
	line := fmt.Sprintf("%5.1fs  requests %d  ok %d  429s %d  retries %d  paced %s  server limit %s remaining %s",
		elapsed.Seconds(), st.requests.Load(), st.successes.Load(), st.throttled.Load(), st.retries.Load(),
		g.pacedRate(), quotaCount(q.limit, g, gaugeLimit), quotaCount(q.remaining, g, gaugeRemaining))
	if r.open {
		line += fmt.Sprintf("  in flight %d", st.inFlight.Load())
	}
	if n := st.failed.Load(); n > 0 {
		line += fmt.Sprintf("  failed %d", n)
	}
	if r.terminal {
		fmt.Fprintf(r.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(r.w, line)
}

// quotaCount formats a count from the headers, or else from ratehttp's
// gauge (with -used auto, the headers alone do not say what remains).
func quotaCount(n int64, g gauges, gauge string) string {
	if n >= 0 {
		return strconv.FormatInt(n, 10)
	}
	if v, ok := g[gauge]; ok {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return "?"
}

// Names of ratehttp's gauges read here.
const (
	gaugeLimit     = "ratehttp_quota_limit"
	gaugeRemaining = "ratehttp_quota_remaining"
	gaugeWindow    = "ratehttp_quota_window_seconds"
	gaugePace      = "ratehttp_pace_requests_per_second"
)

// gauges are the values of ratehttp's gauges, by metric name, for the target
// host.
type gauges map[string]float64

// readGauges gathers the gauges registered in g. With several hosts (several
// targets, or a redirect), the first series found is used.
func readGauges(g prometheus.Gatherer) gauges {
	out := gauges{}
	mfs, _ := g.Gather() // on error, what could be gathered is still returned
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetGauge() != nil {
				out[mf.GetName()] = m.GetGauge().GetValue()
				break
			}
		}
	}
	return out
}

func (g gauges) pacedRate() string {
	v, ok := g[gaugePace]
	switch {
	case !ok:
		return "?"
	case v <= 0:
		return "off"
	}
	return fmt.Sprintf("%.1f/s", v)
}

// describeRun is the line printed before the run starts.
func describeRun(o *options, targets []target, embedded bool) string {
	var b strings.Builder
	if embedded {
		fmt.Fprintf(&b, "Simulated API (ratehttptest, %s): %d requests per %v, announced in X-Ratelimit headers; %v service time.\n",
			o.server.Policy, o.server.Limit, o.server.Window, o.server.Latency)
	}
	fmt.Fprintf(&b, "%s %s", targets[0].method, redact(targets[0].url))
	if len(targets) > 1 {
		fmt.Fprintf(&b, " and %s", plural(len(targets)-1, "other target"))
	}
	if o.rate > 0 {
		fmt.Fprintf(&b, " at %g requests/s (open model, up to %s in flight), ", o.rate, plural(o.maxWorkers, "request"))
	} else {
		fmt.Fprintf(&b, " from %s with unlimited demand (closed model), ", plural(o.concurrency, "worker"))
	}
	if o.rampUp > 0 {
		fmt.Fprintf(&b, "ramping up over %v, ", o.rampUp)
	}
	switch {
	case o.n > 0 && o.duration > 0:
		fmt.Fprintf(&b, "%s or %v, whichever comes first:", plural(int(o.n), "request"), o.duration)
	case o.n > 0:
		fmt.Fprintf(&b, "%s:", plural(int(o.n), "request"))
	default:
		fmt.Fprintf(&b, "for %v:", o.duration)
	}
	return b.String()
}

// plural returns "1 worker", "2 workers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
