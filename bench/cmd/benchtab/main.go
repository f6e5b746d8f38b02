// Command benchtab turns the output of the cost benchmarks into Markdown
// tables of ratios to the bare transport measured in the same run, and checks
// the targets of the cost issue.
//
// It reads `go test -bench` output (from the files named as arguments, or
// standard input), takes the median of the repeated runs of each benchmark,
// and prints, per base transport, the ns/op of every stack with its ratio to
// the bare base for each mode and GOMAXPROCS, then B/op and allocs/op. Names
// must have the form Benchmark…/base=B/mode=M/impl=I[-cpu].
//
// Lines of BenchmarkPaired, which alternates between the bare base and a stack
// every few dozen requests, give their ratio in the unit x-bare: benchtab
// tabulates it as the paired ratio and checks the targets on it too. The
// other units of those lines describe a pair, and are left out.
//
// benchstat gives the confidence intervals; benchtab gives the ratios, which
// are what survives a noisy, shared machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	bare := flag.String("bare", "bare", "impl that the ratios are relative to")
	impl := flag.String("impl", "ratehttp", "impl whose targets are checked")
	comparable := flag.String("comparable", "failsafe,gofri,naive", "comma-separated peers the impl must be cheaper than")
	stubMax := flag.Float64("stub-max", 1.7, "largest acceptable ratio to bare on the stub base")
	loopMax := flag.Float64("loopback-max", 1.05, "largest acceptable ratio to bare on loopback")
	allocsMax := flag.Float64("allocs-max", 6, "largest acceptable allocs/op above bare")
	reference := flag.String("reference", "retryablehttp=1.47,failsafe=2.54,promhttp=2.40,gofri=2.07,naive=3.30",
		"peers' serial ratios to bare measured before the project (impl=ratio,...), to which each base's figures are compared")
	flag.Parse()
	ref, err := parseReference(*reference)
	if err != nil {
		fatal(err)
	}

	var in io.Reader = os.Stdin
	if flag.NArg() > 0 {
		var rs []io.Reader
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				fatal(err)
			}
			defer f.Close()
			rs = append(rs, f)
		}
		in = io.MultiReader(rs...)
	}
	set, err := parse(in)
	if err != nil {
		fatal(err)
	}
	if len(set.samples) == 0 {
		fatal(fmt.Errorf("no benchmark lines of the form Benchmark…/base=…/mode=…/impl=… in the input"))
	}
	t := targets{
		bare: *bare, impl: *impl, comparable: split(*comparable),
		ratioMax: map[string]float64{"stub": *stubMax, "loopback": *loopMax}, allocsMax: *allocsMax,
		reference: ref,
	}
	set.write(os.Stdout, t)
}

// parseReference reads impl=ratio pairs separated by commas.
func parseReference(s string) ([]refRatio, error) {
	var out []refRatio
	for _, f := range split(s) {
		impl, v, ok := strings.Cut(f, "=")
		r, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || r <= 0 {
			return nil, fmt.Errorf("-reference: %q is not impl=ratio", f)
		}
		out = append(out, refRatio{impl, r})
	}
	return out, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtab:", err)
	os.Exit(1)
}

// key identifies one benchmark configuration.
type key struct {
	base, mode, impl string
	cpu              int
}

// cell is a configuration without the impl: one column of a table.
type cell struct {
	mode string
	cpu  int
}

// set holds every sample read, by configuration and unit.
type set struct {
	samples map[key]map[string][]float64
	bases   []string // in order of appearance
	impls   []string
	cells   []cell
}

// parse reads benchmark result lines and ignores everything else.
func parse(r io.Reader) (*set, error) {
	s := &set{samples: make(map[key]map[string][]float64)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		k, ok := parseName(f[0])
		if !ok {
			continue
		}
		paired := strings.HasPrefix(f[0], "BenchmarkPaired/")
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		if s.samples[k] == nil {
			s.samples[k] = make(map[string][]float64)
			s.note(k)
		}
		for i := 2; i+1 < len(f); i += 2 {
			if paired && f[i+1] != pairedUnit {
				continue
			}
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q in %q", f[i], sc.Text())
			}
			s.samples[k][f[i+1]] = append(s.samples[k][f[i+1]], v)
		}
	}
	return s, sc.Err()
}

func (s *set) note(k key) {
	if !slices.Contains(s.bases, k.base) {
		s.bases = append(s.bases, k.base)
	}
	if !slices.Contains(s.impls, k.impl) {
		s.impls = append(s.impls, k.impl)
	}
	c := cell{k.mode, k.cpu}
	if !slices.Contains(s.cells, c) {
		s.cells = append(s.cells, c)
	}
	slices.SortStableFunc(s.cells, func(a, b cell) int {
		if a.mode != b.mode {
			return modeOrder(a.mode) - modeOrder(b.mode)
		}
		return a.cpu - b.cpu
	})
}

func modeOrder(m string) int {
	if m == "serial" {
		return 0
	}
	return 1
}

// parseName splits Benchmark…/base=B/mode=M/impl=I-8 into its key; a name
// without a -N suffix ran with GOMAXPROCS 1.
func parseName(name string) (key, bool) {
	k := key{cpu: 1}
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			k.cpu = n
			name = name[:i]
		}
	}
	for _, part := range strings.Split(name, "/") {
		kv, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch kv {
		case "base":
			k.base = v
		case "mode":
			k.mode = v
		case "impl":
			k.impl = v
		}
	}
	return k, k.base != "" && k.mode != "" && k.impl != ""
}

// median returns the median of the samples of unit for k, and whether there
// are any.
func (s *set) median(k key, unit string) (float64, bool) {
	v := s.samples[k][unit]
	if len(v) == 0 {
		return 0, false
	}
	return medianOf(v), true
}

// targets are the goals checked for one impl.
type targets struct {
	bare, impl string
	comparable []string
	ratioMax   map[string]float64 // by base
	allocsMax  float64
	reference  []refRatio // peers' ratios measured before the project, serial -cpu 1
}

// refRatio is one peer's reference ratio to bare.
type refRatio struct {
	impl  string
	ratio float64
}

// timeUnits are the per-request times tabulated, with their descriptions.
var timeUnits = []struct{ unit, what string }{
	{"ns/op", "wall time per request"},
	{"cpu-ns/op", "process CPU time per request (all threads)"},
}

// pairedUnit is the unit in which BenchmarkPaired reports a stack's ratio to
// the bare base measured with the two interleaved.
const pairedUnit = "x-bare"

// ratioUnits are the units in which the ratio targets are checked.
var ratioUnits = []string{"ns/op", "cpu-ns/op", pairedUnit}

func (s *set) write(w io.Writer, t targets) {
	for _, base := range s.bases {
		for _, u := range timeUnits {
			if !s.has(base, u.unit) {
				continue
			}
			s.writeTable(w, t, base, u.unit, u.what)
		}
		if s.has(base, pairedUnit) {
			s.writePaired(w, t, base)
		}
		if s.has(base, "allocs/op") {
			s.writeAllocs(w, t, base)
		}
	}
	s.writeCalibration(w, t)
	s.checkTargets(w, t)
}

// writeCalibration compares, for every base, the peers' serial -cpu 1 wall
// time ratios (separate and paired) with the reference ratios: a base whose
// ratios match them is the kind of base the targets were set against.
func (s *set) writeCalibration(w io.Writer, t targets) {
	if len(t.reference) == 0 {
		return
	}
	c := cell{"serial", 1}
	if !slices.Contains(s.cells, c) {
		return
	}
	fmt.Fprintf(w, "\n### Calibration: peers' ns/op ratios to %s, serial -cpu 1, against the reference\n\n", t.bare)
	// A column per base and unit measured: ns/op, then the paired ratio.
	type column struct{ base, unit string }
	var cols []column
	for _, base := range s.bases {
		for _, unit := range []string{"ns/op", pairedUnit} {
			if s.has(base, unit) {
				cols = append(cols, column{base, unit})
			}
		}
	}
	fmt.Fprint(w, "| impl | reference |")
	for _, col := range cols {
		if col.unit == pairedUnit {
			fmt.Fprintf(w, " base=%s, paired |", col.base)
		} else {
			fmt.Fprintf(w, " base=%s |", col.base)
		}
	}
	fmt.Fprint(w, "\n|---|---:|")
	for range cols {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, ref := range t.reference {
		fmt.Fprintf(w, "| %s | %.2f× |", ref.impl, ref.ratio)
		for _, col := range cols {
			if r, ok := s.toBare(key{col.base, c.mode, ref.impl, c.cpu}, t.bare, col.unit); ok {
				fmt.Fprintf(w, " %.2f× |", r)
			} else {
				fmt.Fprint(w, " - |")
			}
		}
		fmt.Fprintln(w)
	}
}

func (s *set) has(base, unit string) bool {
	return s.hasImpl(base, "", unit)
}

// hasImpl reports whether impl (any, if empty) has samples of unit on base.
func (s *set) hasImpl(base, impl, unit string) bool {
	for k, m := range s.samples {
		if k.base == base && (impl == "" || k.impl == impl) && len(m[unit]) > 0 {
			return true
		}
	}
	return false
}

func (s *set) writeTable(w io.Writer, t targets, base, unit, what string) {
	fmt.Fprintf(w, "\n### base=%s: %s, %s (×%s: median of per-pass ratios)\n\n", base, unit, what, t.bare)
	s.writeCellsHeader(w)
	for _, impl := range s.impls {
		fmt.Fprintf(w, "| %s |", impl)
		for _, c := range s.cells {
			k := key{base, c.mode, impl, c.cpu}
			v, ok := s.median(k, unit)
			r, _ := s.ratio(k, t.bare, unit)
			if !ok {
				fmt.Fprint(w, " - |")
				continue
			}
			fmt.Fprintf(w, " %s (%.2f×) |", fmtNs(v), r)
		}
		fmt.Fprintln(w)
	}
}

// writeCellsHeader prints the header of a table with a column per cell.
func (s *set) writeCellsHeader(w io.Writer) {
	fmt.Fprint(w, "| impl |")
	for _, c := range s.cells {
		fmt.Fprintf(w, " %s -cpu %d |", c.mode, c.cpu)
	}
	fmt.Fprint(w, "\n|---|")
	for range s.cells {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
}

// writePaired prints the ratios BenchmarkPaired measured.
func (s *set) writePaired(w io.Writer, t targets, base string) {
	fmt.Fprintf(w, "\n### base=%s: paired ratio to %s, the two alternating every few dozen requests (median of passes)\n\n", base, t.bare)
	s.writeCellsHeader(w)
	for _, impl := range s.impls {
		if !s.hasImpl(base, impl, pairedUnit) {
			continue
		}
		fmt.Fprintf(w, "| %s |", impl)
		for _, c := range s.cells {
			if r, ok := s.median(key{base, c.mode, impl, c.cpu}, pairedUnit); ok {
				fmt.Fprintf(w, " %.2f× |", r)
			} else {
				fmt.Fprint(w, " - |")
			}
		}
		fmt.Fprintln(w)
	}
}

// toBare is k's ratio to the bare transport in unit: for the paired unit, the
// median of the ratios measured; for the others, see ratio.
func (s *set) toBare(k key, bare, unit string) (float64, bool) {
	if unit == pairedUnit {
		return s.median(k, unit)
	}
	return s.ratio(k, bare, unit)
}

// writeAllocs prints B/op and allocs/op. They hardly depend on the mode or
// GOMAXPROCS: the table shows the serial -cpu 1 cell, or the first there is.
func (s *set) writeAllocs(w io.Writer, t targets, base string) {
	c := s.cells[0]
	fmt.Fprintf(w, "\n### base=%s: memory per request (%s -cpu %d)\n\n", base, c.mode, c.cpu)
	fmt.Fprintln(w, "| impl | B/op | allocs/op | allocs/op above bare |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, impl := range s.impls {
		k, kb := key{base, c.mode, impl, c.cpu}, key{base, c.mode, t.bare, c.cpu}
		bop, _ := s.median(k, "B/op")
		aop, _ := s.median(k, "allocs/op")
		abare, _ := s.median(kb, "allocs/op")
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %+.0f |\n", impl, bop, aop, aop-abare)
	}
}

// ratio is how many times the bare transport's cost k costs in unit: the
// median of the per-pass ratios when both have one sample per pass (a pass
// runs every stack within seconds, so slow drifts of a shared machine cancel
// out), else the ratio of the medians.
func (s *set) ratio(k key, bare, unit string) (float64, bool) {
	kb := k
	kb.impl = bare
	a, b := s.samples[k][unit], s.samples[kb][unit]
	if len(a) == 0 || len(b) == 0 {
		return 0, false
	}
	if len(a) == len(b) {
		rs := make([]float64, len(a))
		for i := range a {
			rs[i] = ratio(a[i], b[i])
		}
		return medianOf(rs), true
	}
	ma, _ := s.median(k, unit)
	mb, _ := s.median(kb, unit)
	return ratio(ma, mb), true
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 10000:
		return fmt.Sprintf("%.1fµs", ns/1000)
	case ns >= 1000:
		return fmt.Sprintf("%.2fµs", ns/1000)
	}
	return fmt.Sprintf("%.0fns", ns)
}

// checkTargets prints one line per target: met or missed, with the worst
// case.
func (s *set) checkTargets(w io.Writer, t targets) {
	fmt.Fprintf(w, "\n### Targets for %s\n\n", t.impl)
	for _, unit := range ratioUnits {
		for _, base := range s.bases {
			limit, ok := t.ratioMax[base]
			if !ok || !s.has(base, unit) {
				continue
			}
			worst, where := 0.0, ""
			for _, c := range s.cells {
				r, ok := s.toBare(key{base, c.mode, t.impl, c.cpu}, t.bare, unit)
				if ok && r > worst {
					worst, where = r, fmt.Sprintf("%s -cpu %d", c.mode, c.cpu)
				}
			}
			fmt.Fprintf(w, "- %s at most %.2f× %s on %s: %s (worst %.2f×, %s)\n", unit, limit, t.bare, base, verdict(worst <= limit), worst, where)
		}
	}
	worst, where := -1e9, ""
	for _, base := range s.bases {
		for _, c := range s.cells {
			a, ok1 := s.median(key{base, c.mode, t.impl, c.cpu}, "allocs/op")
			b, ok2 := s.median(key{base, c.mode, t.bare, c.cpu}, "allocs/op")
			if ok1 && ok2 && a-b > worst {
				worst, where = a-b, fmt.Sprintf("%s %s -cpu %d", base, c.mode, c.cpu)
			}
		}
	}
	if where != "" {
		fmt.Fprintf(w, "- at most %.0f allocs/op above %s: %s (worst %+.0f, %s)\n", t.allocsMax, t.bare, verdict(worst <= t.allocsMax), worst, where)
	}
	for _, unit := range ratioUnits {
		for _, peer := range t.comparable {
			if !slices.Contains(s.impls, peer) {
				continue
			}
			for _, base := range s.bases {
				n, lost := 0, 0
				worst, where := 0.0, ""
				for _, c := range s.cells {
					r, ok := s.ratio(key{base, c.mode, t.impl, c.cpu}, peer, unit)
					if !ok {
						continue
					}
					n++
					if r >= 1 {
						lost++
					}
					if r > worst {
						worst, where = r, fmt.Sprintf("%s -cpu %d", c.mode, c.cpu)
					}
				}
				if n == 0 {
					continue
				}
				fmt.Fprintf(w, "- %s cheaper than %s on %s: %s, in %d of %d configurations (%s/%s at worst %.2f×, %s)\n",
					unit, peer, base, verdict(lost == 0), n-lost, n, t.impl, peer, worst, where)
			}
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}
