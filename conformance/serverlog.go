package conformance

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// An Event is one request as a server decided it, or one attempt as a client
// sent it.
type Event struct {
	// At is when the request reached the limiter (or left the client).
	At time.Time
	// Status is the response's status code; 0 for a transport error.
	Status int
}

// rejected reports whether the status is a limiter's refusal.
func rejected(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// accepted reports whether the status is a success.
func accepted(status int) bool { return status >= 200 && status < 300 }

// A Log records events. It is safe for concurrent use; its zero value is
// empty and ready.
type Log struct {
	mu     sync.Mutex
	events []Event // requires mu held
}

// Add records an event.
func (l *Log) Add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// Events returns a copy of the events recorded so far, in time order.
func (l *Log) Events() []Event {
	l.mu.Lock()
	ev := slices.Clone(l.events)
	l.mu.Unlock()
	sortEvents(ev)
	return ev
}

// sortEvents sorts ev by time, keeping the order of simultaneous events.
func sortEvents(ev []Event) {
	slices.SortStableFunc(ev, func(a, b Event) int { return a.At.Compare(b.At) })
}

// Counts returns how many recorded events were accepted and rejected.
func (l *Log) Counts() (acc, rej int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		switch {
		case accepted(e.Status):
			acc++
		case rejected(e.Status):
			rej++
		}
	}
	return acc, rej
}

// Wrap returns a handler that records, for each request, when it reached h
// and the status h answered with. Wrap the limiter's middleware with it.
func (l *Log) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.Add(Event{At: at, Status: sw.status})
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// App is the trivial handler behind every limiter: it takes 1–5 ms and
// answers 200 with a short body.
func App() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := time.Millisecond + rand.N(4*time.Millisecond)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
}
