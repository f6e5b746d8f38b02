package quota

import (
	"testing"
	"time"
)

// TestSendLogFreed: what a sliding window of 2 s can have freed between two
// instants is bounded by our requests sent a window before them, each
// checkpoint of the log counting as far as it knows, and no more.
func TestSendLogFreed(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	const w = 2 * time.Second
	var l sendLog
	// A burst of 10 from t0 to t0+1ms (one checkpoint: they are within a
	// sendLogSize-th of the window), then one request every 100 ms.
	l.record(t0, 0, 1, w)
	for i := uint64(1); i < 10; i++ {
		l.record(t0.Add(time.Millisecond), i, i+1, w)
	}
	for i := uint64(10); i < 20; i++ {
		l.record(t0.Add(time.Duration(i-9)*100*time.Millisecond), i, i+1, w)
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		from, now time.Time
		want      float64
	}{
		{at(1450), at(1520), 0},  // nothing is a window old yet
		{at(1450), at(2000), 0},  // the burst is not all a window old
		{at(1450), at(2001), 10}, // now it is
		{at(1450), at(2100), 11}, // and the one at 100 ms
		{at(2050), at(2100), 1},  // the one at 100 ms alone
		{at(2100), at(2250), 1},  // the one at 200 ms
		{at(3000), at(2100), 0},  // never negative
		{at(1450), at(9000), 20}, // all of them
		{at(-5000), at(1000), 0}, // before the log began
	}
	for _, tt := range tests {
		if got := l.freed(tt.from, tt.now, w, 20); got != tt.want {
			t.Errorf("freed(%v, %v) = %v, want %v", tt.from.Sub(t0), tt.now.Sub(t0), got, tt.want)
		}
	}
}
