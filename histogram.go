package ratehttp

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// buckets are the upper bounds of a histogram's buckets, in seconds as
// Prometheus labels them and as durations to compare with.
type buckets struct {
	secs []float64
	durs []time.Duration
}

// newBuckets makes buckets of the given bounds, ascending, at most
// maxBuckets; it runs when the package's variables are initialised.
func newBuckets(secs ...float64) *buckets {
	if len(secs) > maxBuckets {
		panic("ratehttp: more than maxBuckets histogram bounds")
	}
	b := &buckets{secs: secs, durs: make([]time.Duration, len(secs))}
	for i, s := range secs {
		b.durs[i] = time.Duration(s * float64(time.Second))
	}
	return b
}

// histogram counts durations by bucket, exported as a Prometheus histogram
// at Collect time. An observation costs two atomic additions, to its bucket
// and to the sum; client_golang's histogram costs four, one of them a
// compare-and-swap loop, on memory that every goroutine sending to the host
// shares.
//
// The count is the sum of the buckets, so the two always agree. The sum is
// read before the buckets, and an observation adds to its bucket before the
// sum: a scrape's sum never includes an observation its count misses.
//
// The zero value is not usable; see newHistogram.
type histogram struct {
	b      *buckets
	counts [maxBuckets + 1]atomic.Uint64 // by bucket; then durations above every bound
	sum    nanos
}

// maxBuckets is how many bounds a histogram may have.
const maxBuckets = 15

func newHistogram(b *buckets) histogram { return histogram{b: b} }

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(h.b.durs) && d > h.b.durs[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.add(d)
}

// collect sends h as a histogram of d for host. Like [gauge], it sends
// nothing for a descriptor in error.
func (h *histogram) collect(ch chan<- prometheus.Metric, d *prometheus.Desc, host string) {
	sum := h.sum.seconds()
	cumulative := make(map[float64]uint64, len(h.b.secs))
	var n uint64
	for i := range len(h.b.secs) + 1 {
		n += h.counts[i].Load()
		if i < len(h.b.secs) {
			cumulative[h.b.secs[i]] = n
		}
	}
	if m, err := prometheus.NewConstHistogram(d, n, sum, cumulative, host); err == nil {
		ch <- m
	}
}

// nanos is a sum of non-negative durations that never overflows: 64 bits of
// nanoseconds last 584 years of time summed, which a thousand requests always
// in flight add up in seven months, so carries go to a second word.
type nanos struct {
	lo, hi atomic.Uint64
}

func (s *nanos) add(d time.Duration) {
	if d <= 0 {
		return
	}
	if s.lo.Add(uint64(d)) < uint64(d) {
		s.hi.Add(1)
	}
}

// seconds returns the sum in seconds. A read that falls between a carry's
// two additions is one word short; that happens once per 584 years summed.
func (s *nanos) seconds() float64 {
	const wordSeconds = float64(1<<64) / 1e9
	hi, lo := s.hi.Load(), s.lo.Load()
	return float64(hi)*wordSeconds + float64(lo/1e9) + float64(lo%1e9)/1e9
}
