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
// With -url it loads a real API instead:
//
//	go run ./example -url https://api.example.com/v1/items -H "Authorization: Bearer $TOKEN" -n 500 -c 8
//
// Exit status: 0 when every request succeeded or was held back by the quota,
// 1 when requests failed for another reason (or the target is unreachable), 2
// for bad flags.
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
	"golang.org/x/time/rate"

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
	exitOK     = 0
	exitFailed = 1 // requests failed for reasons other than the quota
	exitUsage  = 2
)

// options are the parsed flags.
type options struct {
	url         *url.URL // nil: start the embedded server
	method      string
	headers     headerList
	body        []byte // nil without -body
	duration    time.Duration
	n           int64
	concurrency int
	rate        float64
	metrics     string
	json        bool
	retries     int
	maxWait     time.Duration
	used        ratehttp.UsedMeaning

	// The embedded server, when -url is not set.
	server ratehttptest.Config
}

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

	target := opts.url
	var srv *ratehttptest.Server
	if target == nil {
		srv = ratehttptest.NewServer(opts.server)
		host := strings.TrimPrefix(srv.Start(), "http://")
		defer srv.Close()
		target = &url.URL{Scheme: "http", Host: host, Path: "/v1/items"}
	}

	// Below ratehttp, a counting transport sees every attempt, retries
	// included. Connections are kept for every worker, not the default two.
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = opts.concurrency
	defer base.CloseIdleConnections()
	st := newStats()
	tr := ratehttp.New(&countingTransport{base: base, stats: st, used: opts.used},
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
		target:      target,
		newRequest:  requestFactory(opts, target.String()),
		concurrency: opts.concurrency,
		n:           opts.n,
		stats:       st,
	}
	if opts.rate > 0 {
		lt.offered = rate.NewLimiter(rate.Limit(opts.rate), 1)
	}

	fmt.Fprintln(info, describeRun(opts, target, srv != nil))
	rep := &reporter{
		w:        info,
		terminal: isTerminal(info),
		stats:    st,
		gauges:   func() gauges { return readGauges(reg) },
	}
	res, err := lt.run(ctx, opts.duration, rep.start)
	if err != nil {
		fmt.Fprintf(stderr, "example: %v\n", err)
		return exitFailed
	}

	sum := summarise(target, res, st, readGauges(reg), opts.concurrency)
	if srv != nil {
		sum.Server = serverReport(srv)
	}
	if opts.json {
		if err := writeJSON(stdout, sum); err != nil {
			fmt.Fprintf(stderr, "example: %v\n", err)
			return exitFailed
		}
	} else {
		writeTable(stdout, sum)
	}
	if sum.Failed > 0 {
		return exitFailed
	}
	return exitOK
}

// parseFlags parses args into options. A usage error is returned as one line;
// -h prints the flags to stderr and returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by the caller
	fs.Usage = func() {}

	target := fs.String("url", "", "target `URL`; without it, an embedded simulated API is started on loopback")
	fs.StringVar(&o.method, "method", "", "HTTP `method` (default GET, or POST with -body)")
	fs.Var(&o.headers, "H", "request header \"`Name: value`\" (repeatable)")
	body := fs.String("body", "", "request body: a `string`, or @file to read it from a file")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run (unlimited when -n is set and -duration is not)")
	fs.Int64Var(&o.n, "n", 0, "stop after this many requests (0: no limit)")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent workers, each with unlimited demand")
	fs.Float64Var(&o.rate, "rate", 0, "cap on the offered rate, requests per second (0: no cap)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus /metrics on this `address`, such as 127.0.0.1:9090 (default off)")
	fs.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout (progress goes to stderr)")
	fs.IntVar(&o.retries, "retries", ratehttp.DefaultRetries, "retries per request after the first attempt (ratehttp.WithRetries)")
	fs.DurationVar(&o.maxWait, "max-wait", ratehttp.DefaultMaxWait, "longest wait for the quota before a request is refused locally (ratehttp.WithMaxWait)")
	used := fs.String("used", "remaining", "meaning of X-Ratelimit-Used: remaining, used or auto (ratehttp.WithUsedMeaning)")
	fs.IntVar(&o.server.Limit, "server-limit", 100, "embedded server: requests allowed per window")
	fs.DurationVar(&o.server.Window, "server-window", 5*time.Second, "embedded server: window length")
	fs.DurationVar(&o.server.Latency, "server-latency", 20*time.Millisecond, "embedded server: service time of each request")
	policy := fs.String("server-policy", "fixed", "embedded server: fixed, sliding or token (bucket)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage: go run ./example [flags]")
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch {
	case o.concurrency < 1:
		return nil, errors.New("-c must be at least 1")
	case o.n < 0:
		return nil, errors.New("-n must not be negative")
	case o.duration <= 0:
		return nil, errors.New("-duration must be positive")
	case o.rate < 0:
		return nil, errors.New("-rate must not be negative")
	case o.retries < 0:
		return nil, errors.New("-retries must not be negative")
	case o.maxWait < 0:
		return nil, errors.New("-max-wait must not be negative")
	case o.server.Limit < 1:
		return nil, errors.New("-server-limit must be at least 1")
	case o.server.Window < 10*time.Millisecond:
		return nil, errors.New("-server-window must be at least 10ms")
	case o.server.Latency < 0:
		return nil, errors.New("-server-latency must not be negative")
	}
	if o.n > 0 && !set["duration"] {
		o.duration = 0 // -n alone: run until done
	}

	var err error
	if o.used, err = parseUsed(*used); err != nil {
		return nil, err
	}
	if o.server.Policy, err = parsePolicy(*policy); err != nil {
		return nil, err
	}
	if *target != "" {
		u, err := url.Parse(*target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("-url must be an absolute http:// or https:// URL")
		}
		o.url = u
	}
	if *body != "" {
		if o.body, err = readBody(*body); err != nil {
			return nil, err
		}
	}
	if o.method == "" {
		o.method = http.MethodGet
		if o.body != nil {
			o.method = http.MethodPost
		}
	}
	// The same check http.NewRequest makes, but at start-up and in one line.
	if _, err := http.NewRequest(o.method, "http://localhost/", nil); err != nil {
		return nil, fmt.Errorf("-method: invalid method %q", o.method)
	}
	return o, nil
}

func parseUsed(s string) (ratehttp.UsedMeaning, error) {
	switch s {
	case "remaining":
		return ratehttp.UsedRemaining, nil
	case "used":
		return ratehttp.UsedUsed, nil
	case "auto":
		return ratehttp.UsedAuto, nil
	}
	return 0, fmt.Errorf("-used must be remaining, used or auto, not %q", s)
}

func parsePolicy(s string) (ratehttptest.Policy, error) {
	switch s {
	case "fixed":
		return ratehttptest.FixedWindow, nil
	case "sliding":
		return ratehttptest.SlidingWindow, nil
	case "token":
		return ratehttptest.TokenBucket, nil
	}
	return 0, fmt.Errorf("-server-policy must be fixed, sliding or token, not %q", s)
}

// readBody returns the body given to -body: the text itself, or the contents
// of the file named after an '@'.
func readBody(v string) ([]byte, error) {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		return []byte(v), nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("-body: reading %s: %v", name, err)
	}
	return b, nil
}

// headerList is the repeatable -H flag.
type headerList []header

type header struct{ name, value string }

func (h *headerList) String() string { return "" }

func (h *headerList) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return errors.New(`want "Name: value"`)
	}
	*h = append(*h, header{name, value})
	return nil
}

// requestFactory returns a function that builds one request to target. The
// body is a bytes.Reader, so http.NewRequest sets GetBody and ratehttp can
// replay it on a retry.
func requestFactory(o *options, target string) func(context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		var body io.Reader
		if o.body != nil {
			body = bytes.NewReader(o.body)
		}
		req, err := http.NewRequestWithContext(ctx, o.method, target, body)
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
