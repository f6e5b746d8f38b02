package redisquota

import (
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/ratehttp/ratehttp"
)

func TestShape(t *testing.T) {
	tests := []struct {
		name     string
		give     ratehttp.SharedQuota
		maxLease int
		want     gcra
	}{
		{"large quota", ratehttp.SharedQuota{Limit: 10000, Window: time.Minute}, 0, gcra{redis_rate.Limit{Rate: 10000 - 10000/128, Burst: 50 + 32*25, Period: time.Minute}, 25, 50}},
		{"lease capped", ratehttp.SharedQuota{Limit: 100000, Window: time.Minute}, 0, gcra{redis_rate.Limit{Rate: 100000 - 100000/128, Burst: 128 + 32*64, Period: time.Minute}, 64, 128}},
		{"1000 per 2s", ratehttp.SharedQuota{Limit: 1000, Window: 2 * time.Second}, 0, gcra{redis_rate.Limit{Rate: 1000 - 1000/128, Burst: 4 + 32*2, Period: 2 * time.Second}, 2, 4}},
		{"below 400", ratehttp.SharedQuota{Limit: 200, Window: time.Second}, 0, gcra{redis_rate.Limit{Rate: 198, Burst: 2 + 32, Period: time.Second}, 1, 2}},
		{"lease set", ratehttp.SharedQuota{Limit: 1000, Window: time.Second}, 10, gcra{redis_rate.Limit{Rate: 980, Burst: 20 + 320, Period: time.Second}, 10, 20}},
		{"lease too large for the quota", ratehttp.SharedQuota{Limit: 20, Window: time.Second}, 10, gcra{redis_rate.Limit{Rate: 19, Burst: 1 + 32, Period: time.Second}, 1, 1}},
		{"a few requests", ratehttp.SharedQuota{Limit: 3, Window: time.Hour}, 0, gcra{redis_rate.Limit{Rate: 2, Burst: 1 + 32, Period: time.Hour}, 1, 1}},
		{"one request", ratehttp.SharedQuota{Limit: 1, Window: time.Hour}, 0, gcra{redis_rate.Limit{Rate: 1, Burst: 1 + 32, Period: time.Hour}, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shape(tt.give, tt.maxLease)
			if got != tt.want {
				t.Errorf("shape(%v, %d) = %+v, want %+v", tt.give, tt.maxLease, got, tt.want)
			}
			if got.limit.Rate+got.ahead > int(tt.give.Limit) && tt.give.Limit > 1 {
				t.Errorf("shape(%v): rate %d + burst %d passes the limit", tt.give, got.limit.Rate, got.ahead)
			}
		})
	}
}

func TestGCRATimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := shape(ratehttp.SharedQuota{Limit: 1000, Window: 2 * time.Second}, 0) // 993 per 2s, ahead 4
	T := 2 * time.Second / 993
	if got := g.interval(); got != T {
		t.Errorf("interval = %v, want %v", got, T)
	}
	if got, want := g.lifetime(), 4*T; got != want {
		t.Errorf("lifetime = %v, want the time to earn the burst, %v", got, want)
	}
	fast := shape(ratehttp.SharedQuota{Limit: 100000, Window: time.Second}, 1) // ahead 2 of 99219 per second
	if got, want := fast.lifetime(), minLifetime; got != want {
		t.Errorf("lifetime of a fast quota = %v, want the floor %v", got, want)
	}
	// A booking whose slots end 10 intervals from now is due when they are
	// no more than 4 ahead: in 6 intervals.
	if got, want := g.due(t0, 10*T), t0.Add(6*T); !got.Equal(want) {
		t.Errorf("due(t0, 10T) = %v, want %v", got, want)
	}
}

// TestLease drives one lease at fixed instants.
func TestLease(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Millisecond)
	t2 := t0.Add(2 * time.Millisecond)
	t9 := t0.Add(9 * time.Millisecond)
	var l lease

	if ok, wait, lapsed := l.take(t0); ok || wait != 0 || lapsed != 0 {
		t.Fatalf("take(t0) on an empty lease = %v, %v, %d, want false, 0, 0", ok, wait, lapsed)
	}
	if n := l.want(8); n != 1 {
		t.Fatalf("want(8) of a new lease = %d, want 1", n)
	}
	l.grant(1, t1, 5*time.Millisecond)
	if ok, wait, _ := l.take(t0); ok || wait != time.Millisecond {
		t.Fatalf("take(t0) of a lease due at t1 = %v, %v, want false, 1ms", ok, wait)
	}
	if ok, _, _ := l.take(t1); !ok {
		t.Fatal("take(t1) of a lease due at t1 = false")
	}
	if n := l.want(8); n != 2 {
		t.Errorf("want(8) after a lease used up = %d, want 2", n)
	}
	l.grant(2, t1, 5*time.Millisecond)
	l.take(t2)
	l.take(t2)
	if n := l.want(8); n != 4 {
		t.Errorf("want(8) after two leases used up = %d, want 4", n)
	}
	if n := l.want(3); n != 3 {
		t.Errorf("want(3) = %d, want the cap 3", n)
	}
	l.grant(3, t2, 5*time.Millisecond)
	l.take(t2)
	if ok, _, lapsed := l.take(t9); ok || lapsed != 2 {
		t.Errorf("take(t9) after the lease's end = %v, %d, want false, 2 lapsed", ok, lapsed)
	}
	if n := l.want(8); n != 1 {
		t.Errorf("want(8) after a lapse = %d, want 1 (3 halved)", n)
	}

	l.deny(t9, 3*time.Millisecond)
	if want := t9.Add(3 * time.Millisecond); !l.notBefore.Equal(want) {
		t.Errorf("notBefore after deny = %v, want %v", l.notBefore, want)
	}
	l.deny(t9, -1)
	if want := t9.Add(minRetry); !l.notBefore.Equal(want) {
		t.Errorf("notBefore after deny(-1) = %v, want %v", l.notBefore, want)
	}
	l.grant(2, t9, time.Millisecond)
	if !l.notBefore.IsZero() {
		t.Errorf("notBefore after a grant = %v, want zero", l.notBefore)
	}
	if n := l.unused(t9); n != 2 {
		t.Errorf("unused(t9) = %d, want 2", n)
	}
	l.grant(2, t9, time.Millisecond)
	if n := l.unused(t9.Add(time.Millisecond)); n != 0 {
		t.Errorf("unused after the lease's end = %d, want 0", n)
	}
}

func TestParseQuota(t *testing.T) {
	tests := []struct {
		give string
		want ratehttp.SharedQuota
	}{
		{"100 60000000000", ratehttp.SharedQuota{Limit: 100, Window: time.Minute}},
		{"100", ratehttp.SharedQuota{}},
		{"-1 60000000000", ratehttp.SharedQuota{}},
		{"100 0", ratehttp.SharedQuota{}},
		{"x y", ratehttp.SharedQuota{}},
		{"", ratehttp.SharedQuota{}},
	}
	for _, tt := range tests {
		if got := parseQuota(tt.give); got != tt.want {
			t.Errorf("parseQuota(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
