package quota

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// Acquire waits until the request may be sent and fills t with its ticket;
// t is left alone when it fails. (A ticket is about a hundred bytes: filled
// in place, it is not copied out on every request's path.) It returns at
// once, without waiting, a *WaitError when the wait it can foresee would
// pass ctx's deadline or maxWait, and ctx's error when ctx ends first.
// Requests that wait go in order of priority, and in arrival order within
// one (see the engine notes in doc.go). No wait is unbounded: each wait a
// request foresees is at most the maximum wait, and so is each wait whose
// length it cannot foresee (for the answer to another request's probe, or
// for its turn in the queue), which then ends with a *WaitError.
//
// now is the current time; the clock is read again only after a wait.
func (q *Key) Acquire(ctx context.Context, now time.Time, wt Want, maxWait time.Duration, t *Ticket) (time.Duration, error) {
	if wt.laneOK() && q.fromLane(now, t) {
		return 0, nil
	}
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
		if err := q.tooLong(ctx, now, q.queueWait(now, wt.Prio), maxWait); err != nil {
			q.mu.Unlock()
			return 0, err
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
				err = &WaitError{Wait: maxWait}
			}
			timer.Stop()
			q.waiting.Add(-1)
			waited += time.Since(start)
			q.mu.Lock()
			if w.granted {
				// A context that ended meanwhile fails the request
				// in the base.
				q.mu.Unlock()
				*t = w.tk
				return waited, nil
			}
			now = time.Now()
			if err != nil {
				q.leave(w, now)
				q.mu.Unlock()
				return waited, err
			}
			slot = false
		}
		tk, ok, d, res, gated := q.decide(now, slot, true, wt)
		if ok {
			q.leave(w, now)
			q.mu.Unlock()
			*t = tk
			return waited, nil
		}
		if gated {
			// Held by token gates alone: wait out of the queue, so
			// that the requests behind, which may declare nothing, do
			// not wait for these tokens; then queue again.
			q.leave(w, now)
			w = nil
			if err := q.tooLong(ctx, now, d, maxWait); err != nil {
				q.mu.Unlock()
				return waited, err
			}
			if _, err := q.sleep(ctx, d, q.changed, &waited); err != nil {
				q.mu.Unlock()
				return waited, err
			}
			now, slot = time.Now(), false
			if q.head != nil {
				w = q.enqueue(wt)
			}
			continue
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
			return waited, err
		}
		if w == nil {
			w = q.enqueue(wt) // the queue is empty: the head
		}
		// A batch head held back by the reserve yields the head to a
		// request of higher priority that comes meanwhile (see enqueue).
		w.held = res == nil && q.reserveHolds(now, wt)
		gen := q.gen
		woke, err := q.sleep(ctx, d, q.changed, &waited)
		w.held = false
		if w.granted {
			// Demoted from the head while asleep (see enqueue), then
			// handed a ticket by the new head (see leave).
			q.mu.Unlock()
			*t = w.tk
			return waited, nil
		}
		now = time.Now()
		if err == nil && unforeseen && !woke {
			err = &WaitError{Wait: maxWait}
		}
		if err != nil {
			if res != nil && q.gen == gen {
				res.CancelAt(now)
			}
			q.leave(w, now)
			q.mu.Unlock()
			return waited, err
		}
		// Unless the model changed (and the reservation with it), or a
		// pause ended, our slot came.
		slot = !woke && res != nil && q.gen == gen
	}
}

// sleep lets go of q.mu and sleeps as Sleep does, counted as waiting (for
// Idle), then takes q.mu again; it adds the time it slept to waited. It
// requires q.mu held.
func (q *Key) sleep(ctx context.Context, d time.Duration, changed <-chan struct{}, waited *time.Duration) (bool, error) {
	q.waiting.Add(1) // under mu, for idle
	q.mu.Unlock()
	start := time.Now()
	woke, err := Sleep(ctx, d, changed)
	q.waiting.Add(-1)
	*waited += time.Since(start)
	q.mu.Lock()
	return woke, err
}

// decide applies the quota's rules to a request at now. It returns the
// request's ticket when it may go at once; else how long it must wait (-1:
// until the model changes) and, when reserve is set and the pacer is what
// holds it, the reservation of its slot (without reserve, d is then 0 and
// the request waits its turn). slot reports that the slot reserved earlier on
// the current limiter has come: its token is paid, and the request takes it
// unless a rule before the pacer's says no. w is what the request wants
// (its priority and cost). gated reports that token gates alone hold it, for
// d (see Acquire). It requires q.mu held.
func (q *Key) decide(now time.Time, slot, reserve bool, w Want) (t Ticket, ok bool, d time.Duration, res *rate.Reservation, gated bool) {
	q.roll(now)
	// A lane may have opened since fromLane looked.
	if w.laneOK() && q.fromLane(now, &t) {
		return t, true, 0, nil, false
	}
	switch {
	case q.probe != probeNone || q.undecided() && q.inflight.Load() > 0:
		// Only one request at a time learns the quota, the meaning of
		// X-ratelimit-used, or whether a window we believe new really is;
		// the others wait for its response.
		return Ticket{}, false, -1, nil, false
	case !q.heard():
		q.probe = probeFirst
		return q.takeProbe(now, w), true, 0, nil, false
	case now.Before(q.pauseUntil):
		return Ticket{}, false, q.pauseUntil.Sub(now), nil, false
	case q.empty(now):
		if q.stale(now) || q.testing(now, w) {
			// The budget reads spent, but nothing was heard for a
			// while and no reset the server sent says when it
			// refills, or a spent-window test is due: the belief may
			// be wrong (a reset we could not read, a bucket that
			// refills). One request finds out, and the others wait
			// for its answer.
			q.probe = probeWindow
			return q.takeProbe(now, w), true, 0, nil, false
		}
		q.pauseUntil = q.emptyUntil(now)
		q.scheduleTest(now, w)
		q.renew(q.pace(now))
		return Ticket{}, false, q.pauseUntil.Sub(now), nil, false
	}
	switch ok, probe, wait := q.guard.Admit(now); {
	case !ok:
		return Ticket{}, false, wait, nil, false
	case probe:
		t := q.take(now, w)
		t.probe = true
		return t, true, 0, nil, false
	case q.limit <= 0 && !q.guard.Calm() && q.inflight.Load() >= MaxInFlight:
		return Ticket{}, false, -1, nil, false // until an answer comes
	}
	if d, held, byTokens := q.gateWait(now, w); held {
		// Another of the server's policies has no room for it.
		if slot {
			q.lim.AllowN(now, -q.tokens(w)) // give back what the slot paid
		}
		return Ticket{}, false, d, nil, byTokens
	}
	switch {
	case q.limit > 0 && q.news != newsAnchored:
		q.probe = probeWindow
		return q.takeProbe(now, w), true, 0, nil, false
	case q.reserveHolds(now, w) || w.Cost > 1 && q.limit > 0 && q.budget(now) < float64(w.Cost)-0.5:
		// Held back by the batch reserve, or costlier than what
		// remains: until the budget may have refilled.
		if slot {
			q.lim.AllowN(now, -q.tokens(w)) // give back what the slot paid
		}
		return Ticket{}, false, q.emptyUntil(now).Sub(now), nil, false
	case slot:
		return q.take(now, w), true, 0, nil, false
	case q.allow(now, w):
		return q.takeRoutine(now, w), true, 0, nil, false
	case !reserve:
		return Ticket{}, false, 0, nil, false
	}
	res = q.lim.ReserveN(now, q.tokens(w))
	d = res.DelayFrom(now)
	if !res.OK() {
		d = q.cfg.MaxWait + 1 // cannot happen with burst >= 1; never spin on it
	}
	if d == 0 {
		return q.takeRoutine(now, w), true, 0, nil, false
	}
	return Ticket{}, false, d, res, false
}

// Lane fills t with a ticket from the open lane, if a request that wants w
// may take one at now, without the lock (see lane.go), and reports whether
// it did. A caller that tries it before Acquire spares a lane's ticket
// Acquire's frame.
func (q *Key) Lane(now time.Time, w Want, t *Ticket) bool {
	return w.laneOK() && q.fromLane(now, t)
}

// tooLong returns the error for a wait of d that must not be started: one
// that would pass ctx's deadline (reported first, as the caller's own limit)
// or the maximum wait. It requires q.mu held.
func (q *Key) tooLong(ctx context.Context, now time.Time, d, maxWait time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
		return &WaitError{Wait: d, Err: context.DeadlineExceeded}
	}
	if d > maxWait {
		return &WaitError{Wait: d}
	}
	return nil
}

// take hands out the next ticket. It requires q.mu held.
func (q *Key) take(now time.Time, w Want) Ticket {
	q.lastTake = now
	t := Ticket{seq: q.seq.Add(uint64(w.Cost)) - 1, sent: now, conc: int(q.inflight.Add(1))}
	if q.sends != nil {
		q.sends.record(now, t.seq, t.seq+uint64(w.Cost), q.window)
	}
	if w.Tokens != 0 {
		t.tokens = q.tokenSeq.Add(w.Tokens)
	} else {
		t.tokens = q.tokenSeq.Load()
	}
	return t
}

// takeProbe is take for a request the model sends to learn something, whose
// answer may be a 429. It requires q.mu held.
func (q *Key) takeProbe(now time.Time, w Want) Ticket {
	t := q.take(now, w)
	t.foreseen = true
	return t
}

// takeRoutine is take for a request the pacer let through, marking the
// ticket routine when the model is settled. It requires q.mu held.
func (q *Key) takeRoutine(now time.Time, w Want) Ticket {
	t := q.take(now, w)
	if q.settled() {
		q.routine(&t)
	}
	return t
}

// tokens is what a request of w pays the pacer: its cost, at most the
// limiter's burst (a costlier request pays the burst, which paces it
// enough: its cost is taken from the budget in full). It requires q.mu held.
func (q *Key) tokens(w Want) int {
	return int(min(w.Cost, int64(q.burst)))
}
