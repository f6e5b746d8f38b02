package bench

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// TestPriorities measures ratehttp's priorities under a saturated quota, in
// fake time (testing/synctest, the in-memory ratehttptest server as the
// base, 50 ms latency): 32 batch workers with unlimited demand, and
// interactive calls arriving one every second, a tenth of the quota's 10
// requests per second. It reports each class's waits (latency less the
// server's service time) and the share of the quota used over windows 2 to
// the last, and fails when interactive p99 is not under a tenth of batch
// p99 or the quota is used below 98%. The same run without priorities is
// logged beside it, for contrast.
//
//	go test -run TestPriorities -v ./bench/
func TestPriorities(t *testing.T) {
	t.Run("priorities", func(t *testing.T) { runPriorities(t, true) })
	t.Run("none", func(t *testing.T) { runPriorities(t, false) })
}

func runPriorities(t *testing.T, prio bool) {
	const (
		limit   = 100
		window  = 10 * time.Second
		latency = 50 * time.Millisecond
		windows = 30
		workers = 32
	)
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: limit, Window: window, Latency: latency})
		rt := ratehttp.New(srv, ratehttp.WithMaxWait(time.Hour))
		ctx, stop := context.WithCancel(context.Background())
		batchCtx, interCtx := ctx, ctx
		if prio {
			batchCtx = ratehttp.WithRequestOptions(ctx, ratehttp.Batch())
			interCtx = ratehttp.WithRequestOptions(ctx, ratehttp.Interactive())
		}

		var (
			mu           sync.Mutex
			batch, inter []time.Duration
			failed       atomic.Int64
		)
		send := func(ctx context.Context, into *[]time.Duration) bool {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/v1/items", nil)
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err != nil {
				if ctx.Err() == nil {
					failed.Add(1)
				}
				return false
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
			mu.Lock()
			*into = append(*into, time.Since(start)-latency)
			mu.Unlock()
			return true
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for send(batchCtx, &batch) {
				}
			})
		}
		wg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					wg.Go(func() { send(interCtx, &inter) })
				}
			}
		})
		time.Sleep(windows * window)
		stop()
		wg.Wait()

		ws := srv.Windows()
		used, allowed := 0, 0
		for _, w := range ws[1 : len(ws)-1] { // whole windows after the first
			used += w.Accepted
			allowed += limit
		}
		share := float64(used) / float64(allowed)
		pb, pi := p99(batch), p99(inter)
		t.Logf("saturated quota of %d per %v, %d batch workers, one interactive call a second, %d windows:", limit, window, workers, windows)
		t.Logf("  batch:       %4d calls, wait p50 %v, p99 %v", len(batch), p50(batch), pb)
		t.Logf("  interactive: %4d calls, wait p50 %v, p99 %v (%.3f of batch p99)", len(inter), p50(inter), pi, float64(pi)/float64(pb))
		t.Logf("  quota used:  %.1f%% of windows 2-%d; %d rejected by the server; %d failed", 100*share, len(ws)-1, srv.Stats().Rejected, failed.Load())
		if !prio {
			return
		}
		if pi*10 >= pb {
			t.Errorf("interactive p99 wait %v, want under a tenth of batch p99 %v", pi, pb)
		}
		if share < 0.98 {
			t.Errorf("quota used %.1f%%, want at least 98%%", 100*share)
		}
		if n := failed.Load(); n > 0 {
			t.Errorf("%d calls failed or were rejected", n)
		}
	})
}

func p99(d []time.Duration) time.Duration { return quantile(d, 0.99) }
func p50(d []time.Duration) time.Duration { return quantile(d, 0.50) }

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
