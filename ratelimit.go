package ratehttp

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// UsedMeaning says how to read the vendor's X-ratelimit-used header.
type UsedMeaning int

const (
	// UsedRemaining reads X-ratelimit-used as the number of requests remaining
	// in the window, as the vendor's documentation says despite the name. It is
	// the default.
	UsedRemaining UsedMeaning = iota
	// UsedUsed reads X-ratelimit-used as the number of requests already used in
	// the window, for servers that follow the header's name.
	UsedUsed
	// UsedAuto infers the meaning from how the value moves between responses
	// within a window: it falls with our requests if it counts what remains and
	// rises if it counts what was used. Until two responses tell, requests for
	// the key are sent one at a time.
	UsedAuto
)

// Synchronization notes.
//
// A quota is the client's model of one server-side quota. Everything in it is
// guarded by mu, which is never held while waiting or doing I/O.
//
// The model is eventually consistent with the server: each response reports
// how many requests remained when the server counted that request. Requests
// sent after it may or may not have been counted yet, so the budget is
// "remaining reported by the newest response, minus every request we sent
// after that response's request" (requests are numbered by seq when they take
// their slot). This is conservative: it can only under-estimate the budget,
// and the next response corrects it.
//
// The vendor sends no reset time, so window boundaries are estimated: first as
// the UTC-aligned boundaries of the window's unit, then from the instants at
// which remaining jumps back up (phaseLo, phaseHi bound one reset instant).
// A response is attributed to the window its request was sent in: a response
// to a request sent before the current window began never drains the new
// window's budget. The first request of a window we believe new goes alone
// (winProbing): if its answer shows the server did not reset, the estimate was
// early, and only that one request was spent finding out.
//
// Three refinements keep the budget honest:
//   - the server may count our concurrent requests in any order, so a rise or
//     fall of remaining up to the number of our requests that overlapped a
//     pair's flights is not evidence of anything (overlap, lastOverlap);
//   - a fall that our own requests do not explain is other clients' doing:
//     its rate (otherRate) is subtracted for the time since the anchor;
//   - small rises that reordering does not explain mean the server frees
//     slots one by one (a sliding window or a token bucket): in slotMode the
//     budget is earned back at limit/window (never past the limit) and an
//     empty budget waits one slot, not a whole window.
//
// A bucket's refill may be faster than its capacity per window: its limit
// header may carry the burst (throttled, a GCRA), and a window guessed from
// its resets is rounded up to the second. Where a bucket is known or likely
// (refills: a 429 whose Retry-After is far shorter than the wait for the
// window believed spent, then an answer that is not a 429 to the request
// sent after it; or a window guessed from resets), the refill is measured
// (learnRefill): what the server freed between two answers is the rise in
// remaining plus our requests in between; a span that starts and ends with
// the bucket full only shows that the refill keeps up with us, and the
// estimate grows by half. The pace and the budget's earning use the refill
// where it beats limit/window. Sliding windows, whose slots come back in
// bursts as old requests leave, are not measured so.
//
// A 429 empties the budget only when its headers say nothing remains, and a
// Retry-After pauses the key for that long, whatever the maximum wait (a
// request that cannot wait so long is refused; one longer than the window,
// or an hour, is nonsense and ignored). Whatever the model believes, the
// guard (iquota.Guard) holds the key after a 429 the model did not foresee:
// one request at a time until an answer that is not a 429, and a ceiling on
// the pace that drops and climbs back. A spent budget that no reset from the
// server bounds is tested by one request once a window or the maximum wait
// has passed without news (stale), so a wrong belief never refuses every
// request for good.
//
// Pacing uses a rate.Limiter at limit/window. Waiting is done here, not with
// rate.Limiter.Wait. Requests that must wait form a queue in arrival order
// (head, tail), and only its head paces itself: it holds a reservation and
// sleeps on a timer, the request's context, and changed; the others sleep
// until their turn comes (waiter.turn) or their context ends. When the head
// leaves, the waiters behind it that the rules let go at once are handed
// their tickets together (see leave), and the first that must wait becomes
// the head. While the queue is not empty, a newcomer joins its tail instead
// of drawing from the limiter, and no lane opens. When the model
// changes in a way that invalidates the head's slot (first response, a pause,
// a new rate), the limiter is replaced and changed is closed, so the head
// drops its reservation and queues again on the new limiter at once. This is
// the gate that rate.Limiter.SetLimit alone does not give: it does not
// reschedule callers that are already waiting. The queue keeps the order
// across such changes, pauses and window resets; before it, every waiter
// woke at once and they went in the order they took mu, so with more waiters
// than a window's quota one could miss several windows running. A newcomer
// is refused at once only when the least the queue ahead costs it (queueWait)
// passes its deadline or the maximum wait; the head is refused when its own
// wait does.
//
// While the model is settled, one routine answer in foldEvery (by its
// request's seq) is read and folded in; the others are not read at all, and
// take no lock (ticket.quiet: a routine request, answered within the window
// it was sent in, neither a 429 nor a 5xx; ticket.routine says when a model
// is settled). Reading the headers is the largest part of what a request
// costs the Transport. An unread answer leaves the budget anchored on an
// older response less every request we sent since, which only
// under-estimates it; the next answer read carries the same news, newer, and
// measures any fall our requests do not explain over the whole stretch. So
// news (a new limit, window or reset, another client taking from the quota)
// is seen at most foldEvery-1 answers late, and an anomaly in an unread
// answer is not counted. A read answer with an anomaly unsettles the model
// (noisy) until one comes clean, so that headers that stay bad are counted
// in every answer. Once others are seen, every response is folded in: their
// rate is estimated from the responses, and an estimate updated less often
// under-subtracts them (measured: 429s with four clients sharing a quota at
// 64 workers). inflight is atomic for the unread path.
//
// The lane lets routine requests through without mu. While the model is
// settled (see ticket.routine), its budget holds at least two lanes, and the
// limiter has a lane's tokens to spare (a quarter of its burst, see
// laneSize), a request that takes mu draws them at once and opens a lane with
// the rest: the next requests take one each with an atomic decrement, and
// their seq with an atomic increment (seq is atomic for that; under mu it is
// read, never reset). The lane's tokens were available when drawn, and the
// budget left when it opened covers them, so the lane spends nothing the
// locked path would have refused. It closes (closeLane) when its tokens run
// out, at the estimated reset its tickets carry, and whenever the model
// changes under mu in a way that could refuse or delay a request: renew (a
// pause, a new pace), roll, and a response read that carries news or leaves
// the budget short. A request
// that loaded the lane just before it closed may still take from it; its seq
// lands a moment after the locked path's reading, as if it had been sent just
// before the change, which mu alone allows too. A burst can exceed the
// limiter's by at most a lane, a quarter of it; the window's budget still
// bounds the total. A lane is allocated for the many requests it serves.

// quota is the state of one key. The zero value is not usable; see newQuota.
type quota struct {
	key  string
	opts *config
	hm   *hostMetrics

	mu sync.Mutex

	// Pacing. lim and changed are replaced together (gen counts them);
	// rate and burst are what lim was made with. lane is the open lane, if
	// any; after the limiter refused a lane's tokens, laneWait counts the
	// single draws before the next try.
	lim      *rate.Limiter
	rate     rate.Limit
	burst    int
	gen      uint64
	changed  chan struct{}
	lane     atomic.Pointer[lane]
	laneWait int

	// What the server said. limit == 0 means no quota is known: either no
	// response yet (known == false) or a server that sends no quota headers.
	known   bool // a response has been seen
	probing bool // the first request is in flight; others wait for it
	limit   int64
	window  time.Duration
	dialect dialect
	meaning UsedMeaning // resolved meaning; UsedAuto while undecided
	autoVal int64       // first raw value seen in auto mode, -1 when none
	autoSeq uint64

	// Window estimate. resetAt is the estimated end of the current window.
	resetAt     time.Time
	serverReset bool      // resetAt came from the server, not an estimate
	phaseLo     time.Time // a reset instant lies in (phaseLo, phaseHi]
	phaseHi     time.Time
	slotMode    bool // windows are not fixed (sliding, token bucket): an empty budget waits one slot, not a window
	// refill is the rate at which the server frees slots, in requests per
	// second, as measured in slot mode (see learnRefill); 0 until measured.
	// The pace and the budget's earning use it where it beats the
	// window's rate: a bucket's refill may be faster than its capacity per
	// window. The sample it is measured over starts at (fillSeq, fillRem,
	// fillSent).
	refill   float64
	fillSeq  uint64
	fillRem  int64
	fillSent time.Time
	haveFill bool

	// Budget. seq numbers the requests as they take their slot; it is
	// atomic for the lane.
	seq         atomic.Uint64
	winFirstSeq uint64 // first seq sent in the current window
	anchored    bool   // anchorRem is valid for the current window
	winProbing  bool   // the window's first request is in flight, unanchored
	expectFresh bool   // the window began by our estimate; its first news tests it
	anchorSeq   uint64
	anchorRem   int64
	anchorSent  time.Time
	otherRate   float64 // requests per second others take from the quota (EWMA)
	pauseUntil  time.Time
	heardAt     time.Time // when the newest response was read
	// windowGuessed: the server sends resets but no window, and window is
	// the longest wait for a reset seen, in whole seconds.
	windowGuessed bool
	lastTake      time.Time // when take last handed out a ticket
	// retryProbe: a 429 asked for a Retry-After far shorter than the
	// spent budget's believed refill; a probe tests the belief then.
	retryProbe time.Time
	// refills: the server was seen to free slots continuously (it accepted
	// a request soon after a 429 in a window we believed spent): its
	// remaining rising, however much, is a refill, never a window's
	// reset.
	refills bool

	// newsSeq is the seq of the newest response whose limit, window and
	// dialect were applied: an older response arriving late changes none.
	newsSeq  uint64
	haveNews bool

	// guard is the safety net: one request at a time after a 429 the
	// model did not foresee, and a ceiling on the pace (see iquota.Guard).
	guard iquota.Guard

	// gates are the policies of the newest multi-policy response other
	// than the binding one (see policies.go); tokenSeq counts the tokens
	// requests declared (TokenCost), atomic for the lane's tickets.
	gates    [maxPolicies]gate
	ngates   int
	tokenSeq atomic.Int64

	// The newest observation, for reset (jump) detection across windows.
	lastSeq     uint64
	lastUsed    int64 // limit - remaining, so that a change of limit is no rise
	lastSent    time.Time
	lastOverlap int64
	haveLast    bool
	slotVotes   int  // small rises seen: two make slotMode
	noisy       bool // the newest response read had anomalies: read every one

	// inflight counts the requests sent and not yet observed. It is atomic so
	// that a skipped observation (see observe) needs no lock. waiting counts
	// the requests asleep in acquire.
	inflight atomic.Int64
	waiting  atomic.Int64

	// The requests waiting in acquire, in arrival order (see the
	// synchronization notes); queued counts them.
	head, tail *waiter
	queued     int

	// For Transport.sweep: seq at the previous sweep, if swept.
	swept    bool
	sweptSeq uint64
}

// idle reports whether q may be forgotten at now: no request took a slot
// since the previous sweep looked at it, none is in flight or waiting, no
// pause runs, and no window it knows is still running (the budget it holds
// would be full again). seen reports whether a previous sweep looked at q. It
// records q's seq for the next sweep.
//
// A request that looked q up, or woke from a wait, just before q was
// forgotten, and has not taken a slot yet, is paced by q as it was: one
// request, on a quota that had been idle for a whole sweep. A quota forgotten
// also leaves the quota gauges until its key is used again.
func (q *quota) idle(now time.Time) (idle, seen bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.seq.Load()
	seen = q.swept
	idle = seen && q.sweptSeq == seq && q.inflight.Load() == 0 && q.waiting.Load() == 0 &&
		!now.Before(q.pauseUntil) && (q.resetAt.IsZero() || !now.Before(q.resetAt))
	q.swept, q.sweptSeq = true, seq
	return idle, seen
}

// foldEvery is how often a routine answer is read and folded into the model:
// one in foldEvery, by seq (see the synchronization notes).
const foldEvery = 8

// ticket identifies one request that took a slot.
type ticket struct {
	seq    uint64
	tokens int64 // tokenSeq after this request took its tokens
	sent   time.Time
	conc   int // requests in flight when it was sent, itself included

	// probe marks the guard's probe (see iquota.Guard.Admit); foreseen, a
	// request the model sent knowing its answer may be a 429 (the first
	// request, a window's first, a spent budget's probe).
	probe, foreseen bool

	// routine marks a request paced in a settled model: known quota, decided
	// meaning, no probe, no fresh window to test, fixed windows (not slot
	// mode, whose earning needs every response), and no other client seen
	// taking from the quota (the budget then depends on our own requests
	// alone, so an older anchor only under-estimates it), and no anomaly in
	// the newest response read. Its response may go unread (see observe);
	// the model as it was at take is in limit, window, dialect and resetAt,
	// to tell whether a response read confirms it.
	routine bool
	dialect dialect
	limit   int64
	window  time.Duration
	resetAt time.Time
}

func newQuota(key string, opts *config, hm *hostMetrics) *quota {
	q := &quota{key: key, opts: opts, hm: hm, meaning: opts.used, autoVal: -1}
	q.lim, q.rate, q.burst = rate.NewLimiter(rate.Inf, 1), rate.Inf, 1
	q.changed = make(chan struct{})
	return q
}

// renew replaces the limiter and wakes every waiter so that it queues again.
// A limiter that paces one request at a time starts as if the last request
// taken under mu had used its token: a new limiter is otherwise full, and a
// change of pace would let a request go at once, however slow the new pace
// (after a 429, into the next one). It requires q.mu held.
func (q *quota) renew(r rate.Limit, burst int) {
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
func (q *quota) pace(now time.Time) (rate.Limit, int) {
	r, b := q.modelPace(now)
	if c := rate.Limit(q.guard.Ceiling(now)); c < r {
		return c, 1
	}
	return r, b
}

// modelPace returns the rate and burst the model calls for. It requires q.mu
// held.
func (q *quota) modelPace(now time.Time) (rate.Limit, int) {
	if q.limit <= 0 {
		return rate.Inf, 1
	}
	if q.window > 0 {
		r := rate.Limit(q.slotRate())
		switch {
		case q.windowGuessed:
			// One at a time: the window is only a guess (a bucket's
			// refill may be slower than its window's limit).
			return r, 1
		case q.opts.burst >= 0:
			return r, burstShare(q.limit, q.opts.burst)
		case q.slotMode:
			// One at a time: the budget is earned back slot by slot.
			return r, 1
		}
		return r, burstFor(q.limit)
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
func (q *quota) slotRate() float64 {
	r := float64(q.limit) / q.window.Seconds()
	if (q.refills || q.windowGuessed) && q.refill > r {
		return q.refill
	}
	return r
}

// Refill learning: a sample spans at least refillSpan and refillCount
// requests; a sample that starts and ends with the server's bucket full (what
// remains is the limit, less our requests in flight) only shows that slots
// come back at least as fast as we sent, and the estimate becomes
// refillGrowth times that rate, if higher.
const (
	refillSpan   = 200 * time.Millisecond
	refillCount  = 3
	refillGrowth = 1.5
)

// learnRefill folds the answer to the request behind t, which saw rem
// remaining with overlap of our requests in flight around it, into the
// refill estimate: what the server freed between the sample's start and t
// is the rise in remaining plus our requests sent in between. It requires
// q.mu held.
func (q *quota) learnRefill(t ticket, rem, overlap int64) {
	if !q.haveFill || t.seq < q.fillSeq {
		if !q.haveFill {
			q.fillSeq, q.fillRem, q.fillSent, q.haveFill = t.seq, rem, t.sent, true
		}
		return
	}
	span := t.sent.Sub(q.fillSent)
	n := int64(t.seq - q.fillSeq)
	if span < refillSpan || n < refillCount {
		return
	}
	obs := float64(rem-q.fillRem+n) / span.Seconds()
	base := float64(q.limit) / q.window.Seconds()
	// Full at both ends: the server refilled all we sent in between.
	switch full := rem >= q.limit-1-overlap && q.fillRem >= q.limit-1-overlap; {
	case full:
		// Grow from what we sent, not from the estimate: under light
		// demand a full bucket says nothing past our own rate, and an
		// estimate grown sample after sample would let a later burst of
		// demand go at any speed.
		q.refill = max(q.refill, max(base, obs)*refillGrowth)
	case obs > 0:
		q.refill = max((q.refill+obs)/2, base)
	}
	q.fillSeq, q.fillRem, q.fillSent = t.seq, rem, t.sent
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

// budget is how many more requests the current window allows, by our
// estimate: what the newest response reported, less our requests sent after
// it, less what others are expected to have taken since. In slot mode the
// server frees slots as time passes, so they are earned back at its rate. It
// requires q.mu held.
func (q *quota) budget(now time.Time) float64 {
	if !q.anchored {
		return float64(q.limit - int64(q.seq.Load()-q.winFirstSeq))
	}
	b := float64(q.anchorRem - int64(q.seq.Load()-q.anchorSeq-1))
	if q.otherRate == 0 && !q.slotMode {
		return b
	}
	age := now.Sub(q.anchorSent).Seconds()
	if q.slotMode && q.window > 0 {
		// Slots come back at the server's rate, and never more than
		// the limit are free at once.
		sent := float64(q.seq.Load() - q.anchorSeq - 1)
		b = min(float64(q.anchorRem)+math.Floor(age*q.slotRate()), float64(q.limit)) - sent
	}
	return b - q.otherRate*age
}

// empty reports whether the budget is spent: less than half a request is
// expected to remain. It requires q.mu held.
func (q *quota) empty(now time.Time) bool {
	return q.limit > 0 && q.budget(now) < 0.5
}

// roll moves the window estimate forward when now has passed the estimated
// reset. It requires q.mu held.
func (q *quota) roll(now time.Time) {
	if q.resetAt.IsZero() || now.Before(q.resetAt) {
		return
	}
	if q.window > 0 {
		n := now.Sub(q.resetAt)/q.window + 1
		q.resetAt = q.resetAt.Add(n * q.window)
	} else {
		q.resetAt = time.Time{}
	}
	q.closeLane()
	q.serverReset = false
	q.winFirstSeq = q.seq.Load()
	q.anchored = false
	q.expectFresh = true
}

// acquire waits until the request may be sent and returns its ticket. It
// returns at once, without waiting, a *RateLimitError when the wait it can
// foresee would pass ctx's deadline or c's maximum wait, and ctx's error when
// ctx ends first. Requests that wait go in order of priority, and in arrival
// order within one (see the synchronization notes). No wait is unbounded:
// each wait a request foresees is at most the maximum wait, and so is each
// wait whose length it cannot foresee (for the answer to another request's
// probe, or for its turn in the queue), which then ends with a
// *RateLimitError.
//
// now is the current time; the clock is read again only after a wait.
func (q *quota) acquire(ctx context.Context, now time.Time, c call) (ticket, time.Duration, error) {
	wt := c.want()
	if wt.laneOK() {
		if t, ok := q.fromLane(now); ok {
			return t, 0, nil
		}
	}
	maxWait := c.maxWait()
	var (
		waited time.Duration
		w      *waiter // our place in the queue, once we wait
	)
	q.mu.Lock()
	if q.head != nil {
		// Others are waiting: queue behind those that go first, unless
		// what they have ahead of us already passes the deadline or the
		// maximum wait.
		q.roll(now)
		if err := q.tooLong(ctx, now, q.queueWait(now, wt.prio), maxWait); err != nil {
			q.mu.Unlock()
			return ticket{}, 0, err
		}
		w = q.enqueue(wt)
	}
	// q.mu is held at the top of every turn of the loop. slot reports that
	// the slot we reserved on the current limiter has come.
	slot := false
	for {
		if w != nil && w != q.head {
			// Wait for our turn: to be the head, or to be handed a
			// ticket by the one ahead (see leave).
			q.waiting.Add(1) // under mu, for idle
			turn := w.turn
			q.mu.Unlock()
			start := time.Now()
			timer := time.NewTimer(maxWait)
			var err error
			select {
			case <-turn:
			case <-ctx.Done():
				err = context.Cause(ctx)
			case <-timer.C:
				err = &RateLimitError{Key: q.key, Wait: maxWait}
			}
			timer.Stop()
			q.waiting.Add(-1)
			waited += time.Since(start)
			q.mu.Lock()
			if w.granted {
				// A context that ended meanwhile fails the request
				// in the base.
				q.mu.Unlock()
				return w.tk, waited, nil
			}
			now = time.Now()
			if err != nil {
				q.leave(w, now)
				q.mu.Unlock()
				return ticket{}, waited, err
			}
			slot = false
		}
		t, ok, d, res := q.decide(now, slot, true, wt)
		if ok {
			q.leave(w, now)
			q.mu.Unlock()
			return t, waited, nil
		}
		// A wait for the model to change has no foreseeable end: it
		// lasts the maximum wait at most (or until the context ends),
		// and fails there.
		unforeseen := d < 0
		var err error
		if unforeseen {
			d = maxWait
		} else {
			err = q.tooLong(ctx, now, d, maxWait)
		}
		if err != nil {
			if res != nil {
				res.CancelAt(now) // just reserved: the tail, fully restored
			}
			q.leave(w, now)
			q.mu.Unlock()
			return ticket{}, waited, err
		}
		if w == nil {
			w = q.enqueue(wt) // the queue is empty: the head
		}
		// A batch head held back by the reserve yields the head to a
		// request of higher priority that comes meanwhile (see enqueue).
		w.held = res == nil && q.reserveHolds(now, wt)
		gen, changed := q.gen, q.changed
		q.waiting.Add(1) // under mu, for idle
		q.mu.Unlock()

		start := time.Now()
		woke, err := sleep(ctx, d, changed)
		q.waiting.Add(-1)
		waited += time.Since(start)
		q.mu.Lock()
		w.held = false
		if w.granted {
			// Demoted from the head while asleep (see enqueue), then
			// handed a ticket by the new head (see leave).
			q.mu.Unlock()
			return w.tk, waited, nil
		}
		now = time.Now()
		if err == nil && unforeseen && !woke {
			err = &RateLimitError{Key: q.key, Wait: maxWait}
		}
		if err != nil {
			if res != nil && q.gen == gen {
				res.CancelAt(now)
			}
			q.leave(w, now)
			q.mu.Unlock()
			return ticket{}, waited, err
		}
		// Unless the model changed (and the reservation with it), or a
		// pause ended, our slot came.
		slot = !woke && res != nil && q.gen == gen
	}
}

// decide applies the quota's rules to a request at now. It returns the
// request's ticket when it may go at once; else how long it must wait (-1:
// until the model changes) and, when reserve is set and the pacer is what
// holds it, the reservation of its slot (without reserve, d is then 0 and
// the request waits its turn). slot reports that the slot reserved earlier on
// the current limiter has come: its token is paid, and the request takes it
// unless a rule before the pacer's says no. w is what the request wants
// (its priority and cost). It requires q.mu held.
func (q *quota) decide(now time.Time, slot, reserve bool, w want) (t ticket, ok bool, d time.Duration, res *rate.Reservation) {
	q.roll(now)
	// A lane may have opened since fromLane looked.
	if w.laneOK() {
		if t, ok := q.fromLane(now); ok {
			return t, true, 0, nil
		}
	}
	switch {
	case q.probing || q.winProbing || q.undecided() && q.inflight.Load() > 0:
		// Only one request at a time learns the quota, the meaning of
		// X-ratelimit-used, or whether a window we believe new really is;
		// the others wait for its response.
		return ticket{}, false, -1, nil
	case !q.known:
		q.probing = true
		return q.takeProbe(now, w), true, 0, nil
	case now.Before(q.pauseUntil):
		return ticket{}, false, q.pauseUntil.Sub(now), nil
	case q.empty(now) && q.stale(now):
		// The budget reads spent, but nothing was heard for a while and
		// no reset the server sent says when it refills: the belief may
		// be wrong (a reset we could not read, a bucket that refills).
		// One request finds out, and the others wait for its answer.
		q.winProbing = true
		return q.takeProbe(now, w), true, 0, nil
	case q.empty(now):
		q.pauseUntil = q.emptyUntil(now)
		q.renew(q.pace(now))
		return ticket{}, false, q.pauseUntil.Sub(now), nil
	}
	switch ok, probe, wait := q.guard.Admit(now); {
	case !ok:
		return ticket{}, false, wait, nil
	case probe:
		t := q.take(now, w)
		t.probe = true
		return t, true, 0, nil
	case q.limit <= 0 && !q.guard.Calm() && q.inflight.Load() >= iquota.MaxInFlight:
		return ticket{}, false, -1, nil // until an answer comes
	}
	switch {
	}
	if d, held := q.gateWait(now, w); held {
		// Another of the server's policies has no room for it.
		if slot {
			q.lim.AllowN(now, -q.tokens(w)) // give back what the slot paid
		}
		return ticket{}, false, d, nil
	}
	switch {
	case q.limit > 0 && !q.anchored:
		q.winProbing = true
		return q.takeProbe(now, w), true, 0, nil
	case q.reserveHolds(now, w) || w.cost > 1 && q.limit > 0 && q.budget(now) < float64(w.cost)-0.5:
		// Held back by the batch reserve, or costlier than what
		// remains: until the budget may have refilled.
		if slot {
			q.lim.AllowN(now, -q.tokens(w)) // give back what the slot paid
		}
		return ticket{}, false, q.emptyUntil(now).Sub(now), nil
	case slot:
		return q.take(now, w), true, 0, nil
	case q.allow(now, w):
		return q.takeRoutine(now, w), true, 0, nil
	case !reserve:
		return ticket{}, false, 0, nil
	}
	res = q.lim.ReserveN(now, q.tokens(w))
	d = res.DelayFrom(now)
	if !res.OK() {
		d = q.opts.maxWait + 1 // cannot happen with burst >= 1; never spin on it
	}
	if d == 0 {
		return q.takeRoutine(now, w), true, 0, nil
	}
	return ticket{}, false, d, res
}

// tokens is what a request of w pays the pacer: its cost, at most the
// limiter's burst (a costlier request pays the burst, which paces it
// enough: its cost is taken from the budget in full). It requires q.mu held.
func (q *quota) tokens(w want) int {
	return int(min(w.cost, int64(q.burst)))
}

// waiter is a request queued in acquire, in the quota's list of waiters.
type waiter struct {
	prev, next *waiter
	want       want
	queued     bool          // in the list
	turn       chan struct{} // closed when it becomes the head, or is granted
	granted    bool          // tk was taken for it (see leave)
	held       bool          // the head, asleep because the batch reserve holds it
	tk         ticket
}

// enqueue adds a waiter of priority p to the queue: behind every waiter of
// priority p or higher, and ahead of those of lower priority, though never
// ahead of the head (which may hold a reservation on the pacer), unless the
// head is a batch request that the reserve holds back (see reserveHolds): the
// new waiter is then the head, and the old head waits for its turn again. It
// requires q.mu held.
func (q *quota) enqueue(wt want) *waiter {
	p := wt.prio
	w := &waiter{want: wt, queued: true, turn: make(chan struct{})}
	at := q.tail // w goes after at; nil: first
	for at != nil && at != q.head && at.want.prio < p {
		at = at.prev
	}
	if at != nil && at == q.head && at.held && at.want.prio < p {
		// It stays held: asleep until the budget may have refilled, it
		// may become the head again before it wakes, and yield again.
		at.turn = make(chan struct{}) // it sleeps on the quota, not on turn
		at = nil
	}
	w.prev = at
	if at != nil {
		w.next, at.next = at.next, w
	} else {
		w.next, q.head = q.head, w
	}
	if w.next != nil {
		w.next.prev = w
	} else {
		q.tail = w
	}
	q.queued++
	return w
}

// reserveHolds reports whether the batch reserve holds back a request of
// priority p at now: batch requests do not take the last requests of a
// window's budget, a hundredth of the limit and at least one, so that
// requests of higher priority find them. It requires q.mu held.
func (q *quota) reserveHolds(now time.Time, w want) bool {
	return w.prio < 0 && q.limit > 0 && q.budget(now)-float64(w.cost-1) < float64(batchReserve(q.limit))+0.5
}

// batchReserve is how much of a window's budget batch requests leave to the
// others.
func batchReserve(limit int64) int64 {
	return max(limit/100, 1)
}

// remove takes w out of the queue. It requires q.mu held.
func (q *quota) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.queued--
}

// leave takes w, if not nil and still queued, out of the queue at now. When
// w was the head, the waiters behind it that the rules let go at once are
// handed their tickets, in order, and woken together, and the first that must
// wait becomes the head: a queue whose pacer has room drains in one hold of
// q.mu, not one wake-up at a time (a convoy in which newcomers keep joining
// the tail, and no lane opens). It requires q.mu held.
func (q *quota) leave(w *waiter, now time.Time) {
	if w == nil || !w.queued {
		return
	}
	head := w == q.head
	q.remove(w)
	if !head {
		return
	}
	for n := q.head; n != nil; n = q.head {
		t, ok, _, _ := q.decide(now, false, false, n.want)
		if !ok {
			close(n.turn)
			return
		}
		q.remove(n)
		n.tk, n.granted = t, true
		close(n.turn)
	}
}

// queueWait is the least a request of priority p queued at now would wait:
// until the end of a pause or of a spent budget, and then as long as the
// pacer takes to let through the waiters ahead of it and itself, beyond a
// burst. It requires q.mu held.
func (q *quota) queueWait(now time.Time, p priority) time.Duration {
	from := now
	if q.pauseUntil.After(from) {
		from = q.pauseUntil
	}
	if q.empty(now) {
		if e := q.emptyUntil(now); e.After(from) {
			from = e
		}
	}
	d := from.Sub(now)
	if q.rate != rate.Inf && q.rate > 0 {
		if n := q.ahead(p) + 1 - q.burst; n > 0 {
			d += time.Duration(float64(n) / float64(q.rate) * float64(time.Second))
		}
	}
	return d
}

// ahead is how many waiters a request of priority p would queue behind (see
// enqueue). It requires q.mu held.
func (q *quota) ahead(p priority) int {
	n := q.queued
	for w := q.tail; w != nil && w != q.head && w.want.prio < p; w = w.prev {
		n--
	}
	return n
}

// A lane holds a quarter of the limiter's burst, the caller's included, at
// most maxLane; with fewer than minLane there is none. After the limiter
// refused a lane's tokens, the next laneRetry draws are single.
const (
	minLane   = 4
	maxLane   = 32
	laneRetry = 16
)

// laneSize is how many tokens a lane holds under a limiter of burst b: one
// lane can push a burst at most a quarter above the limiter's.
func laneSize(b int) int64 {
	return int64(min(b/4, maxLane))
}

// lane lets routine requests through without q.mu (see the synchronization
// notes).
type lane struct {
	left atomic.Int64 // tokens left; far below zero when closed, so that late decrements never wrap
	tmpl ticket       // the routine fields of its tickets; no lane crosses tmpl.resetAt
}

// fromLane takes a ticket from the open lane, if there is one with a token
// left at now.
func (q *quota) fromLane(now time.Time) (ticket, bool) {
	l := q.lane.Load()
	if l == nil || l.left.Load() <= 0 || !now.Before(l.tmpl.resetAt) || l.left.Add(-1) < 0 {
		return ticket{}, false
	}
	t := l.tmpl
	t.seq, t.tokens, t.sent, t.conc = q.seq.Add(1)-1, q.tokenSeq.Load(), now, int(q.inflight.Add(1))
	return t, true
}

// closeLane closes the open lane, if any. It requires q.mu held.
func (q *quota) closeLane() {
	if l := q.lane.Swap(nil); l != nil {
		l.left.Store(math.MinInt32)
	}
}

// laneFits reports whether a lane may stay open at now: a settled model, an
// anchored budget of at least two lanes, no pause, and a limiter whose burst
// makes a lane. It requires q.mu held.
func (q *quota) laneFits(now time.Time) bool {
	n := laneSize(q.burst)
	return n >= minLane && q.settled() && q.anchored && q.rate != rate.Inf &&
		!now.Before(q.pauseUntil) && q.budget(now) >= float64(2*n)
}

// allow reports whether the pacer lets a request of w go at now, drawing
// from the limiter; when a lane fits, nobody is queued behind the caller and
// the request is one that lanes serve, it draws a lane's tokens and opens a
// lane with the rest. It requires q.mu held.
func (q *quota) allow(now time.Time, w want) bool {
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

// tooLong returns the error for a wait of d that must not be started: one
// that would pass ctx's deadline (reported first, as the caller's own limit)
// or the maximum wait. It requires q.mu held.
func (q *quota) tooLong(ctx context.Context, now time.Time, d, maxWait time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
		return &RateLimitError{Key: q.key, Wait: d, Err: context.DeadlineExceeded}
	}
	if d > maxWait {
		return &RateLimitError{Key: q.key, Wait: d}
	}
	return nil
}

// sleep waits for d (forever when d < 0), for changed to close, or for ctx to
// end. It reports whether changed woke it.
func sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) (bool, error) {
	var tc <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-tc:
		return false, nil
	case <-changed:
		return true, nil
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}

// take hands out the next ticket. It requires q.mu held.
func (q *quota) take(now time.Time, w want) ticket {
	q.lastTake = now
	t := ticket{seq: q.seq.Add(uint64(w.cost)) - 1, sent: now, conc: int(q.inflight.Add(1))}
	if w.tokens != 0 {
		t.tokens = q.tokenSeq.Add(w.tokens)
	} else {
		t.tokens = q.tokenSeq.Load()
	}
	return t
}

// takeProbe is take for a request the model sends to learn something, whose
// answer may be a 429. It requires q.mu held.
func (q *quota) takeProbe(now time.Time, w want) ticket {
	t := q.take(now, w)
	t.foreseen = true
	return t
}

// stale reports whether a spent budget should be tested by a probe at now:
// no reset from the server bounds it, and no response was read for a window
// or the maximum wait, whichever is shorter (a second at least; a second
// when the window is unknown). It requires q.mu held.
func (q *quota) stale(now time.Time) bool {
	if !q.retryProbe.IsZero() && !now.Before(q.retryProbe) {
		return true
	}
	if q.serverReset {
		return false
	}
	every := max(q.opts.maxWait, time.Second)
	if q.window > 0 {
		every = min(every, q.window)
	} else {
		every = time.Second
	}
	return now.Sub(q.heardAt) >= every
}

// takeRoutine is take for a request the pacer let through, marking the
// ticket routine when the model is settled. It requires q.mu held.
func (q *quota) takeRoutine(now time.Time, w want) ticket {
	t := q.take(now, w)
	if q.settled() {
		q.routine(&t)
	}
	return t
}

// settled reports whether the requests paced now are routine (see
// ticket.routine). It requires q.mu held.
func (q *quota) settled() bool {
	return q.known && !q.probing && !q.winProbing && !q.expectFresh && !q.undecided() &&
		!q.resetAt.IsZero() && q.otherRate == 0 && !q.slotMode && !q.noisy && q.guard.Calm()
}

// routine marks t routine, with the model it confirms. It requires q.mu held.
func (q *quota) routine(t *ticket) {
	t.routine, t.dialect, t.limit, t.window, t.resetAt = true, q.dialect, q.limit, q.window, q.resetAt
}

// quiet reports whether a response with status code, received at now, to the
// request behind t may go unread (see observe): t is routine, and the reply
// is neither a 429 nor a 5xx and came within the window t was sent in.
func (t *ticket) quiet(code int, now time.Time) bool {
	return t.routine && code < 500 && code != http.StatusTooManyRequests && now.Before(t.resetAt)
}

// confirms reports whether a response to the request behind t says only what
// the model already holds: a quiet reply (see quiet) with sensible headers
// that repeat the quota's limit, window and reset.
func (t *ticket) confirms(code int, sig signal, now time.Time) bool {
	return t.quiet(code, now) &&
		sig.anomalies == 0 && sig.dialect == t.dialect && sig.limit == t.limit &&
		sig.window == t.window && (sig.reset.IsZero() || sig.reset.Equal(t.resetAt))
}

// pausedFor is how long the quota would at least hold a request sent now:
// a pause, a spent budget, the guard's next probe.
func (q *quota) pausedFor(now time.Time) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now)
	until := q.pauseUntil
	if q.empty(now) && !q.stale(now) {
		if e := q.emptyUntil(now); e.After(until) {
			until = e
		}
	}
	if g := q.guard.Until(now, q.bounds(now)); g.After(until) {
		until = g
	}
	return max(until.Sub(now), 0)
}

// slot is how long the key pauses after a 429 that does not say the quota
// is spent: one request's share of the window, at least the backoff base. It
// requires q.mu held.
func (q *quota) slot() time.Duration {
	d := q.opts.backoffBase
	if q.limit > 0 && q.window > 0 {
		d = max(d, q.window/time.Duration(q.limit))
	}
	return d
}

// longestRetryAfter is the longest Retry-After believed: the window, at
// least an hour. A longer one is nonsense (a 40-digit number of seconds, say),
// counted and ignored. It requires q.mu held.
func (q *quota) longestRetryAfter() time.Duration {
	return max(q.window, time.Hour)
}

// sensibleRetryAfter reports whether the quota believes a Retry-After of d
// (see longestRetryAfter).
func (q *quota) sensibleRetryAfter(d time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return d <= q.longestRetryAfter()
}

// bounds is what the guard needs to know of the model. It requires q.mu
// held.
func (q *quota) bounds(now time.Time) iquota.Bounds {
	pace := math.Inf(1)
	if r, _ := q.modelPace(now); r != rate.Inf {
		pace = float64(r)
	}
	limit := max(q.opts.maxWait, q.slot())
	if q.window > 0 {
		limit = min(limit, q.window)
	}
	return iquota.Bounds{Pace: pace, Slot: q.slot(), MaxInterval: limit}
}

// undecided reports whether the meaning of X-ratelimit-used is still being
// inferred. It requires q.mu held.
func (q *quota) undecided() bool {
	return q.meaning == UsedAuto && q.dialect == dialectVendor
}

// emptyUntil is when an exhausted budget may have refilled, always after now
// (acquire pauses until then). It requires q.mu held.
func (q *quota) emptyUntil(now time.Time) time.Time {
	if q.slotMode && q.limit > 0 && q.window > 0 {
		// One slot, at least a millisecond: the slot of an absurd limit
		// rounds down to nothing.
		return now.Add(max(time.Duration(float64(time.Second)/q.slotRate()), time.Millisecond))
	}
	if !q.resetAt.IsZero() {
		return q.resetAt
	}
	if q.window > 0 {
		return now.Add(q.window)
	}
	return now.Add(time.Second)
}

// observe updates the model from the outcome of the request behind t. It
// returns the anomalies of the response's headers: none when there was no
// response, or when it went unread (see the synchronization notes).
func (q *quota) observe(t ticket, resp *http.Response, now time.Time) anomaly {
	if resp == nil {
		q.mu.Lock()
		q.inflight.Add(-1)
		woke := q.guard.Observe(now, t.sent, 0, -1, t.probe, t.foreseen, q.bounds(now)) ||
			q.limit <= 0 && !q.guard.Calm()
		if woke || q.probing || q.winProbing || q.undecided() {
			// The probe failed: wake a waiter to probe again.
			q.probing, q.winProbing = false, false
			q.renew(q.pace(now))
		}
		q.mu.Unlock()
		return 0
	}
	if t.seq%foldEvery != 0 && t.quiet(resp.StatusCode, now) {
		// A routine answer between two read ones: not read. The budget
		// stays anchored on an older response, less every request sent
		// since, which is conservative; the next response read brings
		// the same news, newer.
		q.inflight.Add(-1)
		return 0
	}
	sig := parseSignal(resp.Header, resp.StatusCode, now)
	var det *detail
	if multiPolicy(sig.dialect) {
		det = new(detail)
		sig = parseSignalDetail(resp.Header, resp.StatusCode, now, det)
	}
	throttled := resp.StatusCode == http.StatusTooManyRequests
	confirms := t.confirms(resp.StatusCode, sig, now)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight.Add(-1)
	first := !q.known
	q.known = true
	q.heardAt = now
	q.probing = false
	q.noisy = sig.anomalies != 0
	q.roll(now)

	if newest := !q.haveNews || t.seq >= q.newsSeq; newest && (sig.limit > 0 || sig.window > 0) {
		q.newsSeq, q.haveNews = t.seq, true
		q.ngates = 0
		if det != nil {
			q.setGates(t, det)
		}
		if sig.limit > 0 {
			q.limit = sig.limit
			q.dialect = sig.dialect
		}
		if sig.window > 0 && sig.window != q.window {
			q.window, q.windowGuessed = sig.window, false
			q.resetAt = time.Time{}
		}
	}
	if sig.window == 0 && (q.window == 0 || q.windowGuessed) && sig.reset.After(now) {
		// No window header, but a reset: the window is at least as long
		// as the longest wait for a reset seen, in whole seconds (resets
		// are often truncated or rounded to the second).
		if w := (sig.reset.Sub(now) + time.Second - 1).Truncate(time.Second); w > q.window {
			q.window, q.windowGuessed = w, true
		}
	}
	if q.limit > 0 && q.window > 0 && q.resetAt.IsZero() {
		// First guess: windows aligned to the unit's UTC boundaries.
		q.resetAt = now.Truncate(q.window).Add(q.window)
		q.phaseHi = q.resetAt
		q.phaseLo = q.resetAt.Add(-q.window)
	}
	if !sig.reset.IsZero() && sig.reset.After(now) {
		q.resetAt = sig.reset
		q.serverReset = true
	}

	rem := q.remaining(sig, t)
	if rem >= 0 && q.limit > 0 {
		q.learn(t, rem, now)
	}

	renew := first || q.undecided() || q.winProbing
	q.winProbing = false
	ra := time.Duration(-1)
	if sig.hasRetryAfter {
		if sig.retryAfter <= q.longestRetryAfter() {
			ra = sig.retryAfter
		} else {
			sig.hasRetryAfter = false
			sig.anomalies |= anomalyRetryAfter
		}
	}
	if q.guard.Observe(now, t.sent, resp.StatusCode, ra, t.probe, t.foreseen, q.bounds(now)) ||
		q.limit <= 0 && !q.guard.Calm() {
		renew = true // wake the requests waiting on the guard
	}
	if throttled && sig.hasRetryAfter {
		// Every request of the key waits until the instant the server
		// named, whatever the maximum wait: a request that cannot wait
		// so long is refused, never sent early.
		if until := now.Add(sig.retryAfter); until.After(q.pauseUntil) {
			q.pauseUntil = until
			renew = true
		}
		if q.limit > 0 && !q.slotMode && q.empty(now) && q.emptyUntil(now).Sub(now) > 2*sig.retryAfter+time.Second {
			// The server frees room far sooner than the window we
			// believe spent: slots that come back one by one (a
			// bucket), or a wrong window. The retry tests it.
			q.retryProbe = now.Add(sig.retryAfter)
			q.slotVotes++
		}
	} else if !throttled && !q.retryProbe.IsZero() && !t.sent.Before(q.retryProbe) {
		// Accepted within a window we believed spent: the server frees
		// slots one by one.
		q.slotVotes++
		if q.slotVotes >= 2 {
			q.slotMode, q.refills = true, true
		}
		q.retryProbe = time.Time{}
	}

	r, b := q.pace(now)
	if renew || changedMuch(q.rate, r) || q.burst != b {
		q.renew(r, b)
	}
	if !confirms || !q.laneFits(now) {
		// News may have changed what the lane's tickets carry (the
		// reset, say): the next lane is made from the model as it is.
		q.closeLane()
	}
	return sig.anomalies
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

// remaining converts the response's count to "requests remaining", or -1 when
// unknown. It requires q.mu held.
func (q *quota) remaining(sig signal, t ticket) int64 {
	if sig.count < 0 {
		return -1
	}
	if sig.dialect != dialectVendor {
		return sig.count
	}
	switch q.meaning {
	case UsedRemaining:
		return sig.count
	case UsedUsed:
		if q.limit <= 0 {
			return -1
		}
		return max(q.limit-sig.count, 0)
	}
	// Auto: compare with the first value seen, for a later request.
	if q.autoVal < 0 {
		q.autoVal, q.autoSeq = sig.count, t.seq
		return -1
	}
	if t.seq > q.autoSeq && sig.count != q.autoVal {
		if sig.count > q.autoVal {
			q.meaning = UsedUsed
		} else {
			q.meaning = UsedRemaining
		}
		return q.remaining(sig, t)
	}
	return -1
}

// learn folds one reported remaining count into the budget and the window
// estimate. It requires q.mu held.
func (q *quota) learn(t ticket, rem int64, now time.Time) {
	jumped := false
	// Our requests that overlapped this one's flight: in flight when it was
	// sent, or sent before its response came back.
	overlap := int64(t.conc-1) + int64(q.seq.Load()-t.seq-1)
	if q.haveLast && t.seq > q.lastSeq {
		// In a fixed window, remaining rises only at a reset. A rise larger
		// than reordering of our own in-flight requests explains is one; a
		// smaller rise means the server frees slots one by one (a sliding
		// window or a token bucket).
		// The server may count our concurrent requests in any order, so a
		// rise up to the number that overlapped either flight proves nothing.
		// A reset also undoes our requests sent between the two (whose
		// responses were skipped, or are still to come): without one, each
		// of them adds one to what the server counts as used, so they are
		// credited to the rise that tells a reset.
		rise := q.lastUsed - (q.limit - rem)
		gap := int64(t.seq - q.lastSeq - 1)
		reorder := max(overlap, q.lastOverlap)
		switch {
		case rise+gap >= max(reorder+2, q.limit/4) && !q.refills:
			jumped = true
			if !q.serverReset && q.window > 0 {
				q.observeReset(q.lastSent, now)
			}
			// This request was counted in a new window.
			q.winFirstSeq = t.seq
			q.anchored = false
			q.slotMode, q.slotVotes = false, 0
		case rise > reorder:
			q.slotVotes++
			if q.slotVotes >= 2 {
				q.slotMode = true
			}
		default:
			// What our requests between the two do not explain is others'
			// doing, less what reordering of our concurrent ones explains.
			q.observeOthers(-rise-gap-1-reorder, t.sent.Sub(q.lastSent))
		}
	}
	switch {
	case jumped:
		q.haveFill = false // a reset, not a refill: sample afresh
	case (q.refills || q.windowGuessed) && q.window > 0:
		// A bucket's refill, measured where one is known or likely:
		// not a sliding window's, whose slots come back in bursts as
		// old requests leave it.
		q.learnRefill(t, rem, overlap)
	}
	if !q.haveLast || t.seq > q.lastSeq {
		q.lastSeq, q.lastUsed, q.lastSent, q.lastOverlap, q.haveLast = t.seq, q.limit-rem, t.sent, overlap, true
	}
	if t.seq < q.winFirstSeq {
		return // counted in an earlier window
	}
	if q.anchored && t.seq < q.anchorSeq {
		return // older news than the anchor
	}
	if q.expectFresh && !jumped && q.window > 0 && !q.serverReset && !q.slotMode {
		// First news of a window we believe new. If the server's count
		// does not look fresh, its reset lies after this request was sent.
		// Either its windows slide or our phase is wrong: wait one slot
		// at a time until a reset shows itself.
		fresh := q.limit - int64(t.seq-q.winFirstSeq) - q.inflight.Load() - 1
		if rem < fresh-q.limit/4 {
			q.laterThan(t.sent)
			q.slotMode = true
		}
	}
	q.anchored, q.anchorSeq, q.anchorRem, q.anchorSent = true, t.seq, rem, t.sent
	q.expectFresh = false
}

// observeOthers folds into otherRate that others took n requests of the quota
// in d: the fall of remaining between two of our responses that our own
// requests do not explain. It requires q.mu held.
func (q *quota) observeOthers(n int64, d time.Duration) {
	if d <= 0 {
		return
	}
	const alpha = 0.25
	inst := float64(max(n, 0)) / d.Seconds()
	q.otherRate += alpha * (inst - q.otherRate)
	if q.window > 0 {
		// Others may take the quota faster than its average rate, but a
		// rate that spends a window's quota in a tenth of it is noise.
		q.otherRate = min(q.otherRate, 10*float64(q.limit)/q.window.Seconds())
	}
}

// observeReset narrows the estimate of the window phase from a reset seen to
// lie in (lo, hi], and moves the current window to match. It requires q.mu
// held.
func (q *quota) observeReset(lo, hi time.Time) {
	w := q.window
	// Bring the known bounds to the same cycle as the new observation.
	k := hi.Sub(q.phaseHi).Round(w) / w
	plo, phi := q.phaseLo.Add(k*w), q.phaseHi.Add(k*w)
	nlo, nhi := lo, hi
	if plo.After(nlo) {
		nlo = plo
	}
	if phi.Before(nhi) {
		nhi = phi
	}
	if !nlo.Before(nhi) {
		// Inconsistent with what we knew: trust the new observation.
		nlo, nhi = lo, hi
	}
	q.phaseLo, q.phaseHi = nlo, nhi
	q.resetAt = nhi.Add(w)
}

// laterThan records that the current window's reset did not happen by t, and
// moves the estimate to the latest instant consistent with it. It requires
// q.mu held.
func (q *quota) laterThan(t time.Time) {
	w := q.window
	if !q.phaseHi.After(t) {
		k := t.Sub(q.phaseHi)/w + 1
		q.phaseHi = q.phaseHi.Add(k * w)
		q.phaseLo = q.phaseLo.Add(k * w)
	}
	if q.phaseLo.Before(t) {
		q.phaseLo = t
	}
	if q.resetAt.Before(q.phaseHi) {
		q.resetAt = q.phaseHi
	}
}

// quotaSnapshot is the state of a quota as metrics report it.
type quotaSnapshot struct {
	known     bool          // the server reported a quota
	limit     int64         // requests per window
	remaining int64         // our estimate of what remains in the window, at least 0
	window    time.Duration // 0 when unknown
	resetIn   time.Duration // estimated time to the window's reset, 0 when unknown
	rate      float64       // paced requests per second; 0 when not paced
	policies  []PolicyState // the server's other policies, if any
}

// snapshot reads the quota's state at now without changing it.
func (q *quota) snapshot(now time.Time) quotaSnapshot {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := quotaSnapshot{known: q.limit > 0, limit: q.limit, window: q.window}
	if !s.known {
		return s
	}
	s.remaining = max(int64(q.budget(now)), 0)
	if q.resetAt.After(now) {
		s.resetIn = q.resetAt.Sub(now)
	}
	if q.rate != rate.Inf {
		s.rate = float64(q.rate)
	}
	s.policies = q.policies(now)
	return s
}
