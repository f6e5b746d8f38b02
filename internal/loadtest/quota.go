package loadtest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ratehttp/ratehttp"
)

// quotaHeaders is what one response's headers said about the quota; -1 and 0
// mean unknown.
type quotaHeaders struct {
	limit, remaining int64
	window           time.Duration
}

// parseQuotaHeaders reads the common quota headers: the vendor's X-Ratelimit,
// X-Ratelimit-Used (read as used says; unknown with auto) and
// X-Ratelimit-Window; GitHub's X-RateLimit-Limit and -Remaining; and the IETF
// drafts' RateLimit-Limit and -Remaining, with a window from "w=". It is a
// display aid: ratehttp's own parser, which the pacing uses, knows more.
func parseQuotaHeaders(h http.Header, used ratehttp.UsedMeaning) (quotaHeaders, bool) {
	q := quotaHeaders{limit: -1, remaining: -1}
	switch {
	case h.Get("X-Ratelimit") != "":
		q.limit = headerInt(h.Get("X-Ratelimit"))
		n := headerInt(h.Get("X-Ratelimit-Used"))
		switch {
		case n < 0:
		case used == ratehttp.UsedRemaining:
			q.remaining = n
		case used == ratehttp.UsedUsed && q.limit >= 0:
			q.remaining = max(q.limit-n, 0)
		}
		q.window = time.Hour // the vendor's default
		if w := h.Get("X-Ratelimit-Window"); w != "" {
			q.window = parseWindow(w)
		}
	case h.Get("X-Ratelimit-Limit") != "":
		q.limit = headerInt(h.Get("X-Ratelimit-Limit"))
		q.remaining = headerInt(h.Get("X-Ratelimit-Remaining"))
	case h.Get("Ratelimit-Limit") != "":
		v := h.Get("Ratelimit-Limit")
		q.limit = headerInt(v)
		q.remaining = headerInt(h.Get("Ratelimit-Remaining"))
		if _, w, ok := strings.Cut(v+";"+h.Get("Ratelimit-Policy"), ";w="); ok {
			w, _, _ = strings.Cut(w, ";")
			w, _, _ = strings.Cut(w, ",")
			q.window = time.Duration(headerInt(w)) * time.Second
		}
	}
	return q, q.limit >= 0
}

// headerInt reads the leading decimal digits of v ("100", "100, 100;w=60"),
// or returns -1.
func headerInt(v string) int64 {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// parseWindow reads a window length: a unit ("minute", "2 hours"), a Go
// duration ("5s") or seconds ("60"). It returns 0 for anything else.
func parseWindow(v string) time.Duration {
	v = strings.ToLower(strings.TrimSpace(v))
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	digits := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz \t")
	n := int64(1)
	if digits != "" {
		if n = headerInt(digits); n < 0 {
			return 0
		}
	}
	unit := strings.TrimSpace(strings.TrimSuffix(v[len(digits):], "s"))
	switch unit {
	case "":
		if digits == "" {
			return 0
		}
		return time.Duration(n) * time.Second
	case "second", "sec":
		return time.Duration(n) * time.Second
	case "minute", "min":
		return time.Duration(n) * time.Minute
	case "hour":
		return time.Duration(n) * time.Hour
	case "day":
		return time.Duration(n) * 24 * time.Hour
	}
	return 0
}
