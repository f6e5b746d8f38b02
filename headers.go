package ratehttp

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file reads what a response's headers say about the quota. Everything in
// it is a pure function of the header map and the instant now, so tests use
// fixed instants and fuzzing needs no clock. The parsers never panic, never
// allocate on the common path, and keep the valid parts of a response whose
// other parts are nonsense, reporting the nonsense as anomalies.

// dialect tells which family of rate-limit headers a response carried.
type dialect uint8

const (
	dialectNone      dialect = iota // no rate-limit header at all
	dialectVendor                   // X-ratelimit, X-ratelimit-used, X-ratelimit-window (the seeds' vendor)
	dialectIETF                     // RateLimit-Policy / RateLimit structured fields (IETF drafts 7 on, Cloudflare)
	dialectIETFOld                  // RateLimit-Limit / -Remaining / -Reset (older drafts, GitLab)
	dialectGitHub                   // X-RateLimit-Limit / -Remaining / -Reset (GitHub, Discord, Reddit), or X-Rate-Limit-* (Twitter, Okta)
	dialectOpenAI                   // x-ratelimit-{limit,remaining,reset}-{requests,tokens}
	dialectAnthropic                // anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}
	dialectAPIG                     // X-Apig-RateLimit-{Api,User,App,Ip}: remain:9,limit:10,time:10 second
	dialectShopify                  // X-Shopify-Shop-Api-Call-Limit: used/capacity of a leaky bucket
)

// String returns the dialect's metric label: "none", "vendor", "ietf",
// "ietf_old", "github", "openai", "anthropic", "apig" or "shopify". An
// undefined value gives "dialect(N)".
func (d dialect) String() string {
	switch d {
	case dialectNone:
		return "none"
	case dialectVendor:
		return "vendor"
	case dialectIETF:
		return "ietf"
	case dialectIETFOld:
		return "ietf_old"
	case dialectGitHub:
		return "github"
	case dialectOpenAI:
		return "openai"
	case dialectAnthropic:
		return "anthropic"
	case dialectAPIG:
		return "apig"
	case dialectShopify:
		return "shopify"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// anomaly is a bit set of the kinds of nonsense a response's headers carried.
// Each kind is counted in a metric. The zero value means the headers made
// sense, or that there were none.
type anomaly uint16

const (
	anomalyLimit          anomaly = 1 << iota // limit header present but not a positive integer in range
	anomalyCount                              // remaining header present but not a number, or used header not a non-negative integer
	anomalyCountOverLimit                     // remaining (or used) greater than the limit
	anomalyWindow                             // window header present but not understood, non-positive or absurd
	anomalyReset                              // reset header present but not understood or absurd
	anomalyRetryAfter                         // Retry-After present but not non-negative seconds nor an HTTP date
	anomalyTooLong                            // a header value longer than maxHeaderValue bytes (ignored unread)
)

// anomalyKinds lists every kind of anomaly with its metric label, in bit
// order, so that anomalyKinds[i].bit == 1<<i.
var anomalyKinds = [...]struct {
	bit  anomaly
	name string
}{
	{anomalyLimit, "limit"},
	{anomalyCount, "count"},
	{anomalyCountOverLimit, "count_over_limit"},
	{anomalyWindow, "window"},
	{anomalyReset, "reset"},
	{anomalyRetryAfter, "retry_after"},
	{anomalyTooLong, "too_long"},
}

// signal is what one response's headers say about the quota. Invalid parts are
// left unset and reported in anomalies; the valid parts are kept.
//
// limit, count, window and reset describe ONE request policy. When the
// response carried several (see [detail]), they are copied from the binding
// one, chosen by [signal.bind]; token quotas never are.
type signal struct {
	dialect dialect
	// limit is the number of requests allowed per window; 0 when absent or
	// invalid.
	limit int64
	// count is -1 when absent or invalid. For dialectVendor, it is the raw
	// X-ratelimit-used value, whose meaning (remaining or used) the caller
	// decides. For every other dialect, it is the number of REMAINING requests,
	// floored when the server sent a fraction, and 0 when it sent a negative
	// number (a limiter counting requests past the limit). When both are
	// valid, count never exceeds limit.
	count int64
	// window is 0 when unknown. Vendor: from X-ratelimit-window, default one
	// hour when X-ratelimit is present and the window header is absent. IETF:
	// from the policy's w parameter. GitHub: from X-Rate-Limit-Duration in the
	// hyphenated spelling; the other spelling has no window header, and none
	// is guessed from the reset. APIG: from the time part. Anthropic: one
	// minute, as documented. OpenAI: derived from a token bucket's refill
	// (see [bucketWindow]). Shopify: 20 seconds (see [parseShopifyValue]).
	window time.Duration
	// reset is zero when the server sent no reset time; else the absolute
	// instant the window resets (or, for OpenAI, Anthropic and Shopify, the
	// bucket is full again), which may be in the past (a Unix time or a date
	// truncated to the second often is) but never more than maxWindow after
	// now.
	reset time.Time
	// retryAfter is valid only if hasRetryAfter; a past HTTP date gives 0.
	// Fractional seconds are kept to the nanosecond, rounded up.
	retryAfter    time.Duration
	hasRetryAfter bool
	anomalies     anomaly
}

const (
	// maxHeaderValue is the longest header value parsed; longer values are
	// ignored unread and reported as anomalyTooLong.
	maxHeaderValue = 256
	// maxWindow is the longest window or reset delay believed; longer ones are
	// absurd (anomalyWindow, anomalyReset).
	maxWindow = 31 * 24 * time.Hour
	// minWindow is the shortest window believed.
	minWindow = 10 * time.Millisecond

	// maxHeaderInt bounds limits, counts and reset times: larger numbers are
	// nonsense, not quotas.
	maxHeaderInt = 1_000_000_000_000
	// retryAfterCap is where parseRetryAfter saturates: a huge Retry-After is
	// still a valid instruction to wait, whose length the caller caps.
	retryAfterCap = 100 * 365 * 24 * time.Hour
	// epochThreshold separates delta seconds from Unix times in reset headers
	// that may carry either (GitHub, older IETF drafts): 1e9 seconds is in 2001.
	epochThreshold = 1_000_000_000
	// decimalCap is where parseDecimal saturates the integer part: above every
	// bound its callers apply, and far from overflowing an int64.
	decimalCap = 1_000_000_000_000_000
	// vendorWindow is the vendor's documented default for X-ratelimit-window.
	vendorWindow = time.Hour
)

// parseSignal reads the rate-limit headers of a response received at now.
//
// The keys of h must be canonical, as net/http produces them (see
// [http.CanonicalHeaderKey]); a header stored under another spelling is not
// seen. When a header repeats, its first value is used, except the IETF
// RateLimit and RateLimit-Policy lists, which may be split over several
// lines. A dialect is recognised by one header that its servers send on every
// response, so that a response without any costs nine map look-ups, however
// many dialects there are. When several dialects are present, the first that
// matches wins, in this order:
//
//  1. vendor, when X-Ratelimit is present and X-Ratelimit-Remaining is absent
//     (GitHub also sends X-RateLimit-Used, but always with
//     X-RateLimit-Remaining);
//  2. IETF, when RateLimit is present (none when the response comes from a
//     cache: see [fromCache]);
//  3. IETF in the form of draft 6, when RateLimit-Limit and RateLimit-Policy
//     are present, or IETF old when RateLimit-Limit is present without a
//     RateLimit-Policy (older drafts, GitLab);
//  4. GitHub, when X-RateLimit-Remaining is present (also Discord, Reddit and
//     the middleware that copies GitHub);
//  5. GitHub in the hyphenated spelling of Twitter, Okta and tollbooth, when
//     X-Rate-Limit-Limit is present (tollbooth sends no remaining count);
//  6. OpenAI, when X-Ratelimit-Limit-Requests is present;
//  7. Anthropic, when Anthropic-Ratelimit-Tokens-Limit is present (the
//     shortest of its names: a longer name costs more to hash);
//  8. APIG, when X-Apig-Ratelimit-Api is present (the API's limit is the one
//     an APIG throttling policy always has);
//  9. Shopify, when X-Shopify-Shop-Api-Call-Limit is present;
//  10. none.
//
// So a part of a dialect without the header that recognises it is no
// dialect: X-RateLimit-Limit without X-RateLimit-Remaining, RateLimit-Policy
// without RateLimit (the IETF draft lets clients ignore the policy),
// RateLimit-Remaining without RateLimit-Limit, X-Ratelimit-Used alone.
//
// Numbers are read leniently where their meaning is plain: surrounding spaces
// and tabs are ignored, a decimal whose fraction is zero is the integer
// ("5.00"), a remaining count with a fraction is floored ("597.5" is 597),
// and a negative remaining count is 0, which some limiters send once
// requests have gone past the limit. A limit with a non-zero fraction, an
// X-Ratelimit-Used that is not a non-negative integer (it may count the
// requests used), and a '+' sign or an exponent in any of these numbers are
// anomalies. See [signal.resetOf] for the forms of a reset and
// [parseRetryAfter] for those of Retry-After.
//
// Retry-After is parsed, in every dialect, only where it has a meaning: on a
// 429 (RFC 6585), a 503 or a redirection (RFC 9110, section 10.2.3). On other
// responses it is not read, nor counted as an anomaly. A response without any
// of these headers gives a signal with dialect none, count -1 and nothing else
// set.
//
// # Several limits
//
// When the response describes several limits, the binding request policy is
// copied into limit, count, window and reset (see [signal.bind]), and
// [parseSignalDetail] also returns every policy. Guaranteed: a token, byte or
// concurrency quota never becomes the limit, so it never slows nor stalls
// requests through pacing (a 429 it causes is handled as any 429, with its
// Retry-After); the choice is a pure function of the response. The quota
// model paces by the binding policy and keeps the others as gates (see
// policies.go); the binding policy may change from one response to the next.
func parseSignal(h http.Header, code int, now time.Time) signal {
	return parseSignalDetail(h, code, now, nil)
}

// parseSignalDetail is [parseSignal], and also fills d, when not nil, with
// what the response says beyond the one limit of the signal (see [detail]).
func parseSignalDetail(h http.Header, code int, now time.Time, d *detail) signal {
	s := signal{count: -1}
	if d != nil {
		*d = detail{binding: -1}
	}
	s.detect(h, now, d)
	if s.limit > 0 && s.count > s.limit {
		s.count = -1
		s.anomalies |= anomalyCountOverLimit
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code >= 300 && code < 400 {
		s.readRetryAfter(h, now)
	}
	return s
}

// canonical returns a copy of h with its names in canonical form, when one
// of them begins with a lower-case letter, as a base transport other than
// net/http's may leave them (net/http canonicalises the names it reads from
// the wire); nil otherwise. Only the first letter of each name is looked at,
// but that is a walk over the map: the quota calls it only until it knows
// which kind of names its base gives (see quota.names).
func canonical(h http.Header) http.Header {
	lower := false
	for k := range h {
		if k != "" && 'a' <= k[0] && k[0] <= 'z' {
			lower = true
			break
		}
	}
	if !lower {
		return nil
	}
	c := make(http.Header, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		c[ck] = append(c[ck], v...)
	}
	return c
}

// readRetryAfter reads Retry-After, as [parseSignal] documents.
func (s *signal) readRetryAfter(h http.Header, now time.Time) {
	if v, ok := s.lookup(h, "Retry-After"); ok {
		if d, ok := parseRetryAfter(v, now); ok {
			s.retryAfter, s.hasRetryAfter = d, true
		} else {
			s.anomalies |= anomalyRetryAfter
		}
	}
}

// detect applies the order documented on [parseSignal] and parses the
// dialect found, into d too when it is not nil. The look-ups that detect a
// dialect are all in this one function, each made once: a response without
// any rate-limit header pays for them and nothing else.
func (s *signal) detect(h http.Header, now time.Time, d *detail) {
	vendor := h["X-Ratelimit"]
	remaining := h["X-Ratelimit-Remaining"]
	switch {
	case len(vendor) > 0 && len(remaining) == 0:
		s.dialect = dialectVendor
		s.parseVendor(h, vendor)
		return
	case len(h["Ratelimit"]) > 0:
		if fromCache(h) {
			return
		}
		s.dialect = dialectIETF
	case len(h["Ratelimit-Limit"]) > 0:
		if fromCache(h) {
			return
		}
		if len(h["Ratelimit-Policy"]) == 0 {
			s.dialect = dialectIETFOld
			s.parseIETFOld(h, now)
			return
		}
		s.dialect = dialectIETF
	case len(remaining) > 0:
		s.dialect = dialectGitHub
		s.parseGitHub(h, remaining, now, d)
		return
	case len(h["X-Rate-Limit-Limit"]) > 0:
		s.dialect = dialectGitHub
		s.parseHyphenated(h, now)
		return
	case len(h["X-Ratelimit-Limit-Requests"]) > 0:
		s.dialect = dialectOpenAI
	case len(h["Anthropic-Ratelimit-Tokens-Limit"]) > 0:
		s.dialect = dialectAnthropic
	case len(h["X-Apig-Ratelimit-Api"]) > 0:
		s.dialect = dialectAPIG
	case len(h["X-Shopify-Shop-Api-Call-Limit"]) > 0:
		s.dialect = dialectShopify
		s.parseShopify(h, now)
		return
	default:
		return
	}
	s.parsePolicies(h, now, d)
}

// fromCache reports whether a response comes from a cache: its Age is a
// positive number of seconds. The IETF draft (11, section 7.3) says that the
// RateLimit fields of such a response, which may be stale, should be
// ignored; they are, as if absent. An Age that is not a number is not read.
// Only the IETF dialects look: it costs them one map look-up, and the other
// dialects none.
func fromCache(h http.Header) bool {
	v := h["Age"]
	if len(v) == 0 {
		return false
	}
	n, ok := parseHeaderInt(v[0], math.MaxInt64)
	return ok && n > 0
}

// parsePolicies parses the dialects that may describe several policies, into
// d or, when d is nil, into room of its own: only their responses pay for
// zeroing it.
func (s *signal) parsePolicies(h http.Header, now time.Time, d *detail) {
	var scratch detail
	d = orScratch(d, &scratch)
	switch s.dialect {
	case dialectIETF:
		s.parseIETF(h, h["Ratelimit"], now, d)
	case dialectOpenAI:
		s.parseOpenAI(h, now, d)
	case dialectAnthropic:
		s.parseAnthropic(h, now, d)
	case dialectAPIG:
		s.parseAPIG(h, now, d)
	}
}

// parseVendor reads X-ratelimit (the limit), X-ratelimit-used (the count) and
// X-ratelimit-window (minute, hour or day; one hour when absent).
//
// limit holds the values of X-Ratelimit, which detect looked up.
func (s *signal) parseVendor(h http.Header, limit []string) {
	if v, ok := s.first(limit); ok {
		s.setLimit(v)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Used"); ok {
		s.setCount(v)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Window"); ok {
		s.setWindow(v)
	} else if len(h["X-Ratelimit-Window"]) == 0 {
		// Absent, not too long: a window the server sent but we did not read
		// is unknown, not the default.
		s.window = vendorWindow
	}
}

// parseIETF reads the RateLimit and RateLimit-Policy fields of drafts 7 to
// 11, as lists of items that may be split over several lines, each item a
// policy: a RateLimit item gives its available quota (r, required) and its
// effective window (t: draft 11's reading of what drafts 7 to 10 called the
// delay to the reset, the seconds within which the client should use no more
// than r; it is kept as the policy's reset, which the quota model treats as a
// hint, never as a promise that the quota comes back: when it passes, one
// request goes alone to learn the new r); the RateLimit-Policy item of the same name gives its
// quota (q, required), window (w) and unit (qu, "requests" when absent).
// Policy items that no RateLimit item names are policies too, with their
// quota and window only, so that a tighter policy binds even when the server
// reports another's live figures. A lone RateLimit item whose name no policy
// has takes the first policy, as servers that name the two differently mean.
//
// It also understands the forms servers still send from earlier drafts: a
// policy item that is a bare quota (`100;w=60`), a RateLimit dictionary
// (`limit=100, remaining=50, reset=30`, whose policy is the one of the same
// bare quota), and RateLimit-Limit, -Remaining and -Reset next to a
// RateLimit-Policy (rl is nil then, or too long to read); a RateLimit field
// without any RateLimit-Policy takes its limit from RateLimit-Limit.
func (s *signal) parseIETF(h http.Header, rl []string, now time.Time, d *detail) {
	n, quota := s.readRateLimit(rl, now, d)
	if n == 0 {
		d.policies[0] = policy{count: -1}
		s.parseOldCountReset(h, &d.policies[0], now)
		n = 1
	}
	live := n
	var taken uint8 // the live items that found their policy, by bit
	var first sfMember
	sawPolicy := false
	for _, line := range h["Ratelimit-Policy"] {
		if len(line) > maxHeaderValue {
			s.anomalies |= anomalyTooLong
			continue
		}
		for rest := line; rest != ""; {
			var m sfMember
			m, rest = nextSFMember(rest)
			if !sawPolicy {
				first, sawPolicy = m, true
			}
			j := -1
			if quota != "" {
				if taken == 0 && m.item == quota {
					j = 0
				}
			} else {
				name := sfUnquote(m.item)
				for k := range live {
					if taken&(1<<k) == 0 && d.policies[k].name == name {
						j = k
						break
					}
				}
			}
			if j < 0 && n < maxPolicies {
				j = n
				d.policies[n] = policy{name: sfUnquote(m.item), count: -1}
				n++
			} else if j >= 0 {
				taken |= 1 << j
			}
			if j >= 0 {
				s.applyPolicy(&d.policies[j], m)
			}
		}
	}
	switch {
	case live == 1 && taken == 0 && sawPolicy:
		// The lone item takes the first policy, then no policy of its own.
		s.applyPolicy(&d.policies[0], first)
		if n > live {
			copy(d.policies[live:n], d.policies[live+1:n])
			n--
			d.policies[n] = policy{}
		}
	case live == 1 && !sawPolicy && quota != "":
		d.policies[0].limit = s.limitOf(quota)
	case live == 1 && !sawPolicy:
		if v, ok := s.lookup(h, "Ratelimit-Limit"); ok {
			s.setOldLimit(&d.policies[0], v)
		}
	}
	d.npolicies = uint8(n)
	s.bind(d, now)
}

// readRateLimit reads the items of the RateLimit field, whose lines rl holds,
// into d.policies, and returns how many, 0 when there is none to read. The
// dictionary form of draft 7 gives one policy, and its limit's text.
func (s *signal) readRateLimit(rl []string, now time.Time, d *detail) (n int, quota string) {
	for _, line := range rl {
		if len(line) > maxHeaderValue {
			s.anomalies |= anomalyTooLong
			continue
		}
		for rest := line; rest != "" && n < maxPolicies; {
			var m sfMember
			m, rest = nextSFMember(rest)
			if m.key != "" {
				if n == 0 {
					return 1, s.parseIETFDictionary(line, now, d)
				}
				break
			}
			p := &d.policies[n]
			*p = policy{name: sfUnquote(m.item), count: -1}
			n++
			if r, ok := sfParam(m.params, "r"); ok {
				p.count = s.remainingOf(r)
			} else {
				s.anomalies |= anomalyCount // r is required
			}
			if t, ok := sfParam(m.params, "t"); ok {
				p.reset = s.resetOf(t, now, false)
			}
		}
	}
	return n, ""
}

// parseIETFDictionary reads the RateLimit dictionary of draft 7
// (`limit=100, remaining=50, reset=30`) into the first policy and returns the
// limit's text, which picks the RateLimit-Policy item of the same quota.
func (s *signal) parseIETFDictionary(v string, now time.Time, d *detail) (quota string) {
	p := &d.policies[0]
	*p = policy{count: -1}
	for rest := v; rest != ""; {
		var m sfMember
		m, rest = nextSFMember(rest)
		switch {
		case strings.EqualFold(m.key, "limit"):
			quota = m.item
		case strings.EqualFold(m.key, "remaining"):
			p.count = s.remainingOf(m.item)
		case strings.EqualFold(m.key, "reset"):
			p.reset = s.resetOf(m.item, now, false)
		}
	}
	return quota
}

// applyPolicy reads a RateLimit-Policy item m into p: its quota (q, or a bare
// integer item of the older drafts), window (w) and unit (qu).
func (s *signal) applyPolicy(p *policy, m sfMember) {
	q, ok := sfParam(m.params, "q")
	if !ok && m.key == "" && isDigits(m.item) {
		q, ok = m.item, true
	}
	if ok {
		p.limit = s.limitOf(q)
	} else {
		s.anomalies |= anomalyLimit // q is required
	}
	if w, ok := sfParam(m.params, "w"); ok {
		p.window = s.windowOf(w)
	}
	if qu, ok := sfParam(m.params, "qu"); ok && sfUnquote(qu) != "requests" {
		p.unit = unitOther
	}
	if p.limit > 0 && p.count > p.limit {
		p.count = -1
		s.anomalies |= anomalyCountOverLimit
	}
}

// parseIETFOld reads RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
// of the drafts before RateLimit-Policy carried the quota, as GitLab also
// sends them, with GitLab's RateLimit-ResetTime (an HTTP date) read when
// RateLimit-Reset is absent. GitLab's RateLimit-Observed (the count used) is
// not read: the remaining count says the same.
func (s *signal) parseIETFOld(h http.Header, now time.Time) {
	var p policy
	p.count = -1
	if v, ok := s.lookup(h, "Ratelimit-Limit"); ok {
		s.setOldLimit(&p, v)
	}
	s.parseOldCountReset(h, &p, now)
	s.limit, s.count, s.window, s.reset = p.limit, p.count, p.window, p.reset
}

// setOldLimit reads a RateLimit-Limit value into p: the first integer is the
// limit, and the w parameter of the first member with that same quota, if
// any, is the window (`100, 100;w=60, 1000;w=3600`).
func (s *signal) setOldLimit(p *policy, v string) {
	first, rest := nextSFMember(v)
	p.limit = s.limitOf(first.item)
	for m := first; ; m, rest = nextSFMember(rest) {
		if m.item == first.item {
			if w, ok := sfParam(m.params, "w"); ok {
				p.window = s.windowOf(w)
				return
			}
		}
		if rest == "" {
			return
		}
	}
}

// parseOldCountReset reads RateLimit-Remaining and RateLimit-Reset, or GitLab's
// RateLimit-ResetTime when RateLimit-Reset is absent, into p. The reset is
// delta seconds in the drafts, but servers also send a Unix time or an HTTP
// date there (see [signal.resetOf]).
func (s *signal) parseOldCountReset(h http.Header, p *policy, now time.Time) {
	if v, ok := s.lookup(h, "Ratelimit-Remaining"); ok {
		p.count = s.remainingOf(v)
	}
	reset := h["Ratelimit-Reset"]
	if len(reset) == 0 {
		reset = h["Ratelimit-Resettime"]
	}
	if v, ok := s.first(reset); ok {
		p.reset = s.resetOf(v, now, true)
	}
}

// parseGitHub reads X-RateLimit-Limit, X-RateLimit-Remaining (the count) and
// X-RateLimit-Reset (Unix seconds, delta seconds below 1e9, or an HTTP date;
// see [signal.resetOf]). There is no window header: the window stays
// unknown.
//
// Two servers of the dialect say more. Discord sends X-RateLimit-Reset-After,
// the delay to the reset in seconds with a fraction, which is preferred to
// the Unix time as it needs no synchronised clock; with it come
// X-RateLimit-Bucket, X-RateLimit-Scope and X-RateLimit-Global, kept in
// detail.bucket and detail.scope. Reddit sends no limit, but
// X-Ratelimit-Used, the requests used: the limit is then used plus remaining
// (rounded up). Otherwise X-RateLimit-Used is ignored: the remaining count
// says the same.
//
// remaining holds the values of X-RateLimit-Remaining, which detect looked up.
func (s *signal) parseGitHub(h http.Header, remaining []string, now time.Time, d *detail) {
	limit, hasLimit := s.lookup(h, "X-Ratelimit-Limit")
	if hasLimit {
		s.setLimit(limit)
	}
	rem, hasRem := s.first(remaining)
	if hasRem {
		s.setRemaining(rem)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Reset"); ok {
		s.setReset(v, now, true)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Reset-After"); ok {
		if t := s.resetOf(v, now, false); !t.IsZero() {
			s.reset = t
		}
		if d != nil {
			d.bucket, _ = s.lookup(h, "X-Ratelimit-Bucket")
			d.scope, _ = s.lookup(h, "X-Ratelimit-Scope")
			if g, ok := s.lookup(h, "X-Ratelimit-Global"); ok && d.scope == "" && strings.EqualFold(trimOWS(g), "true") {
				d.scope = "global"
			}
		}
	}
	if !hasLimit && len(h["X-Ratelimit-Limit"]) == 0 && hasRem && s.count >= 0 {
		if v, ok := s.lookup(h, "X-Ratelimit-Used"); ok {
			s.limit = redditLimit(v, rem)
		}
	}
}

// redditLimit returns used plus remaining, the latter rounded up, as Reddit's
// limit, or 0 when either is not a non-negative number or the sum is not a
// positive integer up to maxHeaderInt.
func redditLimit(used, remaining string) int64 {
	u, ok := parseHeaderInt(used, maxHeaderInt)
	if !ok {
		return 0
	}
	r, nanos, neg, ok := parseDecimal(remaining)
	if !ok || neg || r > maxHeaderInt {
		return 0
	}
	if nanos > 0 {
		r++
	}
	if n := u + r; n > 0 && n <= maxHeaderInt {
		return n
	}
	return 0
}

// parseHyphenated reads the GitHub dialect as Twitter, Okta and tollbooth
// spell it: X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset
// as [signal.parseGitHub] reads their namesakes, and X-Rate-Limit-Duration,
// which tollbooth sends with the limit ("1", its limits being per second), as
// the window.
func (s *signal) parseHyphenated(h http.Header, now time.Time) {
	if v, ok := s.lookup(h, "X-Rate-Limit-Limit"); ok {
		s.setLimit(v)
	}
	if v, ok := s.lookup(h, "X-Rate-Limit-Remaining"); ok {
		s.setRemaining(v)
	}
	if v, ok := s.lookup(h, "X-Rate-Limit-Reset"); ok {
		s.setReset(v, now, true)
	}
	if v, ok := s.lookup(h, "X-Rate-Limit-Duration"); ok {
		s.setWindow(v)
	}
}

// lookup returns the first value of the header key and whether it is there to
// be parsed. A value longer than maxHeaderValue is not: it is reported as
// anomalyTooLong and the field it would have set stays unset.
func (s *signal) lookup(h http.Header, key string) (string, bool) {
	return s.first(h[key])
}

// first is [signal.lookup] on the values of a header already looked up.
func (s *signal) first(vs []string) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	if len(vs[0]) > maxHeaderValue {
		s.anomalies |= anomalyTooLong
		return "", false
	}
	return vs[0], true
}

// setLimit sets the limit from v as [signal.limitOf] reads it.
func (s *signal) setLimit(v string) {
	if n := s.limitOf(v); n > 0 {
		s.limit = n
	}
}

// limitOf reads a limit: a positive integer up to maxHeaderInt, also written
// with a zero fraction ("5.00", as tollbooth sends it). It returns 0 and
// reports anomalyLimit for anything else.
func (s *signal) limitOf(v string) int64 {
	n, ok := parseHeaderInt(v, maxHeaderInt)
	if !ok {
		n, ok = wholeDecimal(v)
	}
	if ok && n > 0 {
		return n
	}
	s.anomalies |= anomalyLimit
	return 0
}

// setCount sets the count from v, a non-negative integer up to maxHeaderInt,
// or reports anomalyCount. It reads X-Ratelimit-Used, which may count the
// requests used rather than those remaining, so it takes none of the liberties
// of [signal.setRemaining].
func (s *signal) setCount(v string) {
	if n, ok := parseHeaderInt(v, maxHeaderInt); ok {
		s.count = n
		return
	}
	s.anomalies |= anomalyCount
}

// setRemaining sets the count from v as [signal.remainingOf] reads it.
func (s *signal) setRemaining(v string) {
	if n := s.remainingOf(v); n >= 0 {
		s.count = n
	}
}

// remainingOf reads a number of remaining requests up to maxHeaderInt: a
// fraction is floored ("598.0", "597.5"), and a negative number is 0. It
// returns -1 and reports anomalyCount when v is not a number or is over
// maxHeaderInt.
func (s *signal) remainingOf(v string) int64 {
	if n, ok := parseHeaderInt(v, maxHeaderInt); ok {
		return n
	}
	switch n, _, neg, ok := parseDecimal(v); {
	case ok && neg:
		return 0
	case ok && n <= maxHeaderInt:
		return n
	}
	s.anomalies |= anomalyCount
	return -1
}

// setWindow sets the window from v as [signal.windowOf] reads it.
func (s *signal) setWindow(v string) {
	if d := s.windowOf(v); d > 0 {
		s.window = d
	}
}

// windowOf reads a window as [parseWindow] does, or returns 0 and reports
// anomalyWindow.
func (s *signal) windowOf(v string) time.Duration {
	if d, ok := parseWindow(v); ok {
		return d
	}
	s.anomalies |= anomalyWindow
	return 0
}

// setReset sets the reset instant from v as [signal.resetOf] reads it.
func (s *signal) setReset(v string, now time.Time, absolute bool) {
	if t := s.resetOf(v, now, absolute); !t.IsZero() {
		s.reset = t
	}
}

// resetOf reads a reset instant from v: delta seconds after now, an integer
// or a decimal ("30", "0.5"). If absolute is set, as for the GitHub and older
// IETF reset headers, v may also be an instant: Unix seconds when the number
// is 1e9 or more, also with a fraction ("1700000000.123"), or an HTTP date,
// also ending in UTC or +0000 (see [parseHTTPDate]), from 2001 on like the
// Unix seconds. Fractions are kept to the nanosecond, rounded up. It returns
// the zero time and reports anomalyReset when v is none of these, is
// negative, or names an instant more than maxWindow after now. An instant in
// the past is kept: the caller knows the window is over.
func (s *signal) resetOf(v string, now time.Time, absolute bool) time.Time {
	var t time.Time
	n, ok := parseHeaderInt(v, maxHeaderInt)
	switch {
	case !ok:
		t, ok = otherReset(v, now, absolute)
	case absolute && n >= epochThreshold:
		t = time.Unix(n, 0)
	case n <= int64(maxWindow/time.Second):
		return now.Add(time.Duration(n) * time.Second)
	default:
		ok = false
	}
	if ok && t.Sub(now) <= maxWindow {
		return t
	}
	s.anomalies |= anomalyReset
	return time.Time{}
}

// otherReset reads the reset forms that are not integers, as [signal.resetOf]
// describes them: a decimal number of seconds, or, if absolute, an HTTP date.
// It returns the instant unchecked against maxWindow, except that a delta
// longer than maxWindow gives false, as does a date before 2001.
func otherReset(v string, now time.Time, absolute bool) (time.Time, bool) {
	n, nanos, neg, ok := parseDecimal(v)
	switch {
	case !ok && absolute:
		if t, ok := parseHTTPDate(trimOWS(v)); ok && t.Unix() >= epochThreshold {
			return t, true
		}
	case !ok, neg:
	case absolute && n >= epochThreshold:
		return time.Unix(n, nanos), true
	case n <= int64(maxWindow/time.Second):
		return now.Add(time.Duration(n)*time.Second + time.Duration(nanos)), true
	}
	return time.Time{}, false
}

// parseWindow reads the length of a quota window. It accepts, after trimming
// surrounding whitespace:
//   - a unit, "second", "minute", "hour" or "day", in any case, singular or
//     plural ("Minutes", "HOUR", "days"), optionally preceded by a count
//     ("15 minutes", "2days");
//   - a Go duration ("10s", "1m30s", "500ms");
//   - bare integer seconds ("60").
//
// It returns false, and 0, for anything else and for a result outside
// [minWindow, maxWindow].
func parseWindow(v string) (time.Duration, bool) {
	// The vendor's own words, as sent on every response: no trimming or
	// case folding needed.
	switch v {
	case "minute":
		return time.Minute, true
	case "hour":
		return time.Hour, true
	case "day":
		return 24 * time.Hour, true
	case "second":
		return time.Second, true
	}
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	digits, word := v[:i], strings.TrimLeft(v[i:], " \t")
	var d time.Duration
	if unit, ok := windowUnit(word); ok {
		n := int64(1)
		if digits != "" {
			if n, ok = parseHeaderInt(digits, int64(maxWindow/unit)); !ok {
				return 0, false
			}
		}
		d = time.Duration(n) * unit
	} else if digits != "" && word == "" {
		n, ok := parseHeaderInt(digits, int64(maxWindow/time.Second))
		if !ok {
			return 0, false
		}
		d = time.Duration(n) * time.Second
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, false
		}
	}
	if d < minWindow || d > maxWindow {
		return 0, false
	}
	return d, true
}

// windowUnit returns the length of the unit named by w, in any case, singular
// or plural.
func windowUnit(w string) (time.Duration, bool) {
	for _, u := range [...]struct {
		name string
		d    time.Duration
	}{
		{"second", time.Second},
		{"minute", time.Minute},
		{"hour", time.Hour},
		{"day", 24 * time.Hour},
	} {
		n := len(u.name)
		if len(w) == n && strings.EqualFold(w, u.name) ||
			len(w) == n+1 && w[n]|0x20 == 's' && strings.EqualFold(w[:n], u.name) {
			return u.d, true
		}
	}
	return 0, false
}

// parseRetryAfter reads a Retry-After value received at now: non-negative
// seconds, an integer or a decimal ("120", "19.991", kept to the nanosecond,
// rounded up), or an HTTP date, also ending in UTC or a numeric zone (see
// [parseHTTPDate]). A date in the past gives 0. A delay longer than 100 years,
// however many digits it has, gives 100 years: the server asked for a long
// wait, and the caller applies its own maximum. A negative number (even -0)
// or anything else gives false, and 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = trimOWS(v)
	if isDigits(v) {
		// The common form, read without parseDecimal's generality.
		const maxSeconds = int64(retryAfterCap / time.Second)
		var n int64
		for i := 0; i < len(v) && n < maxSeconds; i++ {
			n = n*10 + int64(v[i]-'0')
		}
		// The loop stops early, so n stays below 10*maxSeconds+9, far from
		// overflowing, but its duration would not.
		return time.Duration(min(n, maxSeconds)) * time.Second, true
	}
	n, nanos, neg, ok := parseDecimal(v)
	switch {
	case !ok:
		t, ok := parseHTTPDate(v)
		if !ok {
			return 0, false
		}
		return min(max(t.Sub(now), 0), retryAfterCap), true
	case neg:
		return 0, false
	case n >= int64(retryAfterCap/time.Second):
		// n saturates at decimalCap: its duration would overflow.
		return retryAfterCap, true
	}
	return min(time.Duration(n)*time.Second+time.Duration(nanos), retryAfterCap), true
}

// parseHTTPDate reads v as an HTTP date (RFC 9110, section 5.6.7): an
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850 form
// ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime's ("Sun Nov  6 08:49:37
// 1994"). It also reads the RFC 1123 dates servers format with Go's
// time.RFC1123 or time.RFC1123Z: ending in UTC rather than GMT (as
// sethvargo/go-limiter sends them) or in a numeric zone ("+0000", "-0700").
// A zone abbreviation other than GMT and UTC gives false: its offset is
// unknown. It tries one layout, chosen by the zone, so that a value that is
// not a date costs one failed parse.
func parseHTTPDate(v string) (time.Time, bool) {
	layout := time.ANSIC
	if i := strings.LastIndexByte(v, ' '); i >= 0 {
		switch zone := v[i+1:]; {
		case zone == "GMT" || zone == "UTC":
			// Without a zone in the layout, time.Parse reads UTC.
			v, layout = v[:i], "Mon, 02 Jan 2006 15:04:05"
			if len(v) > 3 && v[3] != ',' {
				layout = "Monday, 02-Jan-06 15:04:05"
			}
		case len(zone) == 5 && (zone[0] == '+' || zone[0] == '-'):
			layout = time.RFC1123Z
		}
	}
	t, err := time.Parse(layout, v)
	return t, err == nil
}

// wholeDecimal parses v as a decimal whose fraction is zero ("5.00"), not
// negative and at most maxHeaderInt: an integer that [parseHeaderInt] does
// not read.
func wholeDecimal(v string) (int64, bool) {
	n, nanos, neg, ok := parseDecimal(v)
	return n, ok && !neg && nanos == 0 && n <= maxHeaderInt
}

// parseDecimal parses v, after trimming spaces and tabs, as a decimal number:
// an optional '-', ASCII digits, and optionally a '.' and more digits, with at
// least one digit on each side of it. It returns the integer part, saturated
// at decimalCap, and the fraction in nanoseconds, rounded up (so 1e9 for a
// fraction over 0.999999999); neg reports a '-', even on zero. No '+',
// exponent or digit separator is accepted. It allocates nothing.
func parseDecimal(v string) (n, nanos int64, neg, ok bool) {
	v = trimOWS(v)
	if v != "" && v[0] == '-' {
		neg, v = true, v[1:]
	}
	i := 0
	for ; i < len(v); i++ {
		c := v[i] - '0'
		if c > 9 {
			break
		}
		// n stays at most decimalCap, so n*10+9 cannot overflow.
		n = min(n*10+int64(c), decimalCap)
	}
	if i == 0 {
		return 0, 0, false, false
	}
	if i == len(v) {
		return n, 0, neg, true
	}
	frac := v[i+1:]
	if v[i] != '.' || !isDigits(frac) {
		return 0, 0, false, false
	}
	scale := int64(time.Second)
	for j := 0; j < len(frac); j++ {
		d := int64(frac[j] - '0')
		if scale /= 10; scale > 0 {
			nanos += d * scale
		} else if d != 0 {
			// Rounded up once, whatever follows.
			return n, nanos + 1, neg, true
		}
	}
	return n, nanos, neg, true
}

// parseHeaderInt parses v, after trimming spaces and tabs, as a decimal
// integer in [0, limit]. Only ASCII digits are accepted: no sign, no fraction,
// no exponent, no digit separator. Overflow gives false.
//
// It does not use strconv.ParseInt, which accepts signs and allocates an
// error for every invalid value.
func parseHeaderInt(v string, limit int64) (int64, bool) {
	v = trimOWS(v)
	if v == "" || limit < 0 {
		return 0, false
	}
	// One division, not one per digit: n <= limit/10 keeps n*10+9 within
	// limit+9, which a uint64 holds. A prefix over limit fails the same test
	// at the next digit, so only the whole number is compared with limit.
	tenth := uint64(limit) / 10
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i] - '0'
		if c > 9 || n > tenth {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	if n > uint64(limit) {
		return 0, false
	}
	return int64(n), true
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// trimOWS trims the optional whitespace of HTTP, spaces and tabs, from both
// ends of s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// sfMember is one member of a structured-field list or dictionary (RFC 9651),
// reduced to what rate-limit fields need. Its fields are substrings of the
// field value, trimmed but otherwise raw: a quoted string keeps its quotes and
// escapes.
type sfMember struct {
	key    string // the dictionary key, or "" for a list item
	item   string // the bare item, or the dictionary member's value
	params string // the parameters after the first ';', or ""
}

// nextSFMember splits the first member off a structured-field list or
// dictionary and returns the rest after its comma. The parse is lenient: it
// only respects quoted strings, so that commas, semicolons and equal signs
// inside them do not split, and never fails.
func nextSFMember(s string) (m sfMember, rest string) {
	s, rest, _ = sfCut(s, ',')
	bare, params, _ := sfCut(s, ';')
	bare = trimOWS(bare)
	// Strings and byte sequences (":base64=:") may hold '='; keys may not.
	if bare != "" && bare[0] != '"' && bare[0] != ':' {
		if k, v, ok := strings.Cut(bare, "="); ok {
			m.key, bare = trimOWS(k), trimOWS(v)
		}
	}
	m.item, m.params = bare, params
	return m, rest
}

// sfParam returns the value of the last parameter named key in params, as
// structured fields define duplicates. The name matches in any case, to be
// lenient with servers that capitalize it. A parameter without a value gives
// "" and true.
func sfParam(params, key string) (v string, ok bool) {
	for params != "" {
		var p string
		p, params, _ = sfCut(params, ';')
		name, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(trimOWS(name), key) {
			v, ok = trimOWS(val), true
		}
	}
	return v, ok
}

// sfCut slices s around the first sep that is not inside a quoted string.
func sfCut(s string, sep byte) (before, after string, found bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// sfUnquote returns the content of a quoted string item, escapes left as
// they are, or the item itself when it is not quoted.
func sfUnquote(item string) string {
	if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
		return item[1 : len(item)-1]
	}
	return item
}
