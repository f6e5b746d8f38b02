package loadtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// threshold is one pass/fail condition of -thresholds, such as "p99<2s" or
// "429s<1%".
type threshold struct {
	text   string
	metric string
	op     string  // <, <=, > or >=
	value  float64 // seconds for latencies, a fraction for shares and utilisation, else as written
	share  bool    // a count metric written with %: compare its share, not its count
}

// thresholdResult is a threshold as the summary reports it.
type thresholdResult struct {
	Threshold string `json:"threshold"`
	Value     string `json:"value"` // measured, in the threshold's terms
	Pass      bool   `json:"pass"`
}

// latencyMetrics are read from summary.Latency, in seconds.
var latencyMetrics = map[string]func(latencySummary) float64{
	"min":    func(l latencySummary) float64 { return l.Min },
	"mean":   func(l latencySummary) float64 { return l.Mean },
	"p50":    func(l latencySummary) float64 { return l.P50 },
	"p90":    func(l latencySummary) float64 { return l.P90 },
	"p95":    func(l latencySummary) float64 { return l.P95 },
	"p99":    func(l latencySummary) float64 { return l.P99 },
	"max":    func(l latencySummary) float64 { return l.Max },
	"stddev": func(l latencySummary) float64 { return l.StdDev },
}

// countMetrics are counts, with the whole their share is taken of.
var countMetrics = map[string]func(summary) (part, whole int64){
	"429s":     func(s summary) (int64, int64) { return s.Status429, s.Attempts },
	"failed":   func(s summary) (int64, int64) { return s.Failed, s.Requests },
	"timeouts": func(s summary) (int64, int64) { return s.Timeouts, s.Requests },
	"refused":  func(s summary) (int64, int64) { return s.Refused, s.Requests },
	"rejected": func(s summary) (int64, int64) { return s.Rejected, s.Requests },
	"success":  func(s summary) (int64, int64) { return s.Successes, s.Requests },
	"retries":  func(s summary) (int64, int64) { return s.Retries, s.Requests },
	"dropped":  func(s summary) (int64, int64) { return s.Dropped, s.Dropped + s.Requests + s.Cancelled },
}

// thresholdNames lists the metrics -thresholds knows, for -h and errors.
func thresholdNames() string {
	var names []string
	for name := range latencyMetrics {
		names = append(names, name)
	}
	for name := range countMetrics {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(append(names, "rate", "utilisation"), ", ")
}

// parseThresholds reads a comma-separated list of conditions, each a metric,
// an operator (<, <=, >, >=) and a value: a duration for latencies (p99<2s),
// a count or a percentage for counts (429s<1%, failed<=0), successes per
// second for rate (rate>15) and a percentage or fraction for utilisation.
func parseThresholds(v string) ([]threshold, error) {
	var out []threshold
	for _, text := range strings.Split(v, ",") {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		th, err := parseThreshold(text)
		if err != nil {
			return nil, fmt.Errorf("-thresholds: %q: %v", text, err)
		}
		out = append(out, th)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-thresholds: no condition in %q", v)
	}
	return out, nil
}

func parseThreshold(text string) (threshold, error) {
	i := strings.IndexAny(text, "<>")
	if i < 0 {
		return threshold{}, fmt.Errorf("want metric<value, such as p99<2s or 429s<1%%")
	}
	th := threshold{text: text, metric: strings.TrimSpace(text[:i]), op: text[i : i+1]}
	rest := text[i+1:]
	if strings.HasPrefix(rest, "=") {
		th.op += "="
		rest = rest[1:]
	}
	rest = strings.TrimSpace(rest)
	pct, isPct := strings.CutSuffix(rest, "%")
	switch _, latency := latencyMetrics[th.metric]; {
	case latency:
		d, err := time.ParseDuration(rest)
		if err != nil {
			return threshold{}, fmt.Errorf("want a duration such as 2s or 300ms")
		}
		th.value = d.Seconds()
		return th, nil
	case th.metric == "rate":
		f, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return threshold{}, fmt.Errorf("want successes per second, such as 15")
		}
		th.value = f
		return th, nil
	case th.metric == "utilisation":
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil {
			return threshold{}, fmt.Errorf("want a percentage such as 90%% or a fraction such as 0.9")
		}
		if isPct {
			f /= 100
		}
		th.value = f
		return th, nil
	}
	if _, ok := countMetrics[th.metric]; !ok {
		return threshold{}, fmt.Errorf("unknown metric %q (want one of %s)", th.metric, thresholdNames())
	}
	f, err := strconv.ParseFloat(pct, 64)
	if err != nil {
		return threshold{}, fmt.Errorf("want a count such as 0 or a percentage such as 1%%")
	}
	th.value, th.share = f, isPct
	if isPct {
		th.value = f / 100
	}
	return th, nil
}

// check evaluates th on s.
func (th threshold) check(s summary) thresholdResult {
	var got float64
	var shown string
	if f, ok := latencyMetrics[th.metric]; ok {
		got = f(s.Latency)
		shown = seconds(got).String()
	} else if th.metric == "rate" {
		got = s.AchievedRate
		shown = fmt.Sprintf("%.2f/s", got)
	} else if th.metric == "utilisation" {
		got = s.Utilisation
		shown = fmt.Sprintf("%.1f%%", 100*got)
	} else {
		part, whole := countMetrics[th.metric](s)
		got = float64(part)
		shown = strconv.FormatInt(part, 10)
		if th.share {
			got = 0
			if whole > 0 {
				got = float64(part) / float64(whole)
			}
			shown = fmt.Sprintf("%.2f%% (%d of %d)", 100*got, part, whole)
		}
	}
	pass := false
	switch th.op {
	case "<":
		pass = got < th.value
	case "<=":
		pass = got <= th.value
	case ">":
		pass = got > th.value
	case ">=":
		pass = got >= th.value
	}
	return thresholdResult{Threshold: th.text, Value: shown, Pass: pass}
}
