package ratehttptest

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// headersAfter sends n requests at 10 s intervals, starting 5 s into a
// minute window of the bubble's clock (midnight UTC, 2000-01-01), and returns
// the headers of the last response with its status.
func headersAfter(t *testing.T, cfg Config, n int) (http.Header, int) {
	t.Helper()
	var h http.Header
	var code int
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(cfg)
		time.Sleep(5 * time.Second)
		for i := range n {
			if i > 0 {
				time.Sleep(10 * time.Second)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://api.test/x", nil)
			resp, err := srv.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			resp.Body.Close()
			h, code = resp.Header, resp.StatusCode
		}
	})
	return h, code
}

func TestDialects(t *testing.T) {
	// Three requests of a quota of 3 per minute: the last, at 00:00:25, is
	// accepted and spends it; the window resets at 00:01:00, 35 s later.
	const reset = "946684860" // 2000-01-01T00:01:00Z
	tests := []struct {
		give    Dialect
		want    map[string]string
		absent  []string
		policy  Policy
		limit   int
		window  time.Duration
		replies int
	}{
		{give: DialectVendor, want: map[string]string{"X-Ratelimit": "3", "X-Ratelimit-Used": "0", "X-Ratelimit-Window": "minute"}},
		{give: DialectIETF, want: map[string]string{
			"Ratelimit-Policy": `"default";q=3;w=60, "app";q=12;w=60`,
			"Ratelimit":        `"default";r=0;t=35, "app";r=9;t=35`,
		}, absent: []string{"X-Ratelimit"}},
		{give: DialectGitLab, want: map[string]string{
			"Ratelimit-Limit": "3", "Ratelimit-Observed": "3", "Ratelimit-Remaining": "0",
			"Ratelimit-Reset": reset, "Ratelimit-Resettime": "Sat, 01 Jan 2000 00:01:00 GMT",
		}},
		{give: DialectGitHub, want: map[string]string{
			"X-Ratelimit-Limit": "3", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "3",
			"X-Ratelimit-Reset": reset, "X-Ratelimit-Resource": "core",
		}},
		{give: DialectDiscord, want: map[string]string{
			"X-Ratelimit-Limit": "3", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": reset + ".000",
			"X-Ratelimit-Reset-After": "35.000", "X-Ratelimit-Bucket": "ratehttptest",
		}, absent: []string{"X-Ratelimit-Scope"}},
		{give: DialectReddit, want: map[string]string{
			"X-Ratelimit-Used": "3", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "35",
		}, absent: []string{"X-Ratelimit-Limit"}},
		{give: DialectTwitter, want: map[string]string{
			"X-Rate-Limit-Limit": "3", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": reset,
		}},
		{give: DialectOpenAI, want: map[string]string{
			"X-Ratelimit-Limit-Requests": "3", "X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "35s",
			"X-Ratelimit-Limit-Tokens": "3000", "X-Ratelimit-Remaining-Tokens": "0", "X-Ratelimit-Reset-Tokens": "35s",
		}},
		{give: DialectAnthropic, want: map[string]string{
			"Anthropic-Ratelimit-Requests-Limit": "3", "Anthropic-Ratelimit-Requests-Remaining": "0",
			"Anthropic-Ratelimit-Requests-Reset": "2000-01-01T00:01:00Z",
			"Anthropic-Ratelimit-Tokens-Limit":   "3000", "Anthropic-Ratelimit-Output-Tokens-Remaining": "0",
		}},
		{give: DialectAPIG, want: map[string]string{
			"X-Apig-Ratelimit-Api":  "remain:0,limit:3,time:1 minute",
			"X-Apig-Ratelimit-User": "remain:3,limit:6,time:1 minute",
			"X-Apig-Ratelimit-App":  "remain:9,limit:12,time:1 minute",
			"X-Apig-Ratelimit-Ip":   "remain:27,limit:30,time:1 minute",
		}},
		// Shopify: a leaky bucket of 40 draining in 20 s, 2 per second; three
		// requests 10 s apart leave a level of 1.
		{give: DialectShopify, policy: LeakyBucket, limit: 40, window: 20 * time.Second,
			want: map[string]string{"X-Shopify-Shop-Api-Call-Limit": "1/40"}},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			cfg := Config{Limit: 3, Window: time.Minute, Dialect: tt.give, Policy: tt.policy}
			if tt.limit > 0 {
				cfg.Limit, cfg.Window = tt.limit, tt.window
			}
			h, code := headersAfter(t, cfg, 3)
			if code != http.StatusOK {
				t.Fatalf("third request status = %d, want 200", code)
			}
			for k, want := range tt.want {
				if got := h.Get(k); got != want {
					t.Errorf("%v: %s = %q, want %q", tt.give, k, got, want)
				}
			}
			for _, k := range append(tt.absent, "Retry-After") {
				if v, ok := h[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("%v: %s = %q, want absent", tt.give, k, v)
				}
			}
			if tt.give != DialectVendor && (h.Get(HeaderLimit) != "" || h.Get(HeaderWindow) != "") {
				t.Errorf("%v sends the vendor's %s or %s", tt.give, HeaderLimit, HeaderWindow)
			}
		})
	}
}

// TestDialectThrottled checks what a 429 adds: Retry-After as configured,
// Discord's scope.
func TestDialectThrottled(t *testing.T) {
	h, code := headersAfter(t, Config{Limit: 2, Window: time.Minute, Dialect: DialectDiscord, RetryAfter: true}, 3)
	if code != http.StatusTooManyRequests {
		t.Fatalf("third request status = %d, want 429", code)
	}
	for k, want := range map[string]string{"X-Ratelimit-Scope": "user", "X-Ratelimit-Remaining": "0", "Retry-After": "35"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestDialectOmitAndLowercase(t *testing.T) {
	h, _ := headersAfter(t, Config{Limit: 3, Window: time.Minute, Dialect: DialectGitHub, OmitHeaders: true}, 1)
	for k := range h {
		if strings.Contains(strings.ToLower(k), "ratelimit") {
			t.Errorf("OmitHeaders: %s sent", k)
		}
	}
	h, _ = headersAfter(t, Config{Limit: 3, Window: time.Minute, Dialect: DialectGitHub, LowercaseHeaders: true}, 1)
	// As an HTTP/2 peer sends it: not the canonical key.
	//lint:ignore SA1008 the key is meant not to be canonical
	if got := h["x-ratelimit-remaining"]; len(got) != 1 || got[0] != "2" {
		t.Errorf("LowercaseHeaders: x-ratelimit-remaining = %q, want [2]", got)
	}
}

// TestDialectBucketReset checks the reset of a policy without windows: the
// time to give back every request used, at Limit per Window.
func TestDialectBucketReset(t *testing.T) {
	h, _ := headersAfter(t, Config{Limit: 60, Window: time.Minute, Policy: TokenBucket, Dialect: DialectOpenAI}, 1)
	if got, want := h.Get("X-Ratelimit-Reset-Requests"), "1s"; got != want {
		t.Errorf("token bucket, one request used: reset = %q, want %q", got, want)
	}
}

func TestDialectString(t *testing.T) {
	for d := DialectVendor; d <= DialectShopify; d++ {
		if s := d.String(); !strings.HasPrefix(s, "Dialect") || strings.Contains(s, "(") {
			t.Errorf("Dialect(%d).String() = %q", int(d), s)
		}
	}
	if got := Dialect(42).String(); got != "Dialect(42)" {
		t.Errorf("Dialect(42).String() = %q, want %q", got, "Dialect(42)")
	}
}

func TestDialectInvalid(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Config.Dialect") {
			t.Errorf("NewServer(Dialect: 42) panic = %v, want one naming Config.Dialect", r)
		}
	}()
	NewServer(Config{Limit: 1, Dialect: 42})
}
