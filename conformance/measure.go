package conformance

import (
	"math"
	"slices"
	"time"
)

// span is the measured part of a run, [from, to), and how many requests the
// server would have accepted in it.
type span struct {
	from, to  time.Time
	allowance float64
}

// measuredSpan returns the span of a run of case c from runStart to runEnd
// and the server's allowance in it (see the package documentation). ev is the
// run's events in time order; epoch is Target.Epoch.
func measuredSpan(c Case, epoch time.Time, ev []Event, runStart, runEnd time.Time) span {
	switch c.Family {
	case FixedWindow, SlidingWindow:
		anchor := epoch
		if anchor.IsZero() {
			anchor = firstAt(ev, runStart)
		}
		return alignedSpan(c, anchor, runStart, runEnd)
	case WindowFromFirstRequest:
		return driftingSpan(c, ev, runStart, runEnd)
	}
	return bucketSpan(c, ev, runStart, runEnd)
}

// alignedSpan covers the whole windows, aligned to anchor, after the one the
// run starts in.
func alignedSpan(c Case, anchor, runStart, runEnd time.Time) span {
	w := c.Window
	from := anchor.Add(w)
	if !anchor.After(runStart) {
		from = anchor.Add((runStart.Sub(anchor)/w + 1) * w)
	}
	to := anchor.Add(runEnd.Sub(anchor) / w * w)
	if to.Before(from) {
		to = from
	}
	n := to.Sub(from) / w
	return span{from: from, to: to, allowance: float64(n) * float64(c.Burst)}
}

// driftingSpan replays the windows of a limiter that opens one with the first
// request after the previous one ended. It runs from the end of the first
// window to the start of the window in progress at runEnd, if any, else to
// runEnd.
func driftingSpan(c Case, ev []Event, runStart, runEnd time.Time) span {
	w := c.Window
	starts := windowStarts(ev, w)
	from := runStart.Add(w)
	to := runEnd
	if len(starts) > 0 {
		from = starts[0].Add(w)
		if last := starts[len(starts)-1]; last.Add(w).After(runEnd) && !last.Before(from) {
			to = last
		}
	}
	if to.Before(from) {
		to = from
	}
	return span{from: from, to: to, allowance: float64(c.Burst) * to.Sub(from).Seconds() / w.Seconds()}
}

// windowStarts returns when each window opened: at the first request that
// reached the server, and then at the first one after the window before ended.
func windowStarts(ev []Event, w time.Duration) []time.Time {
	var starts []time.Time
	for _, e := range ev {
		if e.Status == 0 {
			continue
		}
		if len(starts) == 0 || e.At.After(starts[len(starts)-1].Add(w)) {
			starts = append(starts, e.At)
		}
	}
	return starts
}

// bucketSpan runs from one Window after runStart to runEnd; the allowance is
// the refill over it plus what the bucket held at its start.
func bucketSpan(c Case, ev []Event, runStart, runEnd time.Time) span {
	from := runStart.Add(c.Window)
	to := runEnd
	if to.Before(from) {
		to = from
	}
	head := bucketLevel(c.Rate, c.Burst, ev, firstAt(ev, runStart), from)
	return span{from: from, to: to, allowance: c.Rate*to.Sub(from).Seconds() + head}
}

// bucketLevel replays a bucket of burst tokens refilled at rate per second,
// full at start, taking one token per accepted event before at, and returns
// its level at at.
func bucketLevel(rate float64, burst int, ev []Event, start, at time.Time) float64 {
	capacity := float64(burst)
	level, last := capacity, start
	for _, e := range ev {
		if !e.At.Before(at) {
			break
		}
		if !accepted(e.Status) || e.At.Before(start) {
			continue
		}
		level = min(capacity, level+rate*e.At.Sub(last).Seconds())
		level = max(level-1, 0) // the server's clock and ours differ a little
		last = e.At
	}
	return min(capacity, level+rate*at.Sub(last).Seconds())
}

// firstAt returns when the first event reached the server, or def when none
// did.
func firstAt(ev []Event, def time.Time) time.Time {
	for _, e := range ev {
		if e.Status != 0 {
			return e.At
		}
	}
	return def
}

// tally counts the events in [from, to).
type tally struct {
	accepted, rejected, other int
}

func count(ev []Event, from, to time.Time) tally {
	var t tally
	for _, e := range ev {
		if e.At.Before(from) || !e.At.Before(to) {
			continue
		}
		switch {
		case accepted(e.Status):
			t.accepted++
		case rejected(e.Status):
			t.rejected++
		default:
			t.other++
		}
	}
	return t
}

// worstSecond returns the most rejections in any one-second bucket of
// [from, to), the buckets counted from from.
func worstSecond(ev []Event, from, to time.Time) int {
	var buckets []int
	for _, e := range ev {
		if e.At.Before(from) || !e.At.Before(to) || !rejected(e.Status) {
			continue
		}
		i := int(e.At.Sub(from) / time.Second)
		for len(buckets) <= i {
			buckets = append(buckets, 0)
		}
		buckets[i]++
	}
	if len(buckets) == 0 {
		return 0
	}
	return slices.Max(buckets)
}

// percentile returns the q-quantile (0 < q ≤ 1) of ds by the nearest-rank
// method, or 0 for none. It sorts ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(float64(len(ds))*q)) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
