package conformance

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const ms = time.Millisecond

// evs returns events with the given status at the given offsets from t0.
func evs(status int, offsets ...time.Duration) []Event {
	ev := make([]Event, len(offsets))
	for i, d := range offsets {
		ev[i] = Event{At: at(d), Status: status}
	}
	return ev
}

func TestMeasuredSpan(t *testing.T) {
	window := Case{Family: FixedWindow, Rate: 10, Burst: 10, Window: time.Second}
	sliding := window
	sliding.Family = SlidingWindow
	drifting := window
	drifting.Family = WindowFromFirstRequest
	bucket := Case{Family: TokenBucket, Rate: 10, Burst: 5, Window: time.Second}

	tests := []struct {
		name     string
		give     Case
		epoch    time.Time
		ev       []Event
		end      time.Duration // the run is [t0, t0+end)
		wantFrom time.Duration
		wantTo   time.Duration
		wantAll  float64
	}{
		{
			name: "fixed, epoch just before the run", give: window, epoch: at(-3 * ms),
			end: 6100 * ms, wantFrom: 997 * ms, wantTo: 5997 * ms, wantAll: 50,
		},
		{
			name: "fixed, windows from the first request", give: window,
			ev:  evs(200, 2*ms, 500*ms),
			end: 6100 * ms, wantFrom: 1002 * ms, wantTo: 6002 * ms, wantAll: 50,
		},
		{
			name: "fixed, last window cut by the run's end", give: window,
			ev:  evs(200, 2*ms),
			end: 6000 * ms, wantFrom: 1002 * ms, wantTo: 5002 * ms, wantAll: 40,
		},
		{
			name: "sliding measured like fixed", give: sliding, epoch: at(0),
			end: 3500 * ms, wantFrom: 1000 * ms, wantTo: 3000 * ms, wantAll: 20,
		},
		{
			name: "fixed, run shorter than two windows", give: window, epoch: at(0),
			end: 1500 * ms, wantFrom: 1000 * ms, wantTo: 1000 * ms, wantAll: 0,
		},
		{
			// Windows open at 0, 1.1, 2.3, 3.4, 4.5 and 5.6 s; the last is
			// still open at the end.
			name: "drifting, ends at the window in progress", give: drifting,
			ev:  evs(200, 0, 400*ms, 1100*ms, 2000*ms, 2300*ms, 3400*ms, 4500*ms, 5600*ms),
			end: 6000 * ms, wantFrom: 1000 * ms, wantTo: 5600 * ms, wantAll: 46,
		},
		{
			// The client stopped after 2.5 s: the idle time counts.
			name: "drifting, client stopped", give: drifting,
			ev:  evs(200, 0, 1200*ms, 2500*ms),
			end: 6000 * ms, wantFrom: 1000 * ms, wantTo: 6000 * ms, wantAll: 50,
		},
		{
			name: "drifting, transport errors do not open windows", give: drifting,
			ev:  append(evs(200, 0), evs(0, 1500*ms)...),
			end: 3000 * ms, wantFrom: 1000 * ms, wantTo: 3000 * ms, wantAll: 20,
		},
		{
			// Drained at once and then taken as it refilled: at 1 s it
			// holds the token refilled since 0.9 s.
			name: "bucket drained in the first window", give: bucket,
			ev:  evs(200, 0, 0, 0, 0, 0, 100*ms, 200*ms, 300*ms, 400*ms, 500*ms, 600*ms, 700*ms, 800*ms, 900*ms),
			end: 6000 * ms, wantFrom: 1000 * ms, wantTo: 6000 * ms, wantAll: 51,
		},
		{
			// Untouched: the bucket is full at 1 s, its 5 tokens count.
			name: "bucket untouched in the first window", give: bucket,
			end: 6000 * ms, wantFrom: 1000 * ms, wantTo: 6000 * ms, wantAll: 55,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := measuredSpan(tt.give, tt.epoch, tt.ev, t0, at(tt.end))
			if !got.from.Equal(at(tt.wantFrom)) || !got.to.Equal(at(tt.wantTo)) || math.Abs(got.allowance-tt.wantAll) > 1e-9 {
				t.Errorf("measuredSpan() = [%v, %v) allowance %g, want [%v, %v) allowance %g",
					got.from.Sub(t0), got.to.Sub(t0), got.allowance, tt.wantFrom, tt.wantTo, tt.wantAll)
			}
		})
	}
}

func TestBucketLevel(t *testing.T) {
	tests := []struct {
		name string
		ev   []Event
		at   time.Duration
		want float64
	}{
		{"full, nothing taken", nil, time.Second, 5},
		{"two taken at once", evs(200, 0, 0), time.Nanosecond, 3},
		{"two taken, refilled for 100 ms", evs(200, 0, 0), 100 * ms, 4},
		{"refill capped at the capacity", evs(200, 0, 0), time.Second, 5},
		{"rejections take nothing", evs(429, 0, 0, 0), time.Nanosecond, 5},
		{"more taken than held: empty, not negative", evs(200, 0, 0, 0, 0, 0, 0, 0), time.Nanosecond, 0},
		{"events at or after at are ignored", evs(200, 0, 500*ms), 500 * ms, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bucketLevel(10, 5, tt.ev, t0, at(tt.at))
			if math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("bucketLevel(10/s, 5, %s) = %g, want %g", tt.at, got, tt.want)
			}
		})
	}
}

func TestCountAndWorstSecond(t *testing.T) {
	ev := append(evs(200, 0, 1500*ms, 2999*ms, 3000*ms), evs(429, 900*ms, 1000*ms, 1100*ms, 1999*ms, 2000*ms, 2500*ms, 2600*ms, 2700*ms)...)
	ev = append(ev, evs(500, 1200*ms)...)
	sortEvents(ev)

	got := count(ev, at(time.Second), at(3*time.Second))
	if want := (tally{accepted: 2, rejected: 7, other: 1}); got != want {
		t.Errorf("count([1s, 3s)) = %+v, want %+v", got, want)
	}
	if got, want := worstSecond(ev, at(time.Second), at(3*time.Second)), 4; got != want {
		t.Errorf("worstSecond([1s, 3s)) = %d, want %d", got, want)
	}
	if got := worstSecond(ev, at(3*time.Second), at(4*time.Second)); got != 0 {
		t.Errorf("worstSecond([3s, 4s)) = %d, want 0", got)
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 200)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * ms
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 100 * ms},
		{0.99, 198 * ms},
		{1, 200 * ms},
	}
	for _, tt := range tests {
		if got := percentile(ds, tt.q); got != tt.want {
			t.Errorf("percentile(1..200 ms, %g) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("percentile(nil, 0.99) = %v, want 0", got)
	}
}

func TestCheck(t *testing.T) {
	headers := Case{Name: "h", SendsHeaders: true}
	bare := Case{Name: "b"}
	tests := []struct {
		name       string
		c          Case
		r          Result
		wantStrict int
		wantGross  int
	}{
		{"headers, on target", headers, Result{Accepted: 96, Allowance: 100}, 0, 0},
		{"headers, 90%: strict miss only", headers, Result{Accepted: 90, Allowance: 100}, 1, 0},
		{"headers, 70%: gross", headers, Result{Accepted: 70, Allowance: 100}, 1, 1},
		{"headers, 3% 429s: strict miss only", headers, Result{Accepted: 97, Rejected: 3, Allowance: 100}, 1, 0},
		{"headers, 6% 429s: gross", headers, Result{Accepted: 96, Rejected: 6, Allowance: 100}, 1, 1},
		{"no headers, 85% and 8% 429s: on target", bare, Result{Accepted: 85, Rejected: 7, Allowance: 100}, 0, 0},
		{"no headers, 12% 429s: strict miss only", bare, Result{Accepted: 88, Rejected: 12, Allowance: 100}, 1, 0},
		{"storm", bare, Result{Accepted: 90, Allowance: 100, WorstSecond: 4}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strict, gross := Check(tt.c, tt.r)
			if len(strict) != tt.wantStrict || len(gross) != tt.wantGross {
				t.Errorf("Check(%s) = %q, %q; want %d strict and %d gross misses", tt.name, strict, gross, tt.wantStrict, tt.wantGross)
			}
		})
	}
}

// TestLibrariesMatchGoMod keeps the versions the table prints equal to the
// ones the module builds with.
func TestLibrariesMatchGoMod(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Cases() {
		for _, lib := range strings.Split(c.Library, ", ") {
			f := strings.Fields(lib)
			if len(f) != 2 || !strings.Contains(f[0], ".") {
				continue // a program, not a module
			}
			if !strings.Contains(string(gomod), "\t"+f[0]+" "+f[1]+"\n") {
				t.Errorf("case %s: Library names %s %s, which go.mod does not require", c.Name, f[0], f[1])
			}
		}
	}
}
