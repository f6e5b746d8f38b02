package ratehttp

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeBudget answers Take from a script of waits and errors, the last
// repeating, and records the quotas it was told.
type fakeBudget struct {
	mu     sync.Mutex
	waits  []time.Duration
	errs   []error
	calls  int
	quotas []SharedQuota
}

func (b *fakeBudget) Take(ctx context.Context, key string, q SharedQuota) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := min(b.calls, len(b.waits)-1)
	b.calls++
	b.quotas = append(b.quotas, q)
	var err error
	if i < len(b.errs) {
		err = b.errs[i]
	}
	return b.waits[i], err
}

// TestSharedBudget: the Transport asks the shared budget before each
// attempt, waits what it asks within the maximum wait, refuses at once a
// wait that passes it, goes on its own model when the budget fails, and
// tells the budget the quota it learned.
func TestSharedBudget(t *testing.T) {
	errDown := errors.New("store down")
	tests := []struct {
		name     string
		waits    []time.Duration
		errs     []error
		wantErr  bool
		wantWait time.Duration
		wantSent int
	}{
		{"granted", []time.Duration{0}, nil, false, 0, 1},
		{"wait then granted", []time.Duration{3 * time.Second, 2 * time.Second, 0}, nil, false, 5 * time.Second, 1},
		{"wait past the maximum", []time.Duration{3 * time.Second, 8 * time.Second}, nil, true, 3 * time.Second, 0},
		{"store down", []time.Duration{0}, []error{errDown}, false, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &fakeBudget{waits: tt.waits, errs: tt.errs}
				sent := 0
				base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					sent++
					return respond(r, 200, nil, ""), nil
				})
				rt := New(base, WithSharedBudget(b), WithMaxWait(10*time.Second))
				start := time.Now()
				resp, err := get(t, context.Background(), rt)
				if (err != nil) != tt.wantErr {
					t.Fatalf("RoundTrip error = %v, want error %v", err, tt.wantErr)
				}
				if err == nil {
					resp.Body.Close()
				} else if !errors.Is(err, ErrRateLimited) {
					t.Errorf("RoundTrip error = %v, want ErrRateLimited", err)
				}
				if d := time.Since(start); d != tt.wantWait {
					t.Errorf("RoundTrip took %v, want %v", d, tt.wantWait)
				}
				if sent != tt.wantSent {
					t.Errorf("sent %d, want %d", sent, tt.wantSent)
				}
			})
		})
	}

	// The quota learned reaches the budget.
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{waits: []time.Duration{0}}
		rt := New(spentOnce(), WithSharedBudget(b))
		for range 2 {
			resp, err := get(t, context.Background(), rt)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if got := b.quotas; len(got) != 2 || got[0] != (SharedQuota{}) || got[1] != (SharedQuota{Limit: 100, Window: time.Minute}) {
			t.Errorf("quotas told = %v, want none known, then 100 per minute", got)
		}
	})
}
