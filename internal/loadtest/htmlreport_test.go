package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// paths finds the charts' lines in a page: their chart, name and number of
// points.
var (
	chartRE = regexp.MustCompile(`(?s)<svg class="chart" id="chart-([a-z]+)".*?</svg>`)
	pathRE  = regexp.MustCompile(`<path class="series s\d" data-name="([^"]+)" data-points="(\d+)" d="([^"]*)"`)
	barRE   = regexp.MustCompile(`<rect class="bar" data-count="(\d+)"`)
)

// drawn returns, per chart, the points of each of its lines.
func drawn(page string) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, c := range chartRE.FindAllStringSubmatch(page, -1) {
		lines := map[string]int{}
		for _, p := range pathRE.FindAllStringSubmatch(c[0], -1) {
			lines[p[1]], _ = strconv.Atoi(p[2])
		}
		out[c[1]] = lines
	}
	return out
}

// bars returns the sum of the histogram's bars.
func bars(page string) int {
	total := 0
	for _, m := range barRE.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}

func TestRenderReport(t *testing.T) {
	st := recordedRun(t)
	rows := st.rows(2500 * time.Millisecond)
	s := summary{Target: "http://api.example/v1?key=<script>", Model: "closed", Seconds: 2.5, Requests: 2, Statuses: map[string]int64{"200": 1, "429": 1}}
	st.mu.Lock()
	s.Latency, s.Histogram = st.latency.summary(), st.latency.bins(histogramBars)
	st.mu.Unlock()
	var b bytes.Buffer
	if err := renderReport(&b, "GET http://api.example/v1 <for 2.5s>", rows, s, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	got := drawn(page)
	want := map[string]map[string]int{
		"requests": {"sent": 3, "2xx": 3, "429": 3, "refused": 3},
		"quota":    {"limit": 3, "remaining": 3},
		"pace":     {"pace": 3, "2xx": 3},
		"latency":  {"p50": 2, "p90": 2, "p99": 2, "max": 2}, // no request finished in second 1
	}
	for chart, lines := range want {
		for name, points := range lines {
			if got[chart][name] != points {
				t.Errorf("chart %s line %s has %d points, want %d (charts drawn: %v)", chart, name, got[chart][name], points, got)
			}
		}
	}
	if n := bars(page); n != 2 {
		t.Errorf("histogram bars hold %d requests, want 2", n)
	}
	for _, bad := range []string{"key=<script>", "<for 2.5s>", `src="http`, `href="http`, "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: want text escaped and nothing loaded from the network", bad)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		give float64
		want []float64
	}{
		{0, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
		{100, []float64{0, 20, 40, 60, 80, 100}},
		{101, []float64{0, 50, 100, 150}},
		{7, []float64{0, 2, 4, 6, 8}},
	}
	for _, tt := range tests {
		if got := niceTicks(tt.give); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("niceTicks(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// chromium returns the path of a Chromium to test the report in. Without
// one, the test is skipped, except under CI (CI set), which installs one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium)")
	return ""
}

// consoleRE matches Chromium's log line for a console message (errors,
// warnings and logs alike: the report writes none).
var consoleRE = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// headless opens the file page in a headless Chromium and returns the DOM
// once the page has loaded, and the console messages logged.
func headless(t *testing.T, browser, page string, extra ...string) (dom string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, extra...)
	cmd := exec.CommandContext(ctx, browser, append(args, "file://"+page)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, stderr.String())
	}
	return stdout.String(), consoleRE.FindAllString(stderr.String(), -1)
}

// TestReportInChromium generates a report from a short run that meets 429s
// and refusals, opens it in a real headless Chromium, and checks that it
// loads without a script error or console message and that its charts are
// drawn; then takes a screenshot.
func TestReportInChromium(t *testing.T) {
	browser := chromium(t)
	checkNoLeaks(t)
	dir := t.TempDir()
	report := filepath.Join(dir, "run.html")
	// 150/s offered to a quota of 100/s, with a short -max-wait: some
	// requests are refused locally.
	code, _, stderr := runExample(t, context.Background(), "-rate", "150", "-duration", "2500ms", "-server-window", "1s",
		"-max-wait", "200ms", "-report", report, "-json")
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}

	// The detection itself works: a page with an error is caught.
	broken := filepath.Join(dir, "broken.html")
	os.WriteFile(broken, []byte(`<!DOCTYPE html><html><head><script>window.onerror = function (m) { document.documentElement.setAttribute("data-error", String(m)); };</script></head><body><script>console.error("logged"); undefinedFunction();</script></body></html>`), 0o600)
	if dom, console := headless(t, browser, broken, "--dump-dom"); !strings.Contains(dom, `data-error="Uncaught ReferenceError`) || len(console) != 2 {
		t.Errorf("a broken page gave DOM %q and console %q, want data-error and two console lines: the checks below cannot see errors", dom, console)
	}

	dom, console := headless(t, browser, report, "--dump-dom")
	if len(console) > 0 {
		t.Errorf("console messages while loading the report:\n%s", strings.Join(console, "\n"))
	}
	if strings.Contains(dom, "data-error=") {
		t.Errorf("script error in the report: %s", regexp.MustCompile(`data-error="[^"]*"`).FindString(dom))
	}
	if !strings.Contains(dom, `data-ready="4"`) {
		t.Errorf("the report's script did not finish (no data-ready=\"4\" on body)")
	}
	got := drawn(dom)
	for chart, lines := range map[string][]string{
		"requests": {"started", "sent", "2xx", "refused"},
		"quota":    {"limit", "remaining"},
		"pace":     {"pace", "2xx", "advertised"},
		"latency":  {"p50", "p90", "p99", "max"},
	} {
		for _, name := range lines {
			if got[chart][name] < 2 {
				t.Errorf("chart %s line %s has %d points in the browser's DOM, want at least 2 (charts: %v)", chart, name, got[chart][name], got)
			}
		}
	}
	if _, ok := got["requests"]["429"]; !ok {
		t.Errorf("chart requests has no 429 line: %v", got["requests"])
	}
	if n := bars(dom); n < 100 {
		t.Errorf("histogram bars hold %d requests in the browser's DOM, want at least 100", n)
	}

	// Hovering over a chart shows the values of the second under the
	// cursor: a copy of the report moves the mouse over its first chart.
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	hover := filepath.Join(dir, "hover.html")
	os.WriteFile(hover, bytes.Replace(page, []byte("</body>"), []byte(`<script>
var svg = document.querySelector('svg[data-chart="requests"]'), box = svg.getBoundingClientRect();
svg.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + box.width / 2, clientY: box.top + box.height / 2, bubbles: true}));
document.body.setAttribute("data-tip", svg.parentNode.querySelector(".tip").textContent.replace(/\n/g, "|"));
</script></body>`), 1), 0o600)
	dom, console = headless(t, browser, hover, "--dump-dom")
	tip := regexp.MustCompile(`data-tip="([^"]*)"`).FindStringSubmatch(dom)
	if len(console) > 0 || tip == nil || !regexp.MustCompile(`^second \d+\|started: \d+/s\|sent: \d+/s\|2xx: `).MatchString(tip[1]) {
		t.Errorf("hovering over the requests chart: tip %q, console %q; want second n|started: …/s|sent: …/s|2xx: …", tip, console)
	}

	shot := filepath.Join(dir, "report.png")
	headless(t, browser, report, "--screenshot="+shot, "--window-size=1400,1800", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot: %d bytes, %v; want a PNG", len(png), err)
	}
}
