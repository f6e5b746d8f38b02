package quota

import "time"

// roll moves the window estimate forward when now has passed the estimated
// reset. It requires q.mu held.
func (q *Key) roll(now time.Time) {
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
	q.resetFrom = resetEstimated
	if q.test == testDue {
		q.test = testUntried // the window it was to test is over
	}
	q.winFirstSeq = q.seq.Load()
	q.news = newsFresh
}

// recede folds in a reset r that the server sent after another (resetAt).
// A reset that moves later with the answers, by less than half a window at
// each step and by more than a second in all (which rounding does not
// explain), is a bucket's time until it is full, not a window's end
// (tollbooth's RateLimit-Reset is always 1): a key whose window is guessed
// from such resets is a bucket. A step back, or by half a window or more
// (the next window's end), starts the count again. It requires q.mu held.
func (q *Key) recede(r time.Time) {
	step := r.Sub(q.resetAt)
	switch {
	case step < 0 || q.window > 0 && step >= q.window/2:
		q.resetBase = r
	case q.windowFrom == windowGuessed && q.family != FamilyBucket && r.Sub(q.resetBase) > time.Second:
		q.family = FamilyBucket
	}
}

// resetSource says who reported a key's reset.
type resetSource uint8

const (
	// resetEstimated: our estimate (phase, or a window rolled on).
	resetEstimated resetSource = iota
	// resetSent: the server's, in the newest answer that sent one.
	resetSent
	// resetHeld: the server's, the same instant in two answers running,
	// as a window's end is (a bucket's "full in" recedes with every
	// answer).
	resetHeld
)

// windowSource says where a key's window length came from.
type windowSource uint8

const (
	// windowSent: the server's window header (or none yet: window 0).
	windowSent windowSource = iota
	// windowGuessed: the server sends resets but no window, and the
	// window is the longest wait for a reset seen, in whole seconds.
	windowGuessed
)

// windowNews says what a key has heard of its current window.
type windowNews uint8

const (
	// newsNone: nothing yet (the key's first window, or one that a
	// reset seen began): the window's budget is its limit less what we
	// sent in it.
	newsNone windowNews = iota
	// newsFresh: the window began by our estimate (roll); its first news
	// tests that it did.
	newsFresh
	// newsAnchored: an answer counted in the window anchors its budget
	// (anchorSeq, anchorRem, anchorSent).
	newsAnchored
)

// emptyUntil is when an exhausted budget may have refilled, always after now
// (Acquire pauses until then): a slot later in a sliding window or a
// bucket, else at the reset: a little after it (resetSlack) when the server
// sent it. It requires q.mu held.
func (q *Key) emptyUntil(now time.Time) time.Time {
	if q.slots() && q.limit > 0 && q.window > 0 {
		// One slot, at least a millisecond: the slot of an absurd limit
		// rounds down to nothing.
		return now.Add(max(time.Duration(float64(time.Second)/q.slotRate()), time.Millisecond))
	}
	if q.resetFrom != resetEstimated {
		return q.resetAt.Add(resetSlack(q.window))
	}
	if !q.resetAt.IsZero() {
		return q.resetAt
	}
	if q.window > 0 {
		return now.Add(q.window)
	}
	return now.Add(time.Second)
}

// resetSlack is how long after the reset the server sent a spent budget
// waits:
// a thousandth of the window, between a millisecond and 50 ms. A reset sent
// in milliseconds (Discord's X-RateLimit-Reset-After: "0.733") may be up to
// a millisecond early, and a request sent at that instant finds the window
// still spent. It costs at most a thousandth of the window.
func resetSlack(window time.Duration) time.Duration {
	return min(max(window/1000, time.Millisecond), 50*time.Millisecond)
}

// phase bounds the instants at which a window of fixed length resets: one
// lies in (lo, hi], and the others a whole number of windows away. It is
// learned from the instants at which remaining jumps back up, and from the
// answers that show a reset did not happen yet.
type phase struct {
	lo, hi time.Time
	// seen: a reset was seen to lie in the bounds; else they are a guess
	// (aligned), narrowed at most by answers that showed no reset yet.
	seen bool
}

// aligned is the first guess for windows of length w at now: their
// boundaries are the unit's UTC ones (now truncated to w).
func aligned(now time.Time, w time.Duration) phase {
	hi := now.Truncate(w).Add(w)
	return phase{lo: hi.Add(-w), hi: hi}
}

// reset narrows p with a reset seen to lie in (lo, hi], under windows of
// length w, and returns the end of the window that reset began. A reset
// inconsistent with p replaces it: the newest observation is trusted.
func (p *phase) reset(lo, hi time.Time, w time.Duration) time.Time {
	// Bring the known bounds to the same cycle as the new observation.
	k := hi.Sub(p.hi).Round(w) / w
	plo, phi := p.lo.Add(k*w), p.hi.Add(k*w)
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
	p.lo, p.hi, p.seen = nlo, nhi, true
	return nhi.Add(w)
}

// hint returns the instant to expect the reset that a server, answering at
// now, reported at r, under windows of length w. A reset sent in whole
// seconds may be rounded either way (ulule's X-RateLimit-Reset truncates,
// go-limiter's HTTP date rounds up), a second early or late: a request sent
// at a reset reported early finds the window still spent, and one that waits
// for a reset reported late wastes the time between. So once a reset was
// seen, a reported reset within a second of the bounds it learned is taken
// to be theirs (their end, after which the reset surely came), unless it
// lies inside them with a fraction of a second (Discord's): that is the
// server's more precise word. One a whole second inside them may be rounded
// (go-limiter rounds to the nearest second: its 45 s was a window's end at
// 45.01 s). One further off means the phase moved (a window opened by the
// first request after an idle spell): it is taken as sent.
func (p *phase) hint(r, now time.Time, w time.Duration) time.Time {
	if !p.seen || w <= 0 {
		return r
	}
	k := r.Sub(p.hi).Round(w) / w
	lo, hi := p.lo.Add(k*w), p.hi.Add(k*w)
	if !hi.After(now) {
		lo, hi = lo.Add(w), hi.Add(w)
	}
	switch {
	case r.After(lo) && !r.After(hi) && r.Nanosecond() != 0:
		return r
	case !r.Before(lo) && !r.After(hi), r.Before(lo) && lo.Sub(r) <= time.Second, r.After(hi) && r.Sub(hi) < time.Second:
		return hi
	}
	return r
}

// notBy records that the reset expected next did not happen by t, under
// windows of length w, and returns the latest instant consistent with it
// that the reset may come.
func (p *phase) notBy(t time.Time, w time.Duration) time.Time {
	if !p.hi.After(t) {
		k := t.Sub(p.hi)/w + 1
		p.hi = p.hi.Add(k * w)
		p.lo = p.lo.Add(k * w)
	}
	if p.lo.Before(t) {
		p.lo = t
	}
	return p.hi
}

// observeReset narrows the estimate of the window phase from a reset seen to
// lie in (lo, hi], and moves the current window to match. It requires q.mu
// held.
func (q *Key) observeReset(lo, hi time.Time) {
	q.resetAt = q.phase.reset(lo, hi, q.window)
}

// laterThan records that the current window's reset did not happen by t, and
// moves the estimate to the latest instant consistent with it. It requires
// q.mu held.
func (q *Key) laterThan(t time.Time) {
	if hi := q.phase.notBy(t, q.window); q.resetAt.Before(hi) {
		q.resetAt = hi
	}
}

// stale reports whether a spent budget should be tested by a probe at now:
// no reset from the server bounds it, and no response was read for a window
// or the maximum wait, whichever is shorter (a second at least; a second
// when the window is unknown). It requires q.mu held.
func (q *Key) stale(now time.Time) bool {
	if !q.retryProbe.IsZero() && !now.Before(q.retryProbe) {
		return true
	}
	if q.resetFrom != resetEstimated {
		return false
	}
	every := max(q.cfg.MaxWait, time.Second)
	if q.window > 0 {
		every = min(every, q.window)
	} else {
		every = time.Second
	}
	return now.Sub(q.heardAt) >= every
}
