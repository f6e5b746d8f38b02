package loadtest

import (
	"math"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, time.Millisecond, 1234567 * time.Microsecond, time.Hour, 1 << 62} {
		i := bucketOf(d)
		lo, hi := bucketBounds(i)
		if d < lo || d > hi {
			t.Errorf("bucketOf(%d) = %d with bounds [%d, %d], want them to hold it", d, i, lo, hi)
		}
		if width := float64(hi - lo + 1); width > float64(d)/64+1 {
			t.Errorf("bucket %d of %d is %v wide, want at most 1/64 of it", i, d, width)
		}
		if next, _ := bucketBounds(i + 1); next != hi+1 {
			t.Errorf("bucket %d ends at %d and bucket %d starts at %d, want them adjacent", i, hi, i+1, next)
		}
	}
	if got := bucketOf(-time.Second); got != 0 {
		t.Errorf("bucketOf(-1s) = %d, want 0", got)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if got := h.percentiles(50); got[0] != 0 || h.stddev() != 0 || h.bins(10) != nil {
		t.Errorf("empty histogram: percentiles(50) = %v, stddev = %v, bins = %v; want 0, 0, nil", got, h.stddev(), h.bins(10))
	}
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	got := h.percentiles(0, 50, 90, 95, 99, 100)
	want := []time.Duration{1, 50, 90, 95, 99, 100}
	for i := range want {
		w := want[i] * time.Millisecond
		if got[i] < w || float64(got[i]) > float64(w)*(1+1.0/64) {
			t.Errorf("percentiles(0, 50, 90, 95, 99, 100)[%d] = %v, want %v to %v", i, got[i], w, time.Duration(float64(w)*(1+1.0/64)))
		}
	}
	s := h.summary()
	if s.Min != 0.001 || s.Max != 0.1 || math.Abs(s.Mean-0.0505) > 1e-9 {
		t.Errorf("summary() min, mean, max = %v, %v, %v; want 0.001, 0.0505, 0.1", s.Min, s.Mean, s.Max)
	}
	// The population standard deviation of 1..100 is sqrt((100²-1)/12).
	if want := math.Sqrt(9999.0/12) / 1000; math.Abs(s.StdDev-want) > 1e-6 {
		t.Errorf("summary().StdDev = %v, want %v", s.StdDev, want)
	}
	var total int64
	bins := h.bins(20)
	for i, b := range bins {
		total += b.Count
		if b.From > b.To || (i > 0 && math.Abs(b.From-bins[i-1].To) > 1e-12) {
			t.Errorf("bins(20)[%d] = %+v, want From ≤ To and adjacent to the bin before", i, b)
		}
	}
	if len(bins) != 20 || total != 100 || bins[0].From != 0.001 || bins[19].To != 0.1 {
		t.Errorf("bins(20): %d bins holding %d from %v to %v, want 20 holding 100 from 0.001 to 0.1", len(bins), total, bins[0].From, bins[len(bins)-1].To)
	}

	var same histogram
	same.add(time.Second)
	same.add(time.Second)
	if b := same.bins(10); len(b) != 1 || b[0].Count != 2 {
		t.Errorf("bins of two equal latencies = %+v, want one bin of 2", b)
	}
}
