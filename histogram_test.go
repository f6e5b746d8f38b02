package ratehttp

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestHistogram(t *testing.T) {
	h := newHistogram(newBuckets(.1, 1))
	for _, d := range []time.Duration{0, 100 * time.Millisecond, 100*time.Millisecond + 1, time.Second, time.Hour} {
		h.observe(d)
	}
	d := prometheus.NewDesc("h", "help", []string{"host"}, nil)
	ch := make(chan prometheus.Metric, 1)
	h.collect(ch, d, "api.test")
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	got := m.GetHistogram()
	// A bound is inclusive, as Prometheus's "le" says.
	want := map[float64]uint64{.1: 2, 1: 4}
	for _, b := range got.GetBucket() {
		if b.GetCumulativeCount() != want[b.GetUpperBound()] {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want[b.GetUpperBound()])
		}
	}
	if len(got.GetBucket()) != len(want) {
		t.Errorf("%d buckets, want %d", len(got.GetBucket()), len(want))
	}
	if got.GetSampleCount() != 5 {
		t.Errorf("count = %d, want 5", got.GetSampleCount())
	}
	if want := (time.Hour + 1200*time.Millisecond + 1).Seconds(); got.GetSampleSum() != want {
		t.Errorf("sum = %v, want %v", got.GetSampleSum(), want)
	}
}

// TestNanosCarry: the sum goes on past 64 bits of nanoseconds.
func TestNanosCarry(t *testing.T) {
	var s nanos
	s.lo.Store(math.MaxUint64 - 1)
	s.add(3 * time.Nanosecond)
	if hi, lo := s.hi.Load(), s.lo.Load(); hi != 1 || lo != 1 {
		t.Fatalf("after a carry: hi, lo = %d, %d; want 1, 1", hi, lo)
	}
	want := (float64(1<<64) + 1) / 1e9
	if got := s.seconds(); math.Abs(got-want) > 1e-6*want {
		t.Errorf("seconds() = %v, want %v", got, want)
	}
}
