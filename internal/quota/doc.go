// Package quota is ratehttp's quota engine: the client's model of one
// server-side quota per key, and the safety net no error of that model gets
// past. The root package calls it through a small interface: [Key.Acquire]
// (after [Key.Lane], a lane's ticket without the lock) before sending a
// request, [Key.Observe] (or [Key.Skip]) with what the
// answer said, parsed into an [Observation]. Header parsing, metrics and
// events stay in the root package; nothing here reads a header.
//
// One file per concern:
//   - key.go: the [Key], its configuration, and the [Ticket] a request holds;
//   - acquire.go: the rules that let a request go, wait or be refused;
//   - observe.go: folding an answer into the model;
//   - window.go: the window's phase and reset, estimated or reported;
//   - budget.go: what remains of the window, by our estimate;
//   - sendlog.go: when our requests went, for what a sliding window frees;
//   - family.go: the kind of limiter the server seems to run ([Family]);
//   - meaning.go: what the vendor's X-ratelimit-used means;
//   - refill.go: a bucket's refill, measured;
//   - spent.go: the spent-window test, which tells a bucket that sends its
//     capacity as a window's limit from that window;
//   - pacer.go: the rate.Limiter that spaces requests;
//   - queue.go: the waiters, in order of priority and arrival;
//   - lane.go: routine requests without the lock;
//   - sampling.go: which answers are read at all;
//   - others.go: other clients taking from the same quota;
//   - gates.go: a response's other policies (several limits at once);
//   - pause.go: Retry-After and the guard's bounds;
//   - guard.go, meter.go: the safety net ([Guard]), a deterministic function
//     of (observation, now) with no clock and no lock;
//   - view.go: the state as metrics and Transport.Quota report it.
//
// The guard and the meter read no clock and take no lock; the Key takes
// its own mutex, never held while waiting or doing I/O, and its callers pass
// now.
package quota

// Engine notes.
//
// A Key is the client's model of one server-side quota. Everything in it is
// guarded by mu, which is never held while waiting or doing I/O.
//
// The model is eventually consistent with the server: each response reports
// how many requests remained when the server counted that request. Requests
// sent after it may or may not have been counted yet, so the budget is
// "remaining reported by the newest response, minus every request we sent
// after that response's request" (requests are numbered by seq when they take
// their slot). This is conservative: it can only under-estimate the budget,
// and the next response corrects it. One exception is guarded: an answer
// that our concurrent requests overlapped may have been counted before them,
// and its remaining is then too high for its seq; in a window the server
// sent that frees nothing until its reset, such an answer never raises the
// budget above what the anchor foresees for it (an answer nothing
// overlapped is exact).
//
// The vendor sends no reset time, so window boundaries are estimated: first as
// the UTC-aligned boundaries of the window's unit, then from the instants at
// which remaining jumps back up (phase bounds one reset instant).
// A response is attributed to the window its request was sent in: a response
// to a request sent before the current window began never drains the new
// window's budget. The first request of a window we believe new goes alone
// (probeWindow): if its answer shows the server did not reset, the estimate was
// early, and only that one request was spent finding out. Only the probe's
// own answer ends it: an answer to a request sent before it says nothing of
// what it went to learn.
//
// Servers that send a reset (resetSource) are believed within rounding: once
// a reset was seen, a whole-second reset near the instants it was seen
// between is read as their end (phase.hint: ulule truncates, go-limiter
// rounds), and a spent budget waits resetSlack past a reset the server sent.
// A server that sends a reset but no window gets one guessed from its resets
// (windowFrom). Resets that hold still are a window's end: until a reset
// shows whether the window is fixed or slides (FamilyUnknown), it is paced
// two requests short (margin), and if a reset the server sent passes without
// the count refilling, the window slides (a weighted two-window counter).
// Resets that recede with every answer are a bucket's time until full
// (recede): the key is a bucket, and spends what its bucket holds beyond
// two requests over a second (drain).
//
// Three refinements keep the budget honest:
//   - the server may count our concurrent requests in any order, so a rise or
//     fall of remaining up to the number of our requests that overlapped a
//     pair's flights is not evidence of anything (overlap, lastOverlap);
//   - a fall that our own requests do not explain is other clients' doing:
//     its rate (otherRate) is subtracted for the time since the anchor;
//   - small rises that reordering does not explain mean the server frees
//     slots one by one (FamilySlidingWindow; FamilyBucket, below): then the
//     budget is earned back at limit/window (never past the limit) and an
//     empty budget waits one slot, not a whole window. A sliding window of
//     known length earns back no more than our requests sent a window
//     before (sendLog): a burst's slots come back a window after it, not
//     at the rate from the newest answer. It is paced one request of each
//     window short of limit/window (margin): paced at exactly its rate a
//     sliding window is full at every instant, and a weighted two-window
//     counter refuses the next request at a boundary. A rise a sliding
//     window can have freed since the newer answer's request (the limit per
//     window as a weighted counter's previous window fades, or our requests
//     that left a log) is no reset (slideExplains); a larger one makes the
//     window fixed. Paced so, a slot left unused stays unused: after a
//     probing episode that a 429 of the model's own began, what the answer
//     shows spare is spent over the next half window on top of the pace
//     (catchUp).
//
// A bucket's refill may be faster than its capacity per window: its limit
// header may carry the burst (throttled, a GCRA), and a window guessed from
// its resets is rounded up to the second. Where a bucket is known or likely
// (FamilyBucket: a 429 whose Retry-After is far shorter than the wait for
// the window believed spent, then an answer that is not a 429 to the request
// sent after it; a spent-window test whose answer shows a reset less than
// half a window after the one before (spent.go); or a window guessed from
// resets),
// the refill is measured
// (refillMeter): what the server freed between two answers is the rise in
// remaining plus our requests in between; a span that starts and ends with
// the bucket full only shows that the refill keeps up with us, and the
// estimate grows to 1.5 times the rate sent. The pace and the budget's
// earning use the refill where it beats limit/window. Sliding windows, whose
// slots come back in bursts as old requests leave, are not measured so.
//
// A 429 empties the budget only when its headers say nothing remains, and a
// Retry-After pauses the key for that long, whatever the maximum wait (a
// request that cannot wait so long is refused; one longer than the window,
// or an hour, is nonsense and ignored). Whatever the model believes, the
// guard ([Guard]) holds the key after a 429 the model did not foresee:
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
// take no lock (Ticket.quiet: a routine request, answered within the window
// it was sent in, neither a 429 nor a 5xx; Ticket.routine says when a model
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
// settled (see Ticket.routine), its budget holds at least two lanes, and the
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
