// Command quota compares how ratehttp and its peers use a server's quota.
//
// It runs every scenario for every kind of client and worker count against
// a fresh ratehttptest server on loopback, in real time, and prints one
// Markdown table per scenario: the utilisation of the quota (accepted over
// available, from the server's windows, the first partial window skipped),
// the 429s the server sent, attempts per success, and the p50 and p99 latency
// of successful calls as the caller sees them (waits and retries included).
//
// Each run lasts -windows windows and stops by itself; the default settings
// take about five minutes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	p := params{}
	flag.IntVar(&p.limit, "limit", 50, "requests per window")
	flag.DurationVar(&p.window, "window", time.Second, "window length")
	flag.IntVar(&p.windows, "windows", 6, "windows per run, counting the first, partial and unmeasured one (the load runs half a window longer)")
	flag.Float64Var(&p.phase, "phase", 0.37, "fraction of a window between a boundary and the start of the load")
	flag.Float64Var(&p.consume, "consume", 0.30, "share of each window the background consumer takes")
	workersFlag := flag.String("workers", "16,64", "comma-separated worker counts")
	scenariosFlag := flag.String("scenarios", "steady,offset,halved,shared,background", "comma-separated scenarios")
	kindsFlag := flag.String("kinds", "ratehttp,plain,retryablehttp,static,static+retry,failsafe", "comma-separated kinds of client")
	flag.Parse()

	if err := check(p); err != nil {
		fatal(err)
	}
	workers := parseList("-workers", *workersFlag, func(f string) (int, bool) {
		n, err := strconv.Atoi(f)
		return n, err == nil && n >= 1
	})
	scs := parseList("-scenarios", *scenariosFlag, byName(scenarios, func(s scenario) string { return s.name }))
	ks := parseList("-kinds", *kindsFlag, byName(kinds, func(k kind) string { return k.name }))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	fmt.Printf("quota: limit %d per %s window, %d windows per run (first skipped), load starts %.0f%% into a window\n",
		p.limit, p.window, p.windows, 100*p.phase)
	fmt.Println("\nKinds:")
	for _, k := range ks {
		fmt.Printf("- %s: %s\n", k.name, k.note)
	}
	for _, sc := range scs {
		var rs []result
		for _, k := range ks {
			for _, n := range workers {
				r, err := run(ctx, sc, k, n, p)
				if err != nil {
					fatal(err)
				}
				rs = append(rs, r)
			}
		}
		writeTable(os.Stdout, sc, rs)
	}
}

func check(p params) error {
	switch {
	case p.limit < 2:
		return fmt.Errorf("-limit must be at least 2")
	case p.window < 10*time.Millisecond:
		return fmt.Errorf("-window must be at least 10ms")
	case p.windows < 4:
		return fmt.Errorf("-windows must be at least 4")
	case p.phase < 0 || p.phase >= 1:
		return fmt.Errorf("-phase must be in [0, 1)")
	case p.consume < 0 || p.consume >= 1:
		return fmt.Errorf("-consume must be in [0, 1)")
	}
	return nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "quota:", err)
	os.Exit(1)
}

// parseList reads a comma-separated flag value, each item through parse; it
// exits on the first item parse refuses.
func parseList[T any](name, value string, parse func(string) (T, bool)) []T {
	var out []T
	for _, f := range strings.Split(value, ",") {
		v, ok := parse(strings.TrimSpace(f))
		if !ok {
			fatal(fmt.Errorf("bad %s value %q", name, f))
		}
		out = append(out, v)
	}
	return out
}

// byName returns a parse function for parseList that finds an item of list
// by its name.
func byName[T any](list []T, name func(T) string) func(string) (T, bool) {
	return func(s string) (T, bool) {
		for _, v := range list {
			if name(v) == s {
				return v, true
			}
		}
		var zero T
		return zero, false
	}
}
