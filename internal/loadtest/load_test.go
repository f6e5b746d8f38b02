package loadtest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		give     schedule
		k        int64
		wantAt   time.Duration
		wantDue  int64 // due(wantAt): arrivals 0..k
		wantLess int64 // due(wantAt - 1ns)
	}{
		{give: schedule{rate: 100}, k: 0, wantAt: 0, wantDue: 1, wantLess: 0},
		{give: schedule{rate: 100}, k: 1, wantAt: 10 * time.Millisecond, wantDue: 2, wantLess: 1},
		{give: schedule{rate: 100}, k: 100, wantAt: time.Second, wantDue: 101, wantLess: 100},
		{give: schedule{rate: 3}, k: 1, wantAt: 333333334, wantDue: 2, wantLess: 1},
		// A ramp over 1s to 100/s: 50 arrivals after arrival 0 during the
		// ramp, the count growing with the square of the time.
		{give: schedule{rate: 100, rampUp: time.Second}, k: 18, wantAt: 600 * time.Millisecond, wantDue: 19, wantLess: 18},
		{give: schedule{rate: 100, rampUp: time.Second}, k: 50, wantAt: time.Second, wantDue: 51, wantLess: 50},
		{give: schedule{rate: 100, rampUp: time.Second}, k: 150, wantAt: 2 * time.Second, wantDue: 151, wantLess: 150},
	}
	for _, tt := range tests {
		if got := tt.give.at(tt.k); got != tt.wantAt {
			t.Errorf("%+v.at(%d) = %v, want %v", tt.give, tt.k, got, tt.wantAt)
		}
		if got := tt.give.due(tt.wantAt); got != tt.wantDue {
			t.Errorf("%+v.due(%v) = %d, want %d", tt.give, tt.wantAt, got, tt.wantDue)
		}
		if tt.wantAt > 0 {
			if got := tt.give.due(tt.wantAt - 1); got != tt.wantLess {
				t.Errorf("%+v.due(%v) = %d, want %d", tt.give, tt.wantAt-1, got, tt.wantLess)
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// stubLoad returns a load test of a stub server that answers every request
// after latency, on the bubble's clock.
func stubLoad(latency time.Duration) *loadTest {
	st := newStats()
	server := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-t.C:
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	})
	return &loadTest{
		client: &http.Client{Transport: &countingTransport{base: server, stats: st, now: time.Now}},
		newRequest: func(ctx context.Context, _ int64) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/v1", nil)
		},
		stats: st,
	}
}

func noReport(time.Time) func() { return func() {} }

// TestOpenModel: requests start on the schedule whatever the latency, the
// pool grows to what the latency needs, and arrivals beyond -max-workers
// are dropped.
func TestOpenModel(t *testing.T) {
	tests := []struct {
		name        string
		maxWorkers  int
		rampUp      time.Duration
		wantStarted int64 // with wantDropped, of the 201 arrivals due in 2.005s at 100/s
		wantDropped bool
	}{
		{name: "pool grows", maxWorkers: 1000, wantStarted: 201},
		{name: "pool bounded", maxWorkers: 3, wantDropped: true},
		{name: "ramp-up", maxWorkers: 1000, rampUp: time.Second, wantStarted: 151},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lt := stubLoad(50 * time.Millisecond)
				lt.rate, lt.maxWorkers, lt.rampUp = 100, tt.maxWorkers, tt.rampUp
				res, err := lt.run(context.Background(), 2005*time.Millisecond, noReport)
				if err != nil {
					t.Fatalf("run() error = %v", err)
				}
				st := lt.stats
				started, dropped, peak := st.issued.Load(), st.dropped.Load(), st.peak.Load()
				if started+dropped != res.asked || res.asked != res.due {
					t.Errorf("started %d + dropped %d, asked %d, due %d; want started + dropped = asked = due", started, dropped, res.asked, res.due)
				}
				if tt.wantDropped {
					if dropped == 0 || peak != int64(tt.maxWorkers) {
						t.Errorf("dropped %d with at most %d in flight, want some dropped and %d in flight", dropped, peak, tt.maxWorkers)
					}
					return
				}
				if started != tt.wantStarted || dropped != 0 {
					t.Errorf("started %d, dropped %d; want %d and 0", started, dropped, tt.wantStarted)
				}
				// 100/s of 50ms requests keep 5 in flight; the arrivals due
				// during the first request start together when it ends.
				if peak < 5 || peak > 10 {
					t.Errorf("at most %d in flight, want 5 to 10", peak)
				}
				if got := st.successes.Load() + st.cancelled.Load(); got != started {
					t.Errorf("successes + cancelled = %d, want every request started (%d)", got, started)
				}
			})
		})
	}
}

// TestClosedModel: workers send back to back, started evenly over the
// ramp-up after the first request.
func TestClosedModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lt := stubLoad(100 * time.Millisecond)
		lt.concurrency, lt.rampUp = 4, 400*time.Millisecond
		if _, err := lt.run(context.Background(), 1050*time.Millisecond, noReport); err != nil {
			t.Fatalf("run() error = %v", err)
		}
		// The first request ends at 100ms; worker w starts at 100ms +
		// w·100ms and sends every 100ms until 1050ms: 10, 9, 8 and 7
		// requests, whose last is cut off.
		st := lt.stats
		if got, want := st.issued.Load(), int64(1+10+9+8+7); got != want {
			t.Errorf("started %d requests, want %d", got, want)
		}
		if got := st.successes.Load(); got != 31 {
			t.Errorf("%d successes, want 31", got)
		}
		if got := st.cancelled.Load(); got != 4 {
			t.Errorf("%d cancelled, want 4", got)
		}
		if got := st.peak.Load(); got != 4 {
			t.Errorf("at most %d in flight, want 4", got)
		}
	})
}
