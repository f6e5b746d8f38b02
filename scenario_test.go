package ratehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// scenario is one row of the quota acceptance table: a simulated API, a
// demand, and what the client must achieve over windows 2–10.
type scenario struct {
	name       string
	server     ratehttptest.Config
	workers    int           // goroutines per client, each with unlimited demand
	clients    int           // separate Transports sharing the server's quota (default 1)
	think      time.Duration // pause between a worker's requests (light load)
	background float64       // fraction of the quota a background consumer takes
	during     func(win int, s *ratehttptest.Server)
	opts       []Option
	plain      bool // drive the server with no ratehttp at all, for contrast
	trace      func(ratehttptest.Event)
	sleep      time.Duration // the bubble sleeps this long before the server starts

	wantUtil   float64 // accepted / quota available to us, at least
	wantReject float64 // 429 / attempts, at most
	noneAfter1 bool    // no 429 at all from window 2 on

	// knownMiss, when set, says why the engine misses this row's quota
	// targets today (an open defect): the misses are logged, not failed.
	// The storm bound holds for every row.
	knownMiss string
}

// maxStorm is the most 429s a client may draw in any one second of fake time
// from window 2 on, in every row.
const maxStorm = 3

// offBoundary returns the variant of sc that starts off a boundary of the
// server's windows, 17.3 s after one for a minute window (the same fraction
// of other windows): the bubble sleeps before the server starts, so the
// client's clock is off the unit's UTC boundaries too. A zero Offset becomes
// Window, the same phase, so that the policies without windows of their own
// also report windows on the epoch's boundaries and window 1 is cut short, as
// under the others.
func (sc scenario) offBoundary() scenario {
	w := sc.server.Window
	if sc.server.Offset == 0 {
		sc.server.Offset = w
	}
	phase := (sc.server.Offset%w + w) % w
	sc.sleep += phase + w*173/600
	return sc
}

// outcome is what a scenario measured over windows 2–10.
type outcome struct {
	accepted, rejected, available int
	refused                       int // requests refused locally (ErrRateLimited)
	delayed                       int // requests that waited longer than the server's latency

	storm   int           // most 429s in any one second from window 2 on
	stormAt time.Duration // when that second starts, since the clients started
}

func (o outcome) util() float64 { return float64(o.accepted) / float64(max(o.available, 1)) }
func (o outcome) rejectRate() float64 {
	return float64(o.rejected) / float64(max(o.accepted+o.rejected, 1))
}

func (o outcome) String() string {
	s := fmt.Sprintf("accepted %d of %d (%.1f%%), 429 %d of %d attempts (%.2f%%), refused locally %d, delayed %d, most 429s in one second %d",
		o.accepted, o.available, 100*o.util(), o.rejected, o.accepted+o.rejected, 100*o.rejectRate(), o.refused, o.delayed, o.storm)
	if o.storm > 0 {
		s += fmt.Sprintf(" (at +%v)", o.stormAt)
	}
	return s
}

const scenarioWindows = 10

// run plays the scenario in a synctest bubble: fake time, the in-memory
// simulator as the base transport, fully deterministic.
func (sc scenario) run(t *testing.T) outcome {
	t.Helper()
	var out outcome
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(sc.sleep)
		srv := ratehttptest.NewServer(sc.server)
		var rejMu sync.Mutex
		var rejections []time.Time
		srv.SetHook(func(e ratehttptest.Event) {
			if sc.trace != nil {
				sc.trace(e)
			}
			if e.Status == http.StatusTooManyRequests {
				rejMu.Lock()
				rejections = append(rejections, e.Time)
				rejMu.Unlock()
			}
		})
		w := sc.server.Window
		start := time.Now()
		end := start.Add(scenarioWindows * w)
		ctx, cancel := context.WithDeadline(context.Background(), end)
		defer cancel()

		var refused, delayed atomic.Int64
		var wg sync.WaitGroup
		for c := range max(sc.clients, 1) {
			var rt http.RoundTripper = srv
			if !sc.plain {
				rt = New(srv, sc.opts...)
			}
			client := &http.Client{Transport: rt}
			for i := range sc.workers {
				wg.Go(func() {
					url := fmt.Sprintf("http://api.test/items/%d/%d", c, i)
					for ctx.Err() == nil {
						t0 := time.Now()
						req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
						resp, err := client.Do(req)
						if err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if time.Since(t0) > sc.server.Latency && time.Since(start) >= w {
								delayed.Add(1)
							}
						} else if errors.Is(err, ErrRateLimited) {
							refused.Add(1)
							var rl *RateLimitError
							if errors.As(err, &rl) && rl.Wait > 0 {
								sleepCtx(ctx, rl.Wait)
							}
						} else if ctx.Err() == nil {
							t.Errorf("Do(%s) error = %v", url, err)
							return
						}
						if sc.think > 0 {
							sleepCtx(ctx, sc.think)
						}
					}
				})
			}
		}
		if sc.background > 0 {
			every := time.Duration(float64(w) / (sc.background * float64(sc.server.Limit)))
			wg.Go(func() {
				for ctx.Err() == nil {
					srv.Consume(1)
					sleepCtx(ctx, every)
				}
			})
		}
		if sc.during != nil {
			wg.Go(func() {
				for win := 1; win <= scenarioWindows; win++ {
					sc.during(win, srv)
					sleepCtx(ctx, w)
				}
			})
		}
		wg.Wait()

		wins := srv.Windows()
		if len(wins) < scenarioWindows {
			t.Fatalf("server saw %d windows, want %d", len(wins), scenarioWindows)
		}
		for _, ws := range wins[1:scenarioWindows] {
			out.accepted += ws.Accepted
			out.rejected += ws.Rejected
			out.available += ws.Limit - ws.Consumed
		}
		out.refused = int(refused.Load())
		out.delayed = int(delayed.Load())
		most, at := storm(rejections, wins[1].Start)
		out.storm, out.stormAt = most, at.Sub(start)
	})
	return out
}

// storm returns the most instants of ts, from `from` on, that fall within
// one second of each other, and the first of them.
func storm(ts []time.Time, from time.Time) (most int, at time.Time) {
	ts = slices.DeleteFunc(slices.Clone(ts), func(t time.Time) bool { return t.Before(from) })
	slices.SortFunc(ts, time.Time.Compare)
	lo := 0
	for hi, t := range ts {
		for t.Sub(ts[lo]) >= time.Second {
			lo++
		}
		if hi-lo+1 > most {
			most, at = hi-lo+1, ts[lo]
		}
	}
	return most, at
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func perMinute(limit int) ratehttptest.Config {
	return ratehttptest.Config{Limit: limit, Window: time.Minute, Latency: 50 * time.Millisecond}
}

// scenarios is the acceptance table of the adaptive quota. No row configures
// the limit: the client learns it from the headers, or from 429 and
// Retry-After where the server sends none.
func scenarios() []scenario {
	offset := perMinute(100)
	offset.Offset = 17*time.Second + 300*time.Millisecond
	sliding := perMinute(100)
	sliding.Policy = ratehttptest.SlidingWindow
	largeOffset := perMinute(3000)
	largeOffset.Offset = 17*time.Second + 300*time.Millisecond
	used := perMinute(100)
	used.UsedMeansUsed = true
	haproxy := perMinute(100)
	haproxy.Policy, haproxy.CountRejected = ratehttptest.SlidingWindow, true
	weighted := perMinute(100)
	weighted.Policy = ratehttptest.WeightedWindow
	// HAProxy's stick table as the conformance suite runs it: a weighted
	// counter that counts rejected requests, in short windows, so that a
	// 429 at its first boundary costs a share of the window to recover.
	stick := ratehttptest.Config{Limit: 40, Window: 2 * time.Second, Latency: 50 * time.Millisecond,
		Policy: ratehttptest.WeightedWindow, CountRejected: true}
	gcra := perMinute(100)
	gcra.Policy, gcra.Burst, gcra.RetryAfter = ratehttptest.GCRA, 10, true
	leaky := perMinute(100)
	leaky.Policy, leaky.Burst = ratehttptest.LeakyBucket, 10
	silent := perMinute(100)
	silent.OmitHeaders, silent.RetryAfter = true, true
	lower := perMinute(100)
	lower.LowercaseHeaders = true
	negative := perMinute(100)
	negative.CountRejected, negative.NegativeRemaining = true, true
	rows := []scenario{
		{
			name: "limit halved in window 4, restored in 7", server: perMinute(100), workers: 8,
			during: func(win int, s *ratehttptest.Server) {
				switch win {
				case 4:
					s.SetLimit(50)
				case 7:
					s.SetLimit(100)
				}
			},
			wantUtil: 0.95, wantReject: 0.005,
		},
		{name: "fixed aligned windows, 100/minute, 8 workers", server: perMinute(100), workers: 8, wantUtil: 0.98, wantReject: 0.002, noneAfter1: true},
		{name: "fixed windows, unknown phase", server: offset, workers: 8, wantUtil: 0.98, wantReject: 0.002},
		// Large quotas (a burst of 100). Under unlimited demand the pacer
		// binds, so lanes seldom open; the light-load test exercises them.
		{name: "large quota, 3000/minute, 32 workers", server: perMinute(3000), workers: 32, wantUtil: 0.99, wantReject: 0.002, noneAfter1: true},
		{name: "large quota, unknown phase, 64 workers", server: largeOffset, workers: 64, wantUtil: 0.98, wantReject: 0.002},
		{name: "sliding window, 100/minute", server: sliding, workers: 8, wantUtil: 0.95, wantReject: 0.005},
		{
			name: "64 workers, 20/minute", server: perMinute(20), workers: 64,
			// 64 queued requests at one per 3 s need more than the default
			// maximum wait.
			opts:     []Option{WithMaxWait(10 * time.Minute)},
			wantUtil: 0.95, wantReject: 0.005,
		},
		{name: "4 Transports sharing one quota", server: perMinute(100), workers: 4, clients: 4, wantUtil: 0.95, wantReject: 0.005},
		{name: "X-ratelimit-used means used (option)", server: used, workers: 8, opts: []Option{WithUsedMeaning(UsedUsed)}, wantUtil: 0.98, wantReject: 0.002},
		{name: "X-ratelimit-used means used (auto)", server: used, workers: 8, opts: []Option{WithUsedMeaning(UsedAuto)}, wantUtil: 0.98, wantReject: 0.002},
		{name: "background consumer takes 30%", server: perMinute(100), workers: 8, background: 0.3, wantUtil: 0.95, wantReject: 0.005},
		// The families of real limiters: with quota headers, at least 95% of
		// the quota and at most 1% 429s; without, 80% and 10%. A row that
		// varies an existing one keeps that row's targets.
		{name: "sliding window counting rejected requests (HAProxy), 100/minute", server: haproxy, workers: 8, wantUtil: 0.95, wantReject: 0.005},
		{name: "weighted two-window counter, 100/minute", server: weighted, workers: 8, wantUtil: 0.95, wantReject: 0.01},
		{name: "weighted two-window counter counting rejected requests (HAProxy's stick table), 40 per 2 s", server: stick, workers: 8, wantUtil: 0.95, wantReject: 0.005},
		{name: "GCRA, 100/minute, burst 10, Retry-After", server: gcra, workers: 8, wantUtil: 0.95, wantReject: 0.01},
		{name: "leaky bucket, 100/minute, capacity 10", server: leaky, workers: 8, wantUtil: 0.95, wantReject: 0.01},
		{name: "no quota headers, 429 and Retry-After only", server: silent, workers: 8, wantUtil: 0.80, wantReject: 0.10},
		{name: "lowercase header names", server: lower, workers: 8, wantUtil: 0.98, wantReject: 0.002, noneAfter1: true},
		{name: "negative remaining, rejected requests counted", server: negative, workers: 8, wantUtil: 0.98, wantReject: 0.002, noneAfter1: true},
	}
	return append(rows, dialectScenarios()...)
}

// dialectScenarios are the rows of the other APIs' headers (issue 19): each
// dialect family on the vendor's fixed-window row, with its targets, and
// Shopify's leaky bucket on the vendor's leaky-bucket row, with its targets.
// The bubble first sleeps epochShift, so that the Unix times the dialects
// send are after 2001.
func dialectScenarios() []scenario {
	var rows []scenario
	for _, d := range []struct {
		name string
		give ratehttptest.Dialect
	}{
		{"IETF fields, two policies (Cloudflare)", ratehttptest.DialectIETF},
		{"GitLab", ratehttptest.DialectGitLab},
		{"GitHub", ratehttptest.DialectGitHub},
		{"Discord", ratehttptest.DialectDiscord},
		{"Reddit", ratehttptest.DialectReddit},
		{"Twitter/X and Okta", ratehttptest.DialectTwitter},
		{"OpenAI, tokens spent halfway", ratehttptest.DialectOpenAI},
		{"Anthropic, tokens spent halfway", ratehttptest.DialectAnthropic},
		{"APIG, four policies", ratehttptest.DialectAPIG},
	} {
		server := perMinute(100)
		server.Dialect = d.give
		rows = append(rows, scenario{
			name: "dialect " + d.name + ", fixed windows, 100/minute", server: server, workers: 8, sleep: epochShift,
			wantUtil: 0.98, wantReject: 0.002, noneAfter1: true,
		})
	}
	shopify := ratehttptest.Config{Limit: 40, Window: 20 * time.Second, Latency: 50 * time.Millisecond,
		Policy: ratehttptest.LeakyBucket, Dialect: ratehttptest.DialectShopify}
	rows = append(rows, scenario{
		name: "dialect Shopify, leaky bucket 40, 2/s", server: shopify, workers: 8, sleep: epochShift,
		wantUtil: 0.95, wantReject: 0.01,
	})
	// throttled's shape: a GCRA whose limit header is its burst and whose
	// reset, the time until the bucket is full, is under a second; no
	// window is sent. The window guessed from the resets (a second, rounded
	// up) holds the client to half the rate until the refill is learned.
	throttled := ratehttptest.Config{Limit: 20, Window: time.Second, Burst: 10, Latency: 10 * time.Millisecond,
		Policy: ratehttptest.GCRA, RetryAfter: true, Dialect: ratehttptest.DialectGitHub}
	rows = append(rows, scenario{
		name: "GCRA 20/s, burst 10, GitHub headers (throttled's: limit = burst, no window)", server: throttled, workers: 8, sleep: epochShift,
		wantUtil: 0.90, wantReject: 0.01,
	})
	return rows
}

// TestScenarios plays every row from the bubble's start, midnight UTC on the
// boundaries of the unit and of windows aligned to the epoch, and off a
// boundary.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Run("aligned start", sc.check)
			t.Run("off boundary", sc.offBoundary().check)
		})
	}
}

// check runs sc and compares the outcome with its targets.
func (sc scenario) check(t *testing.T) {
	got := sc.run(t)
	t.Logf("ratehttp: %v", got)
	miss := t.Errorf
	if sc.knownMiss != "" {
		miss = func(format string, args ...any) {
			t.Logf("known miss (%s): "+format, append([]any{sc.knownMiss}, args...)...)
		}
	}
	if got.util() < sc.wantUtil {
		miss("utilisation = %.2f%%, want >= %.0f%%", 100*got.util(), 100*sc.wantUtil)
	}
	if got.rejectRate() > sc.wantReject {
		miss("429 rate = %.2f%%, want <= %.1f%%", 100*got.rejectRate(), 100*sc.wantReject)
	}
	if sc.noneAfter1 && got.rejected > 0 {
		miss("%d 429s after window 1, want none", got.rejected)
	}
	if got.storm > maxStorm {
		t.Errorf("%d 429s within one second at +%v, want at most %d", got.storm, got.stormAt, maxStorm)
	}
}

// TestScenarioLightLoad offers part of the quota: everything is served, no
// 429, and no request waits for the quota. On the large quota (a burst of
// 100) most requests go through a lane, without the lock.
func TestScenarioLightLoad(t *testing.T) {
	for _, tt := range []struct {
		name    string
		sc      scenario
		minUtil float64 // of the whole quota
	}{
		{"30% of 100/minute", scenario{server: perMinute(100), workers: 3, think: 6 * time.Second}, 0.28},
		{"64% of 3000/minute (lanes)", scenario{server: perMinute(3000), workers: 32, think: 950 * time.Millisecond}, 0.6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.sc.run(t)
			t.Logf("ratehttp: %v", got)
			if got.rejected != 0 || got.refused != 0 || got.delayed != 0 {
				t.Errorf("light load: %v; want no 429, no refusal, no delay", got)
			}
			if got.util() < tt.minUtil {
				t.Errorf("light load accepted %.1f%% of the quota, want at least %.0f%%", 100*got.util(), 100*tt.minUtil)
			}
		})
	}
}

// TestScenariosPlain runs every row with a plain http.Transport (no ratehttp)
// for contrast: each row must really bind, so a client that ignores the quota
// wastes most of its attempts on 429s. The start's phase does not change
// that, so the rows run from the aligned start only. It sends about two million requests,
// so it is skipped under the race detector (it exercises no ratehttp code);
// .ci/run runs it without.
func TestScenariosPlain(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("the plain contrast runs without -race and -short")
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sc.plain = true
			got := sc.run(t)
			t.Logf("plain: %v", got)
			if got.rejectRate() < 0.5 {
				t.Errorf("plain 429 rate = %.2f%%, want > 50%%: the scenario does not bind", 100*got.rejectRate())
			}
		})
	}
}

// TestSmallFixedWindowsTestOnce: on a true fixed window, the spent-window
// test (a quota that goes in one burst, with most of its window ahead)
// costs at most one 429 in a key's life, retried at the reset, and a key
// paced through its window (a limit above the default burst) pays none.
// 8 workers, ten windows of a minute, from both starts.
func TestSmallFixedWindowsTestOnce(t *testing.T) {
	for _, tt := range []struct {
		limit, most int
	}{{5, 1}, {10, 1}, {20, 0}, {40, 0}} {
		for _, off := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d per minute, off a boundary %v", tt.limit, off), func(t *testing.T) {
				sc := scenario{server: perMinute(tt.limit), workers: 8}
				if off {
					sc = sc.offBoundary()
				}
				var all atomic.Int64 // 429s over the whole run, window 1 included
				sc.trace = func(e ratehttptest.Event) {
					if e.Status == http.StatusTooManyRequests {
						all.Add(1)
					}
				}
				got := sc.run(t)
				t.Logf("ratehttp: %v; 429s in the whole run: %d", got, all.Load())
				if n := int(all.Load()); n > tt.most {
					t.Errorf("%d 429s in the whole run, want at most %d", n, tt.most)
				}
				if got.util() < 0.95 {
					t.Errorf("utilisation = %.2f%%, want >= 95%%", 100*got.util())
				}
			})
		}
	}
}
