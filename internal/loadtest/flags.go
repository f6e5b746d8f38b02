package loadtest

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// defaultMaxWorkers bounds the requests in flight in the open model.
const defaultMaxWorkers = 1000

const usageHead = `Usage: go run ./example [flags]

A load-test client for HTTP APIs whose requests all go through ratehttp,
which keeps the client inside the server's rate limit. Without -url it
starts a simulated API on loopback (100 requests per 5s) and drives it for
20s, as a demonstration.

Two load models:
  closed (default)  -c workers, each sending its next request as soon as its
                    last one is done (hey, ab): the offered rate follows the
                    latency.
  open (-rate R)    R requests start every second whatever the latency
                    (vegeta, k6's constant-arrival-rate); the requests in
                    flight grow as needed up to -max-workers, and arrivals
                    beyond are dropped, counted and warned about.

Examples:
  go run ./example
  go run ./example -url https://api.example.com/v1/items -H "Authorization: Bearer $TOKEN" -n 500 -c 8
  go run ./example -url https://api.example.com/v1/items -rate 50 -ramp-up 10s -duration 1m -timeout 30s
  go run ./example -rate 30 -report run.html -out run.csv -thresholds 'p99<3s,429s<1%'
  go run ./example -duration 1m -json > summary.json

Flags:
`

const usageTail = `
-thresholds takes conditions separated by commas, each a metric, <, <=, > or
>=, and a value: a duration for latencies (p99<2s), a count or a percentage
for counts (failed<=0, 429s<1%%), successes per second for rate (rate>15),
a percentage for utilisation (utilisation>90%%). Metrics: %s.

Exit status:
  0  the run completed; without -thresholds, every request succeeded or was
     held back by the quota (a 429, or refused locally by ratehttp)
  1  without -thresholds, requests failed for another reason (an error, a
     timeout, a status of 400 or more but 429); with or without, the run
     could not be done (target unreachable, -metrics, -out or -report failed)
  2  bad flags
  3  a -thresholds condition did not hold
`

// options are the parsed flags.
type options struct {
	targets     []target // empty: start the embedded server
	method      string
	headers     headerList
	body        []byte // nil without -body
	duration    time.Duration
	n           int64
	concurrency int
	rate        float64
	maxWorkers  int
	rampUp      time.Duration
	timeout     time.Duration
	metrics     string
	json        bool
	out         string
	outFormat   string
	report      string
	thresholds  []threshold
	retries     int
	maxWait     time.Duration
	used        ratehttp.UsedMeaning

	// The embedded server, when -url is not set.
	server ratehttptest.Config
}

// target is one URL to load, with its method.
type target struct {
	method string
	url    *url.URL
}

// parseFlags parses args into options. A usage error is returned as one line;
// -h prints the usage to stderr and returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer, name string, more func(*flag.FlagSet)) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by the caller
	fs.Usage = func() {}

	var urls stringList
	fs.Var(&urls, "url", "target `URL` (repeatable: requests take the targets in turn); without it, an embedded simulated API is started on loopback")
	targetsFile := fs.String("targets", "", "read targets from a `file`: one a line, a URL or a method and a URL (\"POST https://...\"); # starts a comment")
	fs.StringVar(&o.method, "method", "", "HTTP `method` (default GET, or POST with -body)")
	fs.Var(&o.headers, "H", "request header \"`Name: value`\" (repeatable)")
	body := fs.String("body", "", "request body: a `string`, or @file to read it from a file")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run (unlimited when -n is set and -duration is not)")
	fs.Int64Var(&o.n, "n", 0, "stop after starting this many requests (0: no limit)")
	fs.IntVar(&o.concurrency, "c", 32, "closed model: concurrent workers, each with unlimited demand")
	fs.Float64Var(&o.rate, "rate", 0, "open model: requests started per second, whatever the latency (0: the closed model)")
	fs.IntVar(&o.maxWorkers, "max-workers", defaultMaxWorkers, "open model: most requests in flight; arrivals beyond are dropped")
	fs.DurationVar(&o.rampUp, "ramp-up", 0, "reach full load over this `duration`: the rate grows linearly (open), or the workers start evenly spread (closed)")
	fs.DurationVar(&o.timeout, "timeout", 0, "per-request timeout, waits for the quota included (0: none); a quota wait that cannot end in time is refused locally at once")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus /metrics on this `address`, such as 127.0.0.1:9090 (default off)")
	fs.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout (progress goes to stderr)")
	fs.StringVar(&o.out, "out", "", "write the per-second series and the summary to this `file`, as CSV (.csv) or JSON lines (.jsonl)")
	fs.StringVar(&o.outFormat, "out-format", "", "format of -out: csv or jsonl (default: from the file's extension)")
	fs.StringVar(&o.report, "report", "", "write an HTML report with charts to this `file` (self-contained: opens without network)")
	thresholds := fs.String("thresholds", "", "pass/fail `conditions` that set the exit status, such as 'p99<2s,429s<1%' (see below)")
	fs.IntVar(&o.retries, "retries", ratehttp.DefaultRetries, "retries per request after the first attempt (ratehttp.WithRetries)")
	fs.DurationVar(&o.maxWait, "max-wait", ratehttp.DefaultMaxWait, "longest wait for the quota before a request is refused locally (ratehttp.WithMaxWait)")
	used := fs.String("used", "remaining", "meaning of X-Ratelimit-Used: remaining, used or auto (ratehttp.WithUsedMeaning)")
	fs.IntVar(&o.server.Limit, "server-limit", 100, "embedded server: requests allowed per window")
	fs.DurationVar(&o.server.Window, "server-window", 5*time.Second, "embedded server: window length")
	fs.DurationVar(&o.server.Latency, "server-latency", 20*time.Millisecond, "embedded server: service time of each request")
	policy := fs.String("server-policy", "fixed", "embedded server: fixed, sliding, weighted, token (bucket), gcra or leaky (bucket)")
	if more != nil {
		more(fs)
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprint(stderr, usageHead)
			fs.PrintDefaults()
			fmt.Fprintf(stderr, usageTail, thresholdNames())
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
	case o.rate > 0 && set["c"]:
		return nil, errors.New("-c is for the closed model: with -rate, requests in flight grow as needed up to -max-workers")
	case o.rate == 0 && set["max-workers"]:
		return nil, errors.New("-max-workers is for the open model: set -rate too")
	case o.maxWorkers < 1:
		return nil, errors.New("-max-workers must be at least 1")
	case o.rampUp < 0:
		return nil, errors.New("-ramp-up must not be negative")
	case o.timeout < 0:
		return nil, errors.New("-timeout must not be negative")
	case o.retries < 0:
		return nil, errors.New("-retries must not be negative")
	case o.maxWait < 0:
		return nil, errors.New("-max-wait must not be negative")
	case o.outFormat != "" && o.out == "":
		return nil, errors.New("-out-format needs -out")
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
	if o.out != "" {
		if o.outFormat, err = outFormat(o.out, o.outFormat); err != nil {
			return nil, err
		}
	}
	if *thresholds != "" {
		if o.thresholds, err = parseThresholds(*thresholds); err != nil {
			return nil, err
		}
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
	if err := checkMethod("-method", o.method); err != nil {
		return nil, err
	}
	for _, u := range urls {
		t, err := parseTarget(o.method, u)
		if err != nil {
			return nil, fmt.Errorf("-url %v", err)
		}
		o.targets = append(o.targets, t)
	}
	if *targetsFile != "" {
		ts, err := readTargets(*targetsFile, o.method)
		if err != nil {
			return nil, err
		}
		o.targets = append(o.targets, ts...)
	}
	return o, nil
}

// checkMethod makes the check http.NewRequest makes, but at start-up and in
// one line.
func checkMethod(flagName, m string) error {
	if _, err := http.NewRequest(m, "http://localhost/", nil); err != nil {
		return fmt.Errorf("%s: invalid method %q", flagName, m)
	}
	return nil
}

// parseTarget reads an absolute http or https URL. Its error is a sentence
// to follow the flag's name; it leaves the URL out, which may hold secrets.
func parseTarget(method, v string) (target, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, errors.New("must be an absolute http:// or https:// URL")
	}
	return target{method: method, url: u}, nil
}

// readTargets reads -targets: one target a line, a URL or a method and a
// URL; blank lines and lines starting with # are skipped. Targets without a
// method take method.
func readTargets(name, method string) ([]target, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("-targets: reading %s: %v", name, unwrapPath(err))
	}
	defer f.Close()
	var out []target
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		m, u := method, fields[0]
		switch len(fields) {
		case 1:
		case 2:
			m, u = fields[0], fields[1]
			if err := checkMethod(fmt.Sprintf("-targets: %s:%d", name, line), m); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("-targets: %s:%d: want a URL, or a method and a URL", name, line)
		}
		t, err := parseTarget(m, u)
		if err != nil {
			return nil, fmt.Errorf("-targets: %s:%d: the URL %v", name, line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-targets: %s: %v", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-targets: %s has no target", name)
	}
	return out, nil
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
	case "weighted":
		return ratehttptest.WeightedWindow, nil
	case "token":
		return ratehttptest.TokenBucket, nil
	case "gcra":
		return ratehttptest.GCRA, nil
	case "leaky":
		return ratehttptest.LeakyBucket, nil
	}
	return 0, fmt.Errorf("-server-policy must be fixed, sliding, weighted, token, gcra or leaky, not %q", s)
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
		return nil, fmt.Errorf("-body: reading %s: %v", name, unwrapPath(err))
	}
	return b, nil
}

// unwrapPath drops the *os.PathError around err: its path is already in the
// message.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return "" }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
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
