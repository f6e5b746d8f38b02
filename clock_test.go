package ratehttp

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestClockFollowsTimeNow: the clock's time is time.Now's, to the nanosecond
// in a bubble, and its anchor is renewed once it is clockAnchorAge old.
func TestClockFollowsTimeNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c clock
		for _, step := range []time.Duration{0, time.Millisecond, 300 * time.Millisecond, 699 * time.Millisecond, time.Nanosecond, 5 * time.Second} {
			time.Sleep(step)
			before := c.anchor.Load()
			if got, want := c.now(), time.Now(); !got.Equal(want) {
				t.Fatalf("after %v: clock.now() = %v, want time.Now() = %v", step, got, want)
			}
			a := c.anchor.Load()
			if before != nil && a != before && time.Since(*before) < clockAnchorAge {
				t.Errorf("after %v: anchor renewed while %v old, want kept until %v", step, time.Since(*before), clockAnchorAge)
			}
			if time.Since(*a) >= clockAnchorAge {
				t.Errorf("after %v: anchor %v old, want renewed", step, time.Since(*a))
			}
		}
	})
}

// TestClockAnchorFromElsewhere: an anchor taken outside the bubble (real
// clocks) is not used inside it (fake clocks), and the other way round.
func TestClockAnchorFromElsewhere(t *testing.T) {
	var c clock
	outside := c.now()
	synctest.Test(t, func(t *testing.T) {
		if got, want := c.now(), time.Now(); !got.Equal(want) {
			t.Errorf("in a bubble, with an anchor from outside: clock.now() = %v, want %v", got, want)
		}
	})
	// The bubble's clock starts in 2000: its anchor would go back in time.
	if got := c.now(); got.Before(outside) {
		t.Errorf("outside again: clock.now() = %v, before %v taken outside earlier", got, outside)
	}
}

func BenchmarkClock(b *testing.B) {
	var c clock
	b.Run("time.Now", func(b *testing.B) {
		for range b.N {
			_ = time.Now()
		}
	})
	b.Run("clock.now", func(b *testing.B) {
		for range b.N {
			_ = c.now()
		}
	})
}
