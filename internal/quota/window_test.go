package quota

import (
	"testing"
	"time"
)

// TestPhase: the window phase at fixed instants. A first guess on the unit's
// UTC boundaries; a reset seen narrows it, a reset inconsistent with it
// replaces it, and an answer that shows no reset yet moves it later.
func TestPhase(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
	}
	const w = time.Minute
	if got, want := aligned(at(17.3), w), (phase{lo: at(0), hi: at(60)}); got != want || got.seen {
		t.Errorf("aligned(10:00:17.3) = %v, want %v", got, want)
	}
	tests := []struct {
		name      string
		give      phase
		lo, hi    float64 // a reset seen in (lo, hi]
		notBy     float64 // or, when lo == hi == 0, no reset by notBy
		wantPhase phase
		wantNext  time.Time
	}{
		{"a reset off the guessed boundary replaces the guess", phase{lo: at(0), hi: at(60)}, 60.2, 60.5, 0, phase{lo: at(60.2), hi: at(60.5)}, at(120.5)},
		{"a reset a window later narrows the bounds", phase{lo: at(0.2), hi: at(0.5)}, 60.3, 60.9, 0, phase{lo: at(60.3), hi: at(60.5)}, at(120.5)},
		{"a reset within the bounds keeps them", phase{lo: at(0.2), hi: at(0.5)}, 120.1, 120.9, 0, phase{lo: at(120.2), hi: at(120.5)}, at(180.5)},
		{"no reset by the bound: the next window's", phase{lo: at(0), hi: at(60)}, 0, 0, 60.7, phase{lo: at(60.7), hi: at(120)}, at(120)},
		{"no reset by an instant inside the bounds", phase{lo: at(59), hi: at(61)}, 0, 0, 60, phase{lo: at(60), hi: at(61)}, at(61)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.give
			var next time.Time
			if tt.lo == 0 && tt.hi == 0 {
				next = p.notBy(at(tt.notBy), w)
			} else {
				next = p.reset(at(tt.lo), at(tt.hi), w)
			}
			if p.lo != tt.wantPhase.lo || p.hi != tt.wantPhase.hi || !next.Equal(tt.wantNext) {
				t.Errorf("phase %v, next %v; want %v, %v", p, next, tt.wantPhase, tt.wantNext)
			}
		})
	}
}

// TestEmptyUntil: a spent budget waits for its refill: a little after the
// reset a fixed window's server sent (a reset sent in milliseconds may be a
// millisecond early: Discord's bucket drew a 429 at every other boundary),
// at the reset it estimated, one slot in a sliding window.
func TestEmptyUntil(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 1, 466_000_000, time.UTC)
	reset := t0.Add(533 * time.Millisecond)
	tests := []struct {
		name   string
		family Family
		sent   bool // the server sent the reset
		window time.Duration
		want   time.Time
	}{
		{"fixed window of 2 s", FamilyFixedWindow, true, 2 * time.Second, reset.Add(2 * time.Millisecond)},
		{"fixed window of 100 ms", FamilyFixedWindow, true, 100 * time.Millisecond, reset.Add(time.Millisecond)},
		{"fixed window of an hour", FamilyFixedWindow, true, time.Hour, reset.Add(50 * time.Millisecond)},
		{"fixed window of an hour, reset estimated", FamilyFixedWindow, false, time.Hour, reset},
		{"sliding window of 2 s", FamilySlidingWindow, true, 2 * time.Second, t0.Add(200 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.heardAt, q.limit, q.window, q.family, q.resetAt = longAgo, 10, tt.window, tt.family, reset
			if tt.sent {
				q.resetFrom = resetSent
			}
			if got := q.emptyUntil(t0); !got.Equal(tt.want) {
				t.Errorf("emptyUntil = %v, want %v", got.Sub(t0), tt.want.Sub(t0))
			}
		})
	}
}

// TestPhaseHint: a reset the server sent in whole seconds, rounded either
// way, is read against the phase that resets seen taught: outside its
// bounds by up to a second, it is the bounds' end; inside, it stands; and
// so does any reset before a reset was seen, or one far off the phase.
func TestPhaseHint(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
	}
	tests := []struct {
		name   string
		give   phase
		w      time.Duration
		r, now float64
		wantAt float64
	}{
		{"no reset seen: as sent", phase{lo: at(0), hi: at(2)}, 2 * time.Second, 39, 38, 39},
		// ulule: windows of 2 s opened by a request; the reset a whole
		// second, truncated. One seen in (37.958, 38.001].
		{"truncated: the bounds' end", phase{lo: at(37.958), hi: at(38.001), seen: true}, 2 * time.Second, 39, 38.001, 40.001},
		// go-limiter: windows of 1 s, the reset an HTTP date rounded up.
		{"rounded up: the bounds' end", phase{lo: at(27.8), hi: at(27.845), seen: true}, time.Second, 29, 28, 28.845},
		{"inside the bounds, in milliseconds: as sent", phase{lo: at(59.5), hi: at(60.1), seen: true}, time.Minute, 120.05, 61, 120.05},
		// go-limiter: rounded to the nearest second, inside the bounds.
		{"a whole second inside the bounds: their end", phase{lo: at(43.977), hi: at(44.02), seen: true}, time.Second, 45, 44.147, 45.02},
		{"far off: as sent", phase{lo: at(0.2), hi: at(0.3), seen: true}, 10 * time.Second, 25, 21, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.hint(at(tt.r), at(tt.now), tt.w); !got.Equal(at(tt.wantAt)) {
				t.Errorf("hint = %v, want %v", got.Sub(at(0)), at(tt.wantAt).Sub(at(0)))
			}
		})
	}
}

// TestTruncatedResetFollowsPhase: ulule's windows of 50 per 2 s open at
// the first request after the last one ended, and its X-RateLimit-Reset is
// that end truncated to the second. Once a reset was seen, the key expects
// the next one a window after it, not at the truncated second: a spent
// budget's first request went at the truncated second, into a 429.
func TestTruncatedResetFollowsPhase(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 35, 957_000_000, time.UTC)
	q := newKey(time.Minute)
	answer := func(at time.Time, rem int64, end time.Time) {
		q.mu.Lock()
		tk := q.take(at, one)
		q.mu.Unlock()
		o := &Observation{Status: 200, Limit: 50, Count: rem, Reset: end.Truncate(time.Second)}
		observe(q, tk, o, at.Add(4*time.Millisecond))
	}
	end := t0.Add(2 * time.Second)
	for i := range 50 {
		answer(t0.Add(time.Duration(i)*40*time.Millisecond), int64(49-i), end)
	}
	// The window ended at 37.957; the next opens with this request.
	next := end.Add(42 * time.Millisecond)
	answer(next, 49, next.Add(2*time.Second))
	q.mu.Lock()
	defer q.mu.Unlock()
	lo, hi := next.Add(2*time.Second), next.Add(2*time.Second+4*time.Millisecond)
	if q.resetAt.Before(lo) || q.resetAt.After(hi) {
		t.Errorf("reset expected at %v, want in [%v, %v] (the server said %v)",
			q.resetAt.Format("05.000"), lo.Format("05.000"), hi.Format("05.000"), next.Add(2*time.Second).Truncate(time.Second).Format("05.000"))
	}
}
