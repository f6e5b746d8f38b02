package quota

import (
	"net/http"
	"testing"
	"time"
)

// retryable wants a request whose 429 would be retried (see
// retriedKey).
var retryable = Want{Cost: 1, Attempt: 1, Req: new(http.Request)}

// retriedKey is newKey under which every request's 429 would be retried.
func retriedKey(maxWait time.Duration) *Key {
	q := newKey(maxWait)
	q.cfg.Retried = func(*http.Request, int) bool { return true }
	return q
}

// spend sends n requests at at, answered 5 ms later with the vendor's
// headers under limit per minute, remaining falling from rem.
func spend(q *Key, at time.Time, n int, limit, rem int64) {
	for i := range n {
		q.mu.Lock()
		tk := q.take(at, one)
		q.mu.Unlock()
		observe(q, tk, vendor(200, limit, rem-int64(i), time.Minute), at.Add(5*time.Millisecond))
	}
}

// decideAt runs decide for a request that wants w at now.
func decideAt(q *Key, now time.Time, w Want) (Ticket, bool, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	tk, ok, d, _, _ := q.decide(now, false, true, w)
	return tk, ok, d
}

// TestSpentWindowTest: a budget of 10 per minute that we spent at once,
// with most of the window ahead, is tested a slot (6 s) later by one
// request whose 429 would be retried. A GCRA that sends its burst as the
// window's limit accepts it with remaining back up, twice, less than half a
// window apart: the key becomes a bucket. A fixed window refuses it: no
// test again. Without a retry, with others taking from the quota, or with
// a reset beyond the maximum wait, a spent budget waits for the reset.
func TestSpentWindowTest(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	slot := 6 * time.Second
	t.Run("a bucket accepts two tests", func(t *testing.T) {
		q := retriedKey(2 * time.Minute)
		spend(q, t0, 10, 10, 9)
		at := t0.Add(10 * time.Millisecond)
		if _, ok, d := decideAt(q, at, retryable); ok || d != slot {
			t.Fatalf("spent budget: ok %v, wait %v; want a wait of a slot, %v", ok, d, slot)
		}
		for i := range 2 {
			at = at.Add(slot)
			tk, ok, _ := decideAt(q, at, retryable)
			if !ok || !tk.foreseen {
				t.Fatalf("test %d at +%v: ok %v, foreseen %v; want a foreseen probe", i+1, at.Sub(t0), ok, tk.foreseen)
			}
			observe(q, tk, vendor(200, 10, 9, time.Minute), at.Add(5*time.Millisecond))
			spend(q, at.Add(10*time.Millisecond), 9, 10, 8)
			at = at.Add(20 * time.Millisecond)
			if i == 0 {
				if q.family != FamilyFixedWindow {
					t.Fatalf("after one accepted test: family %v, want fixed window", q.family)
				}
				if _, ok, d := decideAt(q, at, retryable); ok || d != slot {
					t.Fatalf("spent again: ok %v, wait %v; want a slot", ok, d)
				}
			}
		}
		if q.family != FamilyBucket {
			t.Errorf("after two accepted tests 6 s apart: family %v, want bucket", q.family)
		}
	})
	t.Run("a fixed window refuses the test", func(t *testing.T) {
		q := retriedKey(2 * time.Minute)
		spend(q, t0, 10, 10, 9)
		decideAt(q, t0.Add(10*time.Millisecond), retryable)
		at := t0.Add(10*time.Millisecond + slot)
		tk, ok, _ := decideAt(q, at, retryable)
		if !ok {
			t.Fatal("no test")
		}
		observe(q, tk, vendor(429, 10, 0, time.Minute), at.Add(5*time.Millisecond))
		at = at.Add(time.Second)
		if _, ok, d := decideAt(q, at, retryable); ok || d != t0.Add(time.Minute).Sub(at) {
			t.Errorf("after a refused test: ok %v, wait %v; want the reset, %v", ok, d, t0.Add(time.Minute).Sub(at))
		}
		if q.test != testRefused || q.family == FamilyBucket {
			t.Errorf("test %v, family %v; want refused, not a bucket", q.test, q.family)
		}
	})
	t.Run("requests in flight put the test off", func(t *testing.T) {
		q := retriedKey(2 * time.Minute)
		spend(q, t0, 10, 10, 9)
		decideAt(q, t0.Add(10*time.Millisecond), retryable)
		q.inflight.Add(1) // a request that went meanwhile
		at := t0.Add(10*time.Millisecond + slot)
		if _, ok, d := decideAt(q, at, retryable); ok || d != slot || !q.testAt.Equal(at.Add(slot)) {
			t.Errorf("test due with a request in flight: ok %v, wait %v, test at +%v; want no test, a new one a slot later", ok, d, q.testAt.Sub(at))
		}
	})
	t.Run("resets too close without a test: still a fixed window", func(t *testing.T) {
		// A counter the server lost (a restart) jumps back at any
		// instant: without a test, that is not a bucket's doing.
		q := retriedKey(2 * time.Minute)
		spend(q, t0, 10, 10, 9)
		spend(q, t0.Add(time.Second), 1, 10, 9) // a reset
		spend(q, t0.Add(1500*time.Millisecond), 9, 10, 8)
		spend(q, t0.Add(2*time.Second), 1, 10, 9) // another, a second later
		if !q.phase.seen || q.family != FamilyFixedWindow {
			t.Errorf("family %v, phase seen %v; want a fixed window's resets seen", q.family, q.phase.seen)
		}
	})
	for _, tt := range []struct {
		name    string
		maxWait time.Duration
		w       Want
		others  bool
	}{
		{"a 429 would reach the caller", 2 * time.Minute, one, false},
		{"others take from the quota", 2 * time.Minute, retryable, true},
		{"the reset is beyond the maximum wait", 30 * time.Second, retryable, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := retriedKey(tt.maxWait)
			spend(q, t0, 10, 10, 9)
			if tt.others {
				q.otherRate = 0.01
			}
			at := t0.Add(10 * time.Millisecond)
			if _, ok, d := decideAt(q, at, tt.w); ok || d < t0.Add(time.Minute).Sub(at)-time.Second || q.test != testUntried {
				t.Errorf("spent budget: ok %v, wait %v, test %v; want a wait for the reset, no test", ok, d, q.test)
			}
		})
	}
}

// TestLoneAnswerAfterBurst: a request sent alone, once the eight of a burst
// were answered, is counted after all of them: remaining back up by seven
// is a reset, however many overlapped the burst's last answer (before, the
// burst's overlap of seven hid any rise below nine, and a test of a spent
// window of ten never showed its reset).
func TestLoneAnswerAfterBurst(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 10, 0, time.UTC)
	q := newKey(2 * time.Minute)
	spend(q, t0, 1, 10, 9) // the first answer: 10 per minute, 9 left
	var burst []Ticket
	q.mu.Lock()
	for range 8 {
		burst = append(burst, q.take(t0.Add(time.Second), one))
	}
	q.mu.Unlock()
	for i, tk := range burst {
		observe(q, tk, vendor(200, 10, int64(8-i), time.Minute), t0.Add(time.Second+5*time.Millisecond))
	}
	if q.family != FamilyUnknown || q.phase.seen {
		t.Fatalf("after the burst: family %v, phase seen %v; want unknown, not seen", q.family, q.phase.seen)
	}
	at := t0.Add(7 * time.Second)
	q.mu.Lock()
	tk := q.take(at, one)
	q.mu.Unlock()
	observe(q, tk, vendor(200, 10, 9, time.Minute), at.Add(5*time.Millisecond))
	if q.family != FamilyFixedWindow || !q.phase.seen {
		t.Errorf("after a lone answer with 9 left: family %v, phase seen %v; want a fixed window's reset seen", q.family, q.phase.seen)
	}
}

// TestOverlappedAnswerKeepsBudget: in a window the server sent, an answer
// that our concurrent requests overlapped may have been counted before
// them: it never raises the budget above what the anchor foresees. An
// answer that nothing overlapped is exact.
func TestOverlappedAnswerKeepsBudget(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 10, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		inFlight int   // requests sent with the one answered, before it
		rem      int64 // what its answer says
		want     float64
	}{
		{"counted second of eight", 7, 48, 42},
		{"counted last of eight", 7, 42, 42},
		{"sent alone", 0, 49, 49},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(2 * time.Minute)
			spend(q, t0, 1, 100, 50) // anchored: 50 left after seq 0
			q.mu.Lock()
			var tk Ticket
			for range tt.inFlight + 1 {
				tk = q.take(t0.Add(time.Second), one)
			}
			q.mu.Unlock()
			observe(q, tk, vendor(200, 100, tt.rem, time.Minute), t0.Add(time.Second+5*time.Millisecond))
			q.mu.Lock()
			defer q.mu.Unlock()
			if got := q.budget(t0.Add(2 * time.Second)); got != tt.want {
				t.Errorf("budget = %v, want %v", got, tt.want)
			}
		})
	}
}
