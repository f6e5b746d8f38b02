package loadtest

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// secondRow is one second of the run, as -out writes it and the HTML report
// draws it. Attempts count in the second their answer came, requests in the
// second they started (requests, dropped) or ended (refused, latency). The
// quota and the pace are the newest values known at the end of the second.
type secondRow struct {
	T        int     `json:"t"`       // seconds since the start; the row covers [t, t+seconds)
	Duration float64 `json:"seconds"` // 1, or less for the last second

	Requests  int64 `json:"requests"`     // started by the load generator
	Dropped   int64 `json:"dropped"`      // open model: arrivals not started
	Sent      int64 `json:"sent"`         // attempts sent to the server, retries included
	OK        int64 `json:"status_2xx"`   // attempts answered 2xx
	Status429 int64 `json:"status_429"`   // attempts answered 429
	Other     int64 `json:"status_other"` // attempts answered another status
	Errors    int64 `json:"errors"`       // attempts without an answer
	Refused   int64 `json:"refused"`      // requests refused locally by ratehttp
	Finished  int64 `json:"finished"`     // requests that ended with a response (their latency is below)
	InFlight  int64 `json:"in_flight"`    // requests in flight, sampled
	BytesIn   int64 `json:"bytes_in"`     // response bodies read
	BytesOut  int64 `json:"bytes_out"`    // request bodies sent

	Limit     float64 `json:"quota_limit"`     // as the server reported it; -1 before the first report
	Remaining float64 `json:"quota_remaining"` // as the server reported it; -1 before the first report
	Pace      float64 `json:"pace"`            // requests per second the Transport paced at; 0: not pacing

	Latency latencySummary `json:"latency_seconds"` // of the requests that finished in this second
}

// rows returns the time series of a run that lasted elapsed. A quota or pace
// not reported in a second carries over from the one before. The quota comes
// from the headers, or from ratehttp's gauges when the headers do not say
// (-used auto).
func (s *stats) rows(elapsed time.Duration) []secondRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int((elapsed + time.Second - 1) / time.Second)
	s.at(s.start.Add(elapsed - 1)) // every second of the run exists
	limit, remaining, pace := -1.0, -1.0, 0.0
	out := make([]secondRow, 0, n)
	for t, sec := range s.seconds[:max(n, 1)] {
		switch {
		case sec.limit >= 0:
			limit = float64(sec.limit)
		case sec.gaugeLimit >= 0:
			limit = sec.gaugeLimit
		}
		switch {
		case sec.remaining >= 0:
			remaining = float64(sec.remaining)
		case sec.gaugeRemaining >= 0:
			remaining = sec.gaugeRemaining
		}
		if sec.pace >= 0 {
			pace = sec.pace
		}
		out = append(out, secondRow{
			T:         t,
			Duration:  min(elapsed-time.Duration(t)*time.Second, time.Second).Seconds(),
			Requests:  sec.requests,
			Dropped:   sec.dropped,
			Sent:      sec.sent,
			OK:        sec.ok,
			Status429: sec.throttled,
			Other:     sec.other,
			Errors:    sec.errs,
			Refused:   sec.refused,
			Finished:  sec.latency.n,
			InFlight:  sec.inFlight,
			BytesIn:   sec.bytesIn,
			BytesOut:  sec.bytesOut,
			Limit:     limit,
			Remaining: remaining,
			Pace:      pace,
			Latency:   sec.latency.summary(),
		})
	}
	return out
}

// outFormat returns the format -out writes: -out-format if set, else the
// file's extension.
func outFormat(name, format string) (string, error) {
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(name)), ".")
	}
	switch format {
	case "csv":
		return "csv", nil
	case "jsonl", "ndjson", "json":
		return "jsonl", nil
	}
	return "", fmt.Errorf("-out: cannot tell the format of %q: name it .csv or .jsonl, or set -out-format", name)
}

// writeOut writes the time series and the summary to the file name, as JSON
// lines (one object per second, {"type":"second",...}, then
// {"type":"summary",...}) or CSV (one row per second, then a row "total").
func writeOut(name, format string, rows []secondRow, s summary) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if format == "csv" {
		err = writeCSV(w, rows, s)
	} else {
		err = writeJSONLines(w, rows, s)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeJSONLines(w io.Writer, rows []secondRow, s summary) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		line := struct {
			Type string `json:"type"`
			secondRow
		}{"second", r}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return enc.Encode(struct {
		Type string `json:"type"`
		summary
	}{"summary", s})
}

// csvHeader names the CSV columns; latencies are in seconds.
var csvHeader = []string{
	"t", "seconds", "requests", "dropped", "sent", "status_2xx", "status_429", "status_other", "errors", "refused",
	"finished", "in_flight", "bytes_in", "bytes_out", "quota_limit", "quota_remaining", "pace",
	"latency_min", "latency_mean", "latency_p50", "latency_p90", "latency_p95", "latency_p99", "latency_max", "latency_stddev",
}

func writeCSV(w io.Writer, rows []secondRow, s summary) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	lat := func(l latencySummary) []string {
		return []string{f(l.Min), f(l.Mean), f(l.P50), f(l.P90), f(l.P95), f(l.P99), f(l.Max), f(l.StdDev)}
	}
	var total secondRow
	for _, r := range rows {
		cw.Write(append([]string{
			strconv.Itoa(r.T), f(r.Duration), i(r.Requests), i(r.Dropped), i(r.Sent), i(r.OK), i(r.Status429), i(r.Other),
			i(r.Errors), i(r.Refused), i(r.Finished), i(r.InFlight), i(r.BytesIn), i(r.BytesOut), f(r.Limit), f(r.Remaining), f(r.Pace),
		}, lat(r.Latency)...))
		total.Requests += r.Requests
		total.Dropped += r.Dropped
		total.Sent += r.Sent
		total.OK += r.OK
		total.Status429 += r.Status429
		total.Other += r.Other
		total.Errors += r.Errors
		total.Refused += r.Refused
		total.Finished += r.Finished
		total.Limit, total.Remaining = r.Limit, r.Remaining
	}
	// The totals row takes its counts from the series, and its latencies,
	// bytes, peak in flight and pace from the summary.
	cw.Write(append([]string{
		"total", f(s.Seconds), i(total.Requests), i(total.Dropped), i(total.Sent), i(total.OK), i(total.Status429), i(total.Other),
		i(total.Errors), i(total.Refused), i(total.Finished), i(s.MaxInFlight), i(s.BytesIn), i(s.BytesOut), f(total.Limit), f(total.Remaining), f(s.PacedRate),
	}, lat(s.Latency)...))
	cw.Flush()
	return cw.Error()
}
