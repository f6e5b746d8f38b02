package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstream starts a Go server that answers 200 "ok" and counts the requests
// that reach it.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// get sends GET url with c and returns the status and the headers.
func get(t *testing.T, c *http.Client, url string) (int, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// quotaHeaders lists the quota headers of h, of any dialect.
func quotaHeaders(h http.Header) []string {
	var q []string
	for k := range h {
		if strings.HasPrefix(k, "X-Ratelimit") || strings.HasPrefix(k, "Ratelimit") {
			q = append(q, k)
		}
	}
	return q
}

// assertGone checks that the process group led by pid has no member left.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still there after Stop: kill 0 = %v", pid, err)
	}
}

func startNginx(t *testing.T, cfg NginxConfig) *Nginx {
	t.Helper()
	if !Available("nginx") {
		t.Skip("nginx not installed (Debian: apt-get install nginx-light)")
	}
	n, err := StartNginx(t.Context(), t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func startHAProxy(t *testing.T, cfg HAProxyConfig) *HAProxy {
	t.Helper()
	if !Available("haproxy") {
		t.Skip("haproxy not installed (Debian: apt-get install haproxy)")
	}
	h, err := StartHAProxy(t.Context(), t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// TestNginxLimitReq: the burst passes, the rest gets 429 with Retry-After: 1
// and no quota header, and the client is let in again after a pause.
func TestNginxLimitReq(t *testing.T) {
	t.Parallel()
	up, hits := upstream(t)
	const rate, burst = 5, 3
	n := startNginx(t, NginxConfig{Upstream: up.URL, Rate: rate, Per: time.Second, Burst: burst, RetryAfter: true})
	c := &http.Client{Timeout: 5 * time.Second}

	rejected := 0
	for i := range 10 { // back to back: far above 5 r/s
		code, h := get(t, c, n.URL+"/x")
		if q := quotaHeaders(h); len(q) > 0 {
			t.Errorf("request %d: nginx sent quota headers %v", i, q)
		}
		switch {
		case i <= burst:
			if code != http.StatusOK {
				t.Fatalf("request %d (burst %d): status %d, want 200", i, burst, code)
			}
			if ra := h.Get("Retry-After"); ra != "" {
				t.Errorf("request %d: 200 with Retry-After %q", i, ra)
			}
		case code == http.StatusTooManyRequests:
			rejected++
			if ra := h.Values("Retry-After"); len(ra) != 1 || ra[0] != "1" {
				t.Errorf("request %d: 429 with Retry-After %q, want [1]", i, ra)
			}
		default:
			t.Errorf("request %d: status %d after the burst, want 429", i, code)
		}
	}
	if rejected == 0 {
		t.Fatal("no 429 once the burst was spent")
	}
	if got := hits.Load(); got != burst+1 {
		t.Errorf("upstream saw %d requests, want %d", got, burst+1)
	}

	time.Sleep(time.Second) // the bucket drains 5 in a second
	if code, _ := get(t, c, n.URL+"/x"); code != http.StatusOK {
		t.Errorf("after a 1 s pause: status %d, want 200", code)
	}
	if !strings.Contains(n.Log(), "limiting requests") {
		t.Errorf("error log does not show the rejections:\n%s", n.Log())
	}

	pid := n.p.cmd.Process.Pid
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	if _, err := c.Get(n.URL + "/x"); err == nil {
		t.Error("nginx still answers after Stop")
	}
}

// TestNginxPerMinuteNoRetryAfter: a per-minute rate without burst lets one
// request through and rejects the next with a bare 429.
func TestNginxPerMinuteNoRetryAfter(t *testing.T) {
	t.Parallel()
	up, _ := upstream(t)
	n := startNginx(t, NginxConfig{Upstream: up.URL + "/", Rate: 30, Per: time.Minute})
	conf, err := os.ReadFile(filepath.Join(n.Dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rate=30r/m;", "limit_req zone=z nodelay;", "limit_req_status 429;"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if code, _ := get(t, c, n.URL); code != http.StatusOK {
		t.Fatalf("first request: status %d, want 200", code)
	}
	code, h := get(t, c, n.URL)
	if code != http.StatusTooManyRequests {
		t.Fatalf("second request: status %d, want 429", code)
	}
	if ra, ok := h["Retry-After"]; ok {
		t.Errorf("429 with Retry-After %q, want none", ra)
	}
}

// checkVendor checks the three vendor headers of a response.
func checkVendor(t *testing.T, i int, h http.Header, limit int, window string) (remaining int) {
	t.Helper()
	for _, k := range []string{"X-Ratelimit", "X-Ratelimit-Used", "X-Ratelimit-Window"} {
		if v := h.Values(k); len(v) != 1 {
			t.Fatalf("request %d: %s = %q, want one value", i, k, v)
		}
	}
	if got := h.Get("X-Ratelimit"); got != strconv.Itoa(limit) {
		t.Errorf("request %d: X-Ratelimit %q, want %d", i, got, limit)
	}
	if got := h.Get("X-Ratelimit-Window"); got != window {
		t.Errorf("request %d: X-Ratelimit-Window %q, want %q", i, got, window)
	}
	r, err := strconv.Atoi(h.Get("X-Ratelimit-Used"))
	if err != nil || r < 0 || r > limit {
		t.Fatalf("request %d: X-Ratelimit-Used %q, want 0..%d", i, h.Get("X-Ratelimit-Used"), limit)
	}
	return r
}

// fill sends limit requests, each let through with one fewer remaining, then
// one more that is denied with the headers and 0 remaining.
func fill(t *testing.T, c *http.Client, h *HAProxy) {
	t.Helper()
	for i := range h.Limit + 1 {
		code, hdr := get(t, c, h.URL+"/x")
		rem := checkVendor(t, i, hdr, h.Limit, h.WindowHeader)
		if i < h.Limit {
			if code != http.StatusOK || rem != h.Limit-1-i {
				t.Fatalf("request %d: status %d, remaining %d; want 200, %d", i, code, rem, h.Limit-1-i)
			}
		} else if code != http.StatusTooManyRequests || rem != 0 {
			t.Fatalf("request %d: status %d, remaining %d; want 429, 0", i, code, rem)
		}
	}
}

// TestHAProxyHeaders: the vendor's headers on 200 and 429, remaining falling
// with each request; the denied request does not reach the upstream.
func TestHAProxyHeaders(t *testing.T) {
	t.Parallel()
	up, hits := upstream(t)
	h := startHAProxy(t, HAProxyConfig{Upstream: up.URL, Limit: 10, Window: 2 * time.Second, RetryAfter: 1500 * time.Millisecond})
	if h.WindowHeader != "2s" {
		t.Errorf("WindowHeader %q, want 2s", h.WindowHeader)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	fill(t, c, h)
	if got := hits.Load(); got != 10 {
		t.Errorf("upstream saw %d requests, want 10", got)
	}
	code, hdr := get(t, c, h.URL+"/x")
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q; want 429, 2 (1.5 s rounded up)", code, hdr.Get("Retry-After"))
	}

	pid := h.p.cmd.Process.Pid
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
}

// TestHAProxyIncidentDefaults: 1200 per minute, as in the incident report,
// reads "minute"; no Retry-After unless asked.
func TestHAProxyIncidentDefaults(t *testing.T) {
	t.Parallel()
	up, _ := upstream(t)
	h := startHAProxy(t, HAProxyConfig{Upstream: up.URL, Limit: 1200})
	c := &http.Client{Timeout: 5 * time.Second}
	code, hdr := get(t, c, h.URL)
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	if rem := checkVendor(t, 0, hdr, 1200, "minute"); rem != 1199 {
		t.Errorf("remaining %d, want 1199", rem)
	}
	if _, ok := hdr["Retry-After"]; ok {
		t.Error("Retry-After sent without RetryAfter")
	}
}

// TestHAProxyRejectionsCount: a client that goes on at the limit rate once
// the table is full is denied all through the next window, since its denied
// requests count; one that goes on above the limit rate is denied for good;
// one that stays silent for two windows is let back in with a fresh quota.
func TestHAProxyRejectionsCount(t *testing.T) {
	t.Parallel()
	const limit, window = 10, 2 * time.Second
	up, _ := upstream(t)

	t.Run("hammer", func(t *testing.T) {
		t.Parallel()
		h := startHAProxy(t, HAProxyConfig{Upstream: up.URL, Limit: limit, Window: window})
		c := &http.Client{Timeout: 5 * time.Second}
		fill(t, c, h)
		tick := time.NewTicker(window / limit)
		defer tick.Stop()
		for i := range limit { // one window's worth, at the limit rate
			<-tick.C
			code, hdr := get(t, c, h.URL+"/x")
			rem := checkVendor(t, i, hdr, limit, "2s")
			if code != http.StatusTooManyRequests || rem != 0 {
				t.Errorf("request %d at the limit rate: status %d, remaining %d; want 429, 0", i, code, rem)
			}
		}
	})

	t.Run("above", func(t *testing.T) {
		// A quarter above the limit rate, the counter never falls back to
		// the limit: denied for good (three windows here).
		t.Parallel()
		h := startHAProxy(t, HAProxyConfig{Upstream: up.URL, Limit: limit, Window: window})
		c := &http.Client{Timeout: 5 * time.Second}
		fill(t, c, h)
		tick := time.NewTicker(window * 4 / (limit * 5))
		defer tick.Stop()
		for i := range 3 * limit * 5 / 4 {
			<-tick.C
			code, hdr := get(t, c, h.URL+"/x")
			rem := checkVendor(t, i, hdr, limit, "2s")
			if code != http.StatusTooManyRequests || rem != 0 {
				t.Errorf("request %d above the limit rate: status %d, remaining %d; want 429, 0", i, code, rem)
			}
		}
	})

	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		h := startHAProxy(t, HAProxyConfig{Upstream: up.URL, Limit: limit, Window: window})
		c := &http.Client{Timeout: 5 * time.Second}
		fill(t, c, h)
		// HAProxy's rate is curr + prev × (time left in the period) / period:
		// only after two periods is the count certainly 0.
		time.Sleep(2*window + 100*time.Millisecond)
		code, hdr := get(t, c, h.URL+"/x")
		if rem := checkVendor(t, 0, hdr, limit, "2s"); code != http.StatusOK || rem != limit-1 {
			t.Errorf("after a pause of two windows: status %d, remaining %d; want 200, %d", code, rem, limit-1)
		}
	})
}

// TestStartFailure: a proxy that exits at once gives an error quoting its
// output; no process is left.
func TestStartFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-proxy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'fake proxy: boom' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := StartHAProxy(t.Context(), filepath.Join(dir, "h"), HAProxyConfig{Upstream: "http://127.0.0.1:1", Limit: 1, Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "fake proxy: boom") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("StartHAProxy: %v; want the output and exit status", err)
	}
	_, err = StartNginx(t.Context(), filepath.Join(dir, "n"), NginxConfig{Upstream: "http://127.0.0.1:1", Rate: 1, Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "fake proxy: boom") {
		t.Errorf("StartNginx: %v; want the output", err)
	}
}

// TestBindRetry: a start that fails because the port was taken meanwhile is
// tried once more on another port.
func TestBindRetry(t *testing.T) {
	t.Parallel()
	real, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed (Debian: apt-get install nginx-light)")
	}
	up, _ := upstream(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "flaky-nginx")
	script := "#!/bin/sh\nif [ ! -e " + dir + "/tried ]; then\n  touch " + dir + "/tried\n" +
		"  echo 'nginx: [emerg] bind() to 127.0.0.1:1 failed (98: Address already in use)' >&2\n  exit 1\nfi\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := StartNginx(t.Context(), filepath.Join(dir, "n"), NginxConfig{Upstream: up.URL, Rate: 100, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if code, _ := get(t, &http.Client{Timeout: 5 * time.Second}, n.URL); code != http.StatusOK {
		t.Errorf("status %d, want 200", code)
	}
}

// TestConfigErrors: bad configurations are refused before anything runs.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, cfg := range []NginxConfig{
		{Upstream: "", Rate: 1},
		{Upstream: "https://127.0.0.1:1", Rate: 1},
		{Upstream: "http://127.0.0.1:1/api", Rate: 1},
		{Upstream: "http://127.0.0.1:1", Rate: 0},
		{Upstream: "http://127.0.0.1:1", Rate: 1, Per: time.Hour},
		{Upstream: "http://127.0.0.1:1", Rate: 1, Burst: -1},
	} {
		if _, err := StartNginx(t.Context(), dir, cfg); err == nil {
			t.Errorf("nginx config %d %+v: no error", i, cfg)
		}
	}
	for i, cfg := range []HAProxyConfig{
		{Upstream: "http://127.0.0.1:1", Limit: 0},
		{Upstream: "http://127.0.0.1:1", Limit: 1, Window: 1500 * time.Microsecond},
		{Upstream: "http://127.0.0.1:1", Limit: 1, WindowHeader: "100%"},
		{Upstream: "127.0.0.1:1", Limit: 1},
	} {
		if _, err := StartHAProxy(t.Context(), dir, cfg); err == nil {
			t.Errorf("haproxy config %d %+v: no error", i, cfg)
		}
	}
	if got := fmt.Sprint(windowHeader(time.Second), windowHeader(time.Minute), windowHeader(time.Hour), windowHeader(24*time.Hour), windowHeader(10*time.Second)); got != "secondminutehourday10s" {
		t.Errorf("window headers %q", got)
	}
}
