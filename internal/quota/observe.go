package quota

import (
	"math"
	"net/http"
	"time"
)

// Observation is what an answer's headers said, parsed by the caller.
type Observation struct {
	// Status is the answer's status code.
	Status int
	// Dialect names the headers' family, for the caller: a routine
	// answer confirms the model only in the dialect it was made from.
	Dialect uint8
	// Vendor says that Count is the vendor's raw X-ratelimit-used, whose
	// meaning Config.Used says; otherwise Count is the remaining count.
	Vendor bool
	// Limit is the requests allowed per window; 0 when absent.
	Limit int64
	// Count is the remaining count (see Vendor); -1 when absent.
	Count int64
	// Window is the window's length; 0 when unknown.
	Window time.Duration
	// Reset is the instant the window resets (or a bucket is full); zero
	// when not sent.
	Reset time.Time
	// RetryAfter is the Retry-After's wait, when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Anomalous says the headers carried nonsense (counted by the
	// caller): the model reads every answer until one comes clean.
	Anomalous bool
	// Policies are the response's other policies, when it described
	// several: each a gate (see gates.go). Nil: none.
	Policies []Policy
}

// Skip reports whether the answer to the request behind t, with status
// code, received at now, goes unread: a routine answer between two read
// ones. It then counts the request answered; otherwise the caller reads the
// headers and calls Observe. The budget stays anchored on an older
// response, less every request sent since, which is conservative; the next
// response read brings the same news, newer.
func (q *Key) Skip(t *Ticket, code int, now time.Time) bool {
	if t.seq%foldEvery != 0 && t.quiet(code, now) {
		q.inflight.Add(-1)
		return true
	}
	return false
}

// Fail folds in that the request behind t got no response at all.
func (q *Key) Fail(t *Ticket, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight.Add(-1)
	woke := q.guard.Observe(now, t.sent, 0, -1, t.probe, t.foreseen, q.bounds(now)) ||
		q.limit <= 0 && !q.guard.Calm()
	if woke || t.foreseen && q.probe != probeNone || q.undecided() {
		// The probe failed: wake a waiter to probe again.
		if t.foreseen {
			q.probe = probeNone
		}
		q.renew(q.pace(now))
	}
}

// Observe updates the model from the answer to the request behind t, read
// at now (see Skip). It reports whether the answer's Retry-After was
// nonsense (longer than the window, or an hour): ignored, for the caller
// to count.
func (q *Key) Observe(t *Ticket, sig *Observation, now time.Time) (badRetryAfter bool) {
	throttled := sig.Status == http.StatusTooManyRequests
	confirms := t.confirms(sig, now)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight.Add(-1)
	first := !q.heard()
	q.heardAt = now
	// Only the probe's own answer ends the probe: one to a request sent
	// before it (in the window before a roll, say) tells nothing of what
	// it went to learn, and a second probe sent meanwhile drew a 429 from
	// HAProxy at a boundary we had guessed.
	windowProbe := t.foreseen && q.probe == probeWindow
	unsure := q.unsure()
	if t.foreseen {
		q.probe = probeNone
	}
	q.noisy = sig.Anomalous
	q.roll(now)

	if newest := t.seq+1 >= q.newsNext; newest && (sig.Limit > 0 || sig.Window > 0) {
		q.newsNext = t.seq + 1
		q.setGates(t, sig.Policies, now)
		if sig.Limit > 0 {
			q.limit = sig.Limit
			q.dialect, q.vendor = sig.Dialect, sig.Vendor
		}
		if sig.Window > 0 && sig.Window != q.window {
			q.window, q.windowFrom = sig.Window, windowSent
			q.resetAt = time.Time{}
		}
	}
	if sig.Window == 0 && (q.window == 0 || q.windowFrom == windowGuessed) && sig.Reset.After(now) {
		// No window header, but a reset: the window is at least as long
		// as the longest wait for a reset seen, in whole seconds (resets
		// are often truncated or rounded to the second).
		if w := (sig.Reset.Sub(now) + time.Second - 1).Truncate(time.Second); w > q.window {
			q.window, q.windowFrom = w, windowGuessed
		}
	}
	if q.sends == nil && q.limit > 0 && q.window > 0 {
		// The first request that brought the quota went alone (probeFirst):
		// logged now, the log holds every request taken under mu.
		q.sends = new(sendLog)
		q.sends.record(t.sent, t.seq, t.seq+1, q.window)
	}
	if q.limit > 0 && q.window > 0 && q.resetAt.IsZero() {
		// First guess: windows aligned to the unit's UTC boundaries.
		q.phase = aligned(now, q.window)
		q.resetAt = q.phase.hi
	}
	if !sig.Reset.IsZero() {
		if r := q.phase.hint(sig.Reset, now, q.window); r.After(now) {
			from := resetSent
			switch {
			case q.resetFrom == resetEstimated:
				q.resetBase = r
			case r.Equal(q.resetAt):
				from = resetHeld
			default:
				q.recede(r)
			}
			q.resetAt, q.resetFrom = r, from
		}
	}

	rem := q.remaining(sig, t)
	family := q.family
	if rem >= 0 && q.limit > 0 {
		q.learn(t, rem, now)
	}
	q.testAnswered(t.sent, throttled)

	// A new family may call for a new pace however close (see margin).
	renew := first || q.undecided() || windowProbe || q.family != family || q.unsure() != unsure
	ra, hasRA := time.Duration(-1), sig.HasRetryAfter
	if hasRA {
		if sig.RetryAfter <= q.longestRetryAfter() {
			ra = sig.RetryAfter
		} else {
			hasRA, badRetryAfter = false, true
		}
	}
	held := q.guard.State() == Probing
	if q.guard.Observe(now, t.sent, sig.Status, ra, t.probe, t.foreseen, q.bounds(now)) ||
		q.limit <= 0 && !q.guard.Calm() {
		renew = true // wake the requests waiting on the guard
	}
	if q.family == FamilySlidingWindow || !q.catchUntil.IsZero() {
		q.catchUp(now, rem, held)
	}
	if throttled && hasRA {
		// Every request of the key waits until the instant the server
		// named, whatever the maximum wait: a request that cannot wait
		// so long is refused, never sent early.
		if until := now.Add(sig.RetryAfter); until.After(q.pauseUntil) {
			q.pauseUntil = until
			renew = true
		}
		if q.limit > 0 && !q.slots() && q.empty(now) && q.emptyUntil(now).Sub(now) > 2*sig.RetryAfter+time.Second {
			// The server frees room far sooner than the window we
			// believe spent: slots that come back one by one (a
			// bucket), or a wrong window. The retry tests it.
			q.retryProbe = now.Add(sig.RetryAfter)
			q.slotVotes++
		}
	} else if !throttled && !q.retryProbe.IsZero() && !t.sent.Before(q.retryProbe) {
		// Accepted within a window we believed spent: the server frees
		// slots one by one.
		q.slotVotes++
		if q.slotVotes >= 2 {
			q.family = FamilyBucket
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
	return badRetryAfter
}

// slideExplains reports whether a sliding window can have freed n slots
// between the newest answer's request and t's, where the key's windows are
// believed to slide: a weighted two-window counter frees at most the limit per
// window, as its previous window's count fades, and a log frees the requests
// that leave it, which our log of sends bounds when they were ours. Such a
// rise is no reset: read as one, HAProxy's remaining rising by 19 after a
// second without requests (its previous window fading) made its windows
// fixed, with a phase of our guessing (in 2 of 16 runs traced, one at 80% of
// its allowance). It requires q.mu held.
func (q *Key) slideExplains(t *Ticket, n int64) bool {
	if q.family != FamilySlidingWindow || q.window <= 0 {
		return false
	}
	d := t.sent.Sub(q.lastSent)
	free := math.Ceil(float64(q.limit) * d.Seconds() / q.window.Seconds())
	if q.sends != nil {
		free = max(free, q.sends.freed(q.lastSent, t.sent, q.window, q.seq.Load()))
	}
	return float64(n) <= free+1
}

// learn folds one reported remaining count into the budget and the window
// estimate. It requires q.mu held.
func (q *Key) learn(t *Ticket, rem int64, now time.Time) {
	jumped := false
	// Our requests that overlapped this one's flight: in flight when it was
	// sent, or sent before its response came back.
	overlap := int64(t.conc-1) + int64(q.seq.Load()-t.seq-1)
	if !q.lastSent.IsZero() && t.seq > q.lastSeq {
		// In a fixed window, remaining rises only at a reset. A rise larger
		// than reordering of our own in-flight requests explains is one; a
		// smaller rise means the server frees slots one by one (a sliding
		// window or a token bucket).
		// The server may count our concurrent requests in any order, so a
		// rise up to the number that overlapped either flight proves nothing.
		// A reset also undoes our requests sent between the two (whose
		// responses were skipped, or are still to come): without one, each
		// of them adds one to what the server counts as used, so they are
		// credited to the rise that tells a reset. A request sent alone,
		// once every other was answered (a spent-window test), was
		// counted after all of them: of those that overlapped the older
		// flight, only those credited can have been counted before it,
		// however many overlapped the burst's last answer. (Those
		// counted after it only lower the rise; they still look like
		// others' requests, below.)
		rise := q.lastUsed - (q.limit - rem)
		gap := int64(t.seq - q.lastSeq - 1)
		reorder := max(overlap, q.lastOverlap)
		jumpReorder := reorder
		if overlap == 0 && t.conc == 1 {
			jumpReorder = min(q.lastOverlap, gap)
		}
		switch {
		case rise+gap >= max(jumpReorder+2, q.limit/4) && q.family != FamilyBucket && !q.slideExplains(t, rise+gap-jumpReorder):
			jumped = true
			if q.family != FamilySlidingWindow && q.isTest(t) && q.resetsTooClose(now) {
				// A spent-window test found a second reset less
				// than half a window after the first: a bucket's
				// refill (see spent.go).
				q.family = FamilyBucket
				break
			}
			switch {
			case q.window <= 0:
			case q.resetFrom != resetEstimated:
				// The server's reset stands, unless this reset
				// shows it rounded (see phase.hint). Only the
				// newest reset counts: a window opened by the
				// first request after the last one ended
				// (ulule's) drifts later with every window.
				q.phase = phase{lo: q.lastSent, hi: now, seen: true}
				q.resetAt = q.phase.hint(q.resetAt, now, q.window)
			default:
				q.observeReset(q.lastSent, now)
			}
			// This request was counted in a new window.
			q.winFirstSeq = t.seq
			q.news = newsNone
			// A fixed window: no sliding one frees so much so soon.
			q.family = FamilyFixedWindow
			q.slotVotes = 0
		case rise > reorder:
			q.slotVotes++
			if q.slotVotes >= 2 {
				q.slide()
			}
		default:
			// What our requests between the two do not explain is others'
			// doing, less what reordering of our concurrent ones explains.
			q.observeOthers(-rise-gap-1-reorder, t.sent.Sub(q.lastSent))
		}
	}
	switch {
	case jumped:
		q.refill.restart() // a reset, not a refill: sample afresh
	case (q.family == FamilyBucket || q.windowFrom == windowGuessed) && q.window > 0:
		// A bucket's refill, measured where one is known or likely:
		// not a sliding window's, whose slots come back in bursts as
		// old requests leave it.
		q.refill.learn(t, rem, overlap, q.limit, q.window)
	}
	if q.lastSent.IsZero() || t.seq > q.lastSeq {
		q.lastSeq, q.lastUsed, q.lastSent, q.lastOverlap = t.seq, q.limit-rem, t.sent, overlap
	}
	if t.seq < q.winFirstSeq {
		return // counted in an earlier window
	}
	if q.news == newsAnchored && t.seq < q.anchorSeq {
		return // older news than the anchor
	}
	if q.news == newsFresh && !jumped && q.window > 0 && !q.slots() {
		// First news of a window we believe new. If the server's count
		// does not look fresh, its reset lies after this request was sent.
		// Either its windows slide or our phase is wrong: wait one slot
		// at a time until a reset shows itself. (A reset the server
		// sent, that passed without refilling the count, says its
		// windows slide: a weighted two-window counter.)
		fresh := q.limit - int64(t.seq-q.winFirstSeq) - q.inflight.Load() - 1
		if rem < fresh-q.limit/4 {
			if q.resetFrom == resetEstimated {
				q.laterThan(t.sent)
			}
			q.slide()
		}
	}
	anchor := rem
	if !jumped && overlap > 0 && q.window > 0 && q.windowFrom != windowGuessed && !q.slots() && q.news == newsAnchored && t.seq > q.anchorSeq {
		// In a window the server sent, that frees nothing until its
		// reset as far as its answers showed, a count
		// above what the anchor foresees for this request is our
		// concurrent requests counted after it, not room: the lower
		// of the two holds (a spent-window test sent behind six others
		// was counted second of seven, and its remaining 8 sent eight
		// more into the 3 left). An answer that nothing overlapped is
		// exact, and is taken as it is.
		anchor = min(rem, q.anchorRem-int64(t.seq-q.anchorSeq))
	}
	q.news, q.anchorSeq, q.anchorRem, q.anchorSent = newsAnchored, t.seq, anchor, t.sent
}
