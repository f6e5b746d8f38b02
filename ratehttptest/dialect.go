package ratehttptest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// This file holds the dialects: the spellings of the quota headers of real
// APIs. Each writes one quota decision; the quota itself is the Policy's.

// Dialect chooses the rate-limit headers a [Server] sends, so that a test can
// simulate the API its client really talks to. The zero value is
// DialectVendor.
//
// Every dialect reports the same quota, the Policy's: its limit (the
// capacity under the bucket policies), the requests remaining after the
// decision, and the delay until the quota is back (the reset): the end of the
// current window under FixedWindow and WeightedWindow, and otherwise the time
// the policy would take to give back every request used, at Limit per Window
// (for SlidingWindow a conservative estimate). Instants are rounded up to
// the second where the dialect sends whole seconds. The dialects that
// describe several policies add looser ones that never bind (see each), and
// those with token quotas report token quotas that the Server does not
// enforce. Config.UsedMeansUsed and Config.Unit apply to DialectVendor only;
// Config.NegativeRemaining applies to every remaining count; Config.Faults
// that spoil headers spoil the vendor's.
//
// Inside a [testing/synctest] bubble the clock starts on 2000-01-01, and
// clients (ratehttp among them) read a Unix time before 2001 in a reset
// header as delta seconds: with the dialects that send Unix times or dates
// (GitLab, GitHub, Discord, Twitter, Anthropic), sleep a few years first,
// which a bubble does at once; whole days keep the windows' phase.
type Dialect int

const (
	// DialectVendor sends X-Ratelimit, X-Ratelimit-Used and
	// X-Ratelimit-Window, as the package documentation describes.
	DialectVendor Dialect = iota
	// DialectIETF sends the IETF fields of drafts 8 on, as Cloudflare
	// does: RateLimit-Policy `"default";q=100;w=60, "app";q=400;w=60` and
	// RateLimit `"default";r=37;t=23, "app";r=337;t=23`, the "app" policy
	// four times the quota (the same used count, the same reset).
	DialectIETF
	// DialectGitLab sends the older IETF fields as GitLab does:
	// RateLimit-Limit, RateLimit-Observed (the count used),
	// RateLimit-Remaining, RateLimit-Reset (a Unix time) and
	// RateLimit-ResetTime (an HTTP date).
	DialectGitLab
	// DialectGitHub sends X-RateLimit-Limit, X-RateLimit-Remaining,
	// X-RateLimit-Used, X-RateLimit-Reset (a Unix time) and
	// X-RateLimit-Resource ("core").
	DialectGitHub
	// DialectDiscord sends X-RateLimit-Limit, X-RateLimit-Remaining,
	// X-RateLimit-Reset (a Unix time with milliseconds),
	// X-RateLimit-Reset-After (seconds with milliseconds),
	// X-RateLimit-Bucket, and on a 429 X-RateLimit-Scope ("user").
	DialectDiscord
	// DialectReddit sends X-Ratelimit-Used (the count used),
	// X-Ratelimit-Remaining (as a decimal, "598.0") and X-Ratelimit-Reset
	// (whole seconds until the reset).
	DialectReddit
	// DialectTwitter sends x-rate-limit-limit, x-rate-limit-remaining and
	// x-rate-limit-reset (a Unix time), as Twitter (X) and Okta do.
	DialectTwitter
	// DialectOpenAI sends x-ratelimit-limit-requests,
	// x-ratelimit-remaining-requests and x-ratelimit-reset-requests (a Go
	// duration to the millisecond, "1s", "6m0s", "12ms"), and the same for
	// tokens: a quota of 1,000 tokens per request of the limit, of which
	// every request used takes 2,000, so that it is spent halfway through
	// the requests' quota (the Server does not enforce it).
	DialectOpenAI
	// DialectAnthropic sends anthropic-ratelimit-requests-limit,
	// -remaining and -reset (an RFC 3339 time, to the second), and the same
	// for tokens, input-tokens and output-tokens, token quotas spent as
	// DialectOpenAI's are.
	DialectAnthropic
	// DialectAPIG sends the headers of the seeds' cloud API gateway, one per
	// policy, each `remain:9,limit:10,time:1 minute`: X-Apig-RateLimit-Api
	// (the quota), and X-Apig-RateLimit-User, -App and -Ip, looser
	// policies of two, four and ten times the quota over the same window.
	DialectAPIG
	// DialectShopify sends X-Shopify-Shop-Api-Call-Limit, `32/40`: the
	// count used and the limit. It fits a LeakyBucket whose Window is 20
	// seconds (Shopify's documented leak rate is a twentieth of the
	// capacity per second), such as Limit 40 per 20 s.
	DialectShopify
)

// String returns the dialect's name, such as "DialectGitHub", or
// "Dialect(42)" for an unknown value.
func (d Dialect) String() string {
	if d >= DialectVendor && d <= DialectShopify {
		return dialectNames[d]
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

var dialectNames = [...]string{
	DialectVendor:    "DialectVendor",
	DialectIETF:      "DialectIETF",
	DialectGitLab:    "DialectGitLab",
	DialectGitHub:    "DialectGitHub",
	DialectDiscord:   "DialectDiscord",
	DialectReddit:    "DialectReddit",
	DialectTwitter:   "DialectTwitter",
	DialectOpenAI:    "DialectOpenAI",
	DialectAnthropic: "DialectAnthropic",
	DialectAPIG:      "DialectAPIG",
	DialectShopify:   "DialectShopify",
}

// tokensPerRequest and tokensUsedPerRequest size the token quotas of
// DialectOpenAI and DialectAnthropic.
const (
	tokensPerRequest     = 1000
	tokensUsedPerRequest = 2000
)

// writeDialect sets the quota headers of decision d in the dialect of s,
// through set.
func (s *Server) writeDialect(set func(name, value string), d decision) {
	itoa := strconv.Itoa
	resetAt := d.now.Add(d.reset)
	// unix is the reset as a Unix time, rounded up to the second.
	unix := strconv.FormatInt(ceilSecond(resetAt).Unix(), 10)
	secs := strconv.FormatInt(int64((d.reset+time.Second-1)/time.Second), 10)
	switch s.cfg.Dialect {
	case DialectIETF:
		window := strconv.FormatInt(int64((s.cfg.Window+time.Second-1)/time.Second), 10)
		set("RateLimit-Policy", `"default";q=`+itoa(d.limit)+`;w=`+window+`, "app";q=`+itoa(4*d.limit)+`;w=`+window)
		set("RateLimit", `"default";r=`+itoa(d.remaining)+`;t=`+secs+`, "app";r=`+itoa(max(0, 4*d.limit-d.used))+`;t=`+secs)
	case DialectGitLab:
		set("RateLimit-Limit", itoa(d.limit))
		set("RateLimit-Observed", itoa(d.used))
		set("RateLimit-Remaining", itoa(d.remaining))
		set("RateLimit-Reset", unix)
		set("RateLimit-ResetTime", ceilSecond(resetAt).UTC().Format(http.TimeFormat))
	case DialectGitHub:
		set("X-RateLimit-Limit", itoa(d.limit))
		set("X-RateLimit-Remaining", itoa(d.remaining))
		set("X-RateLimit-Used", itoa(d.used))
		set("X-RateLimit-Reset", unix)
		set("X-RateLimit-Resource", "core")
	case DialectDiscord:
		ms := resetAt.Add(time.Millisecond - 1).Truncate(time.Millisecond)
		set("X-RateLimit-Limit", itoa(d.limit))
		set("X-RateLimit-Remaining", itoa(d.remaining))
		set("X-RateLimit-Reset", strconv.FormatFloat(float64(ms.UnixMilli())/1000, 'f', 3, 64))
		set("X-RateLimit-Reset-After", strconv.FormatFloat(float64(ms.Sub(d.now).Milliseconds())/1000, 'f', 3, 64))
		set("X-RateLimit-Bucket", "ratehttptest")
		if !d.accepted {
			set("X-RateLimit-Scope", "user")
		}
	case DialectReddit:
		set("X-Ratelimit-Used", itoa(d.used))
		set("X-Ratelimit-Remaining", itoa(d.remaining)+".0")
		set("X-Ratelimit-Reset", secs)
	case DialectTwitter:
		set("X-Rate-Limit-Limit", itoa(d.limit))
		set("X-Rate-Limit-Remaining", itoa(d.remaining))
		set("X-Rate-Limit-Reset", unix)
	case DialectOpenAI:
		reset := (d.reset + time.Millisecond - 1).Truncate(time.Millisecond).String()
		set("X-Ratelimit-Limit-Requests", itoa(d.limit))
		set("X-Ratelimit-Remaining-Requests", itoa(d.remaining))
		set("X-Ratelimit-Reset-Requests", reset)
		set("X-Ratelimit-Limit-Tokens", itoa(tokensPerRequest*d.limit))
		set("X-Ratelimit-Remaining-Tokens", itoa(max(0, tokensPerRequest*d.limit-tokensUsedPerRequest*d.used)))
		set("X-Ratelimit-Reset-Tokens", reset)
	case DialectAnthropic:
		reset := ceilSecond(resetAt).UTC().Format(time.RFC3339)
		set("Anthropic-Ratelimit-Requests-Limit", itoa(d.limit))
		set("Anthropic-Ratelimit-Requests-Remaining", itoa(d.remaining))
		set("Anthropic-Ratelimit-Requests-Reset", reset)
		for _, kind := range [...]string{"Tokens", "Input-Tokens", "Output-Tokens"} {
			set("Anthropic-Ratelimit-"+kind+"-Limit", itoa(tokensPerRequest*d.limit))
			set("Anthropic-Ratelimit-"+kind+"-Remaining", itoa(max(0, tokensPerRequest*d.limit-tokensUsedPerRequest*d.used)))
			set("Anthropic-Ratelimit-"+kind+"-Reset", reset)
		}
	case DialectAPIG:
		window := apigTime(s.cfg.Window)
		for _, p := range [...]struct {
			name   string
			factor int
		}{{"Api", 1}, {"User", 2}, {"App", 4}, {"Ip", 10}} {
			limit := p.factor * d.limit
			remain := d.remaining
			if p.factor > 1 {
				remain = max(0, limit-d.used)
			}
			set("X-Apig-RateLimit-"+p.name, "remain:"+itoa(remain)+",limit:"+itoa(limit)+",time:"+window)
		}
	case DialectShopify:
		set("X-Shopify-Shop-Api-Call-Limit", itoa(d.used)+"/"+itoa(d.limit))
	default:
		set(HeaderLimit, itoa(d.limit))
		if s.cfg.UsedMeansUsed {
			set(HeaderUsed, itoa(d.used))
		} else {
			set(HeaderUsed, itoa(d.remaining))
		}
		set(HeaderWindow, s.unit)
	}
}

// ceilSecond rounds t up to the second.
func ceilSecond(t time.Time) time.Time {
	if u := t.Truncate(time.Second); !u.Equal(t) {
		return u.Add(time.Second)
	}
	return t
}

// apigTime formats a window as APIG does: "1 minute", "1 hour", "1 day",
// or whole seconds, "10 second".
func apigTime(w time.Duration) string {
	switch w {
	case time.Minute:
		return "1 minute"
	case time.Hour:
		return "1 hour"
	case 24 * time.Hour:
		return "1 day"
	}
	return strconv.FormatInt(int64((w+time.Second-1)/time.Second), 10) + " second"
}

// resetIn returns the delay after now until the quota is back, as [Dialect]
// defines it, with used requests counted at limit after the decision.
func (s *Server) resetIn(now time.Time, limit, used int) time.Duration {
	if s.cfg.Policy.periodic() {
		p := periods{s.cfg.Window, s.cfg.Offset}
		return p.start(p.index(now) + 1).Sub(now)
	}
	if used <= 0 {
		return 0
	}
	if limit <= 0 {
		return s.cfg.Window
	}
	return time.Duration(math.Ceil(float64(used) * float64(s.cfg.Window) / float64(limit)))
}
