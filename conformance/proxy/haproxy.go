package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// HAProxyConfig configures [StartHAProxy].
type HAProxyConfig struct {
	// Upstream is the server HAProxy proxies to, as http://127.0.0.1:port
	// (httptest.Server.URL). Required.
	Upstream string
	// Limit is the number of requests a client address may make per Window,
	// at least 1. The request that makes the count exceed Limit is denied:
	// with Limit 40, 40 requests in a fresh window pass and the 41st is
	// rejected.
	Limit int
	// Window is the length of the stick table's rate period,
	// http_req_rate(<Window>), a whole number of milliseconds, at least 1 ms.
	// One minute when 0.
	Window time.Duration
	// WindowHeader is the value of X-Ratelimit-Window. When empty it is
	// "second", "minute", "hour" or "day" for a window of exactly that
	// length (the vendor's words), else the window as a Go duration ("2s",
	// "10s", "1m30s"), which the ratehttp client also reads. Letters,
	// digits, spaces and ".-" only.
	WindowHeader string
	// RetryAfter, when positive, adds Retry-After with that many seconds
	// (rounded up) to the 429 responses. The seed vendor sends none, so the
	// default is none.
	RetryAfter time.Duration
	// Binary is the haproxy executable; "haproxy" (looked up in PATH) when
	// empty.
	Binary string
}

// HAProxy is a running HAProxy started by [StartHAProxy].
type HAProxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:port, without a
	// trailing slash.
	URL string
	// Dir holds haproxy.cfg and haproxy.out (stdout and stderr).
	Dir string
	// Limit, Window and WindowHeader are the values in force, defaults
	// applied.
	Limit        int
	Window       time.Duration
	WindowHeader string

	p *process
}

// haproxyTemplate is the configuration. Every request is tracked, so the
// rejected ones count against the client too. The rate is read once, right
// after the request is counted, into txn.rl_rate; the deny rule and the
// headers use that value, so a response reports the count its own request
// saw: X-Ratelimit-Used (remaining) = max(0, Limit - rate).
//
// http-after-response rules (HAProxy ≥ 2.2) also apply to the responses
// HAProxy makes itself, such as the 429 of http-request deny.
var haproxyTemplate = template.Must(template.New("haproxy.cfg").Parse(`# Written by github.com/ratehttp/ratehttp/conformance/proxy.
global
    nbthread 1
    maxconn 256

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    timeout http-request 10s

frontend ratelimit
    bind {{.Listen}}
    stick-table type ip size 1k expire {{.Expire}}ms store http_req_rate({{.WindowMS}}ms)
    http-request track-sc0 src
    http-request set-var(txn.rl_rate) sc_http_req_rate(0)
    http-request deny deny_status 429 if { var(txn.rl_rate) -m int gt {{.Limit}} }
    http-after-response set-header X-Ratelimit {{.Limit}}
    http-after-response set-header X-Ratelimit-Used %[var(txn.rl_rate),neg,add({{.Limit}})] if { var(txn.rl_rate) -m int le {{.Limit}} }
    http-after-response set-header X-Ratelimit-Used 0 if { var(txn.rl_rate) -m int gt {{.Limit}} }
    http-after-response set-header X-Ratelimit-Window "{{.WindowHeader}}"
{{- if .RetryAfter}}
    http-after-response set-header Retry-After {{.RetryAfter}} if { status 429 }
{{- end}}
    default_backend upstream

backend upstream
    server upstream {{.Upstream}}
`))

// windowHeader is the default X-Ratelimit-Window for w.
func windowHeader(w time.Duration) string {
	switch w {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return w.String()
}

// StartHAProxy writes dir/haproxy.cfg from cfg and starts HAProxy with it, as
//
//	haproxy -f <dir>/haproxy.cfg -db
//
// (foreground, no daemon, no pid file needed), listening on a free port of
// 127.0.0.1. It returns once the port accepts connections (within 5 s), or an
// error quoting HAProxy's output; it tries a second port if the first was
// taken meanwhile. ctx bounds the start only: the process runs until
// [HAProxy.Stop].
//
// The stick table keeps http_req_rate(Window) per client address and expires
// an idle entry after twice the window (at least one second).
func StartHAProxy(ctx context.Context, dir string, cfg HAProxyConfig) (*HAProxy, error) {
	up, err := upstreamHostPort(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if cfg.Limit < 1 {
		return nil, fmt.Errorf("proxy: haproxy: limit %d: want ≥ 1", cfg.Limit)
	}
	window := cfg.Window
	if window == 0 {
		window = time.Minute
	}
	if window < time.Millisecond || window%time.Millisecond != 0 || window > 24*time.Hour {
		return nil, fmt.Errorf("proxy: haproxy: window %v: want whole milliseconds, 1ms to 24h", window)
	}
	wh := cfg.WindowHeader
	if wh == "" {
		wh = windowHeader(window)
	}
	for _, r := range wh {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == ' ' || r == '.' || r == '-') {
			return nil, fmt.Errorf("proxy: haproxy: window header %q: letters, digits, spaces and .- only", wh)
		}
	}
	retryAfter := int64(0)
	if cfg.RetryAfter > 0 {
		retryAfter = int64((cfg.RetryAfter + time.Second - 1) / time.Second)
	}
	if dir, err = checkDir(dir); err != nil {
		return nil, err
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "haproxy"
	}
	expire := max(2*window, time.Second)
	return startRetry(func() (*HAProxy, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		var conf strings.Builder
		err = haproxyTemplate.Execute(&conf, map[string]any{
			"Listen": addr, "Upstream": up, "Limit": cfg.Limit,
			"WindowMS": window.Milliseconds(), "Expire": expire.Milliseconds(),
			"WindowHeader": wh, "RetryAfter": retryAfter,
		})
		if err != nil {
			return nil, err
		}
		confPath := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-f", confPath, "-db")
		cmd.Dir = dir
		p, err := start(ctx, "haproxy", cmd, addr, filepath.Join(dir, "haproxy.out"))
		if err != nil {
			return nil, err
		}
		return &HAProxy{
			URL: "http://" + addr, Dir: dir,
			Limit: cfg.Limit, Window: window, WindowHeader: wh,
			p: p,
		}, nil
	})
}

// Stop stops HAProxy and waits for it to exit. It is safe to call more than
// once.
func (h *HAProxy) Stop() error { return h.p.Stop() }

// Log returns the end of HAProxy's output (warnings and alerts).
func (h *HAProxy) Log() string { return tail(filepath.Join(h.Dir, "haproxy.out")) }
