package ratehttp

import (
	"net/http"
	"time"
)

// An EventKind says what happened to a request.
type EventKind uint8

// The kinds of [Event], in the order a request meets them.
const (
	// EventWait: the request waited for its quota before an attempt.
	// Wait is how long.
	EventWait EventKind = iota + 1
	// EventRefused: the quota refused the request without sending it.
	// Err is the [*RateLimitError] (or the context's error) RoundTrip
	// returns, and Wait how long the request waited before that.
	EventRefused
	// EventAttempt: an attempt is about to be sent to the base transport.
	EventAttempt
	// EventResponse: the base transport answered an attempt. Status is the
	// response's status code, or Err the transport error (Status 0).
	// Duration is how long the base took.
	EventResponse
	// EventRateLimited: the answer to an attempt was a 429. It follows
	// that attempt's EventResponse. Wait is the Retry-After it carried, if
	// any.
	EventRateLimited
	// EventRetry: the request will be retried. Attempt is the attempt that
	// failed, Wait how long the retry waits first (before any quota wait),
	// and Reason why: "429", "5xx", "error" or "policy".
	EventRetry
)

var eventKindNames = [...]string{"", "wait", "refused", "attempt", "response", "rate_limited", "retry"}

// String returns the kind's name in lower case, such as "rate_limited".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return "unknown"
}

// An Event is something that happened to a request in [Transport.RoundTrip],
// for the handlers set with [WithEvents] and [OnEvent]: logging, tracing
// (such as an OpenTelemetry span event on the request's context), tests.
//
// Handlers are called synchronously, on the goroutine of RoundTrip, in the
// order the events happen; they must be quick and must not modify the
// request, nor read or close a response's body.
type Event struct {
	Kind EventKind
	// Request is the caller's request, to read only.
	Request *http.Request
	// Attempt counts the attempts of the request, from 1; it is the one
	// about to be made for EventWait, EventRefused and EventAttempt.
	Attempt int
	// Status is the attempt's status code, 0 when there was none.
	Status int
	// Err is the error of the attempt or of the refusal, if any.
	Err error
	// Wait is the wait the event is about (see each kind).
	Wait time.Duration
	// Duration is how long the base transport took (EventResponse).
	Duration time.Duration
	// Reason says why a request is retried (EventRetry) or refused
	// (EventRefused: "max_wait", "deadline" or "canceled").
	Reason string
}

// WithEvents makes f receive the events of every request (see [Event]). A
// request's own handler ([OnEvent]) is called after f. The default (and a
// nil f) is none: a Transport without handlers builds no events.
func WithEvents(f func(Event)) Option {
	return optionFunc(func(c *config) { c.events = f })
}

// emitting reports whether c has an event handler.
func (c call) emitting() bool { return c.cfg.events != nil || c.o != nil && c.o.events != nil }

// emit hands e to c's handlers.
func (c call) emit(e Event) {
	if c.cfg.events != nil {
		c.cfg.events(e)
	}
	if c.o != nil && c.o.events != nil {
		c.o.events(e)
	}
}
