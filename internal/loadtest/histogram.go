package loadtest

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits buckets per octave, so
// that a bucket is at most 1/64 (1.6%) of its values wide. Durations under
// 64ns have a bucket each.
const subBits = 6

// histogram counts durations in logarithmic buckets, keeping memory bounded
// however many are added, and their exact count, minimum, maximum, mean and
// standard deviation. Percentiles are the upper bound of their bucket,
// clamped to the minimum and maximum, so they are at most 1.6% above the
// exact nearest-rank percentile. The zero value is empty and ready to use; a
// histogram is not safe for concurrent use.
type histogram struct {
	counts   map[int]int64 // by bucket index; nil until the first add
	n        int64
	min, max time.Duration
	mean, m2 float64 // nanoseconds; Welford's running mean and sum of squared deviations
}

// bucketOf returns the index of the bucket holding d; negative durations
// count as zero.
func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [64, 128)
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketBounds returns the smallest and largest durations of bucket i.
func bucketBounds(i int) (lo, hi time.Duration) {
	if i < 1<<subBits {
		return time.Duration(i), time.Duration(i)
	}
	shift := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) + 1<<subBits)
	return time.Duration(m << shift), time.Duration((m+1)<<shift - 1)
}

func (h *histogram) add(d time.Duration) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	h.counts[bucketOf(d)]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if h.n == 0 || d > h.max {
		h.max = d
	}
	h.n++
	x := float64(d)
	delta := x - h.mean
	h.mean += delta / float64(h.n)
	h.m2 += delta * (x - h.mean)
}

// buckets returns the indexes of the non-empty buckets, in increasing order.
func (h *histogram) buckets() []int {
	keys := make([]int, 0, len(h.counts))
	for k := range h.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// percentiles returns the nearest-rank percentiles ps (0 ≤ p ≤ 100), zero
// when the histogram is empty.
func (h *histogram) percentiles(ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if h.n == 0 {
		return out
	}
	keys := h.buckets()
	for i, p := range ps {
		rank := min(max(int64(math.Ceil(p/100*float64(h.n))), 1), h.n)
		var seen int64
		for _, k := range keys {
			if seen += h.counts[k]; seen >= rank {
				_, hi := bucketBounds(k)
				out[i] = min(max(hi, h.min), h.max)
				break
			}
		}
	}
	return out
}

// stddev returns the population standard deviation.
func (h *histogram) stddev() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Sqrt(h.m2 / float64(h.n)))
}

// latencySummary describes a set of latencies, in seconds.
type latencySummary struct {
	Min    float64 `json:"min"`
	Mean   float64 `json:"mean"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	StdDev float64 `json:"stddev"`
}

func (h *histogram) summary() latencySummary {
	p := h.percentiles(50, 90, 95, 99)
	return latencySummary{
		Min:    h.min.Seconds(),
		Mean:   time.Duration(h.mean).Seconds(),
		P50:    p[0].Seconds(),
		P90:    p[1].Seconds(),
		P95:    p[2].Seconds(),
		P99:    p[3].Seconds(),
		Max:    h.max.Seconds(),
		StdDev: h.stddev().Seconds(),
	}
}

// histogramBin is one bar of a histogram as -json and the HTML report show
// it: Count latencies in (From, To], in seconds.
type histogramBin struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Count int64   `json:"count"`
}

// bins regroups the buckets into at most n bars of equal width on a
// logarithmic scale from the minimum to the maximum; each bucket goes whole
// into the bar holding its midpoint. It returns nil when the histogram is
// empty, and one bar when every latency is the same.
func (h *histogram) bins(n int) []histogramBin {
	if h.n == 0 || n < 1 {
		return nil
	}
	lo, hi := max(float64(h.min), 1), max(float64(h.max), 1)
	if hi <= lo*1.0001 {
		return []histogramBin{{From: h.min.Seconds(), To: h.max.Seconds(), Count: h.n}}
	}
	ratio := math.Log(hi / lo)
	out := make([]histogramBin, n)
	for i := range out {
		out[i].From = lo * math.Exp(ratio*float64(i)/float64(n)) / 1e9
		out[i].To = lo * math.Exp(ratio*float64(i+1)/float64(n)) / 1e9
	}
	out[0].From, out[n-1].To = h.min.Seconds(), h.max.Seconds()
	for k, c := range h.counts {
		b0, b1 := bucketBounds(k)
		mid := min(max(float64(b0+b1)/2, lo), hi)
		i := int(math.Log(mid/lo) / ratio * float64(n))
		out[min(max(i, 0), n-1)].Count += c
	}
	return out
}
