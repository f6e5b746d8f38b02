package ratehttp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// This file tests the dialects of single APIs (OpenAI, Anthropic, APIG,
// Shopify, Discord, Reddit, GitLab) and the choice of the binding policy
// among several. Each case's headers are the vendor's documented example
// where it has one; FuzzParseSignalDialects keeps them as seed corpus.

// dialectTests are responses of the dialects that describe several policies
// or say more than one limit, with the signal and the detail they give.
func dialectTests(t0 time.Time) []struct {
	name string
	give http.Header
	want signal
	// wantDetail is compared when not nil (binding -1 and no policy is
	// detail{binding: -1}).
	wantDetail *detail
} {
	unix := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }
	rfc3339 := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	req := func(name string, limit, count int64, window time.Duration, reset time.Time) policy {
		return policy{name: name, unit: unitRequests, limit: limit, count: count, window: window, reset: reset}
	}
	pol := func(name string, unit quotaUnit, limit, count int64, window time.Duration, reset time.Time) policy {
		return policy{name: name, unit: unit, limit: limit, count: count, window: window, reset: reset}
	}
	var none time.Time
	return []struct {
		name       string
		give       http.Header
		want       signal
		wantDetail *detail
	}{
		// APIG: four policies, each remain:N,limit:N,time:N unit.
		{
			name: "apig",
			give: setHeaders(
				"X-Apig-RateLimit-Api", "remain:9,limit:10,time:10 second",
				"X-Apig-RateLimit-User", "remain:99,limit:100,time:1 minute",
				"X-Apig-RateLimit-App", "remain:999,limit:1000,time:1 hour",
				"X-Apig-RateLimit-Ip", "remain:19,limit:20,time:10 second"),
			// The app's 999 in an hour is the fewest per second.
			want: signal{dialect: dialectAPIG, limit: 1000, count: 999, window: time.Hour},
			wantDetail: &detail{binding: 2, npolicies: 4, policies: [maxPolicies]policy{
				req("api", 10, 9, 10*time.Second, none), req("user", 100, 99, time.Minute, none),
				req("app", 1000, 999, time.Hour, none), req("ip", 20, 19, 10*time.Second, none),
			}},
		},
		{
			// The app's policy is spent: it binds, whatever the others allow.
			name: "apig spent policy binds",
			give: setHeaders(
				"X-Apig-RateLimit-Api", "remain:9,limit:10,time:10 second",
				"X-Apig-RateLimit-App", "remain:0,limit:1000,time:1 day"),
			want: signal{dialect: dialectAPIG, limit: 1000, count: 0, window: 24 * time.Hour},
		},
		{
			name: "apig spaces, case, order and unknown keys",
			give: setHeaders("X-Apig-RateLimit-Api", " Limit : 10 , TIME: 10 seconds ,remain:3, burst:5"),
			want: signal{dialect: dialectAPIG, limit: 10, count: 3, window: 10 * time.Second},
		},
		{
			name: "apig user alone is no dialect",
			give: setHeaders("X-Apig-RateLimit-User", "remain:99,limit:100,time:1 minute"),
			want: signal{count: -1},
		},
		{
			name: "apig nonsense",
			give: setHeaders(
				"X-Apig-RateLimit-Api", "remain:lots,time:fortnight",
				"X-Apig-RateLimit-Ip", "remain:30,limit:20,time:10 second"),
			want: signal{dialect: dialectAPIG, limit: 20, count: -1, window: 10 * time.Second,
				anomalies: anomalyCount | anomalyWindow | anomalyLimit | anomalyCountOverLimit},
		},

		// GitLab: the older IETF fields, with Observed (used) and ResetTime.
		{
			name: "gitlab",
			give: setHeaders(
				"RateLimit-Limit", "60", "RateLimit-Observed", "67", "RateLimit-Remaining", "0",
				"RateLimit-Reset", unix(time.Minute), "RateLimit-ResetTime", t0.Add(time.Minute).Format(http.TimeFormat)),
			want: signal{dialect: dialectIETFOld, limit: 60, count: 0, reset: t0.Add(time.Minute)},
		},
		{
			name: "gitlab reset time alone",
			give: setHeaders("RateLimit-Limit", "60", "RateLimit-Remaining", "7", "RateLimit-ResetTime", t0.Add(time.Minute).Format(http.TimeFormat)),
			want: signal{dialect: dialectIETFOld, limit: 60, count: 7, reset: t0.Add(time.Minute)},
		},

		// OpenAI: requests and tokens, resets as Go durations.
		{
			name: "openai",
			give: setHeaders(
				"x-ratelimit-limit-requests", "60", "x-ratelimit-limit-tokens", "150000",
				"x-ratelimit-remaining-requests", "59", "x-ratelimit-remaining-tokens", "149984",
				"x-ratelimit-reset-requests", "1s", "x-ratelimit-reset-tokens", "6m0s"),
			want: signal{dialect: dialectOpenAI, limit: 60, count: 59, window: time.Minute, reset: t0.Add(time.Second)},
			wantDetail: &detail{binding: 0, npolicies: 2, policies: [maxPolicies]policy{
				req("requests", 60, 59, time.Minute, t0.Add(time.Second)),
				pol("tokens", unitTokens, 150000, 149984, 0, t0.Add(6*time.Minute)),
			}},
		},
		{
			// A spent token quota never stalls requests.
			name: "openai tokens spent",
			give: setHeaders(
				"x-ratelimit-limit-requests", "10000", "x-ratelimit-limit-tokens", "2000000",
				"x-ratelimit-remaining-requests", "9990", "x-ratelimit-remaining-tokens", "0",
				"x-ratelimit-reset-requests", "60ms", "x-ratelimit-reset-tokens", "12ms"),
			want: signal{dialect: dialectOpenAI, limit: 10000, count: 9990, window: time.Minute, reset: t0.Add(60 * time.Millisecond)},
		},
		{
			name: "openai per day",
			give: setHeaders("x-ratelimit-limit-requests", "200", "x-ratelimit-remaining-requests", "150", "x-ratelimit-reset-requests", "6h0m0s"),
			want: signal{dialect: dialectOpenAI, limit: 200, count: 150, window: 24 * time.Hour, reset: t0.Add(6 * time.Hour)},
		},
		{
			name: "openai full bucket has no window",
			give: setHeaders("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "60", "x-ratelimit-reset-requests", "0s"),
			want: signal{dialect: dialectOpenAI, limit: 60, count: 60, reset: t0},
		},
		{
			name: "openai nonsense",
			give: setHeaders("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "61", "x-ratelimit-reset-requests", "-1s"),
			want: signal{dialect: dialectOpenAI, limit: 60, count: -1, anomalies: anomalyCountOverLimit | anomalyReset},
		},
		{
			name: "openai tokens alone is no dialect",
			give: setHeaders("x-ratelimit-limit-tokens", "150000", "x-ratelimit-remaining-tokens", "149984"),
			want: signal{count: -1},
		},

		// Anthropic: requests and three token quotas, resets as RFC 3339.
		{
			name: "anthropic",
			give: setHeaders(
				"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
				"anthropic-ratelimit-requests-reset", rfc3339(time.Second),
				"anthropic-ratelimit-tokens-limit", "40000", "anthropic-ratelimit-tokens-remaining", "39000",
				"anthropic-ratelimit-tokens-reset", rfc3339(2*time.Second),
				"anthropic-ratelimit-input-tokens-limit", "30000", "anthropic-ratelimit-input-tokens-remaining", "29500",
				"anthropic-ratelimit-input-tokens-reset", rfc3339(time.Second),
				"anthropic-ratelimit-output-tokens-limit", "10000", "anthropic-ratelimit-output-tokens-remaining", "0",
				"anthropic-ratelimit-output-tokens-reset", rfc3339(time.Minute),
				"retry-after", "60"),
			want: signal{dialect: dialectAnthropic, limit: 50, count: 49, window: time.Minute, reset: t0.Add(time.Second),
				retryAfter: time.Minute, hasRetryAfter: true},
			wantDetail: &detail{binding: 0, npolicies: 4, policies: [maxPolicies]policy{
				req("requests", 50, 49, time.Minute, t0.Add(time.Second)),
				pol("tokens", unitTokens, 40000, 39000, time.Minute, t0.Add(2*time.Second)),
				pol("input-tokens", unitInputTokens, 30000, 29500, time.Minute, t0.Add(time.Second)),
				pol("output-tokens", unitOutputTokens, 10000, 0, time.Minute, t0.Add(time.Minute)),
			}},
		},
		{
			name: "anthropic reset with a fraction and an offset",
			give: setHeaders(
				"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "0",
				"anthropic-ratelimit-requests-reset", t0.Add(1500*time.Millisecond).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano),
				"anthropic-ratelimit-tokens-limit", "40000"),
			want: signal{dialect: dialectAnthropic, limit: 50, count: 0, window: time.Minute, reset: t0.Add(1500 * time.Millisecond)},
		},
		{
			name: "anthropic tokens only: no request limit",
			give: setHeaders("anthropic-ratelimit-tokens-limit", "40000", "anthropic-ratelimit-tokens-remaining", "0"),
			want: signal{dialect: dialectAnthropic, count: -1},
		},
		{
			name: "anthropic nonsense reset",
			give: setHeaders(
				"anthropic-ratelimit-tokens-limit", "40000",
				"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "9",
				"anthropic-ratelimit-requests-reset", "tomorrow"),
			want: signal{dialect: dialectAnthropic, limit: 50, count: 9, window: time.Minute, anomalies: anomalyReset},
		},

		// Discord: GitHub's names, and Reset-After, Bucket, Scope, Global.
		{
			name: "discord reset after is preferred",
			give: setHeaders(
				"X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(time.Hour)+".123",
				"X-RateLimit-Reset-After", "64.57", "X-RateLimit-Bucket", "abcd1234", "X-RateLimit-Scope", "user"),
			want:       signal{dialect: dialectGitHub, limit: 5, count: 0, reset: t0.Add(64570 * time.Millisecond)},
			wantDetail: &detail{binding: -1, bucket: "abcd1234", scope: "user"},
		},
		{
			name: "discord global",
			give: setHeaders(
				"X-RateLimit-Limit", "50", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "0.5",
				"X-RateLimit-Global", "true", "Retry-After", "0.5"),
			want:       signal{dialect: dialectGitHub, limit: 50, count: 0, reset: t0.Add(500 * time.Millisecond), retryAfter: 500 * time.Millisecond, hasRetryAfter: true},
			wantDetail: &detail{binding: -1, scope: "global"},
		},
		{
			name: "discord nonsense reset after keeps the reset",
			give: setHeaders("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "1", "X-RateLimit-Reset", unix(time.Minute), "X-RateLimit-Reset-After", "soon"),
			want: signal{dialect: dialectGitHub, limit: 5, count: 1, reset: t0.Add(time.Minute), anomalies: anomalyReset},
		},

		// Reddit: used means used; remaining is a decimal.
		{
			name: "reddit fractional remaining rounds the limit up",
			give: setHeaders("X-Ratelimit-Used", "3", "X-Ratelimit-Remaining", "596.5", "X-Ratelimit-Reset", "42"),
			want: signal{dialect: dialectGitHub, limit: 600, count: 596, reset: t0.Add(42 * time.Second)},
		},
		{
			name: "reddit nonsense used",
			give: setHeaders("X-Ratelimit-Used", "many", "X-Ratelimit-Remaining", "596", "X-Ratelimit-Reset", "42"),
			want: signal{dialect: dialectGitHub, count: 596, reset: t0.Add(42 * time.Second)},
		},

		// Shopify: used/capacity of a leaky bucket that drains in 20 s.
		{
			name: "shopify",
			give: setHeaders("X-Shopify-Shop-Api-Call-Limit", "32/40"),
			want: signal{dialect: dialectShopify, limit: 40, count: 8, window: 20 * time.Second, reset: t0.Add(16 * time.Second)},
		},
		{
			name: "shopify plus, empty bucket",
			give: setHeaders("X-Shopify-Shop-Api-Call-Limit", "0/400"),
			want: signal{dialect: dialectShopify, limit: 400, count: 400, window: 20 * time.Second, reset: t0},
		},
		{
			name: "shopify full, 429",
			give: setHeaders("X-Shopify-Shop-Api-Call-Limit", "40/40", "Retry-After", "2.0"),
			want: signal{dialect: dialectShopify, limit: 40, count: 0, window: 20 * time.Second, reset: t0.Add(20 * time.Second),
				retryAfter: 2 * time.Second, hasRetryAfter: true},
		},
		{
			name: "shopify nonsense",
			give: setHeaders("X-Shopify-Shop-Api-Call-Limit", "41/40"),
			want: signal{dialect: dialectShopify, limit: 40, count: -1, window: 20 * time.Second, reset: t0, anomalies: anomalyCountOverLimit},
		},
		{
			name: "shopify no capacity",
			give: setHeaders("X-Shopify-Shop-Api-Call-Limit", "32"),
			want: signal{dialect: dialectShopify, count: -1, anomalies: anomalyLimit},
		},

		// Cloudflare and the IETF drafts: several named policies.
		{
			// Cloudflare's example: the RateLimit item and the policy are
			// named differently; the lone item takes the policy.
			name: "cloudflare",
			give: setHeaders("Ratelimit", `"default";r=50;t=30`, "Ratelimit-Policy", `"burst";q=100;w=60`),
			want: signal{dialect: dialectIETF, limit: 100, count: 50, window: time.Minute, reset: t0.Add(30 * time.Second)},
		},
		{
			// The draft's example of several windows: "day" is the
			// closest limit to reach.
			name: "ietf draft several windows",
			give: setHeaders(
				"RateLimit-Policy", `"hour";q=1000;w=3600, "day";q=5000;w=86400`,
				"RateLimit", `"day";r=100;t=36000`),
			want: signal{dialect: dialectIETF, limit: 5000, count: 100, window: 24 * time.Hour, reset: t0.Add(10 * time.Hour)},
			wantDetail: &detail{binding: 0, npolicies: 2, policies: [maxPolicies]policy{
				req("day", 5000, 100, 24*time.Hour, t0.Add(10*time.Hour)),
				req("hour", 1000, -1, time.Hour, none),
			}},
		},
		{
			name: "ietf two live policies, lists split over lines",
			give: http.Header{
				"Ratelimit-Policy": {`"permin";q=50;w=60`, `"perhr";q=1000;w=3600`},
				"Ratelimit":        {`"permin";r=10;t=30`, `"perhr";r=100;t=3000`},
			},
			// permin allows 10 in 30 s, perhr 100 in 3000 s: perhr binds.
			want: signal{dialect: dialectIETF, limit: 1000, count: 100, window: time.Hour, reset: t0.Add(3000 * time.Second)},
		},
		{
			name: "ietf the spent policy binds",
			give: setHeaders(
				"RateLimit-Policy", `"permin";q=50;w=60, "perhr";q=1000;w=3600`,
				"RateLimit", `"permin";r=0;t=30, "perhr";r=100;t=3000`),
			want: signal{dialect: dialectIETF, limit: 50, count: 0, window: time.Minute, reset: t0.Add(30 * time.Second)},
		},
		{
			// Bytes are not requests: their spent quota never binds.
			name: "ietf quota units",
			give: setHeaders(
				"RateLimit-Policy", `"bytes";q=65535;qu="content-bytes";w=10, "reqs";q=100;w=60`,
				"RateLimit", `"bytes";r=0;t=10, "reqs";r=50;t=30`),
			want: signal{dialect: dialectIETF, limit: 100, count: 50, window: time.Minute, reset: t0.Add(30 * time.Second)},
			wantDetail: &detail{binding: 1, npolicies: 2, policies: [maxPolicies]policy{
				pol("bytes", unitOther, 65535, 0, 10*time.Second, t0.Add(10*time.Second)),
				req("reqs", 100, 50, time.Minute, t0.Add(30*time.Second)),
			}},
		},
		{
			// A cached response's RateLimit fields may be stale: ignored
			// (draft 11, section 7.3), its Retry-After still read.
			name: "ietf from a cache",
			give: setHeaders("Ratelimit", `"default";r=50;t=30`, "Ratelimit-Policy", `"burst";q=100;w=60`, "Age", "12", "Retry-After", "5"),
			want: signal{count: -1, retryAfter: 5 * time.Second, hasRetryAfter: true},
		},
		{
			name: "ietf old from a cache",
			give: setHeaders("Ratelimit-Limit", "100", "Ratelimit-Remaining", "0", "Ratelimit-Reset", "30", "Age", "1"),
			want: signal{count: -1},
		},
		{
			// Age 0, or not a number: not from a cache.
			name: "ietf age zero",
			give: setHeaders("Ratelimit", `"default";r=50;t=30`, "Ratelimit-Policy", `"burst";q=100;w=60`, "Age", "0"),
			want: signal{dialect: dialectIETF, limit: 100, count: 50, window: time.Minute, reset: t0.Add(30 * time.Second)},
		},
		{
			name: "ietf more policies than kept",
			give: setHeaders(
				"RateLimit", `"a";r=5;t=1, "b";r=5;t=1, "c";r=5;t=1, "d";r=5;t=1, "e";r=0;t=1`),
			want: signal{dialect: dialectIETF, count: 5, reset: t0.Add(time.Second)},
		},

		// Generic middleware leniencies.
		{
			name: "middleware reset as delta, fractional retry-after, UTC date, decimal limit",
			give: setHeaders(
				"X-RateLimit-Limit", "5.00", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "20",
				"Retry-After", "19.991"),
			want: signal{dialect: dialectGitHub, limit: 5, count: 0, reset: t0.Add(20 * time.Second), retryAfter: 19991 * time.Millisecond, hasRetryAfter: true},
		},
		{
			name: "middleware retry-after date in UTC",
			give: setHeaders("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(20*time.Second), "Retry-After", t0.Add(20*time.Second).Format(time.RFC1123)),
			want: signal{dialect: dialectGitHub, limit: 5, count: 0, reset: t0.Add(20 * time.Second), retryAfter: 20 * time.Second, hasRetryAfter: true},
		},
	}
}

func TestParseSignalDialects(t *testing.T) {
	t0 := headersT0
	for _, tt := range dialectTests(t0) {
		t.Run(tt.name, func(t *testing.T) {
			var d detail
			got := parseSignalDetail(tt.give, http.StatusTooManyRequests, t0, &d)
			if diff := diffSignal(got, tt.want); diff != "" {
				t.Errorf("parseSignalDetail(%v, 429, t0): %s", tt.give, diff)
			}
			if tt.wantDetail != nil {
				if diff := diffDetail(d, *tt.wantDetail); diff != "" {
					t.Errorf("parseSignalDetail(%v, 429, t0) detail: %s", tt.give, diff)
				}
			}
			// parseSignal gives the same signal without the detail.
			if plain := parseSignal(tt.give, http.StatusTooManyRequests, t0); diffSignal(plain, got) != "" {
				t.Errorf("parseSignal(%v) = %+v, but parseSignalDetail gives %+v", tt.give, plain, got)
			}
		})
	}
}

// diffDetail describes how got differs from want, or returns "".
func diffDetail(got, want detail) string {
	var d []string
	if got.binding != want.binding || got.npolicies != want.npolicies {
		d = append(d, fmt.Sprintf("binding, npolicies = %d, %d, want %d, %d", got.binding, got.npolicies, want.binding, want.npolicies))
	}
	for i := range maxPolicies {
		g, w := got.policies[i], want.policies[i]
		if g.name != w.name || g.unit != w.unit || g.limit != w.limit || g.count != w.count || g.window != w.window || !g.reset.Equal(w.reset) {
			d = append(d, fmt.Sprintf("policies[%d] = %+v, want %+v", i, g, w))
		}
	}
	if got.bucket != want.bucket || got.scope != want.scope {
		d = append(d, fmt.Sprintf("bucket, scope = %q, %q, want %q, %q", got.bucket, got.scope, want.bucket, want.scope))
	}
	return strings.Join(d, "; ")
}

func TestBind(t *testing.T) {
	t0 := headersT0
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name string
		give []policy
		want int8
	}{
		{"none", nil, -1},
		{"tokens only", []policy{{unit: unitTokens, limit: 10, count: 0, reset: at(time.Minute)}}, -1},
		{"lowest rate", []policy{
			{limit: 10, count: 9, window: time.Second},    // 9/s
			{limit: 1000, count: 900, window: time.Hour}}, // 0.25/s
			1},
		{"spent binds", []policy{
			{limit: 1000, count: 900, window: time.Hour},
			{limit: 10, count: 0, reset: at(time.Second)}},
			1},
		{"later refill among spent", []policy{
			{limit: 10, count: 0, reset: at(time.Second)},
			{limit: 1000, count: 0, reset: at(time.Hour)}},
			1},
		{"refilled already", []policy{
			{limit: 10, count: 0, reset: at(-time.Second)},
			{limit: 1000, count: 900, reset: at(time.Hour)}},
			1},
		{"unknown count uses the limit", []policy{
			{limit: 100, count: -1, window: time.Minute},     // 1.67/s
			{limit: 100, count: 90, reset: at(time.Minute)}}, // 1.5/s
			1},
		{"unrankable only as a last resort", []policy{
			{limit: 100, count: 5},
			{limit: 100, count: 90, reset: at(time.Minute)}},
			1},
		{"unrankable alone", []policy{{limit: 100, count: 5}}, 0},
		{"tie to the later refill", []policy{
			{limit: 10, count: 1, reset: at(time.Second)},
			{limit: 60, count: 60, reset: at(time.Minute)}},
			1},
		{"tokens never bind", []policy{
			{unit: unitTokens, limit: 1000, count: 0, reset: at(time.Minute)},
			{limit: 100, count: 99, reset: at(time.Minute)}},
			1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d detail
			d.npolicies = uint8(copy(d.policies[:], tt.give))
			s := signal{count: -1}
			s.bind(&d, t0)
			if d.binding != tt.want {
				t.Fatalf("bind(%+v) = %d, want %d", tt.give, d.binding, tt.want)
			}
			if tt.want >= 0 {
				p := tt.give[tt.want]
				if s.limit != p.limit || s.count != p.count || s.window != p.window || !s.reset.Equal(p.reset) {
					t.Errorf("bind(%+v) copied %+v, want policy %d", tt.give, s, tt.want)
				}
			} else if s.limit != 0 || s.count != -1 {
				t.Errorf("bind(%+v) with nothing to bind set %+v", tt.give, s)
			}
		})
	}
}

func parseAPIGTests() []struct {
	give   string
	limit  int64
	count  int64
	window time.Duration
	a      anomaly
} {
	return []struct {
		give   string
		limit  int64
		count  int64
		window time.Duration
		a      anomaly
	}{
		{"remain:9,limit:10,time:10 second", 10, 9, 10 * time.Second, 0},
		{"remain:0,limit:1000,time:1 day", 1000, 0, 24 * time.Hour, 0},
		{"limit:60,time:1 minute", 60, -1, time.Minute, 0},
		{"remain:9, limit:10", 10, 9, 0, 0},
		{"remain:-1,limit:10,time:1 hour", 10, 0, time.Hour, 0},
		{"remain:11,limit:10,time:1 hour", 10, -1, time.Hour, anomalyCountOverLimit},
		{"remain:9,time:1 hour", 0, 9, time.Hour, anomalyLimit},
		{"remain:9,limit:0", 0, 9, 0, anomalyLimit},
		{"remain:9,limit:10,time:1 fortnight", 10, 9, 0, anomalyWindow},
		{"", 0, -1, 0, anomalyLimit},
		{"remain9limit10", 0, -1, 0, anomalyLimit},
	}
}

func TestParseAPIGValue(t *testing.T) {
	for _, tt := range parseAPIGTests() {
		limit, count, window, a := parseAPIGValue(tt.give)
		if limit != tt.limit || count != tt.count || window != tt.window || a != tt.a {
			t.Errorf("parseAPIGValue(%q) = %d, %d, %v, %s, want %d, %d, %v, %s",
				tt.give, limit, count, window, formatAnomalies(a), tt.limit, tt.count, tt.window, formatAnomalies(tt.a))
		}
	}
}

func FuzzParseAPIGValue(f *testing.F) {
	for _, tt := range parseAPIGTests() {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, v string) {
		limit, count, window, a := parseAPIGValue(v)
		if limit < 0 || limit > maxHeaderInt || count < -1 || count > maxHeaderInt || (limit > 0 && count > limit) {
			t.Errorf("parseAPIGValue(%q) = limit %d, count %d", v, limit, count)
		}
		if window != 0 && (window < minWindow || window > maxWindow) {
			t.Errorf("parseAPIGValue(%q) window = %v", v, window)
		}
		if a&^allAnomalies() != 0 || (limit == 0 && a&anomalyLimit == 0) {
			t.Errorf("parseAPIGValue(%q) = limit %d, anomalies %s", v, limit, formatAnomalies(a))
		}
	})
}

func parseShopifyTests() []struct {
	give  string
	limit int64
	count int64
	drain time.Duration
	a     anomaly
} {
	return []struct {
		give  string
		limit int64
		count int64
		drain time.Duration
		a     anomaly
	}{
		{"32/40", 40, 8, 16 * time.Second, 0},
		{"1/40", 40, 39, 500 * time.Millisecond, 0},
		{"40/40", 40, 0, 20 * time.Second, 0},
		{"0/400", 400, 400, 0, 0},
		{" 3 / 80 ", 80, 77, 750 * time.Millisecond, 0},
		{"41/40", 40, -1, 0, anomalyCountOverLimit},
		{"32", 0, -1, 0, anomalyLimit},
		{"32/0", 0, -1, 0, anomalyLimit},
		{"-1/40", 40, -1, 0, anomalyCount},
		{"32/40/50", 0, -1, 0, anomalyLimit},
		{"", 0, -1, 0, anomalyLimit | anomalyCount},
	}
}

func TestParseShopifyValue(t *testing.T) {
	for _, tt := range parseShopifyTests() {
		limit, count, drain, a := parseShopifyValue(tt.give)
		if limit != tt.limit || count != tt.count || drain != tt.drain || a != tt.a {
			t.Errorf("parseShopifyValue(%q) = %d, %d, %v, %s, want %d, %d, %v, %s",
				tt.give, limit, count, drain, formatAnomalies(a), tt.limit, tt.count, tt.drain, formatAnomalies(tt.a))
		}
	}
}

func FuzzParseShopifyValue(f *testing.F) {
	for _, tt := range parseShopifyTests() {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, v string) {
		limit, count, drain, a := parseShopifyValue(v)
		if limit < 0 || limit > maxHeaderInt || count < -1 || count > limit || (limit == 0 && count != -1) {
			t.Errorf("parseShopifyValue(%q) = limit %d, count %d", v, limit, count)
		}
		if drain < 0 || drain > shopifyDrain || (count < 0 && drain != 0) {
			t.Errorf("parseShopifyValue(%q) drain = %v", v, drain)
		}
		if a&^allAnomalies() != 0 || (a == 0) != (count >= 0) {
			t.Errorf("parseShopifyValue(%q) = count %d, anomalies %s", v, count, formatAnomalies(a))
		}
	})
}

func TestBucketWindow(t *testing.T) {
	for _, tt := range []struct {
		limit, remaining int64
		full             time.Duration
		want             time.Duration
	}{
		{60, 59, time.Second, time.Minute},
		{60, 0, time.Minute, time.Minute},
		{60, 30, 28 * time.Second, time.Minute},           // 56 s: within 10%
		{60, 30, 25 * time.Second, 0},                     // 50 s: not a unit
		{200, 150, 6 * time.Hour, 24 * time.Hour},         // per day
		{10000, 9990, 60 * time.Millisecond, time.Minute}, // OpenAI's documented tier
		{60, 60, 0, 0},
		{0, 5, time.Second, 0},
		{60, -1, time.Second, 0},
		{60, 59, 0, 0},
	} {
		if got := bucketWindow(tt.limit, tt.remaining, tt.full); got != tt.want {
			t.Errorf("bucketWindow(%d, %d, %v) = %v, want %v", tt.limit, tt.remaining, tt.full, got, tt.want)
		}
	}
}

func TestParseGoDelay(t *testing.T) {
	for _, tt := range []struct {
		give string
		want time.Duration
		ok   bool
	}{
		{"1s", time.Second, true},
		{"6m0s", 6 * time.Minute, true},
		{"12ms", 12 * time.Millisecond, true},
		{" 1h2m3.5s ", time.Hour + 2*time.Minute + 3500*time.Millisecond, true},
		{"0s", 0, true},
		{"744h", maxWindow, true},
		{"745h", 0, false},
		{"-1s", 0, false},
		{"+1s", 0, false},
		{"1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		if got, ok := parseGoDelay(tt.give); got != tt.want || ok != tt.ok {
			t.Errorf("parseGoDelay(%q) = %v, %t, want %v, %t", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

// fuzzDialectKeys are the headers FuzzParseSignalDialects sets, by bit of its
// present argument; key i takes value i%6.
var fuzzDialectKeys = [...]string{
	"X-Apig-Ratelimit-Api", "X-Apig-Ratelimit-User", "X-Apig-Ratelimit-App", "X-Apig-Ratelimit-Ip", "X-Shopify-Shop-Api-Call-Limit", "Retry-After",
	"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens",
	"Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset", "Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset",
	"Ratelimit", "Ratelimit-Policy", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Ratelimit-Resettime",
	"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Ratelimit-Reset-After", "X-Ratelimit-Used", "X-Ratelimit-Bucket",
}

// FuzzParseSignalDialects checks the invariants of a signal and its detail on
// any values of the headers of the newer dialects, seeded with
// dialectTests (the vendors' documented examples).
func FuzzParseSignalDialects(f *testing.F) {
	t0 := headersT0
	// Each case gives one input per six keys.
	for _, tt := range dialectTests(t0) {
		for first := 0; first < len(fuzzDialectKeys); first += 6 {
			var vals [6]string
			var present uint32
			for i := first; i < first+6; i++ {
				if vs := tt.give[fuzzDialectKeys[i]]; len(vs) > 0 {
					vals[i%6] = vs[0]
					present |= 1 << i
				}
			}
			if present != 0 {
				f.Add(vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], present)
			}
		}
	}
	f.Fuzz(func(t *testing.T, v0, v1, v2, v3, v4, v5 string, present uint32) {
		vals := [6]string{v0, v1, v2, v3, v4, v5}
		h := http.Header{}
		for i, k := range fuzzDialectKeys {
			if present&(1<<i) != 0 {
				h[k] = []string{vals[i%6]}
			}
		}
		var d detail
		s := parseSignalDetail(h, http.StatusTooManyRequests, t0, &d)
		checkSignal(t, s, t0)
		if plain := parseSignal(h, http.StatusTooManyRequests, t0); diffSignal(plain, s) != "" {
			t.Errorf("parseSignal = %+v, parseSignalDetail = %+v", plain, s)
		}
		if int(d.npolicies) > maxPolicies || int(d.binding) >= int(max(d.npolicies, 0)) || d.binding < -1 {
			t.Errorf("npolicies %d, binding %d", d.npolicies, d.binding)
		}
		if d.binding >= 0 {
			p := d.policies[d.binding]
			if p.unit != unitRequests {
				t.Errorf("binding policy %+v is not a request policy", p)
			}
			if p.limit != s.limit || p.window != s.window || !p.reset.Equal(s.reset) {
				t.Errorf("signal %+v is not its binding policy %+v", s, p)
			}
		}
		for i := range int(d.npolicies) {
			p := d.policies[i]
			if p.limit < 0 || p.limit > maxHeaderInt || p.count < -1 || p.count > maxHeaderInt || (p.limit > 0 && p.count > p.limit) {
				t.Errorf("policies[%d] = %+v", i, p)
			}
			if p.window != 0 && (p.window < minWindow || p.window > maxWindow) {
				t.Errorf("policies[%d].window = %v", i, p.window)
			}
			if !p.reset.IsZero() && p.reset.Sub(t0) > maxWindow {
				t.Errorf("policies[%d].reset = %v, more than maxWindow after t0", i, p.reset)
			}
		}
	})
}

// checkSignal checks the invariants every signal keeps.
func checkSignal(t *testing.T, s signal, t0 time.Time) {
	t.Helper()
	if s.limit != 0 && (s.limit < 0 || s.limit > maxHeaderInt) {
		t.Errorf("limit = %d, want 0 or in (0, 1e12]", s.limit)
	}
	if s.count != -1 && (s.count < 0 || s.count > maxHeaderInt) {
		t.Errorf("count = %d, want -1 or in [0, 1e12]", s.count)
	}
	if s.limit > 0 && s.count > s.limit {
		t.Errorf("count = %d over limit = %d", s.count, s.limit)
	}
	if s.window != 0 && (s.window < minWindow || s.window > maxWindow) {
		t.Errorf("window = %v, want 0 or in [%v, %v]", s.window, minWindow, maxWindow)
	}
	if !s.reset.IsZero() && s.reset.Sub(t0) > maxWindow {
		t.Errorf("reset = %v, more than maxWindow after t0", s.reset)
	}
	if s.retryAfter < 0 || s.retryAfter > retryAfterCap || (!s.hasRetryAfter && s.retryAfter != 0) {
		t.Errorf("retryAfter = %v, %t, want in [0, %v], and 0 when false", s.retryAfter, s.hasRetryAfter, retryAfterCap)
	}
	if s.anomalies&^allAnomalies() != 0 {
		t.Errorf("anomalies = %s, has unknown bits", formatAnomalies(s.anomalies))
	}
	if s.dialect == dialectNone && (s.limit != 0 || s.count != -1 || s.window != 0 || !s.reset.IsZero()) {
		t.Errorf("dialect none carries a quota: %+v", s)
	}
}

// TestParseSignalSimulatedDialects reads what ratehttptest sends in each of
// its dialects: three requests 10 s apart spend a quota of 3 per minute, whose
// window resets 35 s after the last. The bubble first sleeps ten years (at
// once): its clock starts in 2000, and a Unix time before 2001 reads as delta
// seconds.
func TestParseSignalSimulatedDialects(t *testing.T) {
	if start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); start.Add(epochShift).Unix() < epochThreshold {
		t.Fatalf("epochShift = %v leaves the bubble before 2001", epochShift)
	}
	tests := []struct {
		give       ratehttptest.Dialect
		want       dialect
		wantWindow time.Duration
	}{
		{ratehttptest.DialectVendor, dialectVendor, time.Minute},
		{ratehttptest.DialectIETF, dialectIETF, time.Minute},
		{ratehttptest.DialectGitLab, dialectIETFOld, 0},
		{ratehttptest.DialectGitHub, dialectGitHub, 0},
		{ratehttptest.DialectDiscord, dialectGitHub, 0},
		{ratehttptest.DialectReddit, dialectGitHub, 0},
		{ratehttptest.DialectTwitter, dialectGitHub, 0},
		{ratehttptest.DialectOpenAI, dialectOpenAI, 0}, // a full reset: no bucket window to derive
		{ratehttptest.DialectAnthropic, dialectAnthropic, time.Minute},
		{ratehttptest.DialectAPIG, dialectAPIG, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				time.Sleep(epochShift)
				srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 3, Window: time.Minute, Dialect: tt.give})
				time.Sleep(5 * time.Second)
				var resp *http.Response
				for i := range 3 {
					if i > 0 {
						time.Sleep(10 * time.Second)
					}
					req, _ := http.NewRequest(http.MethodGet, "http://api.test/x", nil)
					var err error
					if resp, err = srv.RoundTrip(req); err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				}
				now := time.Now()
				got := parseSignal(resp.Header, resp.StatusCode, now)
				want := signal{dialect: tt.want, limit: 3, count: 0, window: tt.wantWindow, reset: now.Add(35 * time.Second)}
				if tt.give == ratehttptest.DialectVendor || tt.give == ratehttptest.DialectAPIG {
					want.reset = time.Time{} // no reset sent
				}
				if diff := diffSignal(got, want); diff != "" {
					t.Errorf("parseSignal(%v headers %v): %s", tt.give, resp.Header, diff)
				}
			})
		})
	}
}

// epochShift is how long a synctest bubble sleeps before simulating a
// dialect that sends Unix times: whole days, so that the boundaries of
// minutes, hours and days stay where they were.
const epochShift = 3653 * 24 * time.Hour

// TestLowercaseNames: names held in memory in lower case, as a base
// transport other than net/http's may leave them, are read as their
// canonical forms; a key whose base gives canonical names stops looking
// after its first answer without rate-limit headers.
func TestLowercaseNames(t *testing.T) {
	t0 := headersT0
	h := http.Header{"x-ratelimit": {"100"}, "x-ratelimit-used": {"50"}, "x-ratelimit-window": {"minute"}, "retry-after": {"3"}}
	c := canonical(h)
	if c == nil {
		t.Fatalf("canonical(%v) = nil, want a copy", h)
	}
	got := parseSignal(c, http.StatusTooManyRequests, t0)
	want := signal{dialect: dialectVendor, limit: 100, count: 50, window: time.Minute, retryAfter: 3 * time.Second, hasRetryAfter: true}
	if diff := diffSignal(got, want); diff != "" {
		t.Errorf("parseSignal(canonical(%v)): %s", h, diff)
	}
	if c := canonical(http.Header{"Content-Type": {"text/plain"}, "X-Ratelimit": {"1"}}); c != nil {
		t.Errorf("canonical of canonical names = %v, want nil (no copy)", c)
	}

	// Through a quota.
	cfg := config{used: UsedRemaining, burst: -1, maxWait: time.Minute}
	for _, tt := range []struct {
		name      string
		first     http.Header // the first answer
		then      http.Header // the second answer, lower-case quota headers
		wantLimit int64
		wantNames uint32
	}{
		{"lower case from the start", h, h, 100, namesLower},
		{"lower case after a plain answer", http.Header{"content-type": {"text/plain"}}, h, 100, namesLower},
		{"canonical names first: no more looking", http.Header{"Content-Type": {"text/plain"}}, h, 0, namesAsIs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuota("k", "api.test", &cfg, nil)
			for _, ans := range []http.Header{tt.first, tt.then} {
				var tk ticket
				if _, err := q.acquire(context.Background(), t0, iquota.Want{Cost: 1}, cfg.maxWait, &tk); err != nil {
					t.Fatal(err)
				}
				q.observe(&tk, &http.Response{StatusCode: 200, Header: ans}, t0)
			}
			if v := q.View(t0); v.Limit != tt.wantLimit || q.names.Load() != tt.wantNames {
				t.Errorf("limit %d, names %d; want %d, %d", v.Limit, q.names.Load(), tt.wantLimit, tt.wantNames)
			}
		})
	}
}

// FuzzParseSignalNames fuzzes the names as well as the values, in any case,
// with Age beside them: whatever the names, parsing never panics, and when
// every name begins in lower case (as a base transport other than net/http's
// may leave them) the signal read through canonical is the one read from
// their canonical forms.
func FuzzParseSignalNames(f *testing.F) {
	f.Add("x-ratelimit", "100", "x-ratelimit-used", "50", "retry-after", "3")
	f.Add("ratelimit", `"default";r=50;t=30`, "ratelimit-policy", `"burst";q=100;w=60`, "age", "12")
	f.Add("Ratelimit", `"default";r=50;t=30`, "Age", "0", "X-Ratelimit-Limit", "10")
	f.Add("x-RateLimit-Remaining", "5", "X-Ratelimit-Limit", "10", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		t0 := headersT0
		h := http.Header{}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}, {k3, v3}} {
			h[kv[0]] = append(h[kv[0]], kv[1])
		}
		got := parseSignal(h, http.StatusTooManyRequests, t0)
		if l := canonical(h); l != nil {
			got = parseSignal(l, http.StatusTooManyRequests, t0)
		}
		c := http.Header{}
		allLower := true
		for k, v := range h {
			allLower = allLower && k != "" && 'a' <= k[0] && k[0] <= 'z'
			ck := http.CanonicalHeaderKey(k)
			c[ck] = append(c[ck], v...)
		}
		// Names that differ only in case merge into one in c, in an
		// order of their own: compare only when none merged.
		if !allLower || len(c) != len(h) {
			return
		}
		if want := parseSignal(c, http.StatusTooManyRequests, t0); diffSignal(got, want) != "" {
			t.Errorf("parseSignal(%q) = %+v, want %+v (its canonical names)", h, got, want)
		}
	})
}
