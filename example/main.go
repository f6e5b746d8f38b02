// Command example shows what ratehttp does, and is a load-test client for any
// HTTP API.
//
// Run without flags, it starts a simulated API on loopback that allows 100
// requests per 5-second window, drives it for 20 seconds from 32 goroutines
// with unlimited demand, and prints a progress line and a summary: the client
// uses the whole quota and almost never hears 429.
//
//	go run ./example
//
// With -url it loads a real API instead, in the closed model (-c workers) or,
// with -rate, the open model (a constant arrival rate):
//
//	go run ./example -url https://api.example.com/v1/items -H "Authorization: Bearer $TOKEN" -n 500 -c 8
//	go run ./example -url https://api.example.com/v1/items -rate 50 -duration 1m -report run.html
//
// -out writes the per-second series and the summary as CSV or JSON lines,
// -report an HTML report with charts, and -thresholds sets the exit status
// from conditions such as p99<2s. See -h for every flag.
//
// Exit status: 0 when the run completed and every request succeeded or was
// held back by the quota (with -thresholds: when every condition held); 1 when
// requests failed for another reason (without -thresholds) or the run could
// not be done; 2 for bad flags; 3 when a -thresholds condition did not hold.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first Ctrl-C the run winds down and prints its summary; a
	// second one kills the program as usual.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK        = 0
	exitFailed    = 1 // requests failed for reasons other than the quota, or the run could not be done
	exitUsage     = 2
	exitThreshold = 3 // a -thresholds condition did not hold
)

// run is the whole program: main adds only the signal handling and the exit.
// It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "example: %v (see -h)\n", err)
		return exitUsage
	}

	// In JSON mode stdout holds the summary alone, so that it can be piped;
	// everything else goes to stderr.
	info := stdout
	if opts.json {
		info = stderr
	}

	targets := opts.targets
	var srv *ratehttptest.Server
	if len(targets) == 0 {
		srv = ratehttptest.NewServer(opts.server)
		host := strings.TrimPrefix(srv.Start(), "http://")
		defer srv.Close()
		targets = []target{{method: opts.method, url: &url.URL{Scheme: "http", Host: host, Path: "/v1/items"}}}
	}

	// Below ratehttp, a counting transport sees every attempt, retries
	// included. Connections are kept for every request in flight, not the
	// default two.
	pool := opts.concurrency
	if opts.rate > 0 {
		pool = opts.maxWorkers
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns, base.MaxIdleConnsPerHost = 0, pool
	defer base.CloseIdleConnections()
	st := newStats()
	tr := ratehttp.New(&countingTransport{base: base, stats: st, used: opts.used, now: time.Now},
		ratehttp.WithRetries(opts.retries),
		ratehttp.WithMaxWait(opts.maxWait),
		ratehttp.WithUsedMeaning(opts.used),
		ratehttp.WithClientName("example"),
	)
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr)

	if opts.metrics != "" {
		addr, stopMetrics, err := serveMetrics(opts.metrics, reg)
		if err != nil {
			fmt.Fprintf(stderr, "example: -metrics: %v\n", err)
			return exitFailed
		}
		defer stopMetrics()
		fmt.Fprintf(info, "metrics: http://%s/metrics\n", addr)
	}

	lt := &loadTest{
		client:      &http.Client{Transport: tr},
		newRequest:  requestFactory(opts, targets),
		concurrency: opts.concurrency,
		rate:        opts.rate,
		maxWorkers:  opts.maxWorkers,
		rampUp:      opts.rampUp,
		timeout:     opts.timeout,
		n:           opts.n,
		stats:       st,
	}

	description := describeRun(opts, targets, srv != nil)
	fmt.Fprintln(info, description)
	rep := &reporter{
		w:        info,
		terminal: isTerminal(info),
		open:     opts.rate > 0,
		stats:    st,
		gauges:   func() gauges { return readGauges(reg) },
	}
	res, err := lt.run(ctx, opts.duration, rep.start)
	if err != nil {
		fmt.Fprintf(stderr, "example: %v\n", err)
		return exitFailed
	}

	sum := summarise(opts, targets, res, st, readGauges(reg))
	if srv != nil {
		sum.Server = serverReport(srv, opts.server.Policy)
	}
	for _, th := range opts.thresholds {
		sum.Thresholds = append(sum.Thresholds, th.check(sum))
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "example: warning: %s\n", w)
	}
	if opts.json {
		if err := writeJSON(stdout, sum); err != nil {
			fmt.Fprintf(stderr, "example: %v\n", err)
			return exitFailed
		}
	} else {
		writeTable(stdout, sum)
	}

	code := exitOK
	rows := st.rows(res.elapsed)
	if opts.out != "" {
		if err := writeOut(opts.out, opts.outFormat, rows, sum); err != nil {
			fmt.Fprintf(stderr, "example: -out: %v\n", unwrapPath(err))
			code = exitFailed
		}
	}
	if opts.report != "" {
		if err := writeHTMLReport(opts.report, description, rows, sum, time.Now()); err != nil {
			fmt.Fprintf(stderr, "example: -report: %v\n", unwrapPath(err))
			code = exitFailed
		}
	}
	switch {
	case code != exitOK:
		return code
	case len(sum.Thresholds) > 0:
		for _, t := range sum.Thresholds {
			if !t.Pass {
				return exitThreshold
			}
		}
		return exitOK
	case sum.Failed > 0:
		return exitFailed
	}
	return exitOK
}

// requestFactory returns a function that builds the i-th request, to the
// targets in turn. The body is a bytes.Reader, so http.NewRequest sets
// GetBody and ratehttp can replay it on a retry.
func requestFactory(o *options, targets []target) func(context.Context, int64) (*http.Request, error) {
	urls := make([]string, len(targets))
	for i, t := range targets {
		urls[i] = t.url.String()
	}
	return func(ctx context.Context, i int64) (*http.Request, error) {
		k := int(i % int64(len(targets)))
		var body io.Reader
		if o.body != nil {
			body = bytes.NewReader(o.body)
		}
		req, err := http.NewRequestWithContext(ctx, targets[k].method, urls[k], body)
		if err != nil {
			return nil, err
		}
		for _, h := range o.headers {
			if strings.EqualFold(h.name, "Host") {
				req.Host = h.value
				continue
			}
			req.Header.Add(h.name, h.value)
		}
		return req, nil
	}
}

// serveMetrics serves reg on addr at /metrics and returns the bound address
// (useful with port 0) and a function that stops the server.
func serveMetrics(addr string, reg *prometheus.Registry) (string, func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(l) // returns http.ErrServerClosed on Shutdown
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
		<-done
	}
	return l.Addr().String(), stop, nil
}

// isTerminal reports whether w is a terminal, where progress is redrawn in
// place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
