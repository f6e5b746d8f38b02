package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// summary is the outcome of a run, as -json prints it.
type summary struct {
	Target      string   `json:"target"`            // the first target, without secrets
	Targets     []string `json:"targets,omitempty"` // every target, when there are several
	Model       string   `json:"model"`             // "closed" (-c workers) or "open" (-rate arrivals per second)
	Seconds     float64  `json:"seconds"`
	Concurrency int      `json:"concurrency,omitempty"` // closed model: workers
	Rate        float64  `json:"rate,omitempty"`        // open model: arrivals per second asked for
	MaxWorkers  int      `json:"max_workers,omitempty"` // open model: bound on the requests in flight
	OfferedRate float64  `json:"offered_rate"`          // requests started per second
	Dropped     int64    `json:"dropped"`               // open model: arrivals not started, -max-workers being in flight
	MaxInFlight int64    `json:"max_in_flight"`         // the most requests in flight at once
	Interrupted bool     `json:"interrupted,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`

	Requests  int64            `json:"requests"`         // finished, in any way
	Attempts  int64            `json:"attempts"`         // sent, retries included
	Successes int64            `json:"successes"`        // final status below 400
	Status429 int64            `json:"status_429"`       // attempts answered 429
	Retries   int64            `json:"retries"`          // attempts after a request's first
	Rejected  int64            `json:"rejected"`         // final status 429 after the retries
	Refused   int64            `json:"refused_locally"`  // ratehttp.ErrRateLimited
	Failed    int64            `json:"failed"`           // for reasons other than the quota, timeouts included
	Timeouts  int64            `json:"timeouts"`         // failed because -timeout passed
	Cancelled int64            `json:"cancelled"`        // cut off by the end of the run
	Statuses  map[string]int64 `json:"statuses"`         // final status of finished requests that got a response
	Errors    map[string]int64 `json:"errors,omitempty"` // finished requests without a response (but refusals), by error
	FirstErr  string           `json:"first_error,omitempty"`

	Limit          int64   `json:"quota_limit,omitempty"`          // requests per window
	WindowSeconds  float64 `json:"quota_window_seconds,omitempty"` // window length
	AdvertisedRate float64 `json:"advertised_rate,omitempty"`      // limit / window, per second
	AchievedRate   float64 `json:"achieved_rate"`                  // successes per second
	QuotaUsed      int64   `json:"quota_used"`                     // attempts the server counted: answered, but not 429
	QuotaAvailable float64 `json:"quota_available,omitempty"`      // what remained at the start + limit × seconds / window
	Utilisation    float64 `json:"utilisation,omitempty"`          // quota_used / quota_available
	PacedRate      float64 `json:"paced_rate,omitempty"`           // ratehttp's pace at the end, per second

	Latency       latencySummary `json:"latency_seconds"`             // of finished requests with a response, waits included
	Histogram     []histogramBin `json:"latency_histogram,omitempty"` // the same latencies
	WaitedSeconds float64        `json:"waited_seconds"`              // summed over requests: for the quota and between retries
	BytesIn       int64          `json:"bytes_in"`                    // response bodies read, of every attempt
	BytesOut      int64          `json:"bytes_out"`                   // request bodies sent, of every attempt

	Thresholds []thresholdResult `json:"thresholds,omitempty"`
	Server     *serverSummary    `json:"server,omitempty"` // the embedded server's own accounting
}

// serverSummary is what the embedded server counted.
type serverSummary struct {
	Accepted int             `json:"accepted"`
	Rejected int             `json:"rejected"`
	Windows  []windowSummary `json:"windows"`
	// FullWindowUtilisation is the share of the quota used in the windows
	// the run covered whole: all but the first and the last. Zero when
	// there are none, and under the bucket policies (token, gcra, leaky),
	// whose burst lets a window accept more than its limit: there the
	// share would read as an overrun that is none.
	FullWindowUtilisation float64 `json:"full_window_utilisation,omitempty"`
}

type windowSummary struct {
	Start    time.Time `json:"start"`
	Limit    int       `json:"limit"`
	Accepted int       `json:"accepted"`
	Rejected int       `json:"rejected"`
}

// histogramBars is the number of bars of the latency histogram.
const histogramBars = 40

func summarise(o *options, targets []target, res result, st *stats, g gauges) summary {
	s := summary{
		Target:      redact(targets[0].url),
		Model:       "closed",
		Seconds:     res.elapsed.Seconds(),
		Interrupted: res.interrupted,
		Dropped:     st.dropped.Load(),
		MaxInFlight: st.peak.Load(),
		Requests:    st.requests.Load(),
		Attempts:    st.attempts.Load(),
		Successes:   st.successes.Load(),
		Status429:   st.throttled.Load(),
		Retries:     st.retries.Load(),
		Rejected:    st.rejected.Load(),
		Refused:     st.refused.Load(),
		Failed:      st.failed.Load(),
		Timeouts:    st.timeouts.Load(),
		Cancelled:   st.cancelled.Load(),
		QuotaUsed:   st.answered.Load() - st.throttled.Load(),
		BytesIn:     st.bytesIn.Load(),
		BytesOut:    st.bytesOut.Load(),
		Statuses:    map[string]int64{},
	}
	if len(targets) > 1 {
		for _, t := range targets {
			s.Targets = append(s.Targets, t.method+" "+redact(t.url))
		}
	}
	if o.rate > 0 {
		s.Model, s.Rate, s.MaxWorkers = "open", o.rate, o.maxWorkers
	} else {
		s.Concurrency = o.concurrency
	}
	s.WaitedSeconds = time.Duration(st.waited.Load()).Seconds()
	if s.Seconds > 0 {
		s.AchievedRate = float64(s.Successes) / s.Seconds
		s.OfferedRate = float64(st.issued.Load()) / s.Seconds
	}

	st.mu.Lock()
	for code, n := range st.statuses {
		s.Statuses[strconv.Itoa(code)] = n
	}
	if len(st.errs) > 0 {
		s.Errors = map[string]int64{}
		for msg, n := range st.errs {
			s.Errors[msg] = n
		}
	}
	s.FirstErr = st.firstErr
	s.Latency = st.latency.summary()
	s.Histogram = st.latency.bins(histogramBars)
	q, first, firstTaken := st.quota, st.firstQuota, st.firstTaken
	st.mu.Unlock()

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
		s.QuotaAvailable = quotaAtStart(first, firstTaken, s.Limit) + s.AdvertisedRate*s.Seconds
		s.Utilisation = float64(s.QuotaUsed) / s.QuotaAvailable
	}
	s.Warnings = warnings(o, res, s)
	return s
}

// quotaAtStart is what the quota allowed when the run started: what the
// first response with quota headers said remained, plus that request itself
// unless it was a 429. When the headers do not say what remains, it is a
// whole window's limit.
func quotaAtStart(first quotaHeaders, taken bool, limit int64) float64 {
	if first.remaining < 0 {
		return float64(limit)
	}
	if taken {
		return float64(first.remaining + 1)
	}
	return float64(first.remaining)
}

// warnings are what the summary must point out about the run itself.
func warnings(o *options, res result, s summary) []string {
	var w []string
	if s.Model == "open" {
		if s.Dropped > 0 {
			w = append(w, fmt.Sprintf("the offered rate was not met: %s of %d dropped, %s being in flight (raise -max-workers or lower -rate)",
				plural(int(s.Dropped), "arrival"), res.asked, plural(o.maxWorkers, "request")))
		}
		if res.due > 0 && float64(res.asked) < 0.95*float64(res.due) {
			w = append(w, fmt.Sprintf("the offered rate was not met: %d arrivals started of %d due (the machine could not keep up)",
				res.asked, res.due))
		}
	}
	return w
}

func serverReport(srv *ratehttptest.Server, policy ratehttptest.Policy) *serverSummary {
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
	windowed := policy == ratehttptest.FixedWindow || policy == ratehttptest.SlidingWindow || policy == ratehttptest.WeightedWindow
	if limit > 0 && windowed {
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
	n := func(v int64) string { return strconv.FormatInt(v, 10) }

	end := "done"
	if s.Interrupted {
		end = "interrupted"
	}
	how := plural(s.Concurrency, "worker")
	if s.Model == "open" {
		how = fmt.Sprintf("%g requests/s asked, at most %s in flight", s.Rate, plural(int(s.MaxInFlight), "request"))
	}
	fmt.Fprintf(w, "\nSummary (%s after %.1fs, %s)\n", end, s.Seconds, how)
	note := func(count int64, format string) string {
		if count == 0 {
			return ""
		}
		return fmt.Sprintf(format, count)
	}
	row("requests", n(s.Requests), "finished"+note(s.Cancelled, "; %d more cut off by the end of the run"))
	if s.Model == "open" {
		row("offered rate", fmt.Sprintf("%.1f/s", s.OfferedRate), fmt.Sprintf("requests started, of the %g/s asked", s.Rate))
		row("dropped", n(s.Dropped), fmt.Sprintf("arrivals not started: -max-workers (%d) requests were in flight", s.MaxWorkers))
	}
	row("attempts", n(s.Attempts), "sent to the server, retries included")
	row("successes", n(s.Successes), statusNote(s.Statuses))
	row("429s", n(s.Status429), percent(s.Status429, s.Attempts)+" of attempts"+note(s.Rejected, "; %d requests still 429 after their retries"))
	row("retries", n(s.Retries), "")
	row("refused locally", n(s.Refused), "ratehttp.ErrRateLimited: the quota would not free up within -max-wait (or -timeout)")
	failNote := note(s.Timeouts, "%d timed out (-timeout)")
	if s.FirstErr != "" {
		failNote = strings.TrimPrefix(failNote+"; first: "+s.FirstErr, "; ")
	}
	row("failed", n(s.Failed), failNote)
	rateNote := "successes per second; the server advertised no quota"
	if s.AdvertisedRate > 0 {
		rateNote = fmt.Sprintf("successes per second; the server advertised %.1f/s (%d per %v)", s.AdvertisedRate, s.Limit, seconds(s.WindowSeconds))
	}
	row("achieved rate", fmt.Sprintf("%.1f/s", s.AchievedRate), rateNote)
	if s.QuotaAvailable > 0 {
		row("quota used", fmt.Sprintf("%.1f%%", 100*s.Utilisation), fmt.Sprintf("%d of the %.0f the quota allowed in %.1fs: what remained at the start + %d per %v%s",
			s.QuotaUsed, s.QuotaAvailable, s.Seconds, s.Limit, seconds(s.WindowSeconds), overNote(s.Utilisation)))
	}
	l := s.Latency
	row("latency p50", seconds(l.P50).String(), fmt.Sprintf("p90 %v, p95 %v, p99 %v, max %v (queueing for the quota included)",
		seconds(l.P90), seconds(l.P95), seconds(l.P99), seconds(l.Max)))
	row("latency mean", seconds(l.Mean).String(), fmt.Sprintf("min %v, stddev %v", seconds(l.Min), seconds(l.StdDev)))
	row("time waited", seconds(s.WaitedSeconds).String(), "summed over requests: for the quota and between retries")
	row("bytes in", bytesText(s.BytesIn), "response bodies; out: "+bytesText(s.BytesOut)+" of request bodies")
	if s.Server != nil {
		var ws []string
		for _, win := range s.Server.Windows {
			ws = append(ws, fmt.Sprintf("%d/%d", win.Accepted, win.Limit))
		}
		row("server windows", "", strings.Join(ws, " ")+" accepted/limit, as the server counted")
		if s.Server.FullWindowUtilisation > 0 {
			row("full windows", fmt.Sprintf("%.1f%%", 100*s.Server.FullWindowUtilisation), "of the quota used, in the windows the run covered whole"+overNote(s.Server.FullWindowUtilisation))
		}
	}
	for _, t := range s.Thresholds {
		verdict := "ok"
		if !t.Pass {
			verdict = "CROSSED"
		}
		row("threshold", verdict, fmt.Sprintf("%s: %s", t.Threshold, t.Value))
	}
	for _, warning := range s.Warnings {
		row("warning", "", warning)
	}
}

// overNote explains a share of the quota over 100%, which is not an overrun:
// the server accepted those requests.
func overNote(share float64) string {
	if share <= 1 {
		return ""
	}
	return " (over 100%: a window reset more than the run's length implies, or a bucket's burst; not an overrun)"
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

// bytesText formats a byte count: "512 B", "1.5 kB", "3.2 MB".
func bytesText(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
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
