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

// TestGateWait: a gate holds a request only while it has no room for it:
// requests for a request gate, declared tokens for a token gate (never a
// request that declares none), and never once its reset has passed.
func TestGateWait(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	reset := t0.Add(time.Minute)
	tests := []struct {
		name     string
		give     gate
		sent     uint64 // requests taken after the anchor's
		tokens   int64  // tokens declared after the anchor's
		w        want
		wantHeld bool
	}{
		{"requests: room", gate{unit: unitRequests, rem: 2, reset: reset}, 1, 0, want{cost: 1}, false},
		{"requests: spent", gate{unit: unitRequests, rem: 2, reset: reset}, 2, 0, want{cost: 1}, true},
		{"requests: cost over what is left", gate{unit: unitRequests, rem: 5, reset: reset}, 1, 0, want{cost: 5}, true},
		{"requests: reset passed", gate{unit: unitRequests, rem: 0, reset: t0.Add(-time.Second)}, 9, 0, want{cost: 1}, false},
		{"tokens: none declared", gate{unit: unitTokens, rem: 0, reset: reset}, 0, 0, want{cost: 1}, false},
		{"tokens: room", gate{unit: unitTokens, rem: 1000, reset: reset}, 0, 500, want{cost: 1, tokens: 500}, false},
		{"tokens: short", gate{unit: unitTokens, rem: 1000, reset: reset}, 0, 600, want{cost: 1, tokens: 500}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuota("k", &config{}, nil)
			q.seq.Store(10)
			g := tt.give
			g.seq = 9 // the anchor took seq 9
			q.gates[0], q.ngates = g, 1
			q.seq.Add(tt.sent)
			q.tokenSeq.Add(tt.tokens)
			d, held := q.gateWait(t0, tt.w)
			if held != tt.wantHeld || held && d != time.Minute {
				t.Errorf("gateWait = %v, %v; want held %v (until the reset)", d, held, tt.wantHeld)
			}
		})
	}
}

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
		send := func(n int) error {
			ctx := context.Background()
			if n > 0 {
				ctx = WithRequestOptions(ctx, TokenCost(n))
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/v1/chat", nil)
			req.Header.Set("Tokens", strconv.Itoa(n))
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
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
