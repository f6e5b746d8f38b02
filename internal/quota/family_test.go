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
		// request of the next was refused (Retry-After: 2 s); at 19.5/s,
		// a first window that our first request opened held 40 too.
		{"window guessed, no reset seen", FamilyUnknown, true, true, 40, 0, 19, 1},
		{"window guessed, resets recede (a bucket)", FamilyUnknown, true, false, 40, 0, 20, 1},
		{"window sent, no reset seen", FamilyUnknown, false, false, 40, 0, 20, 10},
		{"window guessed, faster refill", FamilySlidingWindow, true, false, 40, 30, 30, 1},
		{"bucket", FamilyBucket, false, false, 40, 0, 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.heardAt, q.limit, q.window, q.family = longAgo, tt.limit, 2*time.Second, tt.family
			q.refill.rate = tt.refill
			if tt.guessed {
				q.windowFrom = windowGuessed
			}
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

// TestWeightedCounterShowsAtReset: go-chi/httprate's weighted two-window
// counter, 40 per 2 s, with the reset it sends (no window). The window's
// first answer after the reset it sent reports the count not refilled: the
// windows slide, and the key waits a slot, not the next reset. A jump after
// nothing was sent for a whole window (a Retry-After of the window) does
// not make it a fixed window again.
func TestWeightedCounterShowsAtReset(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 30, 2_000_000, time.UTC)
	end := time.Date(2026, 11, 29, 10, 0, 32, 0, time.UTC)
	q := newKey(time.Minute)
	answer := func(at time.Time, status int, rem int64, reset time.Time) {
		q.mu.Lock()
		q.roll(at)
		tk := q.take(at, one)
		q.mu.Unlock()
		observe(q, tk, &Observation{Status: status, Limit: 40, Count: rem, Reset: reset}, at.Add(4*time.Millisecond))
	}
	for i := range 39 {
		answer(t0.Add(time.Duration(i)*51*time.Millisecond), 200, int64(39-i), end)
	}
	answer(end.Add(4*time.Millisecond), 200, 0, end.Add(2*time.Second))
	q.mu.Lock()
	if q.family != FamilySlidingWindow {
		t.Errorf("after the reset: family = %v, want %v", q.family, FamilySlidingWindow)
	}
	at := end.Add(60 * time.Millisecond)
	if u := q.emptyUntil(at); u.Sub(at) > 100*time.Millisecond {
		t.Errorf("after the reset: a spent budget waits %v, want a slot (50 ms)", u.Sub(at))
	}
	q.mu.Unlock()
	// A 429 with Retry-After: 2 s; then the count is fresh.
	answer(end.Add(100*time.Millisecond), 429, 0, end.Add(2*time.Second))
	later := end.Add(2*time.Second + 110*time.Millisecond)
	answer(later, 200, 39, later.Add(2*time.Second).Truncate(2*time.Second))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.family != FamilySlidingWindow {
		t.Errorf("after a window with nothing sent: family = %v, want %v", q.family, FamilySlidingWindow)
	}
}

// TestRecedingResetIsBucket: a reset that moves later with every answer,
// by more than a second in all, is a bucket's time until it is full
// (tollbooth sends RateLimit-Reset: 1 with every answer); a window's end
// that holds still, or one sent in seconds until it (Reddit's: later by
// the time between answers, then back by a second), is not.
func TestRecedingResetIsBucket(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		reset func(now time.Time) time.Time
		want  Family
	}{
		{"always a second away (tollbooth)", func(now time.Time) time.Time { return now.Add(time.Second) }, FamilyBucket},
		{"a window's end", func(now time.Time) time.Time { return now.Truncate(10 * time.Second).Add(10 * time.Second) }, FamilyUnknown},
		{"whole seconds until a window's end (Reddit)", func(now time.Time) time.Time {
			end := now.Truncate(10 * time.Second).Add(10 * time.Second)
			return now.Add((end.Sub(now) + time.Second - 1).Truncate(time.Second))
		}, FamilyUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			for i := range 40 {
				at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
				q.mu.Lock()
				tk := q.take(at, one)
				q.mu.Unlock()
				now := at.Add(5 * time.Millisecond)
				observe(q, tk, &Observation{Status: 200, Limit: 1000, Count: 900, Reset: tt.reset(now)}, now)
			}
			q.mu.Lock()
			defer q.mu.Unlock()
			if q.family != tt.want {
				t.Errorf("family = %v, want %v", q.family, tt.want)
			}
		})
	}
}

// TestBucketDrain: a bucket paced at its refill spends what its budget
// holds beyond two requests and those in flight over a second: paced at
// exactly its refill, a bucket found full stays full.
func TestBucketDrain(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		family Family
		sent   bool // the server sent the window; else it is guessed
		rem    int64
		want   float64
	}{
		{"bucket holding 8", FamilyBucket, false, 8, 26},
		{"bucket holding 2", FamilyBucket, false, 2, 20},
		{"not known to be a bucket", FamilyUnknown, false, 8, 20},
		{"bucket of a window sent, holding 8", FamilyBucket, true, 8, 26},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.heardAt, q.limit, q.window, q.family = longAgo, 20, time.Second, tt.family
			if !tt.sent {
				q.windowFrom = windowGuessed
			}
			q.seq.Store(10)
			q.news, q.anchorSeq, q.anchorRem, q.anchorSent = newsAnchored, 9, tt.rem, t0
			if r, b := q.modelPace(t0); math.Abs(float64(r)-tt.want) > 1e-9 || b != 1 {
				t.Errorf("modelPace = %v, %d; want %v, 1", r, b, tt.want)
			}
		})
	}
}

// TestCatchUp: after a probing episode that a 429 of the model's own began
// (no cut), a sliding window's pace spends the slots the answer shows
// spare, beyond one and those in flight, over half a window; not after a cut
// (the server said to slow down), not without slots to spare, and not on a
// fixed window.
func TestCatchUp(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	b := Bounds{Pace: 19.5, Slot: 50 * time.Millisecond, MaxInterval: 2 * time.Second}
	for _, tt := range []struct {
		name     string
		family   Family
		foreseen bool // the episode began with a foreseen 429; else it cut the pace
		episode  bool // the answer ends a probing episode
		rem      int64
		want     float64 // the pace at once, and until half a window later
	}{
		{"after a foreseen 429", FamilySlidingWindow, true, true, 6, 19.5 + 5},
		{"no slot to spare", FamilySlidingWindow, true, true, 1, 19.5},
		{"after a cut", FamilySlidingWindow, false, true, 6, 19.5},
		{"no episode", FamilySlidingWindow, true, false, 6, 19.5},
		{"a fixed window", FamilyFixedWindow, true, true, 6, 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.heardAt, q.limit, q.window, q.family = longAgo, 40, 2*time.Second, tt.family
			if tt.episode {
				q.guard.Observe(t0, t0, 429, -1, false, tt.foreseen, b)
				q.guard.Observe(t0.Add(time.Second/2), t0.Add(time.Second/2), 200, -1, true, false, b)
			}
			now := t0.Add(time.Second / 2)
			q.catchUp(now, tt.rem, tt.episode)
			for _, at := range []time.Time{now, now.Add(time.Second - time.Millisecond)} {
				if r, _ := q.modelPace(at); math.Abs(float64(r)-tt.want) > 1e-9 {
					t.Errorf("modelPace at +%v = %v, want %v", at.Sub(now), r, tt.want)
				}
			}
			if r, _ := q.modelPace(now.Add(time.Second)); tt.family == FamilySlidingWindow && math.Abs(float64(r)-19.5) > 1e-9 {
				t.Errorf("modelPace half a window later = %v, want 19.5", r)
			}
			q.catchUp(now.Add(time.Second/10), 1, false) // remaining shows none to spare
			if r, _ := q.modelPace(now.Add(time.Second / 10)); tt.family == FamilySlidingWindow && math.Abs(float64(r)-19.5) > 1e-9 {
				t.Errorf("modelPace once remaining shows no slot to spare = %v, want 19.5", r)
			}
		})
	}
}

// TestSlideExplains: on a key whose windows slide, a rise of remaining that
// a sliding window can have freed since the last answer (a weighted counter
// frees at most the limit per window; a log, the requests that left it) is
// no reset, and leaves the family alone; a larger one is a fixed window's
// reset.
func TestSlideExplains(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		gap  time.Duration // since the last answer's request
		rem  int64         // after 0
		want Family
	}{
		{"a second's fading", time.Second, 19, FamilySlidingWindow},
		{"a second's fading and one", time.Second, 21, FamilySlidingWindow},
		{"the whole limit back within a tenth of the window", 200 * time.Millisecond, 39, FamilyFixedWindow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(time.Minute)
			q.heardAt, q.limit, q.window, q.family = longAgo, 40, 2*time.Second, FamilySlidingWindow
			q.lastSeq, q.lastUsed, q.lastSent = 9, 40, t0
			q.seq.Store(11)
			tk := Ticket{seq: 10, sent: t0.Add(tt.gap), conc: 1}
			q.learn(&tk, tt.rem, tk.sent.Add(5*time.Millisecond))
			if q.family != tt.want {
				t.Errorf("family = %v, want %v", q.family, tt.want)
			}
		})
	}
}
