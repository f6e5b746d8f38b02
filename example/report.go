package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// reporter prints the progress line: redrawn in place on a terminal, a plain
// line every few seconds otherwise (a log, a pipe, CI).
type reporter struct {
	w        io.Writer
	terminal bool
	stats    *stats
	gauges   func() gauges
}

// start prints progress until the returned function is called; that function
// waits for the last line to be printed.
func (r *reporter) start(t0 time.Time) (stop func()) {
	every := 2 * time.Second
	if r.terminal {
		every = 250 * time.Millisecond
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				r.print(time.Since(t0))
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		if r.terminal {
			r.print(time.Since(t0)) // the final counts, then leave the line
			fmt.Fprintln(r.w)
		}
	}
}

func (r *reporter) print(elapsed time.Duration) {
	st, g := r.stats, r.gauges()
	st.mu.Lock()
	q := st.quota
	st.mu.Unlock()
	line := fmt.Sprintf("%5.1fs  requests %d  ok %d  429s %d  retries %d  paced %s  server limit %s remaining %s",
		elapsed.Seconds(), st.requests.Load(), st.successes.Load(), st.throttled.Load(), st.retries.Load(),
		g.pacedRate(), quotaCount(q.limit, g, gaugeLimit), quotaCount(q.remaining, g, gaugeRemaining))
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

// readGauges gathers the gauges registered in g. There is one host, the
// target; should a redirect add another, the first series found is used.
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
func describeRun(o *options, target *url.URL, embedded bool) string {
	var b strings.Builder
	if embedded {
		fmt.Fprintf(&b, "Simulated API (ratehttptest, %s): %d requests per %v, announced in X-Ratelimit headers; %v service time.\n",
			o.server.Policy, o.server.Limit, o.server.Window, o.server.Latency)
	}
	fmt.Fprintf(&b, "%s %s from %d workers, ", o.method, redact(target), o.concurrency)
	if o.rate > 0 {
		fmt.Fprintf(&b, "offered rate capped at %g/s, ", o.rate)
	} else {
		b.WriteString("unlimited demand, ")
	}
	switch {
	case o.n > 0 && o.duration > 0:
		fmt.Fprintf(&b, "%d requests or %v, whichever comes first:", o.n, o.duration)
	case o.n > 0:
		fmt.Fprintf(&b, "%d requests:", o.n)
	default:
		fmt.Fprintf(&b, "for %v:", o.duration)
	}
	return b.String()
}

// summary is the outcome of a run, as -json prints it.
type summary struct {
	Target      string  `json:"target"`
	Seconds     float64 `json:"seconds"`
	Concurrency int     `json:"concurrency"`
	Interrupted bool    `json:"interrupted,omitempty"`

	Requests  int64            `json:"requests"`        // finished, in any way
	Attempts  int64            `json:"attempts"`        // sent, retries included
	Successes int64            `json:"successes"`       // final status below 400
	Status429 int64            `json:"status_429"`      // attempts answered 429
	Retries   int64            `json:"retries"`         // attempts after a request's first
	Rejected  int64            `json:"rejected"`        // final status 429 after the retries
	Refused   int64            `json:"refused_locally"` // ratehttp.ErrRateLimited
	Failed    int64            `json:"failed"`          // for reasons other than the quota
	Cancelled int64            `json:"cancelled"`       // cut off by the end of the run
	Statuses  map[string]int64 `json:"statuses"`        // final status of finished requests
	FirstErr  string           `json:"first_error,omitempty"`

	Limit          int64   `json:"quota_limit,omitempty"`          // requests per window
	WindowSeconds  float64 `json:"quota_window_seconds,omitempty"` // window length
	AdvertisedRate float64 `json:"advertised_rate,omitempty"`      // limit / window, per second
	AchievedRate   float64 `json:"achieved_rate"`                  // successes per second
	Utilisation    float64 `json:"utilisation,omitempty"`          // achieved / advertised
	PacedRate      float64 `json:"paced_rate,omitempty"`           // ratehttp's pace at the end, per second

	Latency       latencySummary `json:"latency_seconds"` // of finished requests, waits included
	WaitedSeconds float64        `json:"waited_seconds"`  // in total, for the quota and between retries

	Server *serverSummary `json:"server,omitempty"` // the embedded server's own accounting
}

type latencySummary struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// serverSummary is what the embedded server counted.
type serverSummary struct {
	Accepted int             `json:"accepted"`
	Rejected int             `json:"rejected"`
	Windows  []windowSummary `json:"windows"`
	// FullWindowUtilisation is the share of the quota used in the windows
	// the run covered whole: all but the first and the last. Zero when
	// there are none.
	FullWindowUtilisation float64 `json:"full_window_utilisation,omitempty"`
}

type windowSummary struct {
	Start    time.Time `json:"start"`
	Limit    int       `json:"limit"`
	Accepted int       `json:"accepted"`
	Rejected int       `json:"rejected"`
}

func summarise(target *url.URL, res result, st *stats, g gauges, concurrency int) summary {
	s := summary{
		Target:      redact(target),
		Seconds:     res.elapsed.Seconds(),
		Concurrency: concurrency,
		Interrupted: res.interrupted,
		Requests:    st.requests.Load(),
		Attempts:    st.attempts.Load(),
		Successes:   st.successes.Load(),
		Status429:   st.throttled.Load(),
		Retries:     st.retries.Load(),
		Rejected:    st.rejected.Load(),
		Refused:     st.refused.Load(),
		Failed:      st.failed.Load(),
		Cancelled:   st.cancelled.Load(),
		Statuses:    map[string]int64{},
	}
	s.WaitedSeconds = time.Duration(st.waited.Load()).Seconds()
	if s.Seconds > 0 {
		s.AchievedRate = float64(s.Successes) / s.Seconds
	}

	st.mu.Lock()
	for code, n := range st.statuses {
		s.Statuses[strconv.Itoa(code)] = n
	}
	s.FirstErr = st.firstErr
	p := st.latency.percentiles(50, 90, 99, 100)
	q := st.quota
	st.mu.Unlock()
	s.Latency = latencySummary{P50: p[0].Seconds(), P90: p[1].Seconds(), P99: p[2].Seconds(), Max: p[3].Seconds()}

	// The headers, where they say; else what ratehttp understood of them.
	s.Limit, s.WindowSeconds = q.limit, q.window.Seconds()
	if v, ok := g[gaugeLimit]; ok && s.Limit < 0 {
		s.Limit = int64(v)
	}
	if v, ok := g[gaugeWindow]; ok && s.WindowSeconds <= 0 {
		s.WindowSeconds = v
	}
	s.Limit = max(s.Limit, 0)
	s.PacedRate = g[gaugePace]
	if s.Limit > 0 && s.WindowSeconds > 0 {
		s.AdvertisedRate = float64(s.Limit) / s.WindowSeconds
		s.Utilisation = s.AchievedRate / s.AdvertisedRate
	}
	return s
}

func serverReport(srv *ratehttptest.Server) *serverSummary {
	st := srv.Stats()
	s := &serverSummary{Accepted: st.Accepted, Rejected: st.Rejected}
	var accepted, limit int
	ws := srv.Windows()
	for i, w := range ws {
		s.Windows = append(s.Windows, windowSummary{Start: w.Start, Limit: w.Limit, Accepted: w.Accepted, Rejected: w.Rejected})
		if i > 0 && i < len(ws)-1 {
			accepted += w.Accepted
			limit += w.Limit
		}
	}
	if limit > 0 {
		s.FullWindowUtilisation = float64(accepted) / float64(limit)
	}
	return s
}

func writeJSON(w io.Writer, s summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// writeTable prints the summary for people.
func writeTable(w io.Writer, s summary) {
	row := func(name, value, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-16s %8s  %s", name, value, note), " "))
	}
	n := strconv.FormatInt

	end := "done"
	if s.Interrupted {
		end = "interrupted"
	}
	fmt.Fprintf(w, "\nSummary (%s after %.1fs, %d workers)\n", end, s.Seconds, s.Concurrency)
	note := func(count int64, format string) string {
		if count == 0 {
			return ""
		}
		return fmt.Sprintf(format, count)
	}
	row("requests", n(s.Requests, 10), "finished"+note(s.Cancelled, "; %d more cut off by the end of the run"))
	row("attempts", n(s.Attempts, 10), "sent to the server, retries included")
	row("successes", n(s.Successes, 10), statusNote(s.Statuses))
	row("429s", n(s.Status429, 10), percent(s.Status429, s.Attempts)+" of attempts"+note(s.Rejected, "; %d requests still 429 after their retries"))
	row("retries", n(s.Retries, 10), "")
	row("refused locally", n(s.Refused, 10), "ratehttp.ErrRateLimited: the quota would not free up within -max-wait")
	failNote := ""
	if s.FirstErr != "" {
		failNote = "first: " + s.FirstErr
	}
	row("failed", n(s.Failed, 10), failNote)
	rateNote := "the server advertised no quota"
	if s.AdvertisedRate > 0 {
		rateNote = fmt.Sprintf("%.1f%% of the advertised %.1f/s (%d per %v)",
			100*s.Utilisation, s.AdvertisedRate, s.Limit, seconds(s.WindowSeconds))
	}
	row("achieved rate", fmt.Sprintf("%.1f/s", s.AchievedRate), rateNote)
	row("latency p50", seconds(s.Latency.P50).String(), fmt.Sprintf("p90 %v, p99 %v, max %v (queueing for the quota included)",
		seconds(s.Latency.P90), seconds(s.Latency.P99), seconds(s.Latency.Max)))
	row("time waited", seconds(s.WaitedSeconds).String(), "in all requests together, for the quota and between retries")
	if s.Server != nil {
		var ws []string
		for _, win := range s.Server.Windows {
			ws = append(ws, fmt.Sprintf("%d/%d", win.Accepted, win.Limit))
		}
		row("server windows", "", strings.Join(ws, " ")+" accepted/limit, as the server counted")
		if s.Server.FullWindowUtilisation > 0 {
			row("full windows", fmt.Sprintf("%.1f%%", 100*s.Server.FullWindowUtilisation), "of the quota used, in the windows the run covered whole")
		}
	}
}

// statusNote lists the final statuses, such as "200: 412".
func statusNote(statuses map[string]int64) string {
	var parts []string
	for code, count := range statuses {
		parts = append(parts, fmt.Sprintf("%s: %d", code, count))
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return "final statuses " + strings.Join(parts, ", ")
}

func percent(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(part)/float64(whole))
}

// seconds turns seconds into a duration rounded for reading.
func seconds(s float64) time.Duration {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
