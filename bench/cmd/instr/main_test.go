package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWork sends a few requests through each default stack, outside
// valgrind, where the client requests do nothing.
func TestWork(t *testing.T) {
	for _, name := range []string{"bare", "ratehttp", "retryablehttp"} {
		if err := work(name, 10, 45); err != nil {
			t.Errorf("work(%s, 10, 45) error = %v", name, err)
		}
	}
	if err := work("nonesuch", 1, 1); err == nil {
		t.Errorf("work(nonesuch, 1, 1) error = nil, want an unknown stack")
	}
}

func TestNotOnValgrind(t *testing.T) {
	if runningOnValgrind() {
		t.Skip("running under valgrind")
	}
	toggleCollect() // a no-op outside valgrind
}

func TestReadTotal(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    uint64
		wantErr bool
	}{
		{"totals", "version: 1\nevents: Ir\nsummary: 12\nfl=a\n3 4\ntotals: 1234\n", 1234, false},
		{"summary only", "events: Ir\nsummary: 99\n", 99, false},
		{"Ir first of several", "events: Ir Dr\ntotals: 7 8\n", 7, false},
		{"other event", "events: Dr\ntotals: 7\n", 0, true},
		{"no totals", "events: Ir\nfl=a\n", 0, true},
		{"empty totals", "events: Ir\ntotals:\n", 0, true},
	}
	for _, tt := range tests {
		got, err := readTotal(strings.NewReader(tt.give))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("readTotal(%s) = %d, %v, want %d (error: %t)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		give     float64
		decimals int
		want     string
	}{
		{0, 0, "0"},
		{999, 0, "999"},
		{1000, 0, "1,000"},
		{6734.4, 0, "6,734"},
		{10240.25, 1, "10,240.2"},
		{1234567.89, 1, "1,234,567.9"},
		{-1500, 0, "-1,500"},
	}
	for _, tt := range tests {
		if got := thousands(tt.give, tt.decimals); got != tt.want {
			t.Errorf("thousands(%v, %d) = %q, want %q", tt.give, tt.decimals, got, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, []row{
		{stack: "bare", runs: []float64{4000, 4000}},
		{stack: "ratehttp", runs: []float64{5600, 5601}},
		{stack: "retryablehttp", runs: []float64{6000, 6100}},
	})
	want := `| stack | instructions/request | ×bare | runs |
|---|---:|---:|---|
| bare | 4,000 | 1.00× | 4,000.0, 4,000.0 |
| ratehttp | 5,600 | 1.40× | 5,600.0, 5,601.0 |
| retryablehttp | 6,050 | 1.51× | 6,000.0, 6,100.0 |

Runs differing by more than 0.1%: retryablehttp (6,000.0 to 6,100.0).
`
	if got := b.String(); got != want {
		t.Errorf("writeTable() =\n%s\nwant\n%s", got, want)
	}
}

// TestCountUnderValgrind builds instr as run.sh does, counts the bare stub
// twice, briefly, and checks that the two figures agree.
func TestCountUnderValgrind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds instr and runs valgrind for about 15 s")
	}
	vg, err := exec.LookPath("valgrind")
	if err != nil {
		t.Skip("no valgrind")
	}
	exe := filepath.Join(t.TempDir(), "instr")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOEXPERIMENT=norandomizedheapbase64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := counter{valgrind: vg, exe: exe, dir: t.TempDir(), warmup: 20000}
	var got [2]float64
	for i := range got {
		if got[i], err = c.perRequest("bare", 1000, 5000); err != nil {
			t.Fatal(err)
		}
	}
	if got[0] < 1000 || got[0] > 100_000 {
		t.Errorf("perRequest(bare) = %.1f instructions, want a few thousand", got[0])
	}
	if d := got[1] - got[0]; d > 0.001*got[0] || d < -0.001*got[0] {
		t.Errorf("perRequest(bare) = %.1f, then %.1f: want them within 0.1%%", got[0], got[1])
	}
}
