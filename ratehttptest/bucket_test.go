package ratehttptest

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestTokenBucketBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One token per 10s, three in the bucket.
		srv := NewServer(Config{Limit: 1, Window: 10 * sec, Policy: TokenBucket, Burst: 3, RetryAfter: true})
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "2", ""},
			{0, 200, "1", ""},
			{0, 200, "0", ""},
			{0, 429, "0", "10"},
			{10 * sec, 200, "0", ""},
			{60 * sec, 200, "2", ""}, // full again, capped at Burst
		})
		if got := get(t, srv); got.limit != "3" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want the capacity \"3\"", got.limit)
		}
		srv.SetLimit(5) // the capacity stays 3
		time.Sleep(time.Hour)
		if got := get(t, srv); got.limit != "3" || got.used != "2" {
			t.Errorf("RoundTrip after SetLimit(5) = limit %q used %q, want \"3\" and \"2\"", got.limit, got.used)
		}
	})
}

// TestGCRA: Limit 4 per second (T = 250ms), Burst 2 (a tolerance of 500ms).
func TestGCRA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ms = time.Millisecond
		srv := NewServer(Config{Limit: 4, Window: sec, Policy: GCRA, Burst: 2, RetryAfter: true})
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "1", ""},  // TAT 250ms
			{0, 200, "0", ""},  // TAT 500ms
			{0, 429, "0", "1"}, // 500ms + 250ms - 500ms = 250ms
			{249 * ms, 429, "0", "1"},
			{250 * ms, 200, "0", ""}, // TAT 750ms
			{300 * ms, 429, "0", "1"},
			{sec, 200, "1", ""}, // TAT in the past: a full burst
			{sec, 200, "0", ""},
			{10 * sec, 200, "1", ""},
		})
		if got := get(t, srv); got.limit != "2" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want Burst \"2\"", got.limit)
		}
	})
}

// TestGCRARetryAfter: Limit 2 per 10s (T = 5s), Burst 3 (a tolerance of
// 15s).
func TestGCRARetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: GCRA, Burst: 3, RetryAfter: true, UsedMeansUsed: true})
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "1", ""},
			{0, 200, "2", ""},
			{0, 200, "3", ""},  // TAT 15s
			{0, 429, "3", "5"}, // 15s + 5s - 15s
			{4 * sec, 429, "3", "1"},
			{4500 * time.Millisecond, 429, "3", "1"}, // 500ms, rounded up
			{5 * sec, 200, "3", ""},                  // TAT 20s
			{7 * sec, 429, "3", "3"},
			{27 * sec, 200, "1", ""}, // TAT 20s is past: a full burst
		})
	})
}

// TestGCRADefaultBurst: with Burst zero the capacity is Limit, and follows
// SetLimit; the TAT is kept across SetLimit.
func TestGCRADefaultBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 4, Window: 4 * sec, Policy: GCRA}) // T = 1s
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "3", ""},
			{0, 200, "2", ""},
			{0, 200, "1", ""},
			{0, 200, "0", ""}, // TAT 4s
			{0, 429, "0", ""},
		})
		srv.SetLimit(2) // T = 2s, a tolerance of 2*2s
		runCalls(t, srv, time.Now(), []call{
			{0, 429, "0", ""},
			{2 * sec, 200, "0", ""}, // TAT 6s
			{3 * sec, 429, "0", ""},
			{4 * sec, 200, "0", ""}, // TAT 8s
		})
		if got := get(t, srv); got.limit != "2" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want \"2\"", got.limit)
		}
		srv.SetLimit(0)
		time.Sleep(time.Hour)
		if got := get(t, srv); got.status != 429 || got.limit != "0" {
			t.Errorf("RoundTrip after SetLimit(0) = %d limit %q, want 429 limit \"0\"", got.status, got.limit)
		}
	})
}

// TestLeakyBucket: Limit 2 per 10s (the level falls by 1 every 5s), capacity
// 3.
func TestLeakyBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: LeakyBucket, Burst: 3, RetryAfter: true})
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "2", ""},  // level 1
			{0, 200, "1", ""},  // level 2
			{0, 200, "0", ""},  // level 3
			{0, 429, "0", "5"}, // 3+1 <= 3 once 1 leaked
			{4 * sec, 429, "0", "1"},
			{4999 * time.Millisecond, 429, "0", "1"},
			{5 * sec, 200, "0", ""},  // level 2, then 3
			{15 * sec, 200, "1", ""}, // level 1, then 2
			{time.Hour, 200, "2", ""},
		})
		if got := get(t, srv); got.limit != "3" {
			t.Errorf("RoundTrip X-Ratelimit = %q, want the capacity \"3\"", got.limit)
		}
	})
}

// TestLeakyBucketUsedIsLevel checks that X-Ratelimit-Used with UsedMeansUsed
// is the level rounded up, as Shopify reports "32/40".
func TestLeakyBucketUsedIsLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: LeakyBucket, Burst: 40, UsedMeansUsed: true})
		for range 32 {
			get(t, srv)
		}
		runCalls(t, srv, time.Now(), []call{
			{0, 200, "33", ""},
			{2500 * time.Millisecond, 200, "34", ""}, // 33 - 0.5 + 1
			{5 * sec, 200, "34", ""},                 // 33.5 - 0.5 + 1
		})
	})
}

// TestLeakyBucketSetLimit: the level is kept above a lowered capacity and
// leaks at the new rate, where a TokenBucket cuts its tokens to the new
// capacity.
func TestLeakyBucketSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: LeakyBucket, RetryAfter: true, NegativeRemaining: true})
		runCalls(t, srv, time.Now(), []call{{0, 200, "1", ""}, {0, 200, "0", ""}})
		srv.SetLimit(1) // capacity 1, level 2, leaking 1 per 10s
		runCalls(t, srv, time.Now(), []call{
			{0, 429, "-1", "20"},
			{10 * sec, 429, "0", "10"},
			{20 * sec, 200, "0", ""},
		})
	})
}

// TestBucketConsume checks Consume under the bucket policies added with
// Burst: it takes what fits and no more.
func TestBucketConsume(t *testing.T) {
	tests := []struct {
		policy Policy
		want   []int // Consume(5) at 0, 0, +5s
	}{
		{TokenBucket, []int{3, 0, 1}},
		{GCRA, []int{3, 0, 1}},
		{LeakyBucket, []int{3, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := NewServer(Config{Limit: 2, Window: 10 * sec, Policy: tt.policy, Burst: 3})
				var got []int
				got = append(got, srv.Consume(5), srv.Consume(5))
				time.Sleep(5 * sec)
				got = append(got, srv.Consume(5))
				if !slices.Equal(got, tt.want) {
					t.Errorf("Consume(5) at 0, 0, +5s = %v, want %v", got, tt.want)
				}
				if st := srv.Stats(); st != (Stats{Consumed: 4}) {
					t.Errorf("Stats() = %+v, want Consumed 4", st)
				}
			})
		})
	}
}
