package quota

import (
	"net/http"
	"time"
)

// foldEvery is how often a routine answer is read and folded into the model:
// one in foldEvery, by seq (see the engine notes in doc.go).
const foldEvery = 8

// quiet reports whether a response with status code, received at now, to the
// request behind t may go unread (see Skip): t is routine, and the reply
// is neither a 429 nor a 5xx and came within the window t was sent in.
func (t *Ticket) quiet(code int, now time.Time) bool {
	return t.routine && code < 500 && code != http.StatusTooManyRequests && now.Before(t.resetAt)
}

// confirms reports whether a response to the request behind t says only what
// the model already holds: a quiet reply (see quiet) with sensible headers
// that repeat the quota's limit, window and reset.
func (t *Ticket) confirms(sig *Observation, now time.Time) bool {
	return t.quiet(sig.Status, now) &&
		!sig.Anomalous && sig.Dialect == t.dialect && sig.Limit == t.limit &&
		sig.Window == t.window && (sig.Reset.IsZero() || sig.Reset.Equal(t.resetAt))
}

// settled reports whether the requests paced now are routine (see
// ticket.routine). It requires q.mu held.
func (q *Key) settled() bool {
	return q.heard() && q.probe == probeNone && q.news != newsFresh && !q.undecided() &&
		!q.resetAt.IsZero() && q.otherRate == 0 && !q.slots() && !q.noisy && q.guard.Calm()
}

// routine marks t routine, with the model it confirms. It requires q.mu held.
func (q *Key) routine(t *Ticket) {
	t.routine, t.dialect, t.limit, t.window, t.resetAt = true, q.dialect, q.limit, q.window, q.resetAt
}
