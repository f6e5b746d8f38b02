package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/ratehttp/ratehttp/conformance/proxy"
)

// This file wires the reverse proxies of package proxy into the case table.
// The proxy rejects before the upstream sees the request, so these cases
// have no server log: their figures come from the attempts as the client
// sent them, and Target.Count reports what reached the upstream.

// ProxyCases returns the reverse-proxy cases: nginx and HAProxy, started as
// processes on loopback in front of the trivial handler. Without the binary a
// case is unavailable.
func ProxyCases() []Case {
	return []Case{
		{
			Name: "nginx limit_req", Library: "nginx (Debian package)",
			Family: TokenBucket, SendsHeaders: false,
			Rate: 20, Burst: 10, Window: time.Second,
			Start: startNginx(proxy.NginxConfig{Rate: 20, Per: time.Second, Burst: 9, RetryAfter: true}),
		},
		{
			Name: "HAProxy stick table", Library: "haproxy (Debian package)",
			Family: SlidingWindow, SendsHeaders: true,
			Rate: 20, Burst: 40, Window: 2 * time.Second,
			Start: startHAProxy(proxy.HAProxyConfig{Limit: 40, Window: 2 * time.Second}),
		},
	}
}

// IncidentCase is the limiter of the incident that opened issue 18: HAProxy
// allowing 1,200 requests per minute through a stick table that counts every
// request it sees, reporting the vendor's three headers. Its windows are a
// minute long, so it is not among [Cases]; run it with cmd/conform -incident.
func IncidentCase() Case {
	return Case{
		Name: "HAProxy stick table, 1200 per minute", Library: "haproxy (Debian package)",
		Family: SlidingWindow, SendsHeaders: true,
		Rate: 20, Burst: 1200, Window: time.Minute,
		Start: startHAProxy(proxy.HAProxyConfig{Limit: 1200, Window: time.Minute}),
	}
}

// startNginx: limit_req, a leaky bucket of Burst+1 requests, with
// Retry-After: 1 on its 429s and no quota headers.
func startNginx(cfg proxy.NginxConfig) func() (Target, error) {
	return func() (Target, error) {
		if !proxy.Available("nginx") {
			return Target{}, fmt.Errorf("%w: nginx not found", ErrUnavailable)
		}
		return startProxy("nginx", func(ctx context.Context, dir, upstream string) (string, func(), error) {
			cfg.Upstream = upstream
			n, err := proxy.StartNginx(ctx, dir, cfg)
			if err != nil {
				return "", nil, err
			}
			return n.URL, func() { n.Stop() }, nil
		})
	}
}

// startHAProxy: a stick table's http_req_rate, a weighted pair of periods
// opened by the first request, with rejected requests counted too; the
// vendor's X-Ratelimit headers on every response.
func startHAProxy(cfg proxy.HAProxyConfig) func() (Target, error) {
	return func() (Target, error) {
		if !proxy.Available("haproxy") {
			return Target{}, fmt.Errorf("%w: haproxy not found", ErrUnavailable)
		}
		return startProxy("haproxy", func(ctx context.Context, dir, upstream string) (string, func(), error) {
			cfg.Upstream = upstream
			h, err := proxy.StartHAProxy(ctx, dir, cfg)
			if err != nil {
				return "", nil, err
			}
			return h.URL, func() { h.Stop() }, nil
		})
	}
}

// startProxy starts the upstream and, in a temporary directory, the proxy
// in front of it.
func startProxy(name string, start func(ctx context.Context, dir, upstream string) (url string, stop func(), err error)) (Target, error) {
	dir, err := os.MkdirTemp("", "conformance-"+name+"-")
	if err != nil {
		return Target{}, err
	}
	upstream := &Log{}
	mux := http.NewServeMux()
	mux.Handle(path, upstream.Wrap(App()))
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, stop, err := start(ctx, dir, srv.URL)
	if err != nil {
		srv.Close()
		os.RemoveAll(dir)
		return Target{}, err
	}
	return Target{
		URL:   url + path,
		Count: upstream.Counts,
		Stop: func() {
			stop()
			srv.Close()
			os.RemoveAll(dir)
		},
	}, nil
}
