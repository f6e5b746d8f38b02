package ratehttptest

import (
	"math"
	"math/bits"
	"strconv"
	"time"
)

// This file holds the quota algorithms. Each Policy is a limiter: a small
// state machine whose decisions are functions of (state, now, limit), so that
// a table test can drive it at fixed instants. The Server owns the lock and
// the accounting; limiters only count and judge. The counting policies
// (window.go) judge a count of requests against Limit; the bucket policies
// (bucket.go) meter a rate of Limit per Window against a capacity (Burst).

// Policy selects how a [Server] counts requests against its limit. The zero
// value is FixedWindow.
//
// The counting policies (FixedWindow, SlidingWindow, WeightedWindow) accept
// at most Limit requests per Window and may count rejected requests too
// (Config.CountRejected). The bucket policies (TokenBucket, GCRA,
// LeakyBucket) admit a sustained rate of Limit requests per Window with
// bursts of up to Config.Burst requests, and count accepted requests only.
//
// Under every policy, the remaining count reported in X-Ratelimit-Used is the
// number of further requests the Server would accept at the same instant.
type Policy int

const (
	// FixedWindow counts requests in windows aligned to multiples of
	// Config.Window since the Unix epoch (so minute, hour and day windows start
	// on UTC boundaries), shifted by Config.Offset. The count resets at each
	// window's start. Remaining is Limit minus the window's count.
	FixedWindow Policy = iota
	// SlidingWindow accepts a request if fewer than Limit requests were
	// accepted in the Window before it (a sliding log). A request accepted at
	// ts stops counting at exactly ts+Window. Remaining is Limit minus the
	// requests in the log.
	//
	// With Config.CountRejected the log holds every request the Server
	// answers, rejected ones included, as HAProxy's http_req_rate counts: a
	// client that keeps sending faster than Limit per Window is rejected for
	// as long as it does so. (One sending exactly Limit per Window, evenly
	// spaced, gets in again after a Window: each request sees only the Limit-1
	// before it, since the one a Window earlier has just stopped counting.)
	SlidingWindow
	// TokenBucket keeps a bucket of Config.Burst tokens (Limit when Burst is
	// zero), full at the start and refilled continuously at Limit tokens per
	// Window; each accepted request takes one token. X-Ratelimit carries the
	// bucket's capacity and X-Ratelimit-Used the whole tokens left. Tokens are
	// floating point; a token due at an instant is available at that instant
	// (within 1e-9 of a token).
	TokenBucket
	// WeightedWindow estimates a sliding window from two fixed windows, as
	// HAProxy's frequency counters, Cloudflare and go-chi/httprate do. Windows
	// are aligned as FixedWindow's; in a window that began e ago, with p
	// requests counted in the previous window and c in this one,
	//
	//	estimate = p*(Window-e)/Window + c
	//
	// and a request is accepted if estimate < Limit, taken before the request
	// is counted; an accepted request adds 1 to c. Remaining is
	// Limit - floor(estimate), which is exactly the number of requests that
	// would be accepted at the same instant. The arithmetic is exact (128-bit
	// integers, nanoseconds). With Config.CountRejected, rejected requests add
	// to c too.
	WeightedWindow
	// GCRA is the generic cell rate algorithm of throttled and
	// go-redis/redis_rate. Requests are spaced by the emission interval
	// T = Window/Limit (truncated to the nanosecond, as throttled does) and
	// bursts are tolerated up to Config.Burst requests (Limit when Burst is
	// zero). The state is the theoretical arrival time TAT, in the past at the
	// start: a request at now is accepted if max(TAT, now) + T - now <= Burst*T,
	// and then moves TAT to max(TAT, now) + T; a rejected request leaves it.
	// Remaining is floor((now + Burst*T - max(TAT, now)) / T). X-Ratelimit
	// carries Burst.
	GCRA
	// LeakyBucket is a bucket of capacity Config.Burst (Limit when Burst is
	// zero), empty at the start, that leaks continuously at Limit requests per
	// Window: a request is accepted if level+1 <= capacity, and then adds 1 to
	// the level, as nginx's limit_req with burst= and nodelay (accepted at
	// once, never queued) or Shopify's API. X-Ratelimit carries the capacity;
	// remaining is floor(capacity - level), so X-Ratelimit-Used with
	// Config.UsedMeansUsed is the level rounded up, as Shopify's
	// X-Shopify-Shop-Api-Call-Limit reports it. The level is floating point,
	// judged within 1e-9 of a request.
	LeakyBucket
)

// String returns the policy's name, such as "FixedWindow", or "Policy(9)"
// for an unknown value.
func (p Policy) String() string {
	switch p {
	case FixedWindow:
		return "FixedWindow"
	case SlidingWindow:
		return "SlidingWindow"
	case TokenBucket:
		return "TokenBucket"
	case WeightedWindow:
		return "WeightedWindow"
	case GCRA:
		return "GCRA"
	case LeakyBucket:
		return "LeakyBucket"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// isBucket reports whether p meters a rate against a capacity (Config.Burst)
// rather than counting requests per window.
func (p Policy) isBucket() bool {
	return p == TokenBucket || p == GCRA || p == LeakyBucket
}

// periodic reports whether p enforces its quota on windows aligned to the
// Unix epoch (shifted by Config.Offset).
func (p Policy) periodic() bool {
	return p == FixedWindow || p == WeightedWindow
}

// limiter is the state of one Policy. The Server calls its methods with its
// mu held, in the order take, then reject if take granted nothing, then
// remaining and wait, all with the same now. limit is the limit in force; it
// may be 0 (every request rejected), never negative.
type limiter interface {
	// take grants up to n units of quota at now and returns how many.
	take(now time.Time, limit, n int) int
	// reject records a request rejected at now. Only the counting policies
	// with Config.CountRejected count it.
	reject(now time.Time)
	// remaining returns the number of units take would grant at now. It is
	// negative when more than limit are counted, and is not clamped.
	remaining(now time.Time, limit int) int
	// wait returns how long after now a request would be accepted if no other
	// arrived meanwhile. It is meaningful after a rejection only.
	wait(now time.Time, limit int) time.Duration
	// setLimit is called when the limit changes at now from old to n.
	setLimit(now time.Time, old, n int)
	// capacity returns the limit sent in X-Ratelimit.
	capacity(limit int) int
}

// newLimiter returns the limiter of cfg.Policy. cfg is valid, with a
// non-zero Window.
func newLimiter(cfg Config) limiter {
	w, off, cr := cfg.Window, cfg.Offset, cfg.CountRejected
	switch cfg.Policy {
	case SlidingWindow:
		return &slidingLog{window: w, countRejected: cr}
	case WeightedWindow:
		return &weightedWindow{periods: periods{w, off}, countRejected: cr}
	case TokenBucket:
		return newTokenBucket(w, cfg.Burst, cfg.Limit)
	case GCRA:
		return &gcra{window: w, burst: cfg.Burst}
	case LeakyBucket:
		return &leakyBucket{window: w, burst: cfg.Burst}
	}
	return &fixedWindow{periods: periods{w, off}, countRejected: cr}
}

// periods numbers the Window-long periods that start at Offset + k*Window
// since the Unix epoch.
type periods struct {
	window, offset time.Duration
}

// index returns the number k of the period containing t.
func (p periods) index(t time.Time) int64 {
	return floorDiv(t.UnixNano()-int64(p.offset), int64(p.window))
}

// start returns the first instant of period k, in UTC.
func (p periods) start(k int64) time.Time {
	return time.Unix(0, k*int64(p.window)+int64(p.offset)).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// grant returns how many of n units fit in free, at least 0.
func grant(n, free int) int {
	return max(0, min(n, free))
}

// mulDiv returns floor(a*b/c) and whether the division is exact, computing
// a*b in 128 bits. c must be > 0. A quotient over 64 bits saturates at
// math.MaxUint64 (the callers' arguments never produce one).
func mulDiv(a, b, c uint64) (q uint64, exact bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64, false
	}
	q, r := bits.Div64(hi, lo, c)
	return q, r == 0
}

// mulDivCeil returns ceil(a*b/c), as [mulDiv].
func mulDivCeil(a, b, c uint64) uint64 {
	q, exact := mulDiv(a, b, c)
	if !exact && q != math.MaxUint64 {
		q++
	}
	return q
}
