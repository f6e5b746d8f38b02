package ratehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// TestLateResponseDoesNotStallNewWindow: a "remaining 0" response that
// arrives just after the window boundary, for a request sent (and counted)
// before it, belongs to the old window. The new window's first request goes at
// once instead of waiting a whole window.
func TestLateResponseDoesNotStallNewWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 3, Window: time.Minute, Latency: 200 * time.Millisecond})
		client := &http.Client{Transport: New(srv)}
		start := time.Now()
		do := func() time.Time {
			t.Helper()
			resp, err := client.Get("http://api.test/x")
			if err != nil {
				t.Fatalf("Get error = %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("Get status = %d, want 200", resp.StatusCode)
			}
			return time.Now()
		}
		do()
		do()
		// The third request is sent at 59.9 s: counted in window 1, where it
		// spends the quota; its answer comes at 60.1 s, in window 2.
		time.Sleep(time.Until(start.Add(59900 * time.Millisecond)))
		if got := do().Sub(start); got != 60100*time.Millisecond {
			t.Fatalf("third request done at %v, want 60.1s", got)
		}
		if got := do().Sub(start); got != 60300*time.Millisecond {
			t.Errorf("fourth request done at %v, want 60.3s (sent at once in window 2)", got)
		}
		if st := srv.Stats(); st.Rejected != 0 {
			t.Errorf("server rejected %d requests, want 0", st.Rejected)
		}
	})
}

// TestPauseReschedulesWaiters: requests already waiting for their paced slot
// do not go out during a pause that a 429 with Retry-After starts; they wait
// for its end (rate.Limiter.SetLimit alone would not reschedule them).
func TestPauseReschedulesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu   sync.Mutex
			sent []time.Duration
			n    int
		)
		start := time.Now()
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			sent = append(sent, time.Since(start))
			h := http.Header{"X-Ratelimit": {"60"}, "X-Ratelimit-Used": {"50"}, "X-Ratelimit-Window": {"minute"}}
			code := 200
			if n == 12 { // the 12th request is refused: wait 30 s
				code, h["Retry-After"] = 429, []string{"30"}
			}
			return respond(r, code, h, ""), nil
		})
		rt := New(base, WithRetries(0))
		done := make(chan struct{})
		for range 20 {
			go func() {
				defer func() { done <- struct{}{} }()
				resp, err := get(t, context.Background(), rt)
				if err != nil {
					t.Errorf("RoundTrip error = %v", err)
					return
				}
				resp.Body.Close()
			}()
		}
		for range 20 {
			<-done
		}
		mu.Lock()
		defer mu.Unlock()
		// The 12th request is refused with Retry-After: 30 while the quota
		// still has room: nothing may go until 30 s later, and pacing
		// resumes right then.
		at429 := sent[11]
		resumed := false
		for i, at := range sent {
			if at > at429 && at < at429+30*time.Second {
				t.Errorf("request %d sent at %v, inside the pause (%v, %v)", i, at, at429, at429+30*time.Second)
			}
			resumed = resumed || at == at429+30*time.Second
		}
		if !resumed {
			t.Errorf("no request sent at %v, when the pause ends; sent at %v", at429+30*time.Second, sent)
		}
		if len(sent) != 20 {
			t.Errorf("sent %d requests, want 20", len(sent))
		}
	})
}

// settledQuota returns the quota of a Transport that has seen three answers
// of a vendor quota of 1000 per hour, and the request it sends.
func settledQuota(t *testing.T) (*quota, *http.Request, http.Header) {
	t.Helper()
	h := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"900"}, "X-Ratelimit-Window": {"hour"}}
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return respond(r, 200, h, ""), nil
	}))
	for range 3 {
		resp, err := get(t, context.Background(), tr)
		if err != nil {
			t.Fatalf("RoundTrip error = %v", err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
	return tr.quotaFor(req, time.Now()), req, h
}

// TestRoutineAnswersReadOneInEight: in a settled model an answer is read
// only when its request's seq is a multiple of foldEvery; the others are not
// read, so their news is not seen, and they take no lock. A 429, a 5xx and an
// answer after the estimated reset are read whatever the seq.
func TestRoutineAnswersReadOneInEight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, req, h := settledQuota(t)
		ctx := context.Background()
		news := http.Header{"X-Ratelimit": {"500"}, "X-Ratelimit-Used": {"400"}, "X-Ratelimit-Window": {"hour"}}
		for range 2 * foldEvery {
			tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
			if err != nil || !tk.routine {
				t.Fatalf("acquire = %+v, %v; want a routine ticket", tk, err)
			}
			if tk.seq%foldEvery != 0 {
				q.mu.Lock() // another goroutine holds the model: an unread answer must not wait
				before := q.anchorSeq
				q.observe(tk, respond(req, 200, news, ""), time.Now()) // would deadlock if it locked
				if q.anchorSeq != before || q.limit != 1000 {
					t.Errorf("seq %d: anchor %d, limit %d after news; want %d, 1000 (unread)", tk.seq, q.anchorSeq, q.limit, before)
				}
				q.mu.Unlock()
			} else {
				q.observe(tk, respond(req, 200, h, ""), time.Now())
				if q.anchorSeq != tk.seq {
					t.Errorf("seq %d: anchor = %d, want %d (read)", tk.seq, q.anchorSeq, tk.seq)
				}
			}
			if n := q.inflight.Load(); n != 0 {
				t.Errorf("seq %d: in flight after observe = %d, want 0", tk.seq, n)
			}
		}

		// unread returns a routine ticket whose answer would go unread.
		unread := func() ticket {
			t.Helper()
			for {
				tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
				if err != nil || !tk.routine {
					t.Fatalf("acquire = %+v, %v; want a routine ticket", tk, err)
				}
				if tk.seq%foldEvery != 0 {
					return tk
				}
				q.observe(tk, respond(req, 200, h, ""), time.Now())
			}
		}
		tk := unread()
		q.observe(tk, respond(req, 503, news, ""), time.Now())
		if q.limit != 500 {
			t.Errorf("limit after a 503 with a new limit at seq %d = %d, want 500 (read)", tk.seq, q.limit)
		}
		tk = unread()
		q.observe(tk, respond(req, 429, http.Header{"Retry-After": {"1"}}, ""), time.Now())
		if want := time.Now().Add(time.Second); !q.pauseUntil.Equal(want) {
			t.Errorf("pause after a 429 at seq %d until %v, want %v (read)", tk.seq, q.pauseUntil, want)
		}
		time.Sleep(2 * time.Second)
		// After a 429 the guard's probe goes first, and is read; the
		// answers stay read until the guard's ceiling is back above the
		// pace.
		if tk, _, err := q.acquire(ctx, time.Now(), defaultCall); err != nil || !tk.probe {
			t.Fatalf("acquire after a 429 = %+v, %v; want the guard's probe", tk, err)
		} else {
			q.observe(tk, respond(req, 200, h, ""), time.Now())
		}
		time.Sleep(2 * time.Second)
		if tk, _, err := q.acquire(ctx, time.Now(), defaultCall); err != nil || tk.routine {
			t.Fatalf("acquire under the guard's ceiling = %+v, %v; want a ticket that is not routine", tk, err)
		} else {
			q.observe(tk, respond(req, 200, h, ""), time.Now())
		}
		tk = unread()
		time.Sleep(time.Until(tk.resetAt))
		late := http.Header{"X-Ratelimit": {"700"}, "X-Ratelimit-Used": {"600"}, "X-Ratelimit-Window": {"hour"}}
		q.observe(tk, respond(req, 200, late, ""), time.Now())
		if q.limit != 700 {
			t.Errorf("limit after an answer with a new limit at the estimated reset at seq %d = %d, want 700 (read)", tk.seq, q.limit)
		}
	})
}

// TestNoisyAnswersAllRead: a read answer with an anomaly makes every answer
// read, until one comes clean.
func TestNoisyAnswersAllRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, req, h := settledQuota(t)
		ctx := context.Background()
		odd := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"many"}, "X-Ratelimit-Window": {"hour"}}
		for { // to the next answer read
			tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
			if err != nil || !tk.routine {
				t.Fatalf("acquire = %+v, %v; want a routine ticket", tk, err)
			}
			if tk.seq%foldEvery == 0 {
				if q.observe(tk, respond(req, 200, odd, ""), time.Now()) == 0 {
					t.Fatalf("answer read at seq %d with a bad count: no anomaly returned", tk.seq)
				}
				break
			}
			q.observe(tk, respond(req, 200, h, ""), time.Now())
		}
		anomalies := 0
		for range 3 * foldEvery {
			tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
			if err != nil || tk.routine {
				t.Fatalf("acquire after an anomaly = %+v, %v; want a ticket that is not routine", tk, err)
			}
			if q.observe(tk, respond(req, 200, odd, ""), time.Now()) != 0 {
				anomalies++
			}
		}
		if anomalies != 3*foldEvery {
			t.Errorf("%d answers with a bad count, %d anomalies returned, want every one", 3*foldEvery, anomalies)
		}
		tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
		if err != nil || tk.routine {
			t.Fatalf("acquire = %+v, %v; want a ticket that is not routine", tk, err)
		}
		q.observe(tk, respond(req, 200, h, ""), time.Now())
		if tk, _, err = q.acquire(ctx, time.Now(), defaultCall); err != nil || !tk.routine {
			t.Errorf("acquire after a clean answer = %+v, %v; want routine again", tk, err)
		}
	})
}

// TestLane: a settled quota with room opens a lane, whose requests take no
// lock; the lane closes on a 429, at the estimated reset, and when the budget
// runs short.
func TestLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, req, h := settledQuota(t)
		ctx := context.Background()
		tk, _, err := q.acquire(ctx, time.Now(), defaultCall)
		if err != nil {
			t.Fatal(err)
		}
		q.observe(tk, nil, time.Now())
		l := q.lane.Load()
		if l == nil {
			t.Fatalf("no lane open on a settled quota with %d of 1000 left", 100)
		}

		// Lane requests take no lock, and their seqs follow on.
		q.mu.Lock()
		next := q.seq.Load()
		var tks []ticket
		n := l.left.Load()
		for i := range n {
			tk, _, err := q.acquire(ctx, time.Now(), defaultCall) // would deadlock if it locked
			if err != nil || !tk.routine || tk.seq != next+uint64(i) || l.left.Load() != n-1-i {
				q.mu.Unlock()
				t.Fatalf("lane request %d: %+v, %v; want routine with seq %d", i, tk, err, next+uint64(i))
			}
			tks = append(tks, tk)
		}
		q.mu.Unlock()
		for _, tk := range tks {
			q.observe(tk, nil, time.Now())
		}

		// A response read with news, even news the model ignores (an
		// absurd window), closes the lane: what its tickets carry may be
		// stale.
		tk, _, err = q.acquire(ctx, time.Now(), defaultCall) // the lane is spent: opens a new one
		if err != nil || q.lane.Load() == nil {
			t.Fatalf("acquire after the lane ran out: %v, lane %v; want a new lane", err, q.lane.Load())
		}
		for tk.seq%foldEvery != 0 { // to an answer read
			q.observe(tk, respond(req, 200, h, ""), time.Now())
			if tk, _, err = q.acquire(ctx, time.Now(), defaultCall); err != nil {
				t.Fatal(err)
			}
		}
		odd := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"900"}, "X-Ratelimit-Window": {"fortnight"}}
		q.observe(tk, respond(req, 200, odd, ""), time.Now())
		if q.lane.Load() != nil {
			t.Errorf("lane open after a response with an absurd window, want closed")
		}
		// It stays closed until an answer comes clean.
		tk, _, err = q.acquire(ctx, time.Now(), defaultCall)
		if err != nil || q.lane.Load() != nil {
			t.Fatalf("acquire after an anomaly: %v, lane %v; want no lane", err, q.lane.Load())
		}
		q.observe(tk, respond(req, 200, h, ""), time.Now())

		// A 429 closes the lane.
		tk, _, err = q.acquire(ctx, time.Now(), defaultCall) // opens a new lane
		if err != nil || q.lane.Load() == nil {
			t.Fatalf("acquire after news: %v, lane %v; want a new lane", err, q.lane.Load())
		}
		q.observe(tk, respond(req, 429, http.Header{"Retry-After": {"1"}}, ""), time.Now())
		if q.lane.Load() != nil {
			t.Errorf("lane open after a 429, want closed")
		}

		// No lane crosses the estimated reset.
		time.Sleep(2 * time.Second) // the pause ends
		// The guard's probe; two seconds later, an answer read under the
		// guard's ceiling, which lifts it; then a lane.
		for i := range 3 {
			tk, _, err = q.acquire(ctx, time.Now(), defaultCall)
			if err != nil || tk.probe != (i == 0) {
				t.Fatalf("acquire %d after the pause = %+v, %v; want probe %v", i, tk, err, i == 0)
			}
			q.observe(tk, respond(req, 200, h, ""), time.Now())
			if i == 0 {
				time.Sleep(2 * time.Second)
			}
		}
		if l := q.lane.Load(); l == nil || !l.tmpl.resetAt.Equal(q.resetAt) {
			t.Fatalf("lane %+v after the pause, want one until the reset %v", l, q.resetAt)
		}
		time.Sleep(time.Until(q.resetAt))
		if _, ok := q.fromLane(time.Now()); ok {
			t.Errorf("lane request at the estimated reset, want the locked path")
		}

		// A short budget closes the lane.
		tk, _, err = q.acquire(ctx, time.Now(), defaultCall)
		if err != nil {
			t.Fatal(err)
		}
		short := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"10"}, "X-Ratelimit-Window": {"hour"}}
		q.observe(tk, respond(req, 200, short, ""), time.Now())
		if q.lane.Load() != nil {
			t.Errorf("lane open with 10 left, want closed (under %d)", 2*laneSize(q.burst))
		}
	})
}

// TestConfirms lists what makes a response read news: the model takes it in
// and closes the lane, whose tickets may carry what it changed.
func TestConfirms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _, _ := settledQuota(t)
		now := time.Now()
		tk, _, err := q.acquire(context.Background(), now, defaultCall)
		if err != nil {
			t.Fatal(err)
		}
		q.observe(tk, nil, now)
		same := signal{dialect: dialectVendor, limit: 1000, count: 899, window: time.Hour}
		tests := []struct {
			name string
			tk   func(ticket) ticket
			code int
			sig  func(signal) signal
			at   time.Duration
			want bool
		}{
			{name: "same quota, same window", want: true},
			{name: "4xx with the same quota", code: 404, want: true},
			{name: "server reset equal to the estimate", sig: func(s signal) signal { s.reset = tk.resetAt; return s }, want: true},
			{name: "not routine", tk: func(t ticket) ticket { t.routine = false; return t }},
			{name: "429", code: 429},
			{name: "503", code: 503},
			{name: "anomaly", sig: func(s signal) signal { s.anomalies = anomalyWindow; return s }},
			{name: "new limit", sig: func(s signal) signal { s.limit = 500; return s }},
			{name: "no limit", sig: func(s signal) signal { s.limit = 0; return s }},
			{name: "new window", sig: func(s signal) signal { s.window = time.Minute; return s }},
			{name: "new dialect", sig: func(s signal) signal { s.dialect = dialectGitHub; return s }},
			{name: "other server reset", sig: func(s signal) signal { s.reset = tk.resetAt.Add(-time.Second); return s }},
			{name: "answer after the estimated reset", at: tk.resetAt.Sub(now)},
		}
		for _, tt := range tests {
			k, sig, code := tk, same, 200
			if tt.tk != nil {
				k = tt.tk(k)
			}
			if tt.sig != nil {
				sig = tt.sig(sig)
			}
			if tt.code != 0 {
				code = tt.code
			}
			if got := k.confirms(code, sig, now.Add(tt.at)); got != tt.want {
				t.Errorf("%s: confirms = %t, want %t", tt.name, got, tt.want)
			}
		}
	})
}

// TestRetryAfterReadWhereItMeans: Retry-After is read on 429, 503 and
// redirections, and ignored (not even an anomaly) on other responses.
func TestRetryAfterReadWhereItMeans(t *testing.T) {
	for _, tt := range []struct {
		code int
		want bool
	}{{200, false}, {204, false}, {404, false}, {500, false}, {301, true}, {429, true}, {503, true}} {
		now := time.Now()
		for _, v := range []string{"30", "soon"} {
			sig := parseSignal(http.Header{"Retry-After": {v}}, tt.code, now)
			read := sig.hasRetryAfter || sig.anomalies&anomalyRetryAfter != 0
			if read != tt.want {
				t.Errorf("status %d, Retry-After %q: read = %t (signal %+v), want %t", tt.code, v, read, sig, tt.want)
			}
		}
	}
}

// TestNoSkipOnceOthersSeen: once another client is seen taking from the
// quota, the lane closes and every response is folded in.
func TestNoSkipOnceOthersSeen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		remaining := 900
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			remaining -= 3 // ours, and two of another client's
			h := http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {strconv.Itoa(remaining)}, "X-Ratelimit-Window": {"hour"}}
			return respond(r, 200, h, ""), nil
		}))
		// An answer may go unread: others show at the latest in the
		// answer read after foldEvery of ours.
		for range foldEvery + 2 {
			time.Sleep(time.Second)
			resp, err := get(t, context.Background(), tr)
			if err != nil {
				t.Fatalf("RoundTrip error = %v", err)
			}
			resp.Body.Close()
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
		q := tr.quotaFor(req, time.Now())
		if q.lane.Load() != nil {
			t.Errorf("lane open with others seen taking from the quota, want closed")
		}
		tk, _, err := q.acquire(context.Background(), time.Now(), defaultCall)
		if err != nil {
			t.Fatal(err)
		}
		if tk.routine {
			t.Errorf("ticket routine with others seen taking from the quota (rate %.2f/s), want not", q.otherRate)
		}
		q.observe(tk, nil, time.Now())
	})
}

// TestLaneConcurrent drives a large quota from many goroutines, so that lane
// and locked takers race (run it under -race): every request reaches the
// server once with a seq of its own, none is left in flight, and the lane is
// used. Fake time passes only while the pacer makes requests wait, far less
// than the hour's window.
func TestLaneConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, workers, each = 1_000_000_000, 8, 2_000
		var sent atomic.Int64
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			rem := limit - sent.Add(1)
			h := http.Header{"X-Ratelimit": {strconv.Itoa(limit)}, "X-Ratelimit-Used": {strconv.FormatInt(rem, 10)}, "X-Ratelimit-Window": {"hour"}}
			return respond(r, 200, h, ""), nil
		}))
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
		q := tr.quotaFor(req, time.Now())
		var wg sync.WaitGroup
		var laneSeen atomic.Bool
		for range workers {
			wg.Go(func() {
				for range each {
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Errorf("RoundTrip error = %v", err)
						return
					}
					resp.Body.Close()
					if q.lane.Load() != nil {
						laneSeen.Store(true)
					}
				}
			})
		}
		wg.Wait()
		if got := sent.Load(); got != workers*each {
			t.Errorf("server saw %d requests, want %d", got, workers*each)
		}
		if got := q.seq.Load(); got != workers*each {
			t.Errorf("seq = %d after %d requests, want one each", got, workers*each)
		}
		if n := q.inflight.Load(); n != 0 {
			t.Errorf("in flight at the end = %d, want 0", n)
		}
		if !laneSeen.Load() {
			t.Errorf("no lane open during the run, want lanes on a quota of %d per hour", limit)
		}
	})
}

// TestIdleQuotasForgotten: a client of many keys keeps a bounded number of
// quotas. Those idle since the previous sweep, with nothing in flight and no
// window of theirs still running, are forgotten; a quota spent until its
// reset, one with a request in flight and one in steady use (whose server
// sends no quota headers) are kept, and the spent one still refuses requests
// without sending them.
func TestIdleQuotasForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var spentSent atomic.Int64
		tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			switch r.URL.Path {
			case "/spent": // nothing remains in this hour's window
				spentSent.Add(1)
				return respond(r, 200, vendorHeader(10, 0, "hour"), ""), nil
			case "/slow":
				<-release
			case "/plain":
				return respond(r, 200, nil, ""), nil
			}
			return respond(r, 200, vendorHeader(100, 99, "minute"), ""), nil
		}), WithKeyFunc(func(r *http.Request) string { return r.URL.Path }),
			// A spent quota is probed once per window or maximum wait:
			// not during this test.
			WithMaxWait(time.Hour))
		ctx := context.Background()
		get := func(path string) error {
			_, err := do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test"+path))
			return err
		}
		entry := func(path string) *quotaEntry {
			tr.mu.RLock()
			defer tr.mu.RUnlock()
			return tr.quotas[quotaKey{custom: path}]
		}

		if err := get("/spent"); err != nil {
			t.Fatal(err)
		}
		spent := entry("/spent")
		slowDone := make(chan error)
		go func() { slowDone <- get("/slow") }()
		synctest.Wait() // /slow is in flight
		slow := entry("/slow")
		if err := get("/plain"); err != nil {
			t.Fatal(err)
		}
		plain := entry("/plain")

		const rounds, keys = 4, 1000
		most := 0
		for r := range rounds {
			for i := range keys {
				if err := get(fmt.Sprintf("/k%d-%d", r, i)); err != nil {
					t.Fatal(err)
				}
				if i%100 == 0 {
					if err := get("/plain"); err != nil {
						t.Fatal(err)
					}
				}
				tr.mu.RLock()
				most = max(most, len(tr.quotas))
				tr.mu.RUnlock()
			}
			time.Sleep(2 * time.Minute) // the keys' minute windows pass
		}
		if want := 2*minSweep + 3; most > want {
			t.Errorf("quotas held = %d at most, want at most %d for %d keys used once", most, want, rounds*keys+2)
		}
		if e := entry(fmt.Sprintf("/k%d-%d", 0, 0)); e != nil {
			t.Errorf("quota of a key idle for %d sweeps still held, want forgotten", rounds-1)
		}
		if e := entry("/spent"); e != spent {
			t.Errorf("spent quota forgotten (entry %p, want %p)", e, spent)
		}
		if e := entry("/plain"); e != plain {
			t.Errorf("quota in steady use forgotten (entry %p, want %p)", e, plain)
		}
		if e := entry("/slow"); e != slow {
			t.Errorf("quota with a request in flight forgotten (entry %p, want %p)", e, slow)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := do(t, tr, newReq(t, short, http.MethodGet, "http://api.test/spent")); !errors.Is(err, ErrRateLimited) {
			t.Errorf("RoundTrip(/spent) error = %v, want ErrRateLimited", err)
		}
		if n := spentSent.Load(); n != 1 {
			t.Errorf("server saw %d requests to /spent, want 1: the spent quota was relearned", n)
		}
		close(release)
		if err := <-slowDone; err != nil {
			t.Errorf("RoundTrip(/slow) error = %v", err)
		}
	})
}

// TestSweepConcurrent forgets quotas while other goroutines use them (run it
// under -race): every request still reaches the server once, none fails, and
// once the traffic stops every quota can be forgotten.
func TestSweepConcurrent(t *testing.T) {
	var sent atomic.Int64
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return respond(r, 200, nil, ""), nil
	}), WithKeyFunc(func(r *http.Request) string { return r.URL.Path }))
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Keys shared between workers, each used again now and then.
				url := fmt.Sprintf("http://api.test/%d", (w*each+i*7)%(3*minSweep))
				if _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, url)); err != nil {
					t.Errorf("RoundTrip(%s) error = %v", url, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := sent.Load(), int64(workers*each); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
	// Idle now, every quota goes in two sweeps: none was left counting a
	// request in flight or waiting.
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.sweep(time.Now())
	tr.sweep(time.Now())
	if n := len(tr.quotas); n != 0 {
		t.Errorf("quotas held after two idle sweeps = %d, want 0", n)
	}
}

// TestWaitersGoInArrivalOrder: requests that wait for the quota are sent in
// the order they came, across window resets and window probes: none is sent
// after one that came later. (Two let go at the same instant may reach the
// base in either order.) Before the queue, every reset woke all waiters at
// the same instant and they went in the order they took the lock, so a
// waiter could miss several windows.
func TestWaitersGoInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 5, Window: time.Minute, Latency: 10 * time.Millisecond})
		var sent sendOrder
		rt := New(sent.wrap(srv.RoundTrip), WithRetries(0), WithMaxWait(10*time.Minute))
		const n = 23
		var wg sync.WaitGroup
		for i := range n {
			time.Sleep(time.Millisecond) // arrive one by one
			wg.Go(func() {
				if code, err := sendNumbered(context.Background(), rt, i); err != nil || code != 200 {
					t.Errorf("request %d: status %d, error %v; want 200", i, code, err)
				}
			})
		}
		wg.Wait()
		at := sent.times()
		if len(at) != n {
			t.Fatalf("sent %d requests, want %d", len(at), n)
		}
		for i := 1; i < n; i++ {
			if at[i] < at[i-1] {
				t.Errorf("request %d sent at %v, before request %d (at %v), which came earlier", i, at[i], i-1, at[i-1])
			}
		}
		if w := at[n-1] - at[0]; w < 4*time.Minute {
			t.Errorf("requests sent over %v, want at least 4 windows (23 requests, 5 per minute)", w)
		}
	})
}

// TestQueueLeave: a waiter whose context ends leaves the queue, whether it is
// the head or behind it, and the others still go, in order; a newcomer that
// the queue ahead would hold past its deadline is refused at once.
func TestQueueLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every answer says one request of 10 per hour is left: after the
		// first answer the budget holds one more request, then nothing
		// until the hour's reset.
		var sent sendOrder
		rt := New(sent.wrap(func(r *http.Request) (*http.Response, error) {
			h := http.Header{"X-Ratelimit": {"10"}, "X-Ratelimit-Used": {"1"}, "X-Ratelimit-Window": {"hour"}}
			return respond(r, 200, h, ""), nil
		}), WithRetries(0), WithMaxWait(time.Hour))
		send := func(ctx context.Context, i int) error {
			_, err := sendNumbered(ctx, rt, i)
			return err
		}
		if err := send(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		// The budget holds one more request, then nothing until the reset.
		if err := send(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ctxHead, cancelHead := context.WithCancel(context.Background())
		ctxMid, cancelMid := context.WithCancel(context.Background())
		errs := make([]error, 6)
		var wg sync.WaitGroup
		for i := 2; i < 6; i++ {
			ctx := context.Background()
			switch i {
			case 2:
				ctx = ctxHead
			case 4:
				ctx = ctxMid
			}
			wg.Go(func() { errs[i] = send(ctx, i) })
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		if order := sent.get(); len(order) != 2 {
			t.Errorf("sent %v before the reset, want [0 1]", order)
		}
		q := rt.quotaFor(&http.Request{URL: &url.URL{Scheme: "http", Host: "api.test"}}, time.Now())
		q.mu.Lock()
		if q.queued != 4 {
			t.Errorf("queued = %d, want 4", q.queued)
		}
		q.mu.Unlock()
		// A newcomer with a deadline before the reset is refused at once.
		ctxShort, cancelShort := context.WithTimeout(context.Background(), time.Minute)
		defer cancelShort()
		start := time.Now()
		var rl *RateLimitError
		if err := send(ctxShort, 9); !errors.As(err, &rl) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("newcomer with a 1-minute deadline: %v after %v, want a *RateLimitError for its deadline at once", err, time.Since(start))
		}
		cancelMid()
		cancelHead()
		wg.Wait()
		for i, want := range map[int]error{2: context.Canceled, 3: nil, 4: context.Canceled, 5: nil} {
			if !errors.Is(errs[i], want) {
				t.Errorf("request %d: error %v, want %v", i, errs[i], want)
			}
		}
		if order := sent.get(); fmt.Sprint(order) != "[0 1 3 5]" {
			t.Errorf("sent %v, want [0 1 3 5]", order)
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.queued != 0 || q.head != nil || q.tail != nil {
			t.Errorf("queue left with %d waiters (head %p, tail %p), want empty", q.queued, q.head, q.tail)
		}
	})
}

// TestEmptyUntilAfterNow: an empty budget pauses until an instant after now,
// even in slot mode under a limit whose slot rounds down to nothing (a
// trillion per 10 ms); a pause that ends at once would spin in acquire.
func TestEmptyUntilAfterNow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []*quota{
		{limit: 1_000_000_000_000, window: 10 * time.Millisecond, slotMode: true},
		{limit: 60, window: time.Minute, slotMode: true},
		{limit: 60, window: time.Minute, resetAt: now.Add(time.Second)},
		{limit: 60, window: time.Minute},
		{limit: 60},
	} {
		if got := q.emptyUntil(now); !got.After(now) {
			t.Errorf("emptyUntil(now) with limit %d, window %v, slot mode %v = now%+v, want after now",
				q.limit, q.window, q.slotMode, got.Sub(now))
		}
	}
}

// sendNumbered sends request number i (its query parameter, which sendOrder
// reads) through rt and returns the status; the body is closed.
func sendNumbered(ctx context.Context, rt http.RoundTripper, i int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/x?i="+strconv.Itoa(i), nil)
	if err != nil {
		return 0, err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sendOrder records the order in which requests reach a base transport, and
// when, by their query parameter i.
type sendOrder struct {
	mu    sync.Mutex
	order []int
	at    map[int]time.Time
}

// wrap returns a base transport that records each request and passes it to
// next.
func (s *sendOrder) wrap(next func(*http.Request) (*http.Response, error)) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		s.mu.Lock()
		s.order = append(s.order, i)
		if s.at == nil {
			s.at = make(map[int]time.Time)
		}
		s.at[i] = time.Now()
		s.mu.Unlock()
		return next(r)
	}
}

func (s *sendOrder) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// times returns when each request i was sent, as a duration since the first
// was, indexed by i.
func (s *sendOrder) times() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.at[s.order[0]]
	d := make([]time.Duration, len(s.at))
	for i, at := range s.at {
		if i >= 0 && i < len(d) {
			d[i] = at.Sub(first)
		}
	}
	return d
}

// TestSlotAtRollProbesAlone: a request whose paced slot comes after the
// estimated reset goes as the new window's first request, alone; the next in
// line waits for its answer. (It used to go as a routine request, and the
// next, finding the window unprobed, went at the same instant as its probe.)
func TestSlotAtRollProbesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 60, Window: time.Minute, Latency: 10 * time.Millisecond})
		var sent sendOrder
		rt := New(sent.wrap(srv.RoundTrip), WithRetries(0))
		send := func(i int) {
			if _, err := sendNumbered(context.Background(), rt, i); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		start := time.Now()
		send(0) // the probe: 60 per minute, paced at one a second, burst 10
		// At 59.2 s twelve requests come: ten go at once, the eleventh's
		// slot is at 60.2 s, after the reset at 60 s, and the twelfth is
		// queued behind it.
		time.Sleep(59200*time.Millisecond - time.Since(start))
		var wg sync.WaitGroup
		for i := 1; i <= 12; i++ {
			wg.Go(func() { send(i) })
			time.Sleep(time.Microsecond)
		}
		wg.Wait()
		at := sent.times()
		if at[11] != 60200*time.Millisecond {
			t.Fatalf("request 11 sent at %v, want 1m0.2s (its paced slot)", at[11])
		}
		if at[12] == at[11] {
			t.Errorf("request 12 sent at %v, with the new window's probe; want after the probe's answer", at[12])
		}
		if st := srv.Stats(); st.Rejected != 0 {
			t.Errorf("server rejected %d requests, want 0", st.Rejected)
		}
	})
}

// defaultCall is a call under the default options, for tests that drive a
// quota directly.
var defaultCall = call{cfg: &config{maxWait: DefaultMaxWait, retries: DefaultRetries}}

// TestLearnRefill: in a quota whose window is only guessed, a sample full at
// both ends (the server refilled all we sent) makes the refill estimate grow;
// one that is not measures it; neither goes below the window's own rate.
func TestLearnRefill(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	tests := []struct {
		name       string
		startRem   int64
		endRem     int64
		n          uint64
		span       time.Duration
		prevRefill float64
		want       float64
	}{
		{"full at both ends: grows", 9, 9, 10, time.Second, 0, 10 * refillGrowth}, // sent 10/s, all refilled
		{"full below the estimate: kept", 9, 9, 10, time.Second, 16, 16},          // never shrinks on a full sample, nor grows past what was sent
		{"draining: measured", 9, 3, 20, time.Second, 20, 17},                     // freed 14 in 1 s; (20+14)/2
		{"nothing freed: no estimate", 9, 0, 9, time.Second, 0, 0},
		{"too short: ignored", 9, 9, 2, time.Second, 0, 0},
		{"too brief: ignored", 9, 9, 10, 100 * time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuota("k", &config{}, nil)
			q.limit, q.window, q.windowGuessed, q.refill = 10, time.Second, true, tt.prevRefill
			q.learnRefill(ticket{seq: 5, sent: t0}, tt.startRem, 0)
			q.learnRefill(ticket{seq: 5 + tt.n, sent: t0.Add(tt.span)}, tt.endRem, 0)
			if math.Abs(q.refill-tt.want) > 1e-9 {
				t.Errorf("refill = %v, want %v", q.refill, tt.want)
			}
		})
	}
}

// TestShortRetryAfterRevealsRefill: a 429 whose Retry-After is far shorter
// than the wait for the window the model believes spent, then an answer that
// is not a 429 to the request sent after it, show a server that frees slots
// one by one (a bucket): the key probes after the Retry-After instead of
// waiting for the window, and learns the refill from then on.
func TestShortRetryAfterRevealsRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
		q := newQuota("k", &config{maxWait: time.Hour}, nil)
		send := func(code int, rem int, retryAfter string) ticket {
			q.mu.Lock()
			tk := q.take(time.Now(), want{cost: 1})
			q.mu.Unlock()
			h := vendorHeader(10, rem, "minute")
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			q.observe(tk, respond(req, code, h, ""), time.Now())
			return tk
		}
		for rem := 9; rem >= 0; rem-- {
			send(200, rem, "")
		}
		q.mu.Lock()
		spent := q.empty(time.Now())
		q.mu.Unlock()
		if !spent {
			t.Fatalf("budget not spent after the window's 10 requests")
		}
		send(429, 0, "0.6")
		time.Sleep(600 * time.Millisecond)
		q.mu.Lock()
		tk, ok, _, _ := q.decide(time.Now(), false, true, want{cost: 1})
		q.mu.Unlock()
		if !ok {
			t.Fatalf("no probe once the Retry-After has passed (the window believed spent ends in a minute)")
		}
		q.observe(tk, respond(req, 200, vendorHeader(10, 0, "minute"), ""), time.Now())
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.refills || !q.slotMode || q.family() != "bucket" {
			t.Errorf("refills %v, slotMode %v, family %q after a short Retry-After and an accepted probe; want both, and a bucket", q.refills, q.slotMode, q.family())
		}
	})
}

// TestLearnRefillNoRunaway: light demand on a bucket that stays full keeps
// the estimate at refillGrowth times the rate sent, sample after sample
// (it once grew by half at every sample, so that a later burst of demand
// went at any speed).
func TestLearnRefillNoRunaway(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	q := newQuota("k", &config{}, nil)
	q.limit, q.window, q.windowGuessed = 10, time.Second, true
	for i := range 50 { // 5 requests a second, the bucket full at every answer
		q.learnRefill(ticket{seq: uint64(5 * i), sent: t0.Add(time.Duration(i) * time.Second)}, 9, 0)
	}
	if want := 10 * refillGrowth; q.refill > want {
		t.Errorf("refill after 50 full samples at 5/s = %v, want at most %v", q.refill, want)
	}
}
