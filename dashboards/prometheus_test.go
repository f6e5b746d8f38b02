package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// exampleArgs are the flags of the example's run, besides -metrics and
// -url: the load-test client against throttlingAPI, offering more than the
// quota allows, with a maximum wait shorter than the quota's longer pauses
// so that some requests are refused locally. -rate bounds the requests
// offered: unbounded demand would spin on local refusals and take every CPU.
var exampleArgs = []string{
	"-rate", "30",
	"-duration", "50s", // stopped by the test once the queries pass
	"-max-wait", "1s",
	"-retries", "3",
}

const (
	// minScrapes is how many scrapes of the example Prometheus must hold
	// before the queries are checked: enough for a rate over
	// builtins["__rate_interval"].
	minScrapes = 5
	// checkTimeout bounds the wait for every query to return data.
	checkTimeout = 25 * time.Second
)

// TestDashboardQueries runs the example with -metrics, lets a real
// Prometheus scrape it every second, and checks that every query of every
// panel returns data, with the template variables set to the values
// Prometheus reports (all of them, as "All" would).
func TestDashboardQueries(t *testing.T) {
	promBin := findPrometheus(t)
	d := loadDashboard(t)
	dir := t.TempDir()

	api := httptest.NewServer(newThrottlingAPI(20, 2*time.Second))
	t.Cleanup(api.Close)
	args := append([]string{"-metrics", "127.0.0.1:0", "-url", api.URL + "/v1/items"}, exampleArgs...)
	example := startProcess(t, buildExample(t, dir), args...)
	metricsAddr := example.waitFor(t, regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/metrics`), 30*time.Second)

	start := time.Now()
	prom := startPrometheus(t, promBin, dir, metricsAddr)
	ctx := t.Context()
	waitForScrapes(t, ctx, prom, example)
	vars := resolveVariables(t, ctx, prom, d, start)
	checks := dashboardChecks(t, d, vars)
	checkQueries(t, ctx, prom, example, checks, start)

	if t.Failed() {
		t.Logf("example output:\n%s", example.out.String())
		t.Logf("Prometheus output:\n%s", prom.proc.out.String())
		return
	}
	t.Logf("%d queries returned data after %v of scraping", len(checks), time.Since(start).Round(time.Second))
}

// buildExample builds the example into dir and returns the binary's path.
func buildExample(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "example")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ratehttp/ratehttp/example").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./example: %v\n%s", err, out)
	}
	return bin
}

// check is a query that must return data, and what it comes from.
type check struct{ what, query string }

// dashboardChecks returns a check for every query of every panel of d, with
// vars substituted, and one for each series selector in them, so that a
// selector that matches nothing is caught even where an "or" would hide it.
func dashboardChecks(t *testing.T, d *dashboard, vars map[string]string) []check {
	t.Helper()
	var checks []check
	seen := map[string]bool{}
	add := func(what, q string) {
		if !seen[q] {
			seen[q] = true
			checks = append(checks, check{what, q})
		}
	}
	for _, p := range d.queryPanels() {
		for _, tg := range p.Targets {
			q, unknown := substitute(tg.Expr, vars)
			if len(unknown) > 0 {
				t.Errorf("panel %q, query %s: unknown variables %v", p.Title, tg.RefID, unknown)
				continue
			}
			what := fmt.Sprintf("panel %q, query %s", p.Title, tg.RefID)
			add(what, q)
			for _, sel := range selectorRE.FindAllString(q, -1) {
				add(what+", selector "+sel, sel)
			}
		}
	}
	return checks
}

// checkQueries runs the checks as range queries since start, again each
// second for those without data, until all have data or checkTimeout has
// passed; then it reports those that never had any.
func checkQueries(t *testing.T, ctx context.Context, prom *prometheus, example *process, checks []check, start time.Time) {
	t.Helper()
	pending := checks
	deadline := time.Now().Add(checkTimeout)
	last := map[string]string{}
	for {
		var still []check
		for _, c := range pending {
			ok, summary, err := prom.hasData(ctx, c.query, start, time.Now())
			if err != nil {
				t.Fatalf("%s: %v\nquery: %s", c.what, err, c.query)
			}
			if !ok {
				last[c.query] = summary
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-example.done:
			t.Fatalf("example exited before the queries returned data:\n%s", example.out.String())
		case <-time.After(time.Second):
		}
	}
	for _, c := range pending {
		t.Errorf("%s returned no data (%s)\nquery: %s", c.what, last[c.query], c.query)
	}
}

// selectorRE matches the series selectors of the dashboard's queries: a
// ratehttp metric name and its label matchers, if any.
var selectorRE = regexp.MustCompile(`\bratehttp_\w+(\{[^{}]*\})?`)

// findPrometheus returns the path of the prometheus binary. Without one it
// skips the test, or fails it when the environment variable CI is set.
func findPrometheus(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	const debian = "/usr/bin/prometheus"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus not found on PATH nor at " + debian + ": CI must install Debian's prometheus package")
	}
	t.Skip("prometheus not found on PATH nor at " + debian + " (apt-get install prometheus); skipped")
	return ""
}

// waitForScrapes waits until Prometheus holds minScrapes scrapes of the
// example's metrics.
func waitForScrapes(t *testing.T, ctx context.Context, prom *prometheus, example *process) {
	t.Helper()
	q := `max(count_over_time(ratehttp_requests_in_flight[1m]))`
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := prom.instant(ctx, q)
		if err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
		if v >= minScrapes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus holds %v scrapes of the example after 30s, want %d\nexample:\n%s\nPrometheus:\n%s",
				v, minScrapes, example.out.String(), prom.proc.out.String())
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-example.done:
			t.Fatalf("example exited early:\n%s", example.out.String())
		case <-prom.proc.done:
			t.Fatalf("prometheus exited early:\n%s", prom.proc.out.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// resolveVariables gives each query variable of d the values Prometheus
// reports for its label_values query since start, formatted as Grafana
// formats "All" for a =~ matcher, and adds Grafana's built-in variables.
func resolveVariables(t *testing.T, ctx context.Context, prom *prometheus, d *dashboard, start time.Time) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for k, v := range builtins {
		vars[k] = v
	}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			vars[v.Name] = "prometheus"
			continue
		case "query":
		default:
			t.Fatalf("variable %s: type %q not supported by the test", v.Name, v.Type)
		}
		text, err := v.queryText()
		if err != nil {
			t.Fatal(err)
		}
		text, unknown := substitute(text, vars)
		if len(unknown) > 0 {
			t.Fatalf("variable %s: query %q refers to unknown variables %v", v.Name, text, unknown)
		}
		sel, label, ok := parseLabelValues(text)
		if !ok {
			t.Fatalf("variable %s: query %q, want label_values(selector, label)", v.Name, text)
		}
		values, err := prom.labelValues(ctx, label, sel, start, time.Now())
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		if len(values) == 0 {
			t.Fatalf("variable %s: label_values(%s, %s) is empty", v.Name, sel, label)
		}
		t.Logf("$%s = %q", v.Name, values)
		vars[v.Name] = regexValue(values)
	}
	return vars
}

// throttlingAPI is a rate-limited API that misbehaves on a schedule, so
// that one short run makes the Transport export every metric the dashboard
// shows. It enforces limit requests per fixed window and announces the quota
// in the vendor's X-Ratelimit headers (X-Ratelimit-Used holding the
// remaining count, the vendor's default). On top of that, the 7th, 14th, ...
// requests get a 429 the quota does not explain, with "Retry-After: 0", or
// one the Transport cannot parse on every other of them (a header anomaly);
// the 11th, 22nd, ... get a 503.
type throttlingAPI struct {
	limit  int
	window time.Duration
	start  time.Time

	mu     sync.Mutex
	n      int   // requests received; requires mu
	period int64 // index of the current window; requires mu
	used   int   // requests accepted in the current window; requires mu
}

func newThrottlingAPI(limit int, window time.Duration) *throttlingAPI {
	return &throttlingAPI{limit: limit, window: window, start: time.Now()}
}

func (a *throttlingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	status, retryAfter := http.StatusOK, ""

	a.mu.Lock()
	a.n++
	elapsed := time.Since(a.start)
	if p := int64(elapsed / a.window); p != a.period {
		a.period, a.used = p, 0
	}
	switch {
	case a.n%20 == 0:
		status, retryAfter = http.StatusTooManyRequests, "soon"
	case a.n%10 == 0:
		status, retryAfter = http.StatusTooManyRequests, "0"
	case a.n%13 == 0:
		status = http.StatusServiceUnavailable
	case a.used >= a.limit:
		resetIn := time.Duration(a.period+1)*a.window - elapsed
		status, retryAfter = http.StatusTooManyRequests, strconv.Itoa(int(math.Ceil(resetIn.Seconds())))
	default:
		a.used++
	}
	remaining := a.limit - a.used
	a.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Ratelimit", strconv.Itoa(a.limit))
	h.Set("X-Ratelimit-Used", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Window", a.window.String())
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	if status == http.StatusOK {
		io.WriteString(w, `{"ok":true}`)
	} else {
		fmt.Fprintf(w, `{"error_code":"TEST.%d","error_msg":%q}`, status, http.StatusText(status))
	}
}

// process is a child process whose output is kept. It is stopped when the
// test ends, whatever the outcome.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
}

func startProcess(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), out: new(syncBuffer), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

// stop interrupts the process, kills it if it has not exited 5 seconds
// later, and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor waits until the output matches re and returns the first
// submatch.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %s:\n%s", p.cmd.Path, re, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %s within %v:\n%s", p.cmd.Path, re, timeout, p.out.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// prometheus is a Prometheus server on loopback and a client of its HTTP
// API.
type prometheus struct {
	proc *process
	base string // http://127.0.0.1:port
	hc   *http.Client
}

// startPrometheus starts Prometheus on a free loopback port, with its
// storage in dir, scraping target's /metrics every second, and waits until
// it is ready. A port taken between choosing and binding it is retried.
func startPrometheus(t *testing.T, bin, dir, target string) *prometheus {
	t.Helper()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ratehttp-example
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		addr := freePort(t)
		proc := startProcess(t, bin,
			"--config.file="+config,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data%d", attempt)),
			"--web.listen-address="+addr,
			"--storage.tsdb.retention.time=1h",
		)
		p := &prometheus{proc: proc, base: "http://" + addr, hc: &http.Client{Timeout: 10 * time.Second}}
		err := p.waitReady(30 * time.Second)
		if err == nil {
			return p
		}
		if attempt < 3 && strings.Contains(proc.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("prometheus: %v\n%s", err, proc.out.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *prometheus) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := p.hc.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.proc.done:
			return errors.New("exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v", timeout)
}

// get calls the API at path and decodes the data of a successful answer
// into data.
func (p *prometheus) get(ctx context.Context, path string, params url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: status %s, %v", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// instant returns the value of the first series of an instant query, NaN
// when there is none.
func (p *prometheus) instant(ctx context.Context, query string) (float64, error) {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {query}}, &data); err != nil {
		return 0, err
	}
	if len(data.Result) == 0 {
		return math.NaN(), nil
	}
	return sampleValue(data.Result[0].Value)
}

// hasData reports whether a range query from start to end, at a step of one
// second, has at least one finite sample. It also summarises the result.
func (p *prometheus) hasData(ctx context.Context, query string, start, end time.Time) (bool, string, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	params := url.Values{
		"query": {query},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {"1"},
	}
	if err := p.get(ctx, "/api/v1/query_range", params, &data); err != nil {
		return false, "", err
	}
	samples, finite := 0, 0
	for _, s := range data.Result {
		for _, v := range s.Values {
			samples++
			f, err := sampleValue(v)
			if err != nil {
				return false, "", err
			}
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				finite++
			}
		}
	}
	summary := fmt.Sprintf("%d series, %d samples, %d finite", len(data.Result), samples, finite)
	return finite > 0, summary, nil
}

// sampleValue reads the value of a [timestamp, "value"] pair.
func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample %v: value is not a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

// labelValues returns the values of label among the series that match
// selector between start and end.
func (p *prometheus) labelValues(ctx context.Context, label, selector string, start, end time.Time) ([]string, error) {
	var values []string
	params := url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(start.Unix(), 10)},
		"end":     {strconv.FormatInt(end.Unix()+1, 10)},
	}
	err := p.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", params, &values)
	slices.Sort(values)
	return values, err
}
