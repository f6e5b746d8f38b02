package conformance

import (
	"errors"
	"time"
)

// ErrUnavailable reports that a case cannot run on this machine, such as when
// the server binary it needs is not installed. Test code skips such a case.
var ErrUnavailable = errors.New("conformance: case unavailable")

// Family says how a limiter counts, which decides how its allowance is
// measured (see the package documentation).
type Family int

const (
	// FixedWindow allows Burst requests in each window of Window, the
	// windows aligned to Target.Epoch (or to the first request when zero).
	FixedWindow Family = iota
	// SlidingWindow estimates the count over the last Window (such as a
	// weighted pair of fixed windows) and allows Burst in it. It is measured
	// like FixedWindow.
	SlidingWindow
	// WindowFromFirstRequest opens a window of Window with the first request
	// after the previous window ended, and allows Burst in it.
	WindowFromFirstRequest
	// TokenBucket refills at Rate up to Burst tokens and takes one per
	// accepted request; GCRA and leaky buckets with a burst behave the same.
	TokenBucket
)

// String returns the family's name as the table prints it.
func (f Family) String() string {
	switch f {
	case FixedWindow:
		return "fixed window"
	case SlidingWindow:
		return "sliding window"
	case WindowFromFirstRequest:
		return "window from first request"
	case TokenBucket:
		return "token bucket"
	}
	return "unknown family"
}

// A Case is one rate limiter to run the clients against.
type Case struct {
	// Name identifies the case in test names and the table.
	Name string
	// Library is the module and version (or program) that does the limiting.
	Library string
	// Family says how the limiter counts.
	Family Family
	// SendsHeaders reports whether the server announces its quota in
	// response headers; the targets differ (see [Check]).
	SendsHeaders bool
	// Rate is the sustained rate the server allows, in requests per second:
	// Burst/Window for the window families.
	Rate float64
	// Burst is the requests allowed per window (window families) or the
	// bucket's capacity (TokenBucket).
	Burst int
	// Window is the server's window; for TokenBucket, the period its rate is
	// quoted in. The first Window of a run is not measured.
	Window time.Duration
	// Start starts a fresh limiter, with nothing counted yet, and returns
	// where it serves. An error wrapping [ErrUnavailable] skips the case.
	Start func() (Target, error)
}

// A Target is one fresh limiter serving on loopback.
type Target struct {
	// URL is what the workers GET.
	URL string
	// Log, when not nil, holds each request as the server decided it. When
	// nil, the figures come from the attempts as the client sent them.
	Log *Log
	// Count, when not nil, reports the server's own totals over the run, to
	// cross-check the figures. Log.Counts serves when the case has a Log.
	Count func() (accepted, rejected int)
	// Epoch is when the limiter's first window began, for FixedWindow and
	// SlidingWindow. Zero means the first request's arrival.
	Epoch time.Time
	// Stop stops the server and releases what Start took. It must not be nil.
	Stop func()
}
