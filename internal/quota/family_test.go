package quota

import (
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
