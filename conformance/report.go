package conformance

import (
	"fmt"
	"strings"
	"time"
)

// Targets of issue 18 for the ratehttp client, as shares.
const (
	// A server that announces its quota: at least 95% of the allowance, at
	// most 1% of attempts rejected.
	headersMinShare, headersMaxReject = 0.95, 0.01
	// A server that announces nothing: at least 80%, at most 10%.
	bareMinShare, bareMaxReject = 0.80, 0.10
	// In every case, no storm: at most 3 rejections in any one second after
	// the first window.
	maxPerSecond = 3

	// Gross misses, which fail the test: under 80% of the allowance, or over
	// 5% rejected where the server announces its quota.
	grossMinShare, grossMaxReject = 0.80, 0.05
)

// Check compares a ratehttp result of case c with the targets. strict lists
// the targets missed; gross lists the misses that fail the test (a storm, or
// a gross miss of the allowance or of the rejections). Both are empty when
// the result passes.
func Check(c Case, r Result) (strict, gross []string) {
	minShare, maxReject := bareMinShare, bareMaxReject
	if c.SendsHeaders {
		minShare, maxReject = headersMinShare, headersMaxReject
	}
	if s := r.Share(); s < minShare {
		strict = append(strict, fmt.Sprintf("allowance used %.1f%% < %.0f%%", 100*s, 100*minShare))
		if s < grossMinShare {
			gross = append(gross, fmt.Sprintf("allowance used %.1f%% < %.0f%%", 100*s, 100*grossMinShare))
		}
	}
	if s := r.RejectShare(); s > maxReject {
		strict = append(strict, fmt.Sprintf("429s %.2f%% > %.0f%%", 100*s, 100*maxReject))
		if c.SendsHeaders && s > grossMaxReject {
			gross = append(gross, fmt.Sprintf("429s %.2f%% > %.0f%%", 100*s, 100*grossMaxReject))
		}
	}
	if r.WorstSecond > maxPerSecond {
		m := fmt.Sprintf("storm: %d 429s in one second > %d", r.WorstSecond, maxPerSecond)
		strict = append(strict, m)
		gross = append(gross, m)
	}
	return strict, gross
}

// A Row is one line of the table: a result, or why the case did not run.
type Row struct {
	Case   Case
	Client Client
	Result Result
	// Err, when not nil, is why the case did not run.
	Err error
}

// Table returns rows as a markdown table. The last column holds the strict
// targets' verdict for ratehttp rows and is empty for the contrasts.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| case | family | headers | client | allowance used | 429s | worst 1 s | p99 | refused | errors | targets |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range rows {
		c, r := row.Case, row.Result
		hdr := "no"
		if c.SendsHeaders {
			hdr = "yes"
		}
		if row.Err != nil {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | not run: %s | | | | | | |\n", c.Name, c.Family, hdr, row.Client, oneLine(row.Err.Error()))
			continue
		}
		verdict := ""
		if row.Client == RateHTTP {
			verdict = "pass"
			if strict, _ := Check(c, r); len(strict) > 0 {
				verdict = "**miss**: " + strings.Join(strict, "; ")
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f%% (%d/%.0f) | %.2f%% (%d/%d) | %d | %s | %d | %d | %s |\n",
			c.Name, c.Family, hdr, row.Client,
			100*r.Share(), r.Accepted, r.Allowance,
			100*r.RejectShare(), r.Rejected, r.Accepted+r.Rejected,
			r.WorstSecond, fmtDuration(r.P99), r.Refused, r.Errors, verdict)
	}
	return b.String()
}

// Configs returns the cases' configurations as a markdown table.
func Configs(cases []Case) string {
	var b strings.Builder
	b.WriteString("| case | library | family | limit | headers |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		limit := fmt.Sprintf("%d per %v", c.Burst, c.Window)
		if c.Family == TokenBucket {
			limit = fmt.Sprintf("%g/s, burst %d", c.Rate, c.Burst)
		}
		hdr := "no"
		if c.SendsHeaders {
			hdr = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.Name, c.Library, c.Family, limit, hdr)
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "/")
}
