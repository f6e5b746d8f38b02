package loadtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp"
)

// recordedRun returns the stats of a short run at fixed instants: a request
// answered 200 in second 0, a pace sampled in second 1, a 429 and a local
// refusal in second 2, which the run left after half a second.
func recordedRun(t *testing.T) *stats {
	t.Helper()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req, err := http.NewRequest(http.MethodPost, "http://api.example/v1", strings.NewReader("12345"))
	if err != nil {
		t.Fatal(err)
	}
	answer := func(status int, used string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{
			"X-Ratelimit": {"100"}, "X-Ratelimit-Used": {used}, "X-Ratelimit-Window": {"5s"},
		}}
	}
	ctx := context.Background()
	st := newStats()
	st.begin(t0)
	st.started(at(100))
	st.attempt(at(200), req, answer(200, "99"), ratehttp.UsedRemaining)
	st.read(at(200), 11)
	st.done(ctx, at(200), &trace{}, outcome{status: 200, latency: 100 * time.Millisecond})
	st.sample(at(1500), gauges{gaugePace: 20})
	st.started(at(2000))
	st.attempt(at(2100), req, answer(429, "0"), ratehttp.UsedRemaining)
	st.done(ctx, at(2100), &trace{}, outcome{status: 429, latency: 100 * time.Millisecond})
	st.started(at(2200))
	st.done(ctx, at(2300), &trace{}, outcome{err: fmt.Errorf("wrapped: %w", ratehttp.ErrRateLimited)})
	return st
}

func TestRows(t *testing.T) {
	rows := recordedRun(t).rows(2500 * time.Millisecond)
	if len(rows) != 3 {
		t.Fatalf("rows(2.5s) has %d rows, want 3", len(rows))
	}
	want := []secondRow{
		{T: 0, Duration: 1, Requests: 1, Sent: 1, OK: 1, Finished: 1, BytesIn: 11, BytesOut: 5, Limit: 100, Remaining: 99, Pace: 0},
		{T: 1, Duration: 1, Limit: 100, Remaining: 99, Pace: 20},
		{T: 2, Duration: 0.5, Requests: 2, Sent: 1, Status429: 1, Refused: 1, Finished: 1, BytesOut: 5, Limit: 100, Remaining: 0, Pace: 20},
	}
	for i, w := range want {
		got := rows[i]
		got.Latency = latencySummary{}
		if got != w {
			t.Errorf("rows[%d] = %+v\nwant      %+v", i, got, w)
		}
	}
	if l := rows[0].Latency; l.P50 != 0.1 || l.Max != 0.1 {
		t.Errorf("rows[0].Latency = %+v, want p50 and max 0.1", l)
	}
}

func TestWriteOut(t *testing.T) {
	st := recordedRun(t)
	rows := st.rows(2500 * time.Millisecond)
	s := summary{Target: "http://api.example/v1", Seconds: 2.5, Requests: 3, MaxInFlight: 1, BytesIn: 11, BytesOut: 10}

	var b bytes.Buffer
	if err := writeCSV(&b, rows, s); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, b.String())
	}
	if len(records) != 5 || strings.Join(records[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("CSV has %d records (want a header, 3 seconds and a total), header %q", len(records), records[0])
	}
	col := map[string]int{}
	for i, name := range csvHeader {
		col[name] = i
	}
	total := records[4]
	if total[col["t"]] != "total" || total[col["requests"]] != "3" || total[col["status_429"]] != "1" ||
		total[col["refused"]] != "1" || total[col["bytes_out"]] != "10" || total[col["quota_remaining"]] != "0" {
		t.Errorf("CSV total row = %q, want t total, 3 requests, one 429, one refused, 10 bytes out, 0 remaining", total)
	}

	b.Reset()
	if err := writeJSONLines(&b, rows, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("JSON lines: %d lines, want 3 seconds and a summary:\n%s", len(lines), b.String())
	}
	var types []string
	for _, line := range lines {
		var v struct {
			Type     string `json:"type"`
			T        *int   `json:"t"`
			Target   string `json:"target"`
			Requests int64  `json:"requests"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		types = append(types, v.Type)
		if v.Type == "summary" && (v.Target != s.Target || v.Requests != 3 || v.T != nil) {
			t.Errorf("summary line = %s, want the summary", line)
		}
	}
	if got := strings.Join(types, " "); got != "second second second summary" {
		t.Errorf("JSON line types = %s, want second second second summary", got)
	}
}

func TestOutFormat(t *testing.T) {
	tests := []struct {
		name, format, want string
	}{
		{"run.csv", "", "csv"},
		{"run.CSV", "", "csv"},
		{"run.jsonl", "", "jsonl"},
		{"run.ndjson", "", "jsonl"},
		{"run.json", "", "jsonl"},
		{"run.txt", "csv", "csv"},
		{"run", "jsonl", "jsonl"},
		{"run.txt", "", ""},
		{"run.csv", "xml", ""},
	}
	for _, tt := range tests {
		got, err := outFormat(tt.name, tt.format)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("outFormat(%q, %q) = %q, %v; want %q", tt.name, tt.format, got, err, tt.want)
		}
	}
}
