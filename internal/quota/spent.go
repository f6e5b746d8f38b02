package quota

import "time"

// The spent-window test. A budget spent long before the window's end, with
// no reset from the server to say when it refills, is a fixed window's
// whole quota, or a bucket's burst: a GCRA or a leaky bucket that sends its
// capacity as the window's limit (X-Ratelimit: 10, window minute, for 100
// per minute) answers exactly as a fixed window of ten would, as long as the
// client waits for the window's end. Only a request past the budget tells
// them apart, so one goes a slot after the budget ran out. A 429 shows a
// window (fixed or sliding): no test again, at the cost of that one 429. A
// request accepted with remaining back up reads as a reset (learn); a
// second such reset less than half a window after the first is no fixed
// window's, and the key becomes a bucket, whose refill is then measured
// (refill.go).

// spentTest is the state of a key's spent-window test.
type spentTest uint8

const (
	// testUntried: a budget spent with more than testLead slots of its
	// window ahead schedules a test.
	testUntried spentTest = iota
	// testDue: a test goes at testAt, if the budget is still spent.
	testDue
	// testRefused: a test drew a 429: the windows are what they say.
	testRefused
)

// testLead is how many slots of the window must remain, after the budget ran
// out, for a test to be worth its risk of a 429 (and half of the
// window): a window paced with a burst runs out that many slots early.
const testLead = 4

// scheduleTest schedules the spent-window test, when one is due, for a
// budget found spent at now by a request that wants w, and brings the
// pause forward to it. A test needs:
//   - a window of known length (a guessed one has the server's resets to
//     go by) and an estimated reset (a reset the server sent says when the
//     budget refills);
//   - a family that may yet be a bucket's (unknown, or fixed);
//   - a burst that is the window's whole quota (a limit of ten or less by
//     default): a key paced through its window spends its budget near the
//     window's end, where a test is not worth a 429;
//   - a budget that we spent (half of the limit at least, and no other
//     client seen taking from the quota: a budget that others spent is
//     theirs as often as ours);
//   - a slot no longer than the maximum wait, and a reset within it after
//     the test: a fixed window's 429 to the test is retried at the reset,
//     where the request would have gone anyway;
//   - a request whose 429 would be retried (Config.Retried).
//
// It requires q.mu held.
func (q *Key) scheduleTest(now time.Time, w Want) {
	if q.test != testUntried || q.window <= 0 || q.windowFrom == windowGuessed || q.slots() ||
		q.resetFrom != resetEstimated || q.otherRate > 0 || q.limit <= 0 {
		return
	}
	if int64(q.windowBurst()) < q.limit {
		return
	}
	slot := q.window / time.Duration(q.limit)
	left := q.resetAt.Sub(now)
	if slot <= 0 || left < max(testLead*slot, q.window/2) || left-slot > q.cfg.MaxWait ||
		q.seq.Load()-q.winFirstSeq < uint64(q.limit/2) || !q.retried(w) {
		return
	}
	q.test, q.testAt = testDue, now.Add(slot)
	if q.testAt.Before(q.pauseUntil) {
		q.pauseUntil = q.testAt
	}
}

// testing reports whether a request that wants w, finding the budget spent
// at now, goes as the spent-window test. It requires q.mu held.
func (q *Key) testing(now time.Time, w Want) bool {
	if q.test != testDue || now.Before(q.testAt) || !q.retried(w) {
		return false
	}
	if q.inflight.Load() > 0 {
		// Requests went since the budget read spent (an answer
		// raised it): a test sent among them may be counted before
		// them, and its remaining would tell nothing. A new test is
		// scheduled when the budget is spent again.
		q.test = testUntried
		return false
	}
	return true
}

// retried reports whether a 429 to the request that wants w would be
// retried (see Config.Retried). It requires q.mu held.
func (q *Key) retried(w Want) bool {
	return w.Req != nil && q.cfg.Retried != nil && q.cfg.Retried(w.Req, int(w.Attempt))
}

// testAnswered folds in the answer to a request sent at sent, throttled or
// not, into the spent-window test. It requires q.mu held.
func (q *Key) testAnswered(sent time.Time, throttled bool) {
	if q.test != testDue || sent.Before(q.testAt) {
		return
	}
	if throttled {
		q.test = testRefused
	} else {
		q.test = testUntried
	}
}

// isTest reports whether t is the spent-window test under way. Only a
// test's answer makes a bucket of resets too close together: elsewhere, a
// counter the server lost (a restart) would make a fixed window a bucket
// for good, and the pace would run past its budget into 429s every window.
// It requires q.mu held.
func (q *Key) isTest(t *Ticket) bool {
	return q.test == testDue && !t.sent.Before(q.testAt)
}

// resetsTooClose reports whether a reset seen to lie after q.lastSent and by
// now comes less than half a window after the newest reset that the phase
// places (after phase.lo, by phase.hi): no fixed window of that length resets
// twice so soon, so the server frees slots as time passes (or its windows
// are much shorter than it says). The phase's bounds, narrowed window after
// window, assume a fixed window: a reset they cannot hold refutes it. It
// requires q.mu held.
func (q *Key) resetsTooClose(now time.Time) bool {
	return q.phase.seen && q.window > 0 && !q.lastSent.Before(q.phase.hi) && now.Sub(q.phase.lo) < q.window/2
}
