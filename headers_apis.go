package ratehttp

import (
	"net/http"
	"strings"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// This file holds the parts of header parsing that describe several limits
// in one response: the policies, the choice of the binding one, and the
// dialects of single APIs (OpenAI, Anthropic, the seeds' API gateway,
// Shopify). Like headers.go, everything is a pure function of the header map
// and now.

const (
	// anthropicWindow is the window of Anthropic's limits, all per minute
	// (requests, input and output tokens per minute) as documented.
	anthropicWindow = time.Minute
	// shopifyDrain is how long Shopify's leaky bucket takes to drain when
	// full: its documented leak rate is a twentieth of the capacity per
	// second on every plan (2/s for 40, 4/s for 80, 20/s for 400).
	shopifyDrain = 20 * time.Second
)

// quotaUnit is what a policy counts.
type quotaUnit = iquota.Unit

const (
	unitRequests     = iquota.UnitRequests     // requests: the only unit that paces
	unitTokens       = iquota.UnitTokens       // tokens, input and output together (OpenAI, Anthropic)
	unitInputTokens  = iquota.UnitInputTokens  // input tokens (Anthropic)
	unitOutputTokens = iquota.UnitOutputTokens // output tokens (Anthropic)
	unitOther        = iquota.UnitOther        // content bytes, concurrent requests or an unknown IETF unit
)

// policy is one of several limits a response described. Its fields mean what
// the fields of the same names in [signal] mean, for that limit alone: count
// is the REMAINING quota in the policy's unit.
type policy struct {
	// name is the policy's name as the response gave it: the IETF item's
	// (unquoted, escapes left), APIG's "api", "user", "app" or "ip", or the
	// unit's for OpenAI and Anthropic ("requests", "tokens", "input-tokens",
	// "output-tokens"). It is a substring of a header value: no allocation.
	name   string
	unit   quotaUnit
	limit  int64
	count  int64
	window time.Duration
	reset  time.Time
}

// maxPolicies is the most policies a detail holds; a response's further
// policies are ignored. Four holds APIG's and Anthropic's.
const maxPolicies = iquota.MaxPolicies

// detail is what a response says beyond the one limit a signal holds, for a
// later model of several limits per key: every policy of a response that
// described several, and Discord's bucket and scope. [parseSignalDetail]
// fills it; [parseSignal], on the hot path, does not, so that a signal stays
// small to return and copy.
type detail struct {
	// policies are the limits of a response that described several, or one
	// in a form that can describe several (APIG, OpenAI, Anthropic, the IETF
	// RateLimit and RateLimit-Policy lists), in the order the response gave
	// them, the first maxPolicies only; npolicies says how many. binding is
	// the index of the one the signal's limit, count, window and reset were
	// copied from, or -1 when none was (no request policy). For the dialects
	// of a single limit (vendor, older IETF drafts, GitHub, Shopify),
	// npolicies is 0: the signal holds the limit.
	policies  [maxPolicies]policy
	npolicies uint8
	binding   int8
	// bucket and scope are Discord's X-RateLimit-Bucket and X-RateLimit-Scope
	// ("user", "global" or "shared"; "global" also when X-RateLimit-Global is
	// true), substrings of the header values, or "".
	bucket, scope string
}

// orScratch returns d, or scratch when d is nil: the parsers of several
// policies need room to choose the binding one even when the caller does not
// want the detail, and only they pay for zeroing it.
func orScratch(d, scratch *detail) *detail {
	if d != nil {
		return d
	}
	return scratch
}

// parseOpenAI reads OpenAI's two quotas: x-ratelimit-limit-requests,
// -remaining-requests and -reset-requests, and the same for -tokens. A reset
// is a Go duration ("1s", "6m0s", "12ms"): the delay until the quota is full
// again. The window is derived from it (see [bucketWindow]).
func (s *signal) parseOpenAI(h http.Header, now time.Time, d *detail) {
	d.policies[0] = s.openAIPolicy(h, "requests", unitRequests, "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests", now)
	d.npolicies = 1
	if len(h["X-Ratelimit-Limit-Tokens"]) > 0 {
		d.policies[1] = s.openAIPolicy(h, "tokens", unitTokens, "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens", now)
		d.npolicies = 2
	}
	s.bind(d, now)
}

// openAIPolicy reads one of OpenAI's quotas.
func (s *signal) openAIPolicy(h http.Header, name string, unit quotaUnit, limitKey, remainingKey, resetKey string, now time.Time) policy {
	p := policy{name: name, unit: unit, count: -1}
	if v, ok := s.lookup(h, limitKey); ok {
		p.limit = s.limitOf(v)
	}
	if v, ok := s.lookup(h, remainingKey); ok {
		p.count = s.remainingOf(v)
	}
	if v, ok := s.lookup(h, resetKey); ok {
		if d, ok := parseGoDelay(v); ok {
			p.reset = now.Add(d)
			p.window = bucketWindow(p.limit, p.count, d)
		} else {
			s.anomalies |= anomalyReset
		}
	}
	s.checkPolicy(&p)
	return p
}

// parseGoDelay reads a non-negative Go duration of at most maxWindow, as
// OpenAI formats its resets.
func parseGoDelay(v string) (time.Duration, bool) {
	v = trimOWS(v)
	if v == "" || v[0] < '0' || v[0] > '9' {
		// Also keeps a sign out, and time.ParseDuration's allocation of an
		// error off the common garbage.
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d > maxWindow {
		return 0, false
	}
	return d, true
}

// bucketWindows are the windows [bucketWindow] snaps to.
var bucketWindows = [...]time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour}

// bucketWindow derives the window of a token bucket of capacity limit that
// holds remaining and is full again after full: it refills limit-remaining in
// full, so limit in full*limit/(limit-remaining). The result is snapped to a
// second, a minute, an hour or a day when within 10% of one (OpenAI's limits
// are per minute or per day, and its resets are rounded), and is 0 when it is
// not close to any of them or cannot be derived (a full bucket, an unknown
// limit or count).
func bucketWindow(limit, remaining int64, full time.Duration) time.Duration {
	used := limit - remaining
	if limit <= 0 || remaining < 0 || used <= 0 || full <= 0 {
		return 0
	}
	w := float64(full) * float64(limit) / float64(used)
	for _, c := range bucketWindows {
		if w >= 0.9*float64(c) && w <= 1.1*float64(c) {
			return c
		}
	}
	return 0
}

// parseAnthropic reads Anthropic's quotas: anthropic-ratelimit-requests-limit,
// -remaining and -reset, and the same for tokens, input-tokens and
// output-tokens. A reset is an RFC 3339 time: when the quota is full again.
// Every window is a minute, as Anthropic documents its limits.
func (s *signal) parseAnthropic(h http.Header, now time.Time, d *detail) {
	n := 0
	for _, q := range [...]struct {
		name                string
		unit                quotaUnit
		lim, remaining, rst string
	}{
		{"requests", unitRequests, "Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset"},
		{"tokens", unitTokens, "Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset"},
		{"input-tokens", unitInputTokens, "Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset"},
		{"output-tokens", unitOutputTokens, "Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"},
	} {
		if len(h[q.lim]) > 0 || len(h[q.remaining]) > 0 {
			d.policies[n] = s.anthropicPolicy(h, q.name, q.unit, q.lim, q.remaining, q.rst, now)
			n++
		}
	}
	d.npolicies = uint8(n)
	s.bind(d, now)
}

// anthropicPolicy reads one of Anthropic's quotas.
func (s *signal) anthropicPolicy(h http.Header, name string, unit quotaUnit, limitKey, remainingKey, resetKey string, now time.Time) policy {
	p := policy{name: name, unit: unit, count: -1, window: anthropicWindow}
	if v, ok := s.lookup(h, limitKey); ok {
		p.limit = s.limitOf(v)
	}
	if v, ok := s.lookup(h, remainingKey); ok {
		p.count = s.remainingOf(v)
	}
	if v, ok := s.lookup(h, resetKey); ok {
		t, err := time.Parse(time.RFC3339, trimOWS(v))
		if err == nil && t.Unix() >= epochThreshold && t.Sub(now) <= maxWindow {
			p.reset = t
		} else {
			s.anomalies |= anomalyReset
		}
	}
	s.checkPolicy(&p)
	return p
}

// apigPolicies are APIG's four headers and the names of their policies.
var apigPolicies = [...]struct{ key, name string }{
	{"X-Apig-Ratelimit-Api", "api"},
	{"X-Apig-Ratelimit-User", "user"},
	{"X-Apig-Ratelimit-App", "app"},
	{"X-Apig-Ratelimit-Ip", "ip"},
}

// parseAPIG reads the headers of the seeds' cloud API gateway: one per
// policy (the API's, the user's, the app's and the client IP's), each
// `remain:9,limit:10,time:10 second` as [parseAPIGValue] reads it.
func (s *signal) parseAPIG(h http.Header, now time.Time, d *detail) {
	n := 0
	for _, k := range apigPolicies {
		v, ok := s.lookup(h, k.key)
		if !ok {
			continue
		}
		p := policy{name: k.name}
		var a anomaly
		p.limit, p.count, p.window, a = parseAPIGValue(v)
		s.anomalies |= a
		d.policies[n] = p
		n++
	}
	d.npolicies = uint8(n)
	s.bind(d, now)
}

// parseAPIGValue reads one APIG policy, `remain:9,limit:10,time:10 second`:
// comma-separated key:value pairs in any order and case, around which spaces
// are ignored; remain is the remaining count (read as any remaining count,
// -1 when absent or invalid), limit the limit (required: 0 and anomalyLimit
// when absent or invalid), time the window as [parseWindow] reads it ("10
// second", "1 minute", "1 hour", "1 day"). Unknown keys are ignored. remain
// over limit gives -1 and anomalyCountOverLimit.
func parseAPIGValue(v string) (limit, remaining int64, window time.Duration, a anomaly) {
	var s signal
	s.count = -1
	sawLimit := false
	for rest := v; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, ",")
		key, val, _ := strings.Cut(pair, ":")
		switch key = trimOWS(key); {
		case strings.EqualFold(key, "remain"):
			s.setRemaining(val)
		case strings.EqualFold(key, "limit"):
			sawLimit = true
			s.setLimit(val)
		case strings.EqualFold(key, "time"):
			s.setWindow(val)
		}
	}
	if !sawLimit {
		s.anomalies |= anomalyLimit
	}
	if s.limit > 0 && s.count > s.limit {
		s.count = -1
		s.anomalies |= anomalyCountOverLimit
	}
	return s.limit, s.count, s.window, s.anomalies
}

// parseShopify reads X-Shopify-Shop-Api-Call-Limit as [parseShopifyValue]
// does, received at now.
func (s *signal) parseShopify(h http.Header, now time.Time) {
	val, ok := s.lookup(h, "X-Shopify-Shop-Api-Call-Limit")
	if !ok {
		return
	}
	var drain time.Duration
	s.limit, s.count, drain, s.anomalies = parseShopifyValue(val)
	if s.limit > 0 {
		s.window = shopifyDrain
		s.reset = now.Add(drain)
	}
}

// parseShopifyValue reads `32/40`, the level and capacity of Shopify's leaky
// bucket, as a limit (the capacity) per shopifyDrain, the count remaining
// (capacity minus level), and the delay until the bucket is empty, which is
// when the whole capacity is available again: level*shopifyDrain/capacity. A
// capacity that is not a positive integer gives anomalyLimit, a level that is
// not a non-negative integer anomalyCount, a level over the capacity
// anomalyCountOverLimit; what is invalid is 0, or -1 for the count.
func parseShopifyValue(v string) (limit, remaining int64, drain time.Duration, a anomaly) {
	used, capacity, found := strings.Cut(v, "/")
	remaining = -1
	c, ok := parseHeaderInt(capacity, maxHeaderInt)
	if !found || !ok || c == 0 {
		a |= anomalyLimit
		c = 0
	}
	u, ok := parseHeaderInt(used, maxHeaderInt)
	switch {
	case !ok:
		a |= anomalyCount
	case c > 0 && u > c:
		a |= anomalyCountOverLimit
	case c > 0:
		remaining = c - u
		drain = time.Duration(float64(shopifyDrain) * float64(u) / float64(c))
	}
	return c, remaining, drain, a
}

// checkPolicy reports a count over the limit of p and forgets the count.
func (s *signal) checkPolicy(p *policy) {
	if p.limit > 0 && p.count > p.limit {
		p.count = -1
		s.anomalies |= anomalyCountOverLimit
	}
}

// bind chooses the binding request policy among d.policies and copies its
// limit, count, window and reset into s; binding is its index, or -1 when
// there is no request policy.
//
// The binding policy is the one that allows the fewest requests per second
// until it refills: its remaining count (or its limit when the count is
// unknown) over the time to its reset (or its window when the reset is
// unknown; a reset now or past allows any rate). A spent policy thus binds,
// the one that refills last among several spent ones; a policy with neither
// a reset nor a window, or neither a count nor a limit, cannot be ranked and
// binds only when no policy can be; ties go to the later refill, then to the
// first listed. This is the policy that would first refuse a client pacing
// evenly until the resets, and it is the one the IETF draft says a server
// should send when it sends one ("the closest limit to reach"). Token, byte
// and concurrency quotas are never chosen.
func (s *signal) bind(d *detail, now time.Time) {
	best, fallback := -1, -1
	var bestRate float64
	var bestT time.Duration
	for i := range int(d.npolicies) {
		p := &d.policies[i]
		if p.unit != unitRequests {
			continue
		}
		if fallback < 0 {
			fallback = i
		}
		r, t, ok := p.pace(now)
		if !ok {
			continue
		}
		rate := float64(r) / t.Seconds()
		if t <= 0 {
			rate = float64(maxHeaderInt) * 1e9 // refilled already: any rate
		}
		if best < 0 || rate < bestRate || rate == bestRate && t > bestT {
			best, bestRate, bestT = i, rate, t
		}
	}
	if best < 0 {
		best = fallback
	}
	d.binding = int8(best)
	if best >= 0 {
		p := &d.policies[best]
		s.limit, s.count, s.window, s.reset = p.limit, p.count, p.window, p.reset
	}
}

// pace returns what p allows until it refills: the requests (its count, or
// its limit when the count is unknown) and the time to its reset (or its
// window when the reset is unknown; 0 for a reset now or past), or false when
// p says too little to tell.
func (p *policy) pace(now time.Time) (int64, time.Duration, bool) {
	r := p.count
	if r < 0 {
		r = p.limit
	}
	if r <= 0 && p.count != 0 {
		return 0, 0, false
	}
	switch {
	case !p.reset.IsZero():
		return r, max(p.reset.Sub(now), 0), true
	case p.window > 0:
		return r, p.window, true
	}
	return 0, 0, false
}
