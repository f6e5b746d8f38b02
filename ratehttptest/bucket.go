package ratehttptest

import (
	"math"
	"time"
)

// This file holds the bucket policies: TokenBucket, GCRA and LeakyBucket.
// Each admits Limit requests per Window on average and bursts up to its
// capacity, Config.Burst, which follows the limit when Burst is zero. They
// count accepted requests only.

// tokenEpsilon absorbs float rounding in the token and leaky buckets, so that
// a token due at an exact instant is available at that instant.
const tokenEpsilon = 1e-9

// capacityOf returns the capacity of a bucket: burst, or limit when burst is
// zero.
func capacityOf(burst, limit int) int {
	if burst > 0 {
		return burst
	}
	return limit
}

// tokenBucket holds tokens refilled at limit per window.
type tokenBucket struct {
	window time.Duration
	burst  int       // Config.Burst
	tokens float64   // tokens at last
	last   time.Time // last refill; zero before the first event
}

// newTokenBucket returns a full bucket.
func newTokenBucket(window time.Duration, burst, limit int) *tokenBucket {
	return &tokenBucket{window: window, burst: burst, tokens: float64(capacityOf(burst, limit))}
}

// refill adds the tokens earned at limit per window since the last refill.
func (b *tokenBucket) refill(now time.Time, limit int) {
	if !b.last.IsZero() {
		if el := now.Sub(b.last); el > 0 {
			b.tokens += float64(el) * float64(limit) / float64(b.window)
			b.tokens = min(b.tokens, float64(b.capacity(limit)))
		}
	}
	b.last = now
}

func (b *tokenBucket) whole() int { return int(math.Floor(b.tokens + tokenEpsilon)) }

func (b *tokenBucket) take(now time.Time, limit, n int) int {
	b.refill(now, limit)
	g := grant(n, b.whole())
	b.tokens -= float64(g)
	return g
}

func (b *tokenBucket) reject(time.Time) {}

func (b *tokenBucket) remaining(now time.Time, limit int) int {
	b.refill(now, limit)
	return b.whole()
}

// wait returns the time until one whole token is in the bucket, as take
// judges it.
func (b *tokenBucket) wait(now time.Time, limit int) time.Duration {
	if limit <= 0 {
		return b.window
	}
	b.refill(now, limit)
	need := 1 - tokenEpsilon - b.tokens
	return time.Duration(math.Ceil(need * float64(b.window) / float64(limit)))
}

// setLimit refills at the old rate up to now and cuts the tokens to the new
// capacity.
func (b *tokenBucket) setLimit(now time.Time, old, n int) {
	b.refill(now, old)
	b.tokens = min(b.tokens, float64(b.capacity(n)))
}

func (b *tokenBucket) capacity(limit int) int { return capacityOf(b.burst, limit) }

// gcra spaces requests by an emission interval and tolerates bursts of its
// capacity.
type gcra struct {
	window time.Duration
	burst  int       // Config.Burst
	tat    time.Time // theoretical arrival time; zero (long past) at the start
}

// interval returns the emission interval window/limit, at least 1ns. limit
// must be > 0.
func (g *gcra) interval(limit int) time.Duration {
	return max(g.window/time.Duration(limit), 1)
}

// room returns how many requests fit at now and the arrival time they are
// scheduled from: max(TAT, now).
func (g *gcra) room(now time.Time, limit int) (int, time.Time) {
	tat := g.tat
	if tat.Before(now) {
		tat = now
	}
	if limit <= 0 {
		return 0, tat
	}
	t := g.interval(limit)
	tolerance := time.Duration(g.capacity(limit)) * t
	return int(floorDiv(int64(tolerance-tat.Sub(now)), int64(t))), tat
}

func (g *gcra) take(now time.Time, limit, n int) int {
	free, tat := g.room(now, limit)
	k := grant(n, free)
	if k > 0 {
		g.tat = tat.Add(time.Duration(k) * g.interval(limit))
	}
	return k
}

func (g *gcra) reject(time.Time) {}

func (g *gcra) remaining(now time.Time, limit int) int {
	free, _ := g.room(now, limit)
	return free
}

// wait returns the time until max(TAT, now) + T - now <= capacity*T.
func (g *gcra) wait(now time.Time, limit int) time.Duration {
	if limit <= 0 {
		return g.window
	}
	_, tat := g.room(now, limit)
	t := g.interval(limit)
	return max(tat.Sub(now)+t-time.Duration(g.capacity(limit))*t, 0)
}

// setLimit keeps the TAT, as a GCRA store does when its rate changes: the
// next decisions use the new interval and capacity.
func (g *gcra) setLimit(time.Time, int, int) {}

func (g *gcra) capacity(limit int) int { return capacityOf(g.burst, limit) }

// leakyBucket holds a level that leaks at limit per window.
type leakyBucket struct {
	window time.Duration
	burst  int       // Config.Burst
	level  float64   // level at last
	last   time.Time // last drain; zero before the first event
}

// drain removes what leaked at limit per window since the last drain.
func (b *leakyBucket) drain(now time.Time, limit int) {
	if !b.last.IsZero() {
		if el := now.Sub(b.last); el > 0 {
			b.level -= float64(el) * float64(limit) / float64(b.window)
			b.level = max(b.level, 0)
		}
	}
	b.last = now
}

// room returns floor(capacity - level), as take judges it.
func (b *leakyBucket) room(limit int) int {
	return int(math.Floor(float64(b.capacity(limit)) - b.level + tokenEpsilon))
}

func (b *leakyBucket) take(now time.Time, limit, n int) int {
	b.drain(now, limit)
	g := grant(n, b.room(limit))
	b.level += float64(g)
	return g
}

func (b *leakyBucket) reject(time.Time) {}

func (b *leakyBucket) remaining(now time.Time, limit int) int {
	b.drain(now, limit)
	return b.room(limit)
}

// wait returns the time until level+1 <= capacity, as take judges it.
func (b *leakyBucket) wait(now time.Time, limit int) time.Duration {
	if limit <= 0 {
		return b.window
	}
	b.drain(now, limit)
	need := b.level + 1 - float64(b.capacity(limit)) - tokenEpsilon
	return time.Duration(math.Ceil(need * float64(b.window) / float64(limit)))
}

// setLimit drains at the old rate up to now. The level is kept, even above a
// lowered capacity: it leaks away at the new rate.
func (b *leakyBucket) setLimit(now time.Time, old, _ int) { b.drain(now, old) }

func (b *leakyBucket) capacity(limit int) int { return capacityOf(b.burst, limit) }
