package ratehttp

import (
	"sync/atomic"
	"time"
)

// clockAnchorAge is how long a clock anchor serves before the wall clock is
// read again: a step of the system's wall clock is seen within this delay.
const clockAnchorAge = time.Second

// clock reads the time for the hot path. [time.Now] reads two clocks, the wall
// clock and the monotonic one; on some virtual machines each read costs tens of
// nanoseconds. clock reads the wall clock at most once per clockAnchorAge and
// derives the current time from the monotonic clock alone, which is what
// [time.Since] reads. The result carries a monotonic reading, like time.Now's,
// and differs from it only if the wall clock was stepped since the anchor.
//
// Inside a testing/synctest bubble both clocks are the bubble's fake ones. An
// anchor taken outside the bubble (or inside another) gives an elapsed time
// outside [0, clockAnchorAge), and is replaced.
type clock struct {
	anchor atomic.Pointer[time.Time]
}

func (c *clock) now() time.Time {
	if a := c.anchor.Load(); a != nil {
		if d := time.Since(*a); d >= 0 && d < clockAnchorAge {
			return a.Add(d)
		}
	}
	t := time.Now()
	c.anchor.Store(&t)
	return t
}
