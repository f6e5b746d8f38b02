package ratehttptest

import (
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// call is one request of a policy table: at is its arrival relative to the
// table's start; status, used and retry are the status, X-Ratelimit-Used and
// Retry-After wanted ("" for none).
type call struct {
	at     time.Duration
	status int
	used   string
	retry  string
}

func runCalls(t *testing.T, srv *Server, t0 time.Time, calls []call) {
	t.Helper()
	for i, c := range calls {
		sleepUntil(t0.Add(c.at))
		got := get(t, srv)
		if got.status != c.status || got.used != c.used || got.retryAfter != c.retry {
			t.Errorf("call %d: RoundTrip(+%v) = %d used %q Retry-After %q, want %d used %q Retry-After %q",
				i, c.at, got.status, got.used, got.retryAfter, c.status, c.used, c.retry)
		}
	}
}

// statuses sends one request at each of the instants t0 + at and returns
// their outcomes, "A" for accepted and "R" for rejected, in one string.
func statuses(t *testing.T, srv *Server, t0 time.Time, at []time.Duration) string {
	t.Helper()
	var b strings.Builder
	for _, d := range at {
		sleepUntil(t0.Add(d))
		switch got := get(t, srv); got.status {
		case 200:
			b.WriteByte('A')
		case 429:
			b.WriteByte('R')
		default:
			t.Fatalf("RoundTrip(+%v) = %d, want 200 or 429", d, got.status)
		}
	}
	return b.String()
}

// policyName names a subtest after cfg's policy and counting.
func policyName(cfg Config) string {
	if cfg.CountRejected {
		return cfg.Policy.String() + "/CountRejected"
	}
	return cfg.Policy.String()
}

// every returns n instants spaced by d from 0.
func every(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * d
	}
	return out
}

// TestPoliciesOverLimitRate sends one request every 4s to a limit of 2 per
// 10s (1.25 times the limit rate) from a window boundary.
func TestPoliciesOverLimitRate(t *testing.T) {
	tests := []struct {
		give Config
		want string
	}{
		{Config{Policy: FixedWindow}, "AARAAAARAAAAR"},
		{Config{Policy: FixedWindow, CountRejected: true}, "AARAAAARAAAAR"},
		{Config{Policy: SlidingWindow}, "AARAARAARAARA"},
		// Each request sees the two before it: locked out for good.
		{Config{Policy: SlidingWindow, CountRejected: true}, "AARRRRRRRRRRR"},
		{Config{Policy: WeightedWindow}, "AARAARAAAARAA"},
		{Config{Policy: WeightedWindow, CountRejected: true}, "AARRRRRRRRRRR"},
		{Config{Policy: TokenBucket}, "AAAAAARAAAARA"},
		{Config{Policy: GCRA}, "AAAAAARAAAARA"},
		{Config{Policy: LeakyBucket}, "AAAAAARAAAARA"},
	}
	for _, tt := range tests {
		t.Run(policyName(tt.give), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.give.Limit, tt.give.Window = 2, 10*time.Second
				srv := NewServer(tt.give)
				t0 := boundary(time.Now(), 10*time.Second, 0)
				if got := statuses(t, srv, t0, every(4*time.Second, 13)); got != tt.want {
					t.Errorf("RoundTrip every 4s = %s, want %s", got, tt.want)
				}
			})
		})
	}
}

// TestWindowsEveryPolicy checks the accounting of each policy under twice
// the limit rate: Limit 2 per 10s, a request every 2.5s for 10 windows.
func TestWindowsEveryPolicy(t *testing.T) {
	tests := []struct {
		give Config
		// wantFirst is accepted in the first window, want in each later one.
		wantFirst, want int
	}{
		{Config{Policy: FixedWindow}, 2, 2},
		{Config{Policy: FixedWindow, CountRejected: true}, 2, 2},
		{Config{Policy: SlidingWindow}, 2, 2},
		{Config{Policy: SlidingWindow, CountRejected: true}, 2, 0},
		{Config{Policy: WeightedWindow}, 2, 2},
		{Config{Policy: WeightedWindow, CountRejected: true}, 2, 0},
		{Config{Policy: TokenBucket}, 3, 2},
		{Config{Policy: GCRA}, 3, 2},
		{Config{Policy: LeakyBucket}, 3, 2},
	}
	for _, tt := range tests {
		t.Run(policyName(tt.give), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const w = 10 * time.Second
				tt.give.Limit, tt.give.Window = 2, w
				srv := NewServer(tt.give)
				t0 := boundary(time.Now(), w, 0)
				statuses(t, srv, t0, every(w/4, 40))
				ws := srv.Windows()
				if len(ws) != 10 {
					t.Fatalf("Windows() has %d windows, want 10", len(ws))
				}
				for i, got := range ws {
					want := WindowStats{Start: t0.Add(time.Duration(i) * w), Limit: 2, Accepted: tt.want, Rejected: 4 - tt.want}
					if i == 0 {
						want.Accepted, want.Rejected = tt.wantFirst, 4-tt.wantFirst
					}
					if !equalWindows([]WindowStats{got}, []WindowStats{want}) {
						t.Errorf("Windows()[%d] = %+v, want %+v", i, got, want)
					}
				}
			})
		})
	}
}

// TestOffsetEveryPolicy checks that Offset sets the phase of the windows of
// every policy, and of the enforcement of FixedWindow and WeightedWindow:
// Limit 2 per 10s, windows starting 3s past the epoch's 10s boundaries.
func TestOffsetEveryPolicy(t *testing.T) {
	tests := []struct {
		policy Policy
		want   string
	}{
		{FixedWindow, "AARAA"},
		{SlidingWindow, "AARRR"},
		{WeightedWindow, "AARRA"}, // at +5s the estimate is 2*5/10
		{TokenBucket, "AARRA"},
		{GCRA, "AARRA"},
		{LeakyBucket, "AARRA"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const w, off = 10 * time.Second, 3 * time.Second
				srv := NewServer(Config{Limit: 2, Window: w, Offset: off, Policy: tt.policy})
				t0 := boundary(time.Now(), w, off)
				if t0.Second()%10 != 3 {
					t.Fatalf("boundary = %v, want 3s past a multiple of 10s", t0)
				}
				at := []time.Duration{-time.Second, -time.Second, -time.Second, 0, 5 * time.Second}
				if got := statuses(t, srv, t0, at); got != tt.want {
					t.Errorf("RoundTrip at %v = %s, want %s", at, got, tt.want)
				}
				ws := srv.Windows()
				if len(ws) != 2 || !ws[0].Start.Equal(t0.Add(-w)) || !ws[1].Start.Equal(t0) {
					t.Errorf("Windows() = %+v, want 2 windows starting at %v and %v", ws, t0.Add(-w), t0)
				}
			})
		})
	}
}

// TestWindowsOriginBucketPolicies checks that the policies without windows
// of their own report windows from their first request when Offset is zero,
// and from the epoch's boundaries when it is Window.
func TestWindowsOriginBucketPolicies(t *testing.T) {
	for _, p := range []Policy{SlidingWindow, TokenBucket, GCRA, LeakyBucket} {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const w = 10 * time.Second
				first := NewServer(Config{Limit: 1, Window: w, Policy: p})
				epoch := NewServer(Config{Limit: 1, Window: w, Policy: p, Offset: w})
				time.Sleep(7 * time.Second)
				t0 := time.Now()
				get(t, first)
				get(t, epoch)
				if got := first.Windows()[0].Start; !got.Equal(t0) {
					t.Errorf("Offset 0: Windows()[0].Start = %v, want the first arrival %v", got, t0)
				}
				if got, want := epoch.Windows()[0].Start, boundary(t0, w, 0).Add(-w); !got.Equal(want) {
					t.Errorf("Offset = Window: Windows()[0].Start = %v, want %v", got, want)
				}
			})
		})
	}
}

// TestOmitHeadersEveryPolicy checks a server that tells its quota with 429
// and Retry-After only: Limit 1 per 10s, two requests at a window boundary.
func TestOmitHeadersEveryPolicy(t *testing.T) {
	tests := []struct {
		policy Policy
		want   string // Retry-After
	}{
		{FixedWindow, "10"},
		{SlidingWindow, "10"},
		{WeightedWindow, "11"}, // at the next window's start the estimate is still 1
		{TokenBucket, "10"},
		{GCRA, "10"},
		{LeakyBucket, "10"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(Config{Limit: 1, Window: 10 * time.Second, Policy: tt.policy, OmitHeaders: true, RetryAfter: true})
				sleepUntil(boundary(time.Now(), 10*time.Second, 0))
				ok, throttled := get(t, srv), get(t, srv)
				for _, got := range []reply{ok, throttled} {
					if got.limit != "" || got.used != "" || got.window != "" {
						t.Errorf("RoundTrip rate-limit headers = %q %q %q, want none", got.limit, got.used, got.window)
					}
				}
				if ok.status != 200 || ok.retryAfter != "" {
					t.Errorf("first RoundTrip = %d Retry-After %q, want 200 and no Retry-After", ok.status, ok.retryAfter)
				}
				if throttled.status != 429 || throttled.retryAfter != tt.want {
					t.Errorf("second RoundTrip = %d Retry-After %q, want 429 Retry-After %q", throttled.status, throttled.retryAfter, tt.want)
				}
			})
		})
	}
}

// TestRetryAfterIsEnough checks, for every policy, that a request sent when
// Retry-After says is accepted: Limit 3 per 7s, a burst of 5, then one
// request at the instant the first 429's Retry-After points to.
func TestRetryAfterIsEnough(t *testing.T) {
	for _, p := range []Policy{FixedWindow, SlidingWindow, WeightedWindow, TokenBucket, GCRA, LeakyBucket} {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(Config{Limit: 3, Window: 7 * time.Second, Policy: p, RetryAfter: true})
				sleepUntil(boundary(time.Now(), 7*time.Second, 0).Add(1500 * time.Millisecond))
				var retry string
				for range 5 {
					if got := get(t, srv); got.status == 429 && retry == "" {
						retry = got.retryAfter
					}
				}
				secs, err := time.ParseDuration(retry + "s")
				if err != nil {
					t.Fatalf("first 429's Retry-After %q: %v", retry, err)
				}
				time.Sleep(secs)
				if got := get(t, srv); got.status != 200 {
					t.Errorf("RoundTrip after Retry-After %s = %d, want 200", retry, got.status)
				}
			})
		})
	}
}

func TestNewServerPanicsPolicyOptions(t *testing.T) {
	tests := []struct {
		name string
		give Config
	}{
		{"negative burst", Config{Limit: 1, Policy: GCRA, Burst: -1}},
		{"burst on a counting policy", Config{Limit: 1, Policy: SlidingWindow, Burst: 2}},
		{"count rejected on a bucket policy", Config{Limit: 1, Policy: LeakyBucket, CountRejected: true}},
		{"unknown policy after LeakyBucket", Config{Limit: 1, Policy: LeakyBucket + 1}},
		{"negative policy", Config{Limit: 1, Policy: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("NewServer(%+v) did not panic", tt.give)
				}
			}()
			NewServer(tt.give)
		})
	}
}

func TestPolicyStringNew(t *testing.T) {
	for give, want := range map[Policy]string{WeightedWindow: "WeightedWindow", GCRA: "GCRA", LeakyBucket: "LeakyBucket", -1: "Policy(-1)"} {
		if got := give.String(); got != want {
			t.Errorf("Policy(%d).String() = %q, want %q", int(give), got, want)
		}
	}
}

func TestMulDiv(t *testing.T) {
	tests := []struct {
		a, b, c   uint64
		want      uint64
		wantExact bool
		wantCeil  uint64
	}{
		{3, 4, 2, 6, true, 6},
		{3, 4, 5, 2, false, 3},
		{0, 7, 3, 0, true, 0},
		// 10^5 requests times a day in nanoseconds overflows 64 bits.
		{100_000, uint64(24 * time.Hour), uint64(time.Hour), 2_400_000, true, 2_400_000},
		{math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, true, math.MaxUint64},
		{math.MaxUint64, 2, 1, math.MaxUint64, false, math.MaxUint64}, // saturates
	}
	for _, tt := range tests {
		q, exact := mulDiv(tt.a, tt.b, tt.c)
		if q != tt.want || exact != tt.wantExact {
			t.Errorf("mulDiv(%d, %d, %d) = %d, %v, want %d, %v", tt.a, tt.b, tt.c, q, exact, tt.want, tt.wantExact)
		}
		if got := mulDivCeil(tt.a, tt.b, tt.c); got != tt.wantCeil {
			t.Errorf("mulDivCeil(%d, %d, %d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.wantCeil)
		}
	}
}
