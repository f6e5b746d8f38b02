package quota

import "strconv"

// Family is a kind of limiter a server may run, as far as a key's answers
// have shown it. The engine's rules differ by family: a fixed window's
// budget comes back whole at its reset; a sliding window's and a bucket's
// come back slot by slot, so that a spent budget waits one slot, not a
// window; a bucket's refill is measured (see refill.go), since it may beat
// its capacity per window.
type Family uint8

const (
	// FamilyUnknown: no answer yet, or (inside the engine) no reset and
	// no slide seen yet. Its rules are a fixed window's, except that a
	// window guessed from resets that hold still is paced one request
	// short of its rate (see margin): at the first boundary of a weighted two-window
	// counter, a window spent in full refuses the next request. Every
	// quota starts here.
	FamilyUnknown Family = iota
	// FamilyNoHeaders: the server reports no quota; the guard alone
	// paces the key.
	FamilyNoHeaders
	// FamilyFixedWindow: remaining falls with our requests and jumps
	// back at a reset, whose phase the server reports or the key learns
	// from the jumps (window.go).
	FamilyFixedWindow
	// FamilySlidingWindow: remaining rises by small amounts between
	// resets (two such rises that reordering does not explain), or a
	// window believed new did not look fresh: slots come back one by one,
	// as a log or a weighted two-window counter lets old requests go.
	FamilySlidingWindow
	// FamilyBucket: a token bucket, GCRA or leaky bucket: a request was
	// accepted soon after a 429 in a window believed spent (twice), a
	// spent-window test found remaining back up less than half a window
	// after a reset (see spent.go), or a reset the server sent recedes
	// with every answer. The server frees slots continuously, and a rise
	// of remaining is a refill, never a reset.
	FamilyBucket
)

// String returns the family's name, as QuotaState.Family reports it.
func (f Family) String() string {
	switch f {
	case FamilyUnknown:
		return "unknown"
	case FamilyNoHeaders:
		return "no headers"
	case FamilyFixedWindow:
		return "fixed window"
	case FamilySlidingWindow:
		return "sliding window"
	case FamilyBucket:
		return "bucket"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// slots reports whether the server frees slots one by one (a sliding window
// or a bucket) rather than all at a reset. It requires q.mu held.
func (q *Key) slots() bool {
	return q.family == FamilySlidingWindow || q.family == FamilyBucket
}

// slide records that the server's slots come back one by one: a window
// (fixed or not yet known) becomes a sliding one; a bucket stays a bucket. It requires q.mu held.
func (q *Key) slide() {
	if q.family == FamilyFixedWindow || q.family == FamilyUnknown {
		q.family = FamilySlidingWindow
	}
}

// probeState says which request, if any, a key sent alone to learn
// something, the others waiting for its answer.
type probeState uint8

const (
	probeNone   probeState = iota
	probeFirst             // the key's first request: the quota is unknown
	probeWindow            // a window's first request (unanchored), or a spent budget's test
)
