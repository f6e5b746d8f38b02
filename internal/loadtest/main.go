// Package loadtest is the load-test client of ratehttp's example
// (go run ./example): a program that drives an HTTP API through a
// ratehttp.Transport, by default a simulated one on loopback, and reports
// what the quota allowed. It is a package so that other modules of this
// repository can run the same client with more flags: redisquota's
// cmd/loadtest adds -redis, a shared budget in Redis, without this module
// depending on Redis. See [Run].
//
// Exit status: 0 when the run completed and every request succeeded or was
// held back by the quota (with -thresholds: when every condition held); 1 when
// requests failed for another reason (without -thresholds) or the run could
// not be done; 2 for bad flags; 3 when a -thresholds condition did not hold.
package loadtest

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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// Options extend the load-test client for a program that embeds it. The
// zero value is the example's client.
type Options struct {
	// Name prefixes the program's messages; empty means "example".
	Name string
	// Flags, if not nil, defines more flags on the program's flag set,
	// before the arguments are parsed.
	Flags func(fs *flag.FlagSet)
	// Setup, if not nil, is called once the arguments are parsed, and
	// returns what the extension adds to the run. An error ends the run
	// with exit status 1.
	Setup func() (Extension, error)
}

// Extension is what [Options.Setup] adds to a run.
type Extension struct {
	// Transport are more options for the run's ratehttp.Transport, such as
	// ratehttp.WithSharedBudget.
	Transport []ratehttp.Option
	// Collectors are registered beside the Transport: their metrics are
	// served by -metrics.
	Collectors []prometheus.Collector
	// Describe, if not empty, is printed after the description of the run.
	Describe string
	// ServerAddr is where the embedded simulated API listens (when -url is
	// not given), so that another client can share it; empty means a free
	// loopback port.
	ServerAddr string
	// Close, if not nil, is called when the run is over.
	Close func()
}

// Run runs the load-test client with the command-line arguments args
// (without the program's name), printing on stdout and stderr, until the
// run is over or ctx ends (the summary is still printed), and returns the
// exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, o Options) int {
	if o.Name == "" {
		o.Name = "example"
	}
	return run(ctx, args, stdout, stderr, o)
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ext ...Options) int {
	o := Options{Name: "example"}
	if len(ext) > 0 {
		o = ext[0]
	}
	opts, err := parseFlags(args, stderr, o.Name, o.Flags)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (see -h)\n", o.Name, err)
		return exitUsage
	}
	var x Extension
	if o.Setup != nil {
		if x, err = o.Setup(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", o.Name, err)
			return exitFailed
		}
	}
	if x.Close != nil {
		defer x.Close()
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
		host, stopServer, err := startServer(srv, x.ServerAddr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: embedded server: %v\n", o.Name, err)
			return exitFailed
		}
		defer stopServer()
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
		append([]ratehttp.Option{
			ratehttp.WithRetries(opts.retries),
			ratehttp.WithMaxWait(opts.maxWait),
			ratehttp.WithUsedMeaning(opts.used),
			ratehttp.WithClientName(o.Name),
		}, x.Transport...)...,
	)
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr)
	for _, c := range x.Collectors {
		if err := reg.Register(c); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", o.Name, err)
			return exitFailed
		}
	}

	if opts.metrics != "" {
		addr, stopMetrics, err := serveMetrics(opts.metrics, reg)
		if err != nil {
			fmt.Fprintf(stderr, "%s: -metrics: %v\n", o.Name, err)
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
	if x.Describe != "" {
		description += "\n" + x.Describe
	}
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
		fmt.Fprintf(stderr, "%s: %v\n", o.Name, err)
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
		fmt.Fprintf(stderr, "%s: warning: %s\n", o.Name, w)
	}
	if opts.json {
		if err := writeJSON(stdout, sum); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", o.Name, err)
			return exitFailed
		}
	} else {
		writeTable(stdout, sum)
	}

	code := exitOK
	rows := st.rows(res.elapsed)
	if opts.out != "" {
		if err := writeOut(opts.out, opts.outFormat, rows, sum); err != nil {
			fmt.Fprintf(stderr, "%s: -out: %v\n", o.Name, unwrapPath(err))
			code = exitFailed
		}
	}
	if opts.report != "" {
		if err := writeHTMLReport(opts.report, description, rows, sum, time.Now()); err != nil {
			fmt.Fprintf(stderr, "%s: -report: %v\n", o.Name, unwrapPath(err))
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

// startServer serves srv on addr, or on a free loopback port when addr is
// empty, and returns the address it listens on and a function that stops
// it.
func startServer(srv *ratehttptest.Server, addr string) (string, func(), error) {
	if addr == "" {
		return strings.TrimPrefix(srv.Start(), "http://"), srv.Close, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(l) // returns http.ErrServerClosed on Close
	}()
	return l.Addr().String(), func() {
		hs.Close()
		<-done
	}, nil
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
