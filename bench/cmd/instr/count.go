package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// godebug is the GODEBUG of the counted runs.
const godebug = "asyncpreemptoff=1,cpu.rdtscp=off"

// A counter runs the program under callgrind and reads the counts.
type counter struct {
	valgrind string   // valgrind program
	exe      string   // program that runs the requests when given -child
	env      []string // added to the environment of the runs
	dir      string   // where callgrind's output files go
	warmup   int      // requests before counting starts
	seq      int      // output files written so far
}

// perRequest returns the instructions one request costs through the stack
// named name: (Ir(n2) − Ir(n1)) / (n2 − n1).
func (c *counter) perRequest(name string, n1, n2 int) (float64, error) {
	ir1, err := c.count(name, n1)
	if err != nil {
		return 0, err
	}
	ir2, err := c.count(name, n2)
	if err != nil {
		return 0, err
	}
	if ir2 <= ir1 {
		return 0, fmt.Errorf("%s: %d instructions for %d requests, %d for %d: was collection switched on?", name, ir1, n1, ir2, n2)
	}
	return float64(ir2-ir1) / float64(n2-n1), nil
}

// count runs n measured requests through the stack named name under
// callgrind, and returns the instructions it counted.
func (c *counter) count(name string, n int) (uint64, error) {
	c.seq++
	out := filepath.Join(c.dir, fmt.Sprintf("callgrind.%s.%d.%d", name, n, c.seq))
	cmd := exec.Command(c.valgrind, "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file="+out,
		c.exe, "-child", name, "-n", strconv.Itoa(n), "-warmup", strconv.Itoa(c.warmup))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=off", "GODEBUG="+godebug)
	cmd.Env = append(cmd.Env, c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s under callgrind, %d requests: %v\n%s", name, n, err, tail(stderr.String(), 20))
	}
	f, err := os.Open(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ir, err := readTotal(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", out, err)
	}
	return ir, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// heapBaseFixed reports whether the program was built with
// GOEXPERIMENT=norandomizedheapbase64.
func heapBaseFixed() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "GOEXPERIMENT" && slices.Contains(strings.Split(s.Value, ","), "norandomizedheapbase64") {
			return true
		}
	}
	return false
}

// A row is one stack's measurements, in instructions per request.
type row struct {
	stack string
	runs  []float64
}

func (r row) mean() float64 {
	var sum float64
	for _, v := range r.runs {
		sum += v
	}
	return sum / float64(len(r.runs))
}

// writeTable prints the rows as a Markdown table, with each stack's ratio to
// bare when bare is among them. Below it, a line names the stacks whose runs
// differ by more than 0.1%.
func writeTable(w io.Writer, rows []row) {
	var bare float64
	for _, r := range rows {
		if r.stack == "bare" {
			bare = r.mean()
		}
	}
	fmt.Fprintln(w, "| stack | instructions/request | ×bare | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	var spread []string
	for _, r := range rows {
		ratio := "–"
		if bare > 0 {
			ratio = fmt.Sprintf("%.2f×", r.mean()/bare)
		}
		runs := make([]string, len(r.runs))
		for i, v := range r.runs {
			runs[i] = thousands(v, 1)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.stack, thousands(r.mean(), 0), ratio, strings.Join(runs, ", "))
		if lo, hi := slices.Min(r.runs), slices.Max(r.runs); hi-lo > 0.001*r.mean() {
			spread = append(spread, fmt.Sprintf("%s (%s to %s)", r.stack, thousands(lo, 1), thousands(hi, 1)))
		}
	}
	if len(spread) > 0 {
		fmt.Fprintf(w, "\nRuns differing by more than 0.1%%: %s.\n", strings.Join(spread, ", "))
	}
}

// thousands formats v with the given decimals and commas between groups of
// three digits.
func thousands(v float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}
