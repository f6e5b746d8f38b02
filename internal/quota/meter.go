package quota

import (
	"math"
	"time"
)

// meterBucket is the span of one of a Meter's two buckets, when its Span is
// zero.
const meterBucket = time.Second

// Meter measures the rate of events (the answers a key's server accepted)
// over the last Span, as a weighted two-bucket counter: the previous bucket
// counts in proportion to how much of it the last Span still covers. Before
// a whole bucket has passed, the count is spread over one bucket, which
// under-estimates a rate rather than over-estimating it from a few early
// events. The zero value is an empty meter over one second.
type Meter struct {
	// Span is the span of the rate and of each bucket; zero means one
	// second. It must not change once events are added.
	Span time.Duration

	start      time.Time // start of the current bucket; zero before the first event
	cur, prev  int
	prevFilled bool // prev covers a whole bucket
}

// Add records one event at now.
func (m *Meter) Add(now time.Time) {
	m.roll(now)
	m.cur++
}

// Rate returns the events per second over the last Span at now; +Inf before
// any event (nothing measured bounds anything).
func (m *Meter) Rate(now time.Time) float64 {
	if m.start.IsZero() {
		return math.Inf(1)
	}
	m.roll(now)
	span := m.span()
	if !m.prevFilled {
		return float64(m.cur) / span.Seconds()
	}
	f := float64(now.Sub(m.start)) / float64(span)
	return (float64(m.prev)*(1-f) + float64(m.cur)) / span.Seconds()
}

// span returns Span, or one second when it is zero.
func (m *Meter) span() time.Duration {
	if m.Span <= 0 {
		return meterBucket
	}
	return m.Span
}

// roll moves the buckets forward to now.
func (m *Meter) roll(now time.Time) {
	if m.start.IsZero() {
		m.start = now
		return
	}
	span := m.span()
	switch d := now.Sub(m.start); {
	case d < span:
	case d < 2*span:
		m.prev, m.cur, m.prevFilled = m.cur, 0, true
		m.start = m.start.Add(span)
	default:
		m.prev, m.cur, m.prevFilled = 0, 0, true
		m.start = now
	}
}
