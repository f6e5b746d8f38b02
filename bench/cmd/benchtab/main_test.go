package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkCost/base=stub/mode=serial/impl=bare         	 100	       100.0 ns/op	     176 B/op	       2 allocs/op
BenchmarkCost/base=stub/mode=serial/impl=bare         	 100	       110.0 ns/op	     176 B/op	       2 allocs/op
BenchmarkCost/base=stub/mode=serial/impl=bare         	 100	       900.0 ns/op	     176 B/op	       2 allocs/op
BenchmarkCost/base=stub/mode=serial/impl=ratehttp     	 100	       150.0 ns/op	     184 B/op	       3 allocs/op
BenchmarkCost/base=stub/mode=serial/impl=failsafe     	 100	       300.0 ns/op	     900 B/op	      21 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=bare-8     	 100	        50.0 ns/op	        40.0 cpu-ns/op	     176 B/op	       2 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=ratehttp-8 	 100	       100.0 ns/op	        60.0 cpu-ns/op	     184 B/op	       3 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=failsafe-8 	 100	        90.0 ns/op	        80.0 cpu-ns/op	     900 B/op	      21 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=bare-8     	 100	       500.0 ns/op	        40.0 cpu-ns/op	     176 B/op	       2 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=ratehttp-8 	 100	      1000.0 ns/op	        60.0 cpu-ns/op	     184 B/op	       3 allocs/op
BenchmarkCost/base=stub/mode=parallel/impl=failsafe-8 	 100	       900.0 ns/op	        80.0 cpu-ns/op	     900 B/op	      21 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=ratehttp   	 100	       300.0 ns/op	       100.0 bare-ns/op	       160.0 impl-ns/op	         1.60 x-bare	     400 B/op	       9 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=ratehttp   	 100	       300.0 ns/op	       100.0 bare-ns/op	       150.0 impl-ns/op	         1.50 x-bare	     400 B/op	       9 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=ratehttp   	 100	       300.0 ns/op	       100.0 bare-ns/op	       190.0 impl-ns/op	         1.90 x-bare	     400 B/op	       9 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=failsafe   	 100	       300.0 ns/op	       100.0 bare-ns/op	       200.0 impl-ns/op	         2.00 x-bare	     400 B/op	       9 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=failsafe   	 100	       300.0 ns/op	       100.0 bare-ns/op	       200.0 impl-ns/op	         2.00 x-bare	     400 B/op	       9 allocs/op
BenchmarkPaired/base=stub/mode=serial/impl=failsafe   	 100	       300.0 ns/op	       100.0 bare-ns/op	       100.0 impl-ns/op	         1.00 x-bare	     400 B/op	       9 allocs/op
PASS
`

func TestWrite(t *testing.T) {
	s, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.write(&buf, targets{
		bare: "bare", impl: "ratehttp", comparable: []string{"failsafe", "absent"},
		ratioMax: map[string]float64{"stub": 1.7}, allocsMax: 6,
		reference: []refRatio{{"failsafe", 2.54}, {"absent", 1.5}},
	})
	out := buf.String()
	for _, want := range []string{
		// Medians: of 100, 110 and 900; of 50 and 500. Ratios: of the
		// medians when the sample counts differ, else the median of the
		// per-pass ratios (2 and 2, not 550/275).
		"| bare | 110ns (1.00×) | 275ns (1.00×) |",
		"| ratehttp | 150ns (1.36×) | 550ns (2.00×) |",
		"| ratehttp | - | 60ns (1.50×) |",
		"| ratehttp | 184 | 3 | +1 |",
		"- ns/op at most 1.70× bare on stub: MISSED (worst 2.00×, parallel -cpu 8)",
		"- cpu-ns/op at most 1.70× bare on stub: MET (worst 1.50×, parallel -cpu 8)",
		"- at most 6 allocs/op above bare: MET (worst +1,",
		"- ns/op cheaper than failsafe on stub: MISSED, in 1 of 2 configurations (ratehttp/failsafe at worst 1.11×, parallel -cpu 8)",
		"- cpu-ns/op cheaper than failsafe on stub: MET, in 1 of 1 configurations (ratehttp/failsafe at worst 0.75×, parallel -cpu 8)",
		// Calibration: serial -cpu 1, failsafe 300 over bare's median 110;
		// paired, the median of 2.0, 2.0 and 1.0.
		"| impl | reference | base=stub | base=stub, paired |",
		"| failsafe | 2.54× | 2.73× | 2.00× |",
		"| absent | 1.50× | - | - |",
		// BenchmarkPaired: its x-bare alone is read, so the lines above
		// keep their medians (ratehttp's ns/op and allocs/op).
		"| ratehttp | 1.60× | - |",
		"| failsafe | 2.00× | - |",
		"- x-bare at most 1.70× bare on stub: MET (worst 1.60×, serial -cpu 1)",
		// Per pass: 0.8, 0.75, 1.9.
		"- x-bare cheaper than failsafe on stub: MET, in 1 of 1 configurations (ratehttp/failsafe at worst 0.80×, serial -cpu 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("write() output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ReplaceAll(out, "| absent | 1.50× | - | - |", ""), "absent") {
		t.Errorf("write() reports a peer with no samples:\n%s", out)
	}
}

func TestParseReference(t *testing.T) {
	got, err := parseReference("a=1.5, b=2")
	if err != nil || len(got) != 2 || got[0] != (refRatio{"a", 1.5}) || got[1] != (refRatio{"b", 2}) {
		t.Errorf("parseReference(a=1.5, b=2) = %v, %v", got, err)
	}
	for _, bad := range []string{"a", "a=x", "a=-1", "a=0"} {
		if _, err := parseReference(bad); err == nil {
			t.Errorf("parseReference(%q) error = nil, want one", bad)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		give string
		want key
		ok   bool
	}{
		{"BenchmarkCost/base=stub/mode=serial/impl=bare", key{"stub", "serial", "bare", 1}, true},
		{"BenchmarkCost/base=loopback/mode=parallel/impl=ratehttp-quota-8", key{"loopback", "parallel", "ratehttp-quota", 8}, true},
		{"BenchmarkOther-2", key{cpu: 2}, false},
	}
	for _, tt := range tests {
		got, ok := parseName(tt.give)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseName(%q) = %+v, %v, want %+v, %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}
