package ratehttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// discordBase is an in-memory API in Discord's manner: each route draws from
// a bucket that the answer names (X-RateLimit-Bucket), routes /a and /b from
// one, /c from another; each bucket allows limit requests per window, in
// fixed windows from the base's start. A request to /c once after global
// draws a global 429 (X-RateLimit-Global: true, Retry-After: 3).
type discordBase struct {
	mu     sync.Mutex
	start  time.Time
	limit  int
	window time.Duration
	used   map[string]int // per bucket, in the current window
	win    map[string]int // the window of used's count
	sent   map[string]int // requests per route
	global time.Duration  // when /c draws a global 429; 0: never
	done   bool
	// rejected counts the 429s past the first window, by route.
	rejected map[string]int
}

func newDiscordBase(limit int, window time.Duration) *discordBase {
	return &discordBase{start: time.Now(), limit: limit, window: window,
		used: map[string]int{}, win: map[string]int{}, sent: map[string]int{}, rejected: map[string]int{}}
}

func (b *discordBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bucket := "ab7f" // Discord's names are opaque hexadecimal strings
	if r.URL.Path == "/c" {
		bucket = "c9e1"
	}
	el := time.Since(b.start)
	w := int(el / b.window)
	if b.win[bucket] != w {
		b.win[bucket], b.used[bucket] = w, 0
	}
	b.sent[r.URL.Path]++
	resetAfter := b.window - el%b.window
	h := http.Header{
		"X-Ratelimit-Limit":       {strconv.Itoa(b.limit)},
		"X-Ratelimit-Bucket":      {bucket},
		"X-Ratelimit-Reset-After": {strconv.FormatFloat(resetAfter.Seconds(), 'f', 3, 64)},
	}
	code := http.StatusOK
	switch {
	case r.URL.Path == "/c" && b.global > 0 && el >= b.global && !b.done:
		b.done = true
		code = http.StatusTooManyRequests
		h.Set("X-Ratelimit-Global", "true")
		h.Set("X-Ratelimit-Scope", "global")
		h.Set("Retry-After", "3")
	case b.used[bucket] >= b.limit:
		code = http.StatusTooManyRequests
		h.Set("Retry-After", strconv.FormatFloat(resetAfter.Seconds(), 'f', 3, 64))
		if w > 0 {
			b.rejected[r.URL.Path]++
		}
	default:
		b.used[bucket]++
	}
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(b.limit-b.used[bucket]))
	return respond(r, code, h, ""), nil
}

// TestSharedBuckets: with a key per route, routes whose answers name one
// bucket share one quota (one model, one pace, one queue in which priorities
// hold across the routes), and together they keep to the bucket; a route
// with a bucket of its own keeps its own quota.
//
// With the default key (one quota per host), the host's requests are keyed
// by route once its answers name buckets: before, its routes shared one
// model, and /c, with a bucket of its own, got 31 of its 140.
func TestSharedBuckets(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"a key per route", []Option{WithKeyFunc(func(r *http.Request) string { return r.URL.Path })}},
		{"the default key", nil},
	} {
		t.Run(tt.name, func(t *testing.T) { sharedBuckets(t, tt.opts...) })
	}
}

func sharedBuckets(t *testing.T, opts ...Option) {
	synctest.Test(t, func(t *testing.T) {
		base := newDiscordBase(10, 2*time.Second)
		rt := New(base, append([]Option{WithRetries(0)}, opts...)...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, path := range []string{"/a", "/a", "/b", "/b", "/c"} {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://discord.test"+path, nil)
					resp, err := rt.RoundTrip(req)
					if err != nil {
						// Refused at once (a wait past the deadline):
						// let the fake clock move.
						time.Sleep(100 * time.Millisecond)
						continue
					}
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		key := func(path string) string {
			st, ok := rt.Quota(&http.Request{URL: &url.URL{Scheme: "http", Host: "discord.test", Path: path}})
			if !ok {
				return "none"
			}
			return st.Key
		}
		if a, b, c := key("/a"), key("/b"), key("/c"); a != b || a == c {
			t.Errorf("quotas of /a, /b, /c: %q, %q, %q; want /a and /b to share one, /c its own", a, b, c)
		}
		base.mu.Lock()
		defer base.mu.Unlock()
		// 14 windows after the first: the shared bucket allows 140 to
		// /a and /b together, the other 140 to /c.
		ab, c := base.sent["/a"]+base.sent["/b"]-base.rejected["/a"]-base.rejected["/b"], base.sent["/c"]-base.rejected["/c"]
		t.Logf("/a+/b: %d sent, %d rejected after the first window; /c: %d sent, %d rejected", base.sent["/a"]+base.sent["/b"], base.rejected["/a"]+base.rejected["/b"], base.sent["/c"], base.rejected["/c"])
		if r := base.rejected["/a"] + base.rejected["/b"]; r > 3 {
			t.Errorf("routes of one bucket drew %d 429s after the first window, want at most 3", r)
		}
		if ab < 130 || c < 130 {
			t.Errorf("accepted /a+/b %d, /c %d over 15 windows of 10; want at least 130 each", ab, c)
		}
	})
}

// TestGlobalLimit: a 429 that the server says is global pauses every key of
// its host for its Retry-After, not only the key that drew it.
func TestGlobalLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newDiscordBase(1000, time.Minute)
		base.global = time.Second
		rt := New(base, WithRetries(0), WithKeyFunc(func(r *http.Request) string { return r.URL.Path }))
		get := func(path string) time.Time {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, "http://discord.test"+path, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip(%s) error = %v", path, err)
			}
			resp.Body.Close()
			return time.Now()
		}
		get("/a") // both keys known
		get("/c")
		time.Sleep(time.Second)
		get("/c") // the global 429
		start := time.Now()
		if d := get("/a").Sub(start); d < 3*time.Second {
			t.Errorf("/a went %v after a global 429 with Retry-After: 3 on /c, want 3s", d)
		}
	})
}

// TestRoute: a route keeps Discord's major parameters (the ID after
// channels, guilds or webhooks) and replaces the other numeric IDs.
func TestRoute(t *testing.T) {
	for _, tt := range []struct{ give, want string }{
		{"/api/v10/users/@me", "/api/v10/users/@me"},
		{"/api/v10/channels/1234567890/messages", "/api/v10/channels/1234567890/messages"},
		{"/api/v10/channels/1234567890/messages/987654321", "/api/v10/channels/1234567890/messages/{id}"},
		{"/api/v10/guilds/42/members/7/roles/9", "/api/v10/guilds/42/members/{id}/roles/{id}"},
		{"/api/v10/webhooks/55/tok3n/messages/66", "/api/v10/webhooks/55/tok3n/messages/{id}"},
		{"/12/", "/{id}/"},
		{"", ""},
		{"/" + strings.Repeat("9", 1000), "/{id}"},
	} {
		if got := route(tt.give); got != tt.want {
			t.Errorf("route(%.40q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
