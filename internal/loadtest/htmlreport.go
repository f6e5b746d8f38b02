package loadtest

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The HTML report is one file that needs no network: its CSS, its script
// and its charts (SVG drawn here) are inline.

//go:embed htmlreport.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// reportPage is what the template shows.
type reportPage struct {
	Title       string
	Generated   string
	Description string
	Summary     summary
	Facts       [][2]string // the key figures, name and value
	Charts      []chart
	Histogram   template.HTML
	// Data is what the script shows under the cursor: per chart, its series'
	// names and values by second.
	Data map[string]chartData
}

// chartData is one chart's data for the script.
type chartData struct {
	Unit   string      `json:"unit"`
	Names  []string    `json:"names"`
	Values [][]float64 `json:"values"` // by series, then by second; -1 where there is none
}

// writeHTMLReport writes the report of a run to the file name.
func writeHTMLReport(name, description string, rows []secondRow, s summary, now time.Time) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	err = renderReport(f, description, rows, s, now)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// renderReport writes the report's HTML to w.
func renderReport(w io.Writer, description string, rows []secondRow, s summary, now time.Time) error {
	page := reportPage{
		Title:       "Load test of " + s.Target,
		Generated:   now.Format(time.RFC1123),
		Description: description,
		Summary:     s,
		Facts:       facts(s),
		Charts:      charts(rows, s),
		Histogram:   histogramSVG(s.Histogram),
		Data:        map[string]chartData{},
	}
	for _, c := range page.Charts {
		d := chartData{Unit: c.Unit}
		for _, sr := range c.Series {
			d.Names = append(d.Names, sr.Name)
			vals := make([]float64, len(sr.Values))
			for i, v := range sr.Values {
				vals[i] = v
				if math.IsNaN(v) {
					vals[i] = -1 // JSON has no NaN
				}
			}
			d.Values = append(d.Values, vals)
		}
		page.Data[c.ID] = d
	}
	return reportTemplate.Execute(w, page)
}

// facts are the key figures shown above the charts.
func facts(s summary) [][2]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := [][2]string{
		{"Model", s.Model},
		{"Duration", fmt.Sprintf("%.1fs", s.Seconds)},
		{"Requests finished", n(s.Requests)},
		{"Offered rate", fmt.Sprintf("%.1f/s", s.OfferedRate)},
		{"Successes", n(s.Successes) + " " + statusNote(s.Statuses)},
		{"Achieved rate", fmt.Sprintf("%.1f/s", s.AchievedRate)},
		{"Attempts (retries included)", n(s.Attempts)},
		{"429s", n(s.Status429) + " (" + percent(s.Status429, s.Attempts) + " of attempts)"},
		{"Refused locally", n(s.Refused)},
		{"Failed", n(s.Failed)},
	}
	if s.Model == "open" {
		out = append(out, [2]string{"Dropped arrivals", n(s.Dropped)})
	}
	out = append(out, [2]string{"Most in flight", n(s.MaxInFlight)})
	if s.AdvertisedRate > 0 {
		out = append(out,
			[2]string{"Advertised quota", fmt.Sprintf("%d per %v (%.1f/s)", s.Limit, seconds(s.WindowSeconds), s.AdvertisedRate)},
			[2]string{"Quota used", fmt.Sprintf("%.1f%% (%d of %.0f)", 100*s.Utilisation, s.QuotaUsed, s.QuotaAvailable)})
	}
	l := s.Latency
	out = append(out,
		[2]string{"Latency p50 / p90 / p95 / p99", fmt.Sprintf("%v / %v / %v / %v", seconds(l.P50), seconds(l.P90), seconds(l.P95), seconds(l.P99))},
		[2]string{"Latency min / mean / max / stddev", fmt.Sprintf("%v / %v / %v / %v", seconds(l.Min), seconds(l.Mean), seconds(l.Max), seconds(l.StdDev))},
		[2]string{"Time waited (summed over requests)", seconds(s.WaitedSeconds).String()},
		[2]string{"Bytes in / out", bytesText(s.BytesIn) + " / " + bytesText(s.BytesOut)},
	)
	return out
}

// chart is a line chart of per-second values.
type chart struct {
	ID, Title, Note string
	Unit            string // "/s", "s" (drawn as durations) or ""
	Series          []chartSeries
}

// chartSeries is one line; NaN values leave a gap.
type chartSeries struct {
	Name   string
	Class  int // its colour, s0 to s7 in the style sheet
	Values []float64
}

// charts are the report's line charts. The last second is left out when it
// is shorter than half a second: its counts would read as a drop.
func charts(rows []secondRow, s summary) []chart {
	if len(rows) > 1 && rows[len(rows)-1].Duration < 0.5 {
		rows = rows[:len(rows)-1]
	}
	col := func(f func(secondRow) float64) []float64 {
		out := make([]float64, len(rows))
		for i, r := range rows {
			out[i] = f(r)
		}
		return out
	}
	count := func(f func(secondRow) int64) []float64 {
		return col(func(r secondRow) float64 { return float64(f(r)) / r.Duration })
	}
	known := func(f func(secondRow) float64) []float64 {
		return col(func(r secondRow) float64 {
			if v := f(r); v >= 0 {
				return v
			}
			return math.NaN()
		})
	}
	latency := func(f func(latencySummary) float64) []float64 {
		return col(func(r secondRow) float64 {
			if r.Finished == 0 {
				return math.NaN()
			}
			return f(r.Latency)
		})
	}

	reqs := chart{ID: "requests", Title: "Requests per second", Unit: "/s",
		Note: "Attempts sent to the server (retries included) and how they were answered, and requests refused locally by ratehttp."}
	if s.Model == "open" {
		reqs.Series = append(reqs.Series, chartSeries{"started", 4, count(func(r secondRow) int64 { return r.Requests })})
	}
	reqs.Series = append(reqs.Series,
		chartSeries{"sent", 0, count(func(r secondRow) int64 { return r.Sent })},
		chartSeries{"2xx", 1, count(func(r secondRow) int64 { return r.OK })},
		chartSeries{"429", 2, count(func(r secondRow) int64 { return r.Status429 })},
		chartSeries{"refused", 3, count(func(r secondRow) int64 { return r.Refused })},
	)
	if s.Failed > 0 || s.Dropped > 0 {
		reqs.Series = append(reqs.Series,
			chartSeries{"other status", 5, count(func(r secondRow) int64 { return r.Other })},
			chartSeries{"no answer", 7, count(func(r secondRow) int64 { return r.Errors })},
			chartSeries{"dropped", 6, count(func(r secondRow) int64 { return r.Dropped })})
	}
	quota := chart{ID: "quota", Title: "Quota as the server reported it",
		Note: "The limit per window and the requests remaining in it, from the newest response's headers.",
		Series: []chartSeries{
			{"limit", 0, known(func(r secondRow) float64 { return r.Limit })},
			{"remaining", 1, known(func(r secondRow) float64 { return r.Remaining })},
		}}
	pace := chart{ID: "pace", Title: "Pace chosen by the Transport", Unit: "/s",
		Note: "The rate ratehttp paced requests at (0: not pacing), beside the 2xx answers per second.",
		Series: []chartSeries{
			{"pace", 0, col(func(r secondRow) float64 { return r.Pace })},
			{"2xx", 1, count(func(r secondRow) int64 { return r.OK })},
		}}
	if s.AdvertisedRate > 0 {
		pace.Series = append(pace.Series, chartSeries{"advertised", 4, col(func(secondRow) float64 { return s.AdvertisedRate })})
	}
	lat := chart{ID: "latency", Title: "Latency per second", Unit: "s",
		Note: "Percentiles of the requests that finished in each second, waits for the quota included.",
		Series: []chartSeries{
			{"p50", 0, latency(func(l latencySummary) float64 { return l.P50 })},
			{"p90", 1, latency(func(l latencySummary) float64 { return l.P90 })},
			{"p99", 2, latency(func(l latencySummary) float64 { return l.P99 })},
			{"max", 3, latency(func(l latencySummary) float64 { return l.Max })},
		}}
	return []chart{reqs, quota, pace, lat}
}

// Geometry of the charts, in SVG user units.
const (
	chartW, chartH                       = 720, 250
	padLeft, padRight, padTop, padBottom = 64, 16, 12, 28
)

// SVG draws the chart: axes, grid and one path per series, each path
// carrying its name and its number of points (data-name, data-points).
func (c chart) SVG() template.HTML {
	n := 0
	top := 0.0
	for _, sr := range c.Series {
		n = max(n, len(sr.Values))
		for _, v := range sr.Values {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	ticks := niceTicks(top)
	ymax := ticks[len(ticks)-1]
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBottom)
	x := func(i int) float64 { return padLeft + (float64(i)+0.5)/float64(max(n, 1))*plotW }
	y := func(v float64) float64 { return padTop + plotH - v/ymax*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="chart-%s" data-chart="%s" data-seconds="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		c.ID, c.ID, n, chartW, chartH, template.HTMLEscapeString(c.Title))
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y(t), y(t))
		fmt.Fprintf(&b, `<text class="ylabel" x="%d" y="%.1f">%s</text>`, padLeft-6, y(t)+4, template.HTMLEscapeString(formatValue(t, c.Unit)))
	}
	step := max(1, niceStep(float64(n)/10))
	for i := 0; i < n; i += int(step) {
		fmt.Fprintf(&b, `<text class="xlabel" x="%.1f" y="%d">%ds</text>`, x(i), chartH-8, i)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y(0), y(0))
	for _, sr := range c.Series {
		var d strings.Builder
		points := 0
		pen := "M"
		for i, v := range sr.Values {
			if math.IsNaN(v) {
				pen = "M"
				continue
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", pen, x(i), y(v))
			pen = "L"
			points++
		}
		path := strings.TrimSpace(d.String())
		if points == 1 { // a lone point: a dot, since a path of one point is invisible
			path += " h0.01"
		}
		fmt.Fprintf(&b, `<path class="series s%d" data-name="%s" data-points="%d" d="%s"/>`,
			sr.Class, template.HTMLEscapeString(sr.Name), points, path)
	}
	fmt.Fprintf(&b, `<line class="cursor" x1="0" x2="0" y1="%d" y2="%.1f" visibility="hidden"/>`, padTop, y(0))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogramSVG draws the latency histogram as bars (data-count on each).
func histogramSVG(bins []histogramBin) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart histogram" id="chart-histogram" viewBox="0 0 %d %d" role="img" aria-label="Latency histogram">`, chartW, chartH)
	if len(bins) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d">no request finished with a response</text></svg>`, chartW/2, chartH/2)
		return template.HTML(b.String())
	}
	var top int64
	for _, bin := range bins {
		top = max(top, bin.Count)
	}
	ticks := niceTicks(float64(top))
	ymax := ticks[len(ticks)-1]
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBottom)
	y := func(v float64) float64 { return padTop + plotH - v/ymax*plotH }
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y(t), y(t))
		fmt.Fprintf(&b, `<text class="ylabel" x="%d" y="%.1f">%s</text>`, padLeft-6, y(t)+4, formatValue(t, ""))
	}
	w := plotW / float64(len(bins))
	for i, bin := range bins {
		x := padLeft + float64(i)*w
		fmt.Fprintf(&b, `<rect class="bar" data-count="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%v – %v: %d</title></rect>`,
			bin.Count, x+1, y(float64(bin.Count)), max(w-2, 1), y(0)-y(float64(bin.Count)), seconds(bin.From), seconds(bin.To), bin.Count)
		if i%max(1, len(bins)/8) == 0 {
			fmt.Fprintf(&b, `<text class="xlabel" x="%.1f" y="%d">%v</text>`, x+w/2, chartH-8, seconds(bin.From))
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/></svg>`, padLeft, chartW-padRight, y(0), y(0))
	return template.HTML(b.String())
}

// niceTicks returns the grid values from 0 to at least top, a nice step
// apart (1, 2 or 5 times a power of ten), about five of them.
func niceTicks(top float64) []float64 {
	if top <= 0 || math.IsInf(top, 0) || math.IsNaN(top) {
		top = 1
	}
	step := niceStep(top / 5)
	var out []float64
	for v := 0.0; ; v += step {
		out = append(out, v)
		if v >= top*(1-1e-9) {
			return out
		}
	}
}

// niceStep returns the smallest of 1, 2 and 5 times a power of ten that is
// at least v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// formatValue writes a value for an axis label.
func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		return seconds(v).String()
	case "/s":
		return strconv.FormatFloat(v, 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Geometry for the template's script.
func (reportPage) ChartWidth() int { return chartW }
func (reportPage) PadLeft() int    { return padLeft }
func (reportPage) PlotWidth() int  { return chartW - padLeft - padRight }

// FactsLeft and FactsRight are the two columns of the key figures.
func (p reportPage) FactsLeft() [][2]string  { return p.Facts[:(len(p.Facts)+1)/2] }
func (p reportPage) FactsRight() [][2]string { return p.Facts[(len(p.Facts)+1)/2:] }
