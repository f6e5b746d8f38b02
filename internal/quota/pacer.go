package quota

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// renew replaces the limiter and wakes every waiter so that it queues again.
// A limiter that paces one request at a time starts as if the last request
// taken under mu had used its token: a new limiter is otherwise full, and a
// change of pace would let a request go at once, however slow the new pace
// (after a 429, into the next one). It requires q.mu held.
func (q *Key) renew(r rate.Limit, burst int) {
	q.lim, q.rate, q.burst = rate.NewLimiter(r, burst), r, burst
	if burst == 1 && !q.lastTake.IsZero() {
		q.lim.AllowN(q.lastTake, 1)
	}
	q.closeLane()
	q.laneWait = 0
	q.gen++
	close(q.changed)
	q.changed = make(chan struct{})
}

// pace returns the rate and burst the quota calls for: the model's, under
// the guard's ceiling, where the burst is one. It requires q.mu held.
func (q *Key) pace(now time.Time) (rate.Limit, int) {
	r, b := q.modelPace(now)
	if c := rate.Limit(q.guard.Ceiling(now)); c < r {
		return c, 1
	}
	return r, b
}

// modelPace returns the rate and burst the model calls for. It requires q.mu
// held.
func (q *Key) modelPace(now time.Time) (rate.Limit, int) {
	if q.limit <= 0 {
		return rate.Inf, 1
	}
	if q.window > 0 {
		r := rate.Limit(q.slotRate())
		switch {
		case q.windowFrom == windowGuessed:
			// One at a time: the window is only a guess (a bucket's
			// refill may be slower than its window's limit).
			return r*rate.Limit(q.margin()) + q.drain(now), 1
		case q.family == FamilySlidingWindow:
			// One at a time (see slots), unless WithBurst says.
			r *= rate.Limit(q.margin())
			if q.cfg.Burst >= 0 {
				return r, burstShare(q.limit, q.cfg.Burst)
			}
			if now.Before(q.catchUntil) {
				r += q.catchRate
			}
			return r, 1
		case q.slots() && q.cfg.Burst < 0:
			// One at a time: the budget is earned back slot by slot.
			return r + q.drain(now), 1
		}
		return r, q.windowBurst()
	}
	// A quota with a server-sent reset but no window: spread what remains
	// until the reset.
	if !q.resetAt.IsZero() && q.resetAt.After(now) {
		b := max(q.budget(now), 1)
		return rate.Limit(b / q.resetAt.Sub(now).Seconds()), 1
	}
	return rate.Inf, 1
}

// slotRate is the rate at which the server frees slots, in requests per
// second: the window's (limit per window), or the refill measured in slot
// mode when it is faster. It requires q.mu held and a window.
func (q *Key) slotRate() float64 {
	r := float64(q.limit) / q.window.Seconds()
	if (q.family == FamilyBucket || q.windowFrom == windowGuessed) && q.refill.rate > r {
		return q.refill.rate
	}
	return r
}

// margin is the share of the slot rate the pace uses: all of it, except for
// a sliding window paced at its own rate (limit per window: no faster
// refill was measured), and for a window guessed from resets that hold
// still (unsure) until a reset shows its family. Paced at exactly that
// rate, a sliding window is full at every instant: a weighted two-window
// counter that rounds its count, or that began its first window before our
// first request, refuses the next request at a boundary, and its
// Retry-After may be a whole window. So one request of each window is left
// unused (two while unsure), a tenth of them at most (a fifth). It requires
// q.mu held and a window.
func (q *Key) margin() float64 {
	if q.family != FamilySlidingWindow && !q.unsure() || q.slotRate() > float64(q.limit)/q.window.Seconds() {
		return 1
	}
	short := 1.0
	if q.family != FamilySlidingWindow {
		// A window that our first request may have opened holds that
		// request and rate×window more: two short, so that it holds
		// one short (go-chi/httprate's first window held all 40, one
		// run in twenty).
		short = 2
	}
	return 1 - short/float64(max(q.limit, 10))
}

// drain is how much faster than its refill a bucket is paced while its
// budget holds more than it needs: what it holds beyond two requests and
// those in flight, spent over a second. Paced at exactly its refill, a
// bucket that a client found full stays full, and the burst it offers goes
// unused for good (tollbooth's burst of 10: 94.8-95.8% of the allowance
// of a 10 s run). It requires q.mu held.
func (q *Key) drain(now time.Time) rate.Limit {
	if q.family != FamilyBucket || q.news != newsAnchored {
		return 0
	}
	return rate.Limit(max(q.budget(now)-float64(2+q.inflight.Load()), 0))
}

// catchUp folds in the remaining count rem (negative: none) of an answer read
// at now; held says the guard was probing before it. A sliding window frees
// its slots one by one, so the pace spends them no faster than they come
// back: a slot left unused stays unused. After a probing episode that a
// 429 of the model's own began (the probe of a window believed reset, say),
// the slots the guard held back show as remaining, and they are spent over
// the next half window on top of the pace (HAProxy, whose weighted counter
// refuses the first requests after a window spent in full: a probe there
// lost half a second, 6 of the window's 40, in 4 of 26 runs before this).
// Catching up stops early when remaining shows no slot to spare. It requires
// q.mu held.
func (q *Key) catchUp(now time.Time, rem int64, held bool) {
	spare := float64(rem - 1 - q.inflight.Load())
	switch {
	case q.family != FamilySlidingWindow || q.window <= 0 || rem < 0:
		q.catchUntil = time.Time{}
	case held && q.guard.Calm() && spare >= 1:
		q.catchRate, q.catchUntil = rate.Limit(spare/(q.window/2).Seconds()), now.Add(q.window/2)
	case spare < 1:
		q.catchUntil = time.Time{}
	}
}

// unsure reports whether the key's window is guessed from resets that hold
// still, a window's end (not a bucket's time until full, which recedes),
// and no reset or slide has shown yet whether it is fixed or slides. It
// requires q.mu held.
func (q *Key) unsure() bool {
	return q.windowFrom == windowGuessed && q.resetFrom == resetHeld && q.family == FamilyUnknown
}

// windowBurst is how many requests of a window's quota may go at once: what
// WithBurst says, else burstFor. It requires q.mu held.
func (q *Key) windowBurst() int {
	if q.cfg.Burst >= 0 {
		return burstShare(q.limit, q.cfg.Burst)
	}
	return burstFor(q.limit)
}

// burstFor is how many requests may go at once after an idle spell: a
// twentieth of the window's quota, at least ten (or the whole quota when it is
// smaller) and at most a hundred. Light or bursty load is then not delayed,
// while the window's budget still bounds the total.
func burstFor(limit int64) int {
	return int(min(max(limit/20, min(limit, 10)), 100))
}

// burstShare is the burst of WithBurst(share) under a window of limit
// requests: share of it, rounded up, at least one and at most the limit (and
// the largest int).
func burstShare(limit int64, share float64) int {
	b := math.Ceil(float64(limit) * min(share, 1))
	if !(b >= 1) { // NaN too
		return 1
	}
	return int(min(b, float64(limit), math.MaxInt32))
}

// changedMuch reports whether a new pacing rate is far enough from the old one
// that waiters must queue again.
func changedMuch(old, new rate.Limit) bool {
	if old == new {
		return false
	}
	if old == rate.Inf || new == rate.Inf {
		return true
	}
	return math.Abs(float64(new-old)) > 0.05*float64(old)
}

// allow reports whether the pacer lets a request of w go at now, drawing
// from the limiter; when a lane fits, nobody is queued behind the caller and
// the request is one that lanes serve, it draws a lane's tokens and opens a
// lane with the rest. It requires q.mu held.
func (q *Key) allow(now time.Time, w Want) bool {
	if q.rate == rate.Inf {
		return true // the limiter would say so
	}
	if !w.laneOK() {
		// No lane for a request that could not take from it: its
		// tokens would go to waste.
		return q.lim.AllowN(now, q.tokens(w))
	}
	if q.laneWait == 0 && q.queued <= 1 && q.laneFits(now) {
		n := laneSize(q.burst)
		if q.lim.AllowN(now, int(n)) {
			l := &lane{}
			l.left.Store(n - 1)
			q.routine(&l.tmpl)
			q.closeLane()
			q.lane.Store(l)
			return true
		}
		q.laneWait = laneRetry
	}
	q.laneWait = max(q.laneWait-1, 0)
	return q.lim.AllowN(now, 1)
}
