// Command instr counts the instructions one request costs through the stacks
// of the cost benchmarks, on the stub base, with valgrind's callgrind tool.
// Unlike a time, the count does not depend on what else the machine is doing:
// measured twice, it gives the same figure to within a few instructions in
// several thousand per request.
//
// For each stack, instr runs itself under `valgrind --tool=callgrind` twice.
// Each run sends -warmup requests, then n more (-n1 in one run, -n2 in the
// other), one after another, and callgrind counts instructions only while
// the n requests run: the program switches collection on and off with
// callgrind's client requests, on the thread that sends them. The cost of one
// request is (Ir(n2) − Ir(n1)) / (n2 − n1), which cancels whatever does not
// grow with n. With -count above 1, every stack is measured that many times
// and the runs are printed beside their mean.
//
// What would make the count vary from run to run is held fixed:
//   - one P (GOMAXPROCS=1), and requests sent from one goroutine that yields,
//     uncounted, every 20 requests, so that the runtime's monitor never
//     preempts it at a moment that depends on the clock;
//   - GODEBUG=asyncpreemptoff=1 (no preemption signals) and cpu.rdtscp=off:
//     valgrind 3.19 cannot execute RDTSCP, which the runtime runs when one
//     of its locks is contended, and kills the program;
//   - GOGC=off, so no collection runs and every allocation takes fresh
//     memory: the collector's cost, which grows with the bytes allocated
//     (B/op in BenchmarkCost), is not in the count;
//   - memory profiling off: it samples allocations at random;
//   - a warm-up long enough for the runtime's type-assertion caches, which it
//     fills at random calls, to be full before counting starts;
//   - the heap's base address, when the program is built with
//     GOEXPERIMENT=norandomizedheapbase64 (run.sh does so): with a random
//     base, the page allocator's work varies by a few instructions per
//     request. instr warns when it was built without it.
//
// What remains is what depends on values the program cannot fix: the random
// seed of every map's hash, and the clock (time.Time.Add, which ratehttp calls
// per request, takes a carry branch or not depending on its nanoseconds).
//
// Usage, from the bench directory:
//
//	GOEXPERIMENT=norandomizedheapbase64 go run ./cmd/instr [flags]
//
// It prints a Markdown table: stack, instructions per request, ratio to the
// bare stub.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs instr with the given arguments and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("instr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stacks := fs.String("stacks", "bare,ratehttp,retryablehttp", "comma-separated stacks of bench.CostStacks to count; ratios are to bare")
	n1 := fs.Int("n1", 2000, "measured requests in the first run")
	n2 := fs.Int("n2", 12000, "measured requests in the second run")
	warmup := fs.Int("warmup", 20000, "requests sent before counting starts, in both runs")
	count := fs.Int("count", 2, "measurements of each stack")
	valgrind := fs.String("valgrind", "valgrind", "valgrind program")
	keep := fs.String("keep", "", "directory to keep callgrind's output files in (default: a temporary directory, removed)")
	child := fs.String("child", "", "internal: send the requests of one run through this stack (run under callgrind by instr)")
	n := fs.Int("n", 0, "internal: measured requests of the -child run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *child != "" {
		if err := work(*child, *warmup, *n); err != nil {
			fmt.Fprintln(stderr, "instr:", err)
			return 1
		}
		return 0
	}
	if *n1 < 0 || *n2 <= *n1 || *warmup < 0 || *count < 1 {
		fmt.Fprintln(stderr, "instr: want 0 <= -n1 < -n2, -warmup >= 0 and -count >= 1")
		return 2
	}
	names := strings.Split(*stacks, ",")
	for _, name := range names {
		if _, err := lookupStack(name); err != nil {
			fmt.Fprintln(stderr, "instr:", err)
			return 2
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "instr:", err)
		return 1
	}
	if !heapBaseFixed() {
		fmt.Fprintln(stderr, "instr: built without GOEXPERIMENT=norandomizedheapbase64: figures may vary by a few instructions per request from run to run")
	}
	if runtime.GOARCH != "amd64" {
		fmt.Fprintln(stderr, "instr: counting needs amd64, the one architecture whose valgrind client requests instr implements")
		return 1
	}
	dir := *keep
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "instr:", err)
			return 1
		}
	} else {
		if dir, err = os.MkdirTemp("", "instr"); err != nil {
			fmt.Fprintln(stderr, "instr:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	c := counter{valgrind: *valgrind, exe: exe, dir: dir, warmup: *warmup}
	start := time.Now()
	var rows []row
	for _, name := range names {
		r := row{stack: name}
		for range *count {
			v, err := c.perRequest(name, *n1, *n2)
			if err != nil {
				fmt.Fprintln(stderr, "instr:", err)
				return 1
			}
			r.runs = append(r.runs, v)
		}
		rows = append(rows, r)
	}
	fmt.Fprintf(stdout, "Instructions per request on the stub base: `valgrind --tool=callgrind`, serial, GOMAXPROCS=1, "+
		"GOGC=off, GODEBUG=%s; (Ir(%d) − Ir(%d)) / %d, counted over the measured requests only, after %d warm-up requests; "+
		"%d run(s) per stack.\n\n", godebug, *n2, *n1, *n2-*n1, *warmup, *count)
	writeTable(stdout, rows)
	fmt.Fprintf(stderr, "instr: %d callgrind runs in %s\n", 2*len(names)**count, time.Since(start).Round(time.Second))
	return 0
}
