package redisquota

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/ratehttp/ratehttp"
)

// slack is how late a test lets a bounded wait end: a busy machine wakes
// goroutines late.
const slack = 200 * time.Millisecond

// counter returns the value of the Budget's counter name with labels.
func counter(t testing.TB, b *Budget, name string, labels ...string) float64 {
	t.Helper()
	var c prometheus.Collector
	switch name {
	case "takes":
		c = b.m.takes.WithLabelValues(labels...)
	case "calls":
		c = b.m.calls.WithLabelValues(labels...)
	case "leased":
		c = b.m.leased.WithLabelValues(labels...)
	case "leases":
		c = b.m.leases
	case "fallbacks":
		c = b.m.fallbacks
	case "up":
		c = b.m.up
	default:
		t.Fatalf("no counter %s", name)
	}
	return testutil.ToFloat64(c)
}

// redisCalls is the number of Redis calls b made, all operations.
func redisCalls(t testing.TB, b *Budget) float64 {
	t.Helper()
	n := 0.0
	for _, op := range []string{opDraw, opGive, opPublish, opRead} {
		for _, r := range []string{"ok", "error", "timeout"} {
			n += counter(t, b, "calls", op, r)
		}
	}
	return n
}

// TestBudgetLeases: one process taking requests as fast as it can is
// answered from leases, with far fewer Redis calls than requests.
func TestBudgetLeases(t *testing.T) {
	rs := startRedis(t)
	b := New(rs.client(t), WithLimit(100000, time.Second))
	const n = 2000
	for i := range n {
		wait, err := b.Take(context.Background(), "https://api.example", ratehttp.SharedQuota{})
		if err != nil {
			t.Fatalf("Take #%d error = %v", i, err)
		}
		if wait > 0 {
			time.Sleep(wait)
		}
	}
	calls := redisCalls(t, b)
	t.Logf("%d takes, %.0f Redis calls, %.1f takes per call, %.0f leases", n, calls, n/calls, counter(t, b, "leases"))
	if calls > n/8 {
		t.Errorf("%d takes made %.0f Redis calls, want at most %d", n, calls, n/8)
	}
}

// TestBudgetFleet: two Budgets on one Redis (two processes, as far as
// Redis can tell), each taking as fast as it is let, share one budget: they
// get the quota's pace together (less the reserve for the burst), in about
// equal shares.
func TestBudgetFleet(t *testing.T) {
	rs := startRedis(t)
	rdb := rs.client(t)
	q := ratehttp.SharedQuota{Limit: 400, Window: time.Second} // 398 per second, burst 2
	end := time.Now().Add(time.Second)
	var got [2]int
	var wg sync.WaitGroup
	for i := range got {
		b := New(rdb)
		wg.Go(func() {
			for {
				wait, err := b.Take(context.Background(), "k", q)
				if err != nil {
					t.Error(err)
					return
				}
				if time.Now().Add(wait).After(end) {
					return
				}
				if wait > 0 {
					time.Sleep(wait)
					continue
				}
				got[i]++
			}
		})
	}
	wg.Wait()
	total := got[0] + got[1]
	t.Logf("granted in 1s: %v", got)
	// At most the quota, always; at least most of it, in real time on a
	// machine that may be busy: only a gross miss fails (390 to 400 is
	// what an idle machine gives).
	if total > 400 || total < 360 {
		t.Errorf("two budgets were granted %d in one second, want 360 to 400", total)
	}
	if lo, hi := min(got[0], got[1]), max(got[0], got[1]); float64(hi) > 1.1*float64(lo) {
		t.Errorf("shares %v, want within 10%% of each other", got)
	}
}

// TestBudgetPublishes: a quota learned by one process is published, under
// a hashed name, and paces another that learned nothing.
func TestBudgetPublishes(t *testing.T) {
	rs := startRedis(t)
	rdb := rs.client(t)
	const key = "https://api.example|token-s3cr3t"
	learner, other := New(rdb), New(rdb)
	learned := ratehttp.SharedQuota{Limit: 20, Window: time.Hour}
	if _, err := learner.Take(context.Background(), key, learned); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	name := DefaultKeyPrefix + hashKey(key)
	want := map[string]bool{name + ":quota": true, "rate:" + name: true}
	for _, k := range keys {
		if strings.Contains(k, "s3cr3t") || strings.Contains(k, "api.example") {
			t.Errorf("Redis key %q shows the quota key in clear", k)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("Redis keys %q, missing %v", keys, want)
	}
	if v, _ := rdb.Get(context.Background(), name+":quota").Result(); v != "20 3600000000000" {
		t.Errorf("published quota = %q, want %q", v, "20 3600000000000")
	}

	// The other process knows no quota: it uses the published one, and so
	// waits once the GCRA's burst is gone.
	for i := range 5 {
		wait, err := other.Take(context.Background(), key, ratehttp.SharedQuota{})
		if err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			if wait < 2*time.Minute {
				t.Errorf("other Take #%d waits %v, want about a slot of 20 per hour", i, wait)
			}
			return
		}
	}
	t.Error("other process took 5 requests at once from a quota of 20 per hour with a burst of 1")
}

// TestBudgetNoQuota: without a quota known, published or set, Take lets
// requests go, and looks for a published one at most once a second.
func TestBudgetNoQuota(t *testing.T) {
	rs := startRedis(t)
	b := New(rs.client(t))
	for range 100 {
		if wait, err := b.Take(context.Background(), "k", ratehttp.SharedQuota{}); wait != 0 || err != nil {
			t.Fatalf("Take without a quota = %v, %v, want 0, nil", wait, err)
		}
	}
	if got := counter(t, b, "takes", outcomeUnlimited); got != 100 {
		t.Errorf("unlimited takes = %v, want 100", got)
	}
	if got := redisCalls(t, b); got != 1 {
		t.Errorf("Redis calls = %v, want 1 read", got)
	}
}

// TestBudgetClose gives the unused requests of a lease back.
func TestBudgetClose(t *testing.T) {
	rs := startRedis(t)
	rdb := rs.client(t)
	q := ratehttp.SharedQuota{Limit: 1000, Window: 100 * time.Second}
	a := New(rdb, WithMaxLease(4))
	// Grow the lease: 1, 2, 4, then take one of the 4.
	for range 1 + 2 + 1 {
		if wait, err := a.Take(context.Background(), "k", q); wait != 0 || err != nil {
			t.Fatalf("Take = %v, %v", wait, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, a, "leased", "returned"); got != 3 {
		t.Errorf("returned = %v, want 3", got)
	}
	// What was given back is there for another process: of the burst of 8,
	// 4 are still drawn (1 + 2 + 4 less 3), so its leases of 1 and 2 fit,
	// and not the next one of 4. Without the return, only its first would.
	b := New(rdb, WithMaxLease(4))
	got := 0
	for {
		wait, err := b.Take(context.Background(), "k", q)
		if err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			break
		}
		got++
	}
	if got != 3 {
		t.Errorf("after Close, another process got %d at once, want 3", got)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBudgetPaused: Redis paused (SIGSTOP) longer than the timeout. Take
// returns an error within the timeout, then at once; the failure and the
// return are logged once each, and counted; once Redis answers again, the
// budget is back within the probe interval.
func TestBudgetPaused(t *testing.T) {
	rs := startRedis(t)
	var logs syncBuffer
	const timeout = 50 * time.Millisecond
	b := New(rs.client(t), WithTimeout(timeout), WithLimit(100000, time.Second),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	take := func() (time.Duration, error) {
		return b.Take(context.Background(), "k", ratehttp.SharedQuota{})
	}
	if _, err := take(); err != nil {
		t.Fatal(err)
	}
	rs.pause()
	defer rs.resume()
	var errs int
	start := time.Now()
	for time.Since(start) < 500*time.Millisecond {
		t0 := time.Now()
		_, err := take()
		if d := time.Since(t0); d > timeout+slack {
			t.Fatalf("Take with Redis paused took %v, want at most the timeout %v (+%v)", d, timeout, slack)
		}
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Take error = %v, want ErrUnavailable", err)
			}
			errs++
		}
		time.Sleep(time.Millisecond)
	}
	if errs == 0 {
		t.Fatal("no Take failed with Redis paused")
	}
	if got := counter(t, b, "fallbacks"); got != float64(errs) {
		t.Errorf("fallbacks = %v, want %d", got, errs)
	}
	if got := counter(t, b, "up"); got != 0 {
		t.Errorf("up = %v while Redis is paused, want 0", got)
	}
	rs.resume()
	deadline := time.Now().Add(probeInterval + time.Second)
	for {
		if _, err := take(); err == nil && counter(t, b, "up") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("budget not back %v after Redis resumed", probeInterval+time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, "Redis failed"); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "answers again"); n != 1 {
		t.Errorf("logged the return %d times, want once:\n%s", n, out)
	}
}

// TestBudgetContext: Take returns when its context ends, also while a draw
// hangs.
func TestBudgetContext(t *testing.T) {
	rs := startRedis(t)
	b := New(rs.client(t), WithTimeout(time.Second), WithLimit(100000, time.Second))
	rs.pause()
	defer rs.resume()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Take(ctx, "k", ratehttp.SharedQuota{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Take error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Take took %v after its context's 30ms deadline", d)
	}
	if got := counter(t, b, "fallbacks"); got != 0 {
		t.Errorf("fallbacks = %v, want 0: the caller's context ended, Redis did not fail", got)
	}
}

// TestBudgetMetrics registers a Budget in a fresh registry.
func TestBudgetMetrics(t *testing.T) {
	rs := startRedis(t)
	b := New(rs.client(t), WithLimit(1000, time.Second))
	reg := prometheus.NewRegistry()
	reg.MustRegister(b)
	if _, err := b.Take(context.Background(), "k", ratehttp.SharedQuota{}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{
		"ratehttp_shared_takes_total", "ratehttp_shared_redis_calls_total",
		"ratehttp_shared_redis_call_duration_seconds", "ratehttp_shared_leases_total",
		"ratehttp_shared_lease_requests_total", "ratehttp_shared_up",
	} {
		if !got[name] {
			t.Errorf("metric %s not gathered", name)
		}
	}
}

// TestBudgetOwed: requests let go while no quota was known are booked with
// the first lease once one is, so the fleet's pace makes room for them.
func TestBudgetOwed(t *testing.T) {
	rs := startRedis(t)
	b := New(rs.client(t))
	for range 5 {
		if wait, err := b.Take(context.Background(), "k", ratehttp.SharedQuota{}); wait != 0 || err != nil {
			t.Fatalf("Take without a quota = %v, %v, want 0, nil", wait, err)
		}
	}
	q := ratehttp.SharedQuota{Limit: 1000, Window: 100 * time.Second}
	g := shape(q, 0) // a lease of 1 first, due 4 requests ahead of the schedule
	wait, err := b.Take(context.Background(), "k", q)
	if err != nil {
		t.Fatal(err)
	}
	// Booked: 5 owed + 1, so the lease is due 6 - 4 = 2 intervals from now.
	if want := 2 * g.interval(); wait < want-10*time.Millisecond || wait > want {
		t.Errorf("first Take with a quota waits %v, want about %v (the 5 requests let go booked first)", wait, want)
	}
}
