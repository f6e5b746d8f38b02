package ratehttptest

import "time"

// This file holds the counting policies: FixedWindow, SlidingWindow and
// WeightedWindow. They compare a count of requests with the limit, and with
// Config.CountRejected they count the requests they reject too.

// fixedWindow counts requests per period. A now before the current period (a
// wall clock stepped back) counts in the current period.
type fixedWindow struct {
	periods
	countRejected bool
	seen          bool
	idx           int64 // the current period; valid when seen
	count         int   // requests counted in period idx
}

// roll moves to the period containing now, if it is later.
func (f *fixedWindow) roll(now time.Time) {
	if k := f.index(now); !f.seen || k > f.idx {
		f.seen, f.idx, f.count = true, k, 0
	}
}

func (f *fixedWindow) take(now time.Time, limit, n int) int {
	f.roll(now)
	g := grant(n, limit-f.count)
	f.count += g
	return g
}

func (f *fixedWindow) reject(now time.Time) {
	if f.countRejected {
		f.roll(now)
		f.count++
	}
}

func (f *fixedWindow) remaining(now time.Time, limit int) int {
	f.roll(now)
	return limit - f.count
}

// wait returns the time to the next period: until then the count can only
// grow.
func (f *fixedWindow) wait(now time.Time, _ int) time.Duration {
	f.roll(now)
	return f.start(f.idx + 1).Sub(now)
}

func (f *fixedWindow) setLimit(time.Time, int, int) {}
func (f *fixedWindow) capacity(limit int) int       { return limit }

// slidingLog counts the requests of the last window, one entry per request.
type slidingLog struct {
	window        time.Duration
	countRejected bool
	log           []time.Time // counted instants, oldest first
}

// expire drops the entries that are a window old or older.
func (l *slidingLog) expire(now time.Time) {
	i := 0
	for i < len(l.log) && now.Sub(l.log[i]) >= l.window {
		i++
	}
	l.log = l.log[i:]
}

func (l *slidingLog) take(now time.Time, limit, n int) int {
	l.expire(now)
	g := grant(n, limit-len(l.log))
	for range g {
		l.log = append(l.log, now)
	}
	return g
}

func (l *slidingLog) reject(now time.Time) {
	if l.countRejected {
		l.expire(now)
		l.log = append(l.log, now)
	}
}

func (l *slidingLog) remaining(now time.Time, limit int) int {
	l.expire(now)
	return limit - len(l.log)
}

// wait returns the time until the entry that keeps the count at the limit
// expires.
func (l *slidingLog) wait(now time.Time, limit int) time.Duration {
	l.expire(now)
	if limit <= 0 || len(l.log) < limit {
		return l.window
	}
	return l.log[len(l.log)-limit].Add(l.window).Sub(now)
}

func (l *slidingLog) setLimit(time.Time, int, int) {}
func (l *slidingLog) capacity(limit int) int       { return limit }

// weightedWindow counts requests per period and weighs the previous period's
// count by the share of it still inside a window ending now. A now before the
// current period counts in the current period, as at its start.
type weightedWindow struct {
	periods
	countRejected bool
	seen          bool
	idx           int64 // the current period; valid when seen
	prev, curr    int   // requests counted in periods idx-1 and idx
}

// roll moves to the period containing now, if it is later.
func (ww *weightedWindow) roll(now time.Time) {
	switch k := ww.index(now); {
	case !ww.seen:
		ww.seen, ww.idx = true, k
	case k == ww.idx+1:
		ww.idx, ww.prev, ww.curr = k, ww.curr, 0
	case k > ww.idx+1:
		ww.idx, ww.prev, ww.curr = k, 0, 0
	}
}

// elapsed returns the time from the current period's start to now, within
// [0, window). Requires roll(now).
func (ww *weightedWindow) elapsed(now time.Time) time.Duration {
	return min(max(now.Sub(ww.start(ww.idx)), 0), ww.window-1)
}

// floorEstimate returns floor(prev*(window-e)/window + curr). As curr is an
// integer, estimate < limit if and only if floorEstimate < limit. Requires
// roll(now).
func (ww *weightedWindow) floorEstimate(now time.Time) int {
	w := uint64(ww.window)
	q, _ := mulDiv(uint64(ww.prev), w-uint64(ww.elapsed(now)), w)
	return ww.curr + int(q)
}

func (ww *weightedWindow) take(now time.Time, limit, n int) int {
	ww.roll(now)
	g := grant(n, limit-ww.floorEstimate(now))
	ww.curr += g
	return g
}

func (ww *weightedWindow) reject(now time.Time) {
	if ww.countRejected {
		ww.roll(now)
		ww.curr++
	}
}

func (ww *weightedWindow) remaining(now time.Time, limit int) int {
	ww.roll(now)
	return limit - ww.floorEstimate(now)
}

// wait returns the time until the estimate falls below limit. It falls in
// the current period if curr < limit; otherwise in the next, where the
// estimate is curr*(window-e)/window. In both cases estimate < limit when
// window-e <= ceil(room*window/weight) - 1, room being limit minus the
// unweighted count and weight the weighted one.
func (ww *weightedWindow) wait(now time.Time, limit int) time.Duration {
	ww.roll(now)
	w, e := uint64(ww.window), ww.elapsed(now)
	switch {
	case limit <= 0:
		return ww.window
	case ww.curr < limit && ww.prev == 0:
		return 0
	case ww.curr < limit:
		x := mulDivCeil(uint64(limit-ww.curr), w, uint64(ww.prev)) - 1
		return max(time.Duration(w-min(x, w))-e, 0)
	}
	x := mulDivCeil(uint64(limit), w, uint64(ww.curr)) - 1
	return ww.window - e + time.Duration(w-min(x, w))
}

func (ww *weightedWindow) setLimit(time.Time, int, int) {}
func (ww *weightedWindow) capacity(limit int) int       { return limit }
