package quota

import (
	"math"
	"testing"
	"time"
)

// TestFamily: the family a key recognises from its answers, each fed at a
// fixed instant: remaining that only falls, then jumps back, is a fixed
// window; small rises between resets make a sliding window; a server that
// sends no quota headers is one.
func TestFamily(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 1, 0, time.UTC)
	type answer struct {
		at  time.Duration // when the request goes; its answer comes 10 ms later
		rem int64         // remaining it reports of 10 per minute; -1: no headers
	}
	tests := []struct {
		name    string
		answers []answer
		want    Family
	}{
		{"no answer", nil, FamilyUnknown},
		{"no headers", []answer{{0, -1}, {time.Second, -1}}, FamilyNoHeaders},
		{"falling", []answer{{0, 9}, {time.Second, 8}, {2 * time.Second, 7}}, FamilyFixedWindow},
		{"falling, then a jump", []answer{{0, 9}, {time.Second, 8}, {2 * time.Second, 7}, {3 * time.Second, 6}, {4 * time.Second, 9}}, FamilyFixedWindow},
		{"one small rise", []answer{{0, 9}, {time.Second, 8}, {2 * time.Second, 7}, {10 * time.Second, 8}}, FamilyFixedWindow},
		{"two small rises", []answer{{0, 9}, {time.Second, 8}, {2 * time.Second, 7}, {10 * time.Second, 8}, {11 * time.Second, 9}}, FamilySlidingWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Hour)
			for _, a := range tt.answers {
				now := t0.Add(a.at)
				q.mu.Lock()
				tk := q.take(now, one)
				q.mu.Unlock()
				o := vendor(200, 10, a.rem, time.Minute)
				if a.rem < 0 {
					o = &Observation{Status: 200, Count: -1}
				}
				observe(q, tk, o, now.Add(10*time.Millisecond))
			}
			q.mu.Lock()
			defer q.mu.Unlock()
			if got := q.shownFamily(); got != tt.want {
				t.Errorf("family = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSlidingPaceMargin: a window that slides, or one guessed from resets
// until a reset shows its family, is paced one request of its window short
// of its rate (a tenth at most); a fixed window, a bucket, and a refill
// measured faster than the window's rate are paced at their rate.
func TestSlidingPaceMargin(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		family    Family
		guessed   bool // the window is guessed from resets
		held      bool // that hold still
		limit     int64
		refill    float64
		wantRate  float64
		wantBurst int
	}{
		{"fixed window", FamilyFixedWindow, false, false, 40, 0, 20, 10},
		{"sliding window", FamilySlidingWindow, false, false, 40, 0, 19.5, 1},
		{"sliding window, small limit", FamilySlidingWindow, false, false, 4, 0, 1.8, 1},
		{"window guessed, a reset seen", FamilyFixedWindow, true, false, 40, 0, 20, 1},
		// go-chi/httprate: a window spent in full at 20/s, and the first
		// request of the next was refused (Retry-After: 2 s).
		{"window guessed, no reset seen", FamilyUnknown, true, true, 40, 0, 19.5, 1},
		{"window guessed, resets recede (a bucket)", FamilyUnknown, true, false, 40, 0, 20, 1},
		{"window sent, no reset seen", FamilyUnknown, false, false, 40, 0, 20, 10},
		{"window guessed, faster refill", FamilySlidingWindow, true, false, 40, 30, 30, 1},
		{"bucket", FamilyBucket, false, false, 40, 0, 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.known, q.limit, q.window, q.family = true, tt.limit, 2*time.Second, tt.family
			q.windowGuessed, q.refill.rate = tt.guessed, tt.refill
			if tt.held {
				q.resetFrom = resetHeld
			}
			r, b := q.modelPace(t0)
			if math.Abs(float64(r)-tt.wantRate) > 1e-9 || b != tt.wantBurst {
				t.Errorf("modelPace = %v, %d; want %v, %d", r, b, tt.wantRate, tt.wantBurst)
			}
		})
	}
}

// TestSlidingBurstComesBackAWindowLater: a sliding window of 40 per 2 s,
// spent by a burst of 11 and then a request every 50 ms, frees the burst's
// slots a window after it went, not at the window's rate from the last
// answer: none is free 70 ms after the answer that reported none left,
// the burst's are once it is a window old.
func TestSlidingBurstComesBackAWindowLater(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	q := newKey(time.Minute)
	var sent []time.Duration
	for range 11 {
		sent = append(sent, 0)
	}
	for d := 50 * time.Millisecond; len(sent) < 40; d += 50 * time.Millisecond {
		sent = append(sent, d)
	}
	for i, d := range sent {
		now := t0.Add(d)
		q.mu.Lock()
		tk := q.take(now, one)
		if i == 1 {
			q.family = FamilySlidingWindow
		}
		q.mu.Unlock()
		observe(q, tk, vendor(200, 40, int64(39-i), 2*time.Second), now.Add(time.Millisecond))
	}
	last := sent[len(sent)-1]
	tests := []struct {
		at   time.Duration
		want float64
	}{
		{last + 70*time.Millisecond, 0},
		{2*time.Second + 20*time.Millisecond, 11},
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.family != FamilySlidingWindow {
		t.Fatalf("family = %v, want %v", q.family, FamilySlidingWindow)
	}
	for _, tt := range tests {
		if got := q.budget(t0.Add(tt.at)); got != tt.want {
			t.Errorf("budget(t0+%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}
