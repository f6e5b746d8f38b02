package ratehttptest

import (
	"reflect"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

const sec = time.Second

// lockout returns the calls of a client sending every 4s to a limit of 2 per
// 10s that counts every request, until it obeys Retry-After.
func lockout() []call {
	calls := []call{{0, 200, "1", ""}, {4 * sec, 200, "0", ""}}
	for at := 8 * sec; at <= 104*sec; at += 4 * sec {
		// The entry of at-4s keeps the count at 2 until at+6s.
		calls = append(calls, call{at, 429, "0", "6"})
	}
	return append(calls, call{110 * sec, 200, "0", ""}) // only +104s is left
}

// TestSlidingWindowCountRejected: Limit 2 per 10s, counting every request.
// A client over the limit rate stays out; one that waits out Retry-After, or
// sends at the limit rate after a window, gets in.
func TestSlidingWindowCountRejected(t *testing.T) {
	tests := []struct {
		name  string
		calls []call
	}{
		{"faster than the limit rate", lockout()},
		{"a burst, then at the limit rate", []call{
			{0, 200, "1", ""},
			{1 * sec, 200, "0", ""},
			{2 * sec, 429, "0", "9"},
			{3 * sec, 429, "0", "9"},
			{5 * sec, 429, "0", "8"},
			{10 * sec, 429, "0", "5"},
			{15 * sec, 200, "0", ""}, // only +10s is left
			{20 * sec, 200, "0", ""},
			{25 * sec, 200, "0", ""},
		}},
		{"below the limit rate", []call{
			{0, 200, "1", ""},
			{6 * sec, 200, "0", ""},
			{12 * sec, 200, "0", ""},
			{18 * sec, 200, "0", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: SlidingWindow, CountRejected: true, RetryAfter: true})
				runCalls(t, srv, time.Now(), tt.calls)
			})
		})
	}
}

// TestWeightedWindow: Limit 4 per 4s. Calls are relative to a window
// boundary; the estimate before each call is in its comment.
func TestWeightedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 4, Window: 4 * sec, Policy: WeightedWindow, RetryAfter: true})
		runCalls(t, srv, boundary(time.Now(), 4*sec, 0), []call{
			{0, 200, "3", ""},  // 0
			{0, 200, "2", ""},  // 1
			{0, 200, "1", ""},  // 2
			{0, 200, "0", ""},  // 3
			{0, 429, "0", "5"}, // 4; in the next window, 4*(4s-e)/4s < 4 from e = 1ns
			// Window 1: 4 in the previous window.
			{4 * sec, 429, "0", "1"},                // 4*4/4 = 4
			{5 * sec, 200, "0", ""},                 // 4*3/4 = 3
			{5 * sec, 429, "0", "1"},                // 3+1 = 4
			{5500 * time.Millisecond, 200, "0", ""}, // 4*2.5/4 + 1 = 3.5
			{6 * sec, 429, "0", "1"},                // 4*2/4 + 2 = 4
			{6500 * time.Millisecond, 200, "0", ""}, // 1.5 + 2 = 3.5
			{7 * sec, 429, "0", "1"},                // 1 + 3 = 4
			// Window 2: 3 in the previous window.
			{8 * sec, 200, "0", ""},  // 3
			{8 * sec, 429, "0", "1"}, // 4
			{9 * sec, 200, "0", ""},  // 3*3/4 + 1 = 3.25
			{10 * sec, 200, "0", ""}, // 3*2/4 + 2 = 3.5
			// Window 3, 2s in: 3 in the previous window.
			{14 * sec, 200, "2", ""},  // 3*2/4 = 1.5
			{14 * sec, 200, "1", ""},  // 2.5
			{14 * sec, 200, "0", ""},  // 3.5
			{14 * sec, 429, "0", "1"}, // 4.5; below 4 after 2/3s
			// Window 5: the previous window is empty.
			{20 * sec, 200, "3", ""},
		})
	})
}

// TestWeightedWindowCountRejected: Limit 2 per 10s, counting every request;
// the estimate before each call is in its comment.
func TestWeightedWindowCountRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: WeightedWindow, CountRejected: true, RetryAfter: true})
		runCalls(t, srv, boundary(time.Now(), 10*sec, 0), []call{
			{0, 200, "1", ""},
			{4 * sec, 200, "0", ""},
			{8 * sec, 429, "0", "6"},  // 2; then 3, below 2 from 10s + 10s/3
			{12 * sec, 429, "0", "5"}, // 3*8/10 = 2.4; then 1, below 2 from 10s + 20s/3
			{25 * sec, 200, "1", ""},  // 1*5/10 = 0.5
		})
	})
}

// TestNegativeRemaining: Limit 2, four requests in one window.
func TestNegativeRemaining(t *testing.T) {
	tests := []struct {
		name string
		give Config
		want []string // X-Ratelimit-Used
	}{
		{"fixed", Config{CountRejected: true, NegativeRemaining: true}, []string{"1", "0", "-1", "-2"}},
		{"fixed clamped", Config{CountRejected: true}, []string{"1", "0", "0", "0"}},
		{"fixed used", Config{CountRejected: true, UsedMeansUsed: true}, []string{"1", "2", "3", "4"}},
		{"fixed not counting", Config{NegativeRemaining: true}, []string{"1", "0", "0", "0"}},
		{"sliding", Config{Policy: SlidingWindow, CountRejected: true, NegativeRemaining: true}, []string{"1", "0", "-1", "-2"}},
		{"sliding used", Config{Policy: SlidingWindow, CountRejected: true, UsedMeansUsed: true}, []string{"1", "2", "3", "4"}},
		{"weighted", Config{Policy: WeightedWindow, CountRejected: true, NegativeRemaining: true}, []string{"1", "0", "-1", "-2"}},
		{"weighted clamped", Config{Policy: WeightedWindow, CountRejected: true}, []string{"1", "0", "0", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.give.Limit = 2
				srv := NewServer(tt.give)
				var events []int
				srv.SetHook(func(e Event) { events = append(events, e.Remaining) })
				sleepUntil(boundary(time.Now(), time.Minute, 0))
				var got []string
				for range tt.want {
					got = append(got, get(t, srv).used)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("X-Ratelimit-Used = %q, want %q", got, tt.want)
				}
				if !tt.give.UsedMeansUsed && !reflect.DeepEqual(strs(events), tt.want) {
					t.Errorf("Event.Remaining = %v, want %q", events, tt.want)
				}
			})
		})
	}
}

func strs(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// TestNegativeRemainingSetLimit: a lowered limit under the count is reported
// as a negative remaining count.
func TestNegativeRemainingSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 3, NegativeRemaining: true})
		t0 := boundary(time.Now(), time.Minute, 0)
		runCalls(t, srv, t0, []call{{0, 200, "2", ""}, {0, 200, "1", ""}, {0, 200, "0", ""}})
		srv.SetLimit(1)
		runCalls(t, srv, t0, []call{{0, 429, "-2", ""}, {time.Minute, 200, "0", ""}})
	})
}

// TestWeightedWindowSetLimit: the counts are kept across SetLimit.
func TestWeightedWindowSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 4, Window: 10 * sec, Policy: WeightedWindow})
		t0 := boundary(time.Now(), 10*sec, 0)
		runCalls(t, srv, t0, []call{{0, 200, "3", ""}, {0, 200, "2", ""}})
		srv.SetLimit(2)
		runCalls(t, srv, t0, []call{
			{0, 429, "0", ""},
			{15 * sec, 200, "0", ""}, // 2*5/10 = 1
		})
		if got := get(t, srv); got.limit != "2" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want \"2\"", got.limit)
		}
	})
}

// TestWeightedWindowExactAtScale checks the 128-bit arithmetic where 64 bits
// overflow: a million requests per day.
func TestWeightedWindowExactAtScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const day, limit = 24 * time.Hour, 1_000_000
		srv := NewServer(Config{Limit: limit, Window: day, Policy: WeightedWindow})
		t0 := boundary(time.Now(), day, 0)
		tests := []struct {
			at   time.Duration
			give int
			want int
		}{
			{0, 2 * limit, limit},
			{day + day/4, 2 * limit, limit / 4}, // 750000 exactly
			{day + day/4, 1, 0},
			{day + day/4 + 1, 2, 1},         // 749999.99999999884 + 250000
			{day + day/4 + day/limit, 1, 0}, // 749999 + 250001
			{day + day/4 + day/limit + 1, 2, 1},
		}
		for _, tt := range tests {
			sleepUntil(t0.Add(tt.at))
			if got := srv.Consume(tt.give); got != tt.want {
				t.Errorf("Consume(%d) at +%v = %d, want %d", tt.give, tt.at, got, tt.want)
			}
		}
	})
}
