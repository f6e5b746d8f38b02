package ratehttp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestTokenQuota: against OpenAI's headers, requests that declare their
// tokens wait for the token quota's reset once it has no room for them
// (refused here, the wait past the maximum), a request that declares none
// goes, and the quota's state shows the token policy.
func TestTokenQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		requests, tokens := 0, 0
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			n, _ := strconv.Atoi(r.Header.Get("Tokens"))
			requests++
			tokens += n
			h := http.Header{}
			h.Set("X-Ratelimit-Limit-Requests", "1000")
			h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(1000-requests))
			h.Set("X-Ratelimit-Reset-Requests", "6s")
			h.Set("X-Ratelimit-Limit-Tokens", "1000")
			h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(1000-tokens))
			h.Set("X-Ratelimit-Reset-Tokens", "1m0s")
			return respond(r, 200, h, ""), nil
		})
		rt := New(base, WithMaxWait(10*time.Second))
		send := func(n int) error { _, err := sendTokens(rt, n); return err }
		for i := range 2 {
			if err := send(400); err != nil {
				t.Fatalf("request %d of 400 tokens: %v", i, err)
			}
		}
		if err := send(400); !errors.Is(err, ErrRateLimited) {
			t.Errorf("third request of 400 tokens with 200 left: error %v, want ErrRateLimited", err)
		}
		if err := send(0); err != nil {
			t.Errorf("a request that declares no tokens: error %v, want none", err)
		}
		st, _ := rt.Quota(&http.Request{URL: &url.URL{Scheme: "http", Host: "api.test"}})
		if len(st.Policies) != 1 || st.Policies[0].Unit != "tokens" || st.Policies[0].Limit != 1000 || st.Policies[0].Remaining != 200 {
			t.Errorf("Policies = %+v, want the token quota with 200 left", st.Policies)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(rt)
		want := `
# HELP ratehttp_quota_policy_remaining Estimated quota left in each of the server's other policies: its last count less what was sent since (declared tokens, for a token policy).
# TYPE ratehttp_quota_policy_remaining gauge
ratehttp_quota_policy_remaining{client="default",host="api.test",policy="tokens",unit="tokens"} 200
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ratehttp_quota_policy_remaining"); err != nil {
			t.Error(err)
		}
	})
}

// TestTokenQuotaRefill: against a token bucket that refills continuously
// (OpenAI's headers), a request that declares more tokens than are left waits
// until enough have refilled, seconds, not until the bucket is full again (57
// s, past the maximum wait: it would be refused), and the quota's state shows
// what an average request took.
func TestTokenQuotaRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, perSec = 10000, 10000.0 / 60
		base := tokenBucket(limit, perSec)
		rt := New(base, WithMaxWait(10*time.Second))
		send := func(n int) (int, error) { return sendTokens(rt, n) }
		if code, err := send(9500); err != nil || code != 200 {
			t.Fatalf("RoundTrip(9500 tokens) = %d, %v; want 200", code, err)
		}
		start := time.Now()
		code, err := send(1000)
		if err != nil || code != 200 {
			t.Fatalf("RoundTrip(1000 tokens with 500 left) = %d, %v; want 200 once refilled", code, err)
		}
		// 500 more at 9,500 in 57 s: 3 s.
		if waited := time.Since(start); waited < 2900*time.Millisecond || waited > 3100*time.Millisecond {
			t.Errorf("RoundTrip(1000 tokens with 500 left) waited %v, want 3s", waited)
		}
		st, _ := rt.Quota(&http.Request{URL: &url.URL{Scheme: "http", Host: "api.test"}})
		if len(st.Policies) != 1 || st.Policies[0].TokensPerRequest < 999 || st.Policies[0].TokensPerRequest > 1001 {
			t.Errorf("Policies = %+v, want 1000 tokens per request", st.Policies)
		}
	})
}

// TestTokenWaitDoesNotQueue: a request that token gates hold waits out of
// the queue: one that declares no tokens, sent while the other waits for
// its tokens, goes at once, and the other goes when they have refilled.
// Before, the second queued behind the first, for the first's whole wait.
func TestTokenWaitDoesNotQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, perSec = 10000, 10000.0 / 60
		base := tokenBucket(limit, perSec)
		rt := New(base, WithMaxWait(10*time.Second))
		send := func(n int) error { _, err := sendTokens(rt, n); return err }
		if err := send(9500); err != nil {
			t.Fatalf("RoundTrip(9500 tokens): %v", err)
		}
		start := time.Now()
		var tokensWaited time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := send(1000); err != nil {
				t.Errorf("RoundTrip(1000 tokens with 500 left): %v", err)
			}
			tokensWaited = time.Since(start)
		})
		synctest.Wait() // it waits for its tokens
		if err := send(0); err != nil {
			t.Fatalf("RoundTrip(no tokens): %v", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("a request that declares no tokens waited %v behind one that waits for its tokens, want no wait", waited)
		}
		wg.Wait()
		// 500 more at 9,500 in 57 s: 3 s.
		if tokensWaited < 2900*time.Millisecond || tokensWaited > 3100*time.Millisecond {
			t.Errorf("RoundTrip(1000 tokens with 500 left) waited %v, want 3s", tokensWaited)
		}
	})
}

// tokenBucket is an API in OpenAI's manner with a token bucket of limit
// tokens refilled at perSec, full at the start: a request takes the tokens
// its Tokens header names, or draws a 429 when fewer are left.
func tokenBucket(limit, perSec float64) roundTripFunc {
	var mu sync.Mutex
	level, last := limit, time.Now()
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		level = min(level+perSec*now.Sub(last).Seconds(), limit)
		last = now
		n, _ := strconv.Atoi(r.Header.Get("Tokens"))
		code := 200
		if float64(n) > level {
			code = http.StatusTooManyRequests
		} else {
			level -= float64(n)
		}
		h := http.Header{}
		h.Set("X-Ratelimit-Limit-Requests", "1000")
		h.Set("X-Ratelimit-Remaining-Requests", "999")
		h.Set("X-Ratelimit-Reset-Requests", "60ms")
		h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(int(limit)))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(int(level)))
		full := time.Duration((limit - level) / perSec * float64(time.Second)).Round(time.Millisecond)
		h.Set("X-Ratelimit-Reset-Tokens", full.String())
		return respond(r, code, h, ""), nil
	})
}

// sendTokens sends a request that uses n tokens (its Tokens header), and
// declares them with TokenCost unless n is 0, and returns its status.
func sendTokens(rt http.RoundTripper, n int) (int, error) {
	ctx := context.Background()
	if n > 0 {
		ctx = WithRequestOptions(ctx, TokenCost(n))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/v1/chat", nil)
	req.Header.Set("Tokens", strconv.Itoa(n))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
