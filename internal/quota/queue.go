package quota

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// waiter is a request queued in Acquire, in the quota's list of waiters.
type waiter struct {
	prev, next *waiter
	want       Want
	queued     bool          // in the list
	turn       chan struct{} // closed when it becomes the head, or is granted
	granted    bool          // tk was taken for it (see leave)
	held       bool          // the head, asleep because the batch reserve holds it
	tk         Ticket
}

// enqueue adds a waiter of priority p to the queue: behind every waiter of
// priority p or higher, and ahead of those of lower priority, though never
// ahead of the head (which may hold a reservation on the pacer), unless the
// head is a batch request that the reserve holds back (see reserveHolds): the
// new waiter is then the head, and the old head waits for its turn again. It
// requires q.mu held.
func (q *Key) enqueue(wt Want) *waiter {
	p := wt.Prio
	w := &waiter{want: wt, queued: true, turn: make(chan struct{})}
	at := q.tail // w goes after at; nil: first
	for at != nil && at != q.head && at.want.Prio < p {
		at = at.prev
	}
	if at != nil && at == q.head && at.held && at.want.Prio < p {
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

// remove takes w out of the queue. It requires q.mu held.
func (q *Key) remove(w *waiter) {
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
// wait becomes the head (one that token gates alone hold is woken out of the
// queue, to wait on its own: see Acquire): a queue whose pacer has room drains in one hold of
// q.mu, not one wake-up at a time (a convoy in which newcomers keep joining
// the tail, and no lane opens). It requires q.mu held.
func (q *Key) leave(w *waiter, now time.Time) {
	if w == nil || !w.queued {
		return
	}
	head := w == q.head
	q.remove(w)
	if !head {
		return
	}
	for n := q.head; n != nil; n = q.head {
		t, ok, _, _, gated := q.decide(now, false, false, n.want)
		if gated {
			// Held by token gates: it waits out of the queue (see
			// Acquire), and the waiters behind it are asked in turn.
			q.remove(n)
			close(n.turn)
			continue
		}
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
func (q *Key) queueWait(now time.Time, p int8) time.Duration {
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
func (q *Key) ahead(p int8) int {
	n := q.queued
	for w := q.tail; w != nil && w != q.head && w.want.Prio < p; w = w.prev {
		n--
	}
	return n
}

// Sleep waits for d (forever when d < 0), for changed to close, or for ctx to
// end. It reports whether changed woke it.
func Sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) (bool, error) {
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
