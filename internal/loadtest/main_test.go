package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// These tests run the program in process, against loopback servers, in real
// time. They are kept short, and their assertions leave room for a slow,
// shared machine: quota use is judged over whole windows, as the server
// counted them.

// TestDefaultRun runs the demo as a new user would, shortened: the embedded
// server on 1s windows, for 3s.
func TestDefaultRun(t *testing.T) {
	checkNoLeaks(t)
	code, stdout, stderr := runExample(t, context.Background(), "-duration", "3s", "-server-window", "1s", "-json")
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	sum := decodeSummary(t, stdout)

	if sum.Server == nil || len(sum.Server.Windows) < 3 {
		t.Fatalf("summary.server = %+v, want at least 3 windows", sum.Server)
	}
	// The first window is where the client learns the quota and the last is
	// cut by the end of the run: judge the ones in between.
	var accepted, limit int
	for _, w := range sum.Server.Windows[1 : len(sum.Server.Windows)-1] {
		accepted += w.Accepted
		limit += w.Limit
	}
	if util := float64(accepted) / float64(limit); util < 0.9 {
		t.Errorf("server accepted %d of a quota of %d in windows 2..n-1 (%.1f%%), want at least 90%%", accepted, limit, 100*util)
	}
	if sum.Attempts == 0 || float64(sum.Status429) > 0.01*float64(sum.Attempts) {
		t.Errorf("429s = %d of %d attempts, want at most 1%%", sum.Status429, sum.Attempts)
	}
	if sum.Failed != 0 || sum.Successes == 0 {
		t.Errorf("failed = %d, successes = %d; want 0 and more than 0 (first error %q)", sum.Failed, sum.Successes, sum.FirstErr)
	}
	if sum.Limit != 100 || sum.WindowSeconds != 1 || sum.AdvertisedRate != 100 {
		t.Errorf("quota = %d per %vs (%v/s), want 100 per 1s (100/s)", sum.Limit, sum.WindowSeconds, sum.AdvertisedRate)
	}
	// Read from ratehttp's gauge: zero here means the metric was renamed.
	if sum.PacedRate < 90 || sum.PacedRate > 110 {
		t.Errorf("paced_rate = %v, want about 100 (is %s still exported?)", sum.PacedRate, gaugePace)
	}
	if sum.Latency.P50 <= 0 || sum.Latency.P50 > sum.Latency.P99 || sum.Latency.P99 > sum.Latency.Max {
		t.Errorf("latency = %+v, want 0 < p50 <= p99 <= max", sum.Latency)
	}
}

// TestTargetURL loads a server given with -url, as a real client would: a
// body from a file and headers on every attempt, a body replayed on retry,
// and exactly -n requests.
func TestTargetURL(t *testing.T) {
	checkNoLeaks(t)
	var (
		served atomic.Int64
		mu     sync.Mutex
		events []ratehttptest.Event
	)
	srv := ratehttptest.NewServer(ratehttptest.Config{
		Limit:  1000,
		Window: time.Second,
		// Attempts 2, 4, …, 10 fail with 503, which ratehttp retries for a
		// PUT. With -retries 10 no request can run out of retries.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := served.Add(1); n%2 == 0 && n <= 10 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "{}")
		}),
	})
	srv.SetHook(func(e ratehttptest.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	url := srv.Start()
	t.Cleanup(srv.Close)

	body := []byte(`{"name":"widget","size":42}`)
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runExample(t, context.Background(),
		"-url", url+"/v1/things?key=secret", "-method", "PUT", "-body", "@"+file,
		"-H", "Content-Type: application/json", "-H", "X-Api-Key: k1",
		"-n", "40", "-c", "4", "-retries", "10", "-json")
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	sum := decodeSummary(t, stdout)

	if sum.Requests != 40 || sum.Successes != 40 || sum.Retries != 5 || sum.Attempts != 45 {
		t.Errorf("requests, successes, retries, attempts = %d, %d, %d, %d; want 40, 40, 5, 45",
			sum.Requests, sum.Successes, sum.Retries, sum.Attempts)
	}
	if strings.Contains(sum.Target, "secret") {
		t.Errorf("summary.target = %q, want the query left out", sum.Target)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 45 {
		t.Errorf("server saw %d requests, want 45", len(events))
	}
	wantCRC := crc32.ChecksumIEEE(body)
	for _, e := range events {
		if e.Method != http.MethodPut || e.Path != "/v1/things" || e.BodyLen != int64(len(body)) || e.BodyCRC != wantCRC ||
			e.Header.Get("X-Api-Key") != "k1" || e.Header.Get("Content-Type") != "application/json" {
			t.Errorf("server saw %s %s, body of %d bytes (CRC %08x), X-Api-Key %q; want PUT /v1/things, %d bytes (CRC %08x), k1",
				e.Method, e.Path, e.BodyLen, e.BodyCRC, e.Header.Get("X-Api-Key"), len(body), wantCRC)
			break
		}
	}
}

// TestOfferedRate: -rate starts requests at a constant rate (the open model).
func TestOfferedRate(t *testing.T) {
	checkNoLeaks(t)
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Window: time.Second})
	url := srv.Start()
	t.Cleanup(srv.Close)
	code, stdout, stderr := runExample(t, context.Background(), "-url", url, "-rate", "20", "-n", "11", "-json")
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	// Eleven arrivals at 20/s: ten gaps of 50ms.
	sum := decodeSummary(t, stdout)
	if sum.Successes != 11 || sum.Seconds < 0.5 || sum.Model != "open" || sum.Dropped != 0 {
		t.Errorf("%d successes in %.2fs, model %q, %d dropped; want 11 in at least 0.5s, open, 0", sum.Successes, sum.Seconds, sum.Model, sum.Dropped)
	}
}

// TestMetrics scrapes -metrics while the run is going.
func TestMetrics(t *testing.T) {
	checkNoLeaks(t)
	stdout := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"-duration", "3s", "-server-window", "1s", "-metrics", "127.0.0.1:0"}, stdout, io.Discard)
	}()

	client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	addr := regexp.MustCompile(`metrics: (http://127\.0\.0\.1:\d+/metrics)`)
	var (
		page  string
		found bool
		code  = -1
	)
	for tick := time.NewTicker(50 * time.Millisecond); !found && code < 0; {
		select {
		case code = <-done:
			continue
		case <-tick.C:
		}
		m := addr.FindStringSubmatch(stdout.String())
		if m == nil {
			continue
		}
		resp, err := client.Get(m[1])
		if err != nil {
			t.Errorf("GET %s: %v", m[1], err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		found = strings.Contains(page, "ratehttp_quota_limit{")
	}
	if code < 0 {
		code = <-done
	}
	if !found {
		t.Errorf("/metrics never had ratehttp_quota_limit; last page:\n%s\nstdout:\n%s", page, stdout)
	}
	if !strings.Contains(page, `ratehttp_quota_limit{client="example",host="127.0.0.1:`) {
		t.Errorf("/metrics has no ratehttp_quota_limit with labels client and host:\n%s", page)
	}
	if code != exitOK {
		t.Errorf("run() = %d, want %d", code, exitOK)
	}
}

// TestInterrupt cancels the run, as Ctrl-C does: it stops at once and still
// prints the summary.
func TestInterrupt(t *testing.T) {
	checkNoLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(time.Second, cancel)
	defer timer.Stop()
	start := time.Now()
	code, stdout, stderr := runExample(t, ctx, "-duration", "1m", "-server-window", "1s", "-json")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("run() took %v after the interrupt at 1s, want it to stop promptly", took)
	}
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	if sum := decodeSummary(t, stdout); !sum.Interrupted || sum.Successes == 0 {
		t.Errorf("summary interrupted = %v with %d successes, want true and more than 0", sum.Interrupted, sum.Successes)
	}
}

// TestExitStatus: failures other than the quota's fail the run; requests held
// back by the quota do not.
func TestExitStatus(t *testing.T) {
	checkNoLeaks(t)
	tests := []struct {
		name     string
		limit    int               // requests per minute
		handler  func(n int64) int // status of the n-th accepted request
		args     []string
		wantCode int
	}{
		{
			name:     "server errors",
			limit:    1000,
			handler:  func(n int64) int { return map[bool]int{true: 500, false: 200}[n%2 == 0] },
			args:     []string{"-n", "10", "-c", "2", "-retries", "0"},
			wantCode: exitFailed,
		},
		{
			name:     "refused by the quota",
			limit:    5,
			handler:  func(int64) int { return 200 },
			args:     []string{"-n", "30", "-c", "4", "-max-wait", "0"},
			wantCode: exitOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int64
			srv := ratehttptest.NewServer(ratehttptest.Config{
				Limit:  tt.limit,
				Window: time.Minute,
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tt.handler(served.Add(1)))
				}),
			})
			url := srv.Start()
			defer srv.Close()
			code, stdout, stderr := runExample(t, context.Background(), append(tt.args, "-url", url, "-json")...)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s\nstdout:\n%s", tt.args, code, tt.wantCode, stderr, stdout)
			}
		})
	}
}

// TestUsageErrors: a mistake gives one line on stderr and a non-zero status,
// never a stack trace or the flag list.
func TestUsageErrors(t *testing.T) {
	checkNoLeaks(t)
	closed := closedPort(t)
	notFound := ratehttptest.NewServer(ratehttptest.Config{
		Limit:   10,
		Handler: http.NotFoundHandler(), // answers are not the point: a -report failure is
	})
	okURL := notFound.Start()
	t.Cleanup(notFound.Close)
	badTargets := filepath.Join(t.TempDir(), "targets.txt")
	if err := os.WriteFile(badTargets, []byte("# comment\nGET ftp://example.com/\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		give     []string
		wantCode int
		want     string // in the line on stderr
	}{
		{[]string{"-nope"}, exitUsage, "not defined: -nope"},
		{[]string{"-c", "0"}, exitUsage, "-c must be at least 1"},
		{[]string{"-duration", "soon"}, exitUsage, "-duration"},
		{[]string{"-used", "sometimes"}, exitUsage, "-used must be"},
		{[]string{"-H", "no colon"}, exitUsage, `want "Name: value"`},
		{[]string{"-url", "ftp://example.com/"}, exitUsage, "-url must be"},
		{[]string{"-url", "/relative"}, exitUsage, "-url must be"},
		{[]string{"-body", "@/does/not/exist"}, exitUsage, "-body"},
		{[]string{"-method", "NOT A METHOD"}, exitUsage, "-method"},
		{[]string{"-server-policy", "bogus"}, exitUsage, "-server-policy"},
		{[]string{"stray"}, exitUsage, `unexpected argument "stray"`},
		{[]string{"-metrics", "127.0.0.1:-1", "-duration", "1s"}, exitFailed, "-metrics"},
		{[]string{"-url", "http://user:secret@" + closed + "/v1?token=secret"}, exitFailed, "cannot reach http://" + closed + "/v1"},
		{[]string{"-c", "4", "-rate", "10"}, exitUsage, "-c is for the closed model"},
		{[]string{"-max-workers", "5"}, exitUsage, "-max-workers is for the open model"},
		{[]string{"-rate", "10", "-max-workers", "0"}, exitUsage, "-max-workers must be at least 1"},
		{[]string{"-ramp-up", "-1s"}, exitUsage, "-ramp-up must not be negative"},
		{[]string{"-timeout", "-1s"}, exitUsage, "-timeout must not be negative"},
		{[]string{"-thresholds", "p98<1s"}, exitUsage, `-thresholds: "p98<1s": unknown metric`},
		{[]string{"-out", "run.txt"}, exitUsage, "-out: cannot tell the format"},
		{[]string{"-out-format", "csv"}, exitUsage, "-out-format needs -out"},
		{[]string{"-targets", "/does/not/exist"}, exitUsage, "-targets: reading /does/not/exist"},
		{[]string{"-targets", badTargets}, exitUsage, "-targets: " + badTargets + ":2: the URL must be"},
		{[]string{"-report", filepath.Join(t.TempDir(), "no", "such", "dir", "run.html"), "-url", okURL, "-n", "1"}, exitFailed, "-report: "},
	}
	for _, tt := range tests {
		code, stdout, stderr := runExample(t, context.Background(), tt.give...)
		if code != tt.wantCode {
			t.Errorf("run(%q) = %d, want %d", tt.give, code, tt.wantCode)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, "example: ") ||
			!strings.Contains(stderr, tt.want) {
			t.Errorf("run(%q) stderr = %q, want one line with %q", tt.give, stderr, tt.want)
		}
		if strings.Contains(stderr, "secret") {
			t.Errorf("run(%q) stderr = %q, want no credentials", tt.give, stderr)
		}
		if tt.wantCode == exitUsage && stdout != "" {
			t.Errorf("run(%q) stdout = %q, want nothing", tt.give, stdout)
		}
	}
}

// TestHelp: -h describes the program, gives examples, lists the flags and
// the exit statuses, and is not an error.
func TestHelp(t *testing.T) {
	code, _, stderr := runExample(t, context.Background(), "-h")
	if code != exitOK {
		t.Errorf("run(-h) = %d, want %d", code, exitOK)
	}
	for _, want := range []string{"A load-test client", "closed (default)", "open (-rate R)", "Examples:", "-max-wait", "-max-workers",
		"-thresholds", "Exit status:", "  3  a -thresholds condition did not hold", "429s<1%), successes"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run(-h) stderr has no %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "%!") {
		t.Errorf("run(-h) stderr has a formatting error:\n%s", stderr)
	}
}

// TestErrorPaths: answers of 400 and above are counted by status, never
// fatal; they fail the run unless -thresholds decides.
func TestErrorPaths(t *testing.T) {
	checkNoLeaks(t)
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Window: time.Second, Handler: http.NotFoundHandler()})
	url := srv.Start() + "/v1/missing"
	t.Cleanup(srv.Close)
	tests := []struct {
		args     []string
		wantCode int
	}{
		{nil, exitFailed},
		{[]string{"-thresholds", "p99<10s"}, exitOK},
		{[]string{"-thresholds", "p99<10s,failed<1%"}, exitThreshold},
	}
	for _, tt := range tests {
		code, stdout, stderr := runExample(t, context.Background(), append([]string{"-url", url, "-n", "20", "-c", "2", "-json"}, tt.args...)...)
		if code != tt.wantCode {
			t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr)
		}
		sum := decodeSummary(t, stdout)
		if sum.Requests != 20 || sum.Failed != 20 || sum.Statuses["404"] != 20 || sum.FirstErr != "status 404 Not Found" {
			t.Errorf("run(%q): %d requests, %d failed, statuses %v, first error %q; want 20 failed with 404",
				tt.args, sum.Requests, sum.Failed, sum.Statuses, sum.FirstErr)
		}
		if len(sum.Thresholds) != len(tt.args)/2+strings.Count(strings.Join(tt.args, ""), ",") {
			t.Errorf("run(%q): thresholds %+v, want one result per condition", tt.args, sum.Thresholds)
		}
	}
}

// TestTimeout: -timeout ends slow requests, which count as failed.
func TestTimeout(t *testing.T) {
	checkNoLeaks(t)
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Window: time.Second, Latency: 2 * time.Second})
	url := srv.Start()
	t.Cleanup(srv.Close)
	code, stdout, stderr := runExample(t, context.Background(), "-url", url, "-timeout", "50ms", "-n", "4", "-c", "2", "-json")
	if code != exitFailed {
		t.Errorf("run() = %d, want %d; stderr:\n%s", code, exitFailed, stderr)
	}
	sum := decodeSummary(t, stdout)
	if sum.Timeouts != 4 || sum.Failed != 4 || sum.Errors["timeout (-timeout)"] != 4 {
		t.Errorf("timeouts %d, failed %d, errors %v; want 4 timeouts, counted as failed", sum.Timeouts, sum.Failed, sum.Errors)
	}
}

// TestTokenBucketUtilisation: a token bucket's initial burst is part of the
// quota available, so taking it is not reported as more than 100%.
func TestTokenBucketUtilisation(t *testing.T) {
	checkNoLeaks(t)
	code, stdout, stderr := runExample(t, context.Background(), "-duration", "3s", "-server-window", "1s", "-server-policy", "token", "-json")
	if code != exitOK {
		t.Fatalf("run() = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	sum := decodeSummary(t, stdout)
	// A burst of 100, then 100/s for 3s: 400 available.
	if sum.QuotaAvailable < 390 || sum.QuotaAvailable > 420 {
		t.Errorf("quota_available = %v, want about 400 (the burst of 100 + 100/s for 3s)", sum.QuotaAvailable)
	}
	if sum.Utilisation > 1 || sum.Utilisation < 0.7 {
		t.Errorf("utilisation = %v (%d used of %v), want at most 1 and at least 0.7", sum.Utilisation, sum.QuotaUsed, sum.QuotaAvailable)
	}
	if sum.Server == nil || sum.Server.FullWindowUtilisation != 0 {
		t.Errorf("server = %+v, want no full-window utilisation: a bucket's window may take more than its limit", sum.Server)
	}
}

// TestTargetsAndFiles: several targets are taken in turn, and -out and
// -report write their files.
func TestTargetsAndFiles(t *testing.T) {
	checkNoLeaks(t)
	var (
		mu    sync.Mutex
		paths = map[string]int{}
	)
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Window: time.Second})
	srv.SetHook(func(e ratehttptest.Event) {
		mu.Lock()
		paths[e.Method+" "+e.Path]++
		mu.Unlock()
	})
	url := srv.Start()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(targets, []byte("# the third target\n\nPOST "+url+"/c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	csvFile, jsonl, html := filepath.Join(dir, "run.csv"), filepath.Join(dir, "run.jsonl"), filepath.Join(dir, "run.html")
	args := []string{"-url", url + "/a", "-url", url + "/b", "-targets", targets, "-n", "30", "-c", "3", "-report", html}
	for _, out := range []string{csvFile, jsonl} {
		code, stdout, stderr := runExample(t, context.Background(), append(args, "-out", out)...)
		if code != exitOK {
			t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", args, code, exitOK, stderr)
		}
		if !strings.Contains(stdout, "GET "+url+"/a and 2 other targets from 3 workers") {
			t.Errorf("stdout does not describe the targets:\n%s", stdout)
		}
	}
	mu.Lock()
	if want := map[string]int{"GET /a": 20, "GET /b": 20, "POST /c": 20}; !maps.Equal(paths, want) {
		t.Errorf("server saw %v, want %v", paths, want)
	}
	mu.Unlock()
	for _, name := range []string{csvFile, jsonl, html} {
		b, err := os.ReadFile(name)
		if err != nil || len(b) == 0 {
			t.Errorf("reading %s: %d bytes, %v; want the file written", name, len(b), err)
		}
	}
}

func runExample(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeSummary(t *testing.T, stdout string) summary {
	t.Helper()
	var s summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not a JSON summary: %v\n%s", err, stdout)
	}
	return s
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// syncBuffer is a bytes.Buffer that one goroutine writes while another reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkNoLeaks fails t if, once t and its cleanups are done, goroutines of
// the program, ratehttp or net/http are still running. Connections close
// asynchronously, so it waits a little for them. Tests using it must not run
// in parallel.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var leaked []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if leaked = leakedGoroutines(); len(leaked) == 0 {
				return
			}
		}
		t.Errorf("%d goroutines left running:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	})
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*M).") {
			continue // this goroutine, and the test framework's
		}
		if strings.Contains(g, "net/http.") || strings.Contains(g, "ratehttp") || strings.Contains(g, "main.") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}
