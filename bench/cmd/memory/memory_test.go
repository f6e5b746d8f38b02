package main

import (
	"testing"
	"time"
)

// TestMeasure sends an 8 MiB PUT with every client and checks that each
// attempt carried the whole body, and that the measurement sees the copy the
// peers that buffer bodies make and ratehttp does not.
func TestMeasure(t *testing.T) {
	const size = 8 << 20
	for _, c := range clients {
		m, err := measure(c, size, time.Millisecond)
		if err != nil {
			t.Fatalf("measure(%s) error = %v", c.name, err)
		}
		want := retries + 1
		if c.name == "bare" {
			want = 1
		}
		if len(m.attempts) != want {
			t.Errorf("measure(%s) attempts = %d, want %d", c.name, len(m.attempts), want)
		}
		for i, n := range m.attempts {
			if n != size {
				t.Errorf("measure(%s) attempt %d carried %d bytes, want %d", c.name, i+1, n, size)
			}
		}
		if m.status != 200 {
			t.Errorf("measure(%s) status = %d, want 200", c.name, m.status)
		}
		switch c.name {
		case "ratehttp", "bare", "retryablehttp-readerfunc":
			if m.totalAlloc > 1<<20 {
				t.Errorf("measure(%s) TotalAlloc delta = %d, want under 1 MiB: the body is streamed", c.name, m.totalAlloc)
			}
		case "retryablehttp", "failsafe":
			if m.totalAlloc < size {
				t.Errorf("measure(%s) TotalAlloc delta = %d, want at least the body (%d): it buffers bodies", c.name, m.totalAlloc, size)
			}
		}
	}
}
