package ratehttp

import (
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
	dialectNone    dialect = iota // no rate-limit header at all
	dialectVendor                 // X-ratelimit, X-ratelimit-used, X-ratelimit-window (the seeds' vendor)
	dialectIETF                   // RateLimit-Policy / RateLimit structured fields (current IETF draft: q, w, r, t)
	dialectIETFOld                // RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (older drafts)
	dialectGitHub                 // X-RateLimit-Limit / -Remaining / -Reset / -Used, or X-Rate-Limit-Limit / -Remaining / -Reset / -Duration
)

// String returns the dialect's metric label: "none", "vendor", "ietf",
// "ietf_old" or "github". An undefined value gives "dialect(N)".
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
	// hour when X-ratelimit or X-ratelimit-used is present and the window
	// header is absent. IETF: from the policy's w parameter. GitHub: from
	// X-Rate-Limit-Duration in the hyphenated spelling; the other spelling
	// has no window header, and none is guessed from the reset.
	window time.Duration
	// reset is zero when the server sent no reset time; else the absolute
	// instant the window resets, which may be in the past (a Unix time or a
	// date truncated to the second often is) but never more than maxWindow
	// after now.
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
// seen. When a header repeats, its first value is used. When several dialects
// are present, the first that matches wins, in this order:
//
//  1. vendor, when X-Ratelimit or X-Ratelimit-Used is present and
//     X-Ratelimit-Remaining is absent (GitHub also sends X-RateLimit-Used, but
//     always with X-RateLimit-Remaining);
//  2. IETF, when RateLimit-Policy or RateLimit is present;
//  3. IETF old, when RateLimit-Limit or RateLimit-Remaining is present;
//  4. GitHub, when X-RateLimit-Limit or X-RateLimit-Remaining is present;
//  5. GitHub in the hyphenated spelling of Twitter, Okta and tollbooth, when
//     X-Rate-Limit-Limit is present (X-Rate-Limit-Remaining alone is not
//     enough: every response without rate-limit headers would pay for one
//     more look-up);
//  6. none.
//
// Numbers are read leniently where their meaning is plain: surrounding spaces
// and tabs are ignored, a decimal whose fraction is zero is the integer
// ("5.00"), a remaining count with a fraction is floored ("597.5" is 597),
// and a negative remaining count is 0, which some limiters send once
// requests have gone past the limit. A limit with a non-zero fraction, an
// X-Ratelimit-Used that is not a non-negative integer (it may count the
// requests used), and a '+' sign or an exponent in any of these numbers are
// anomalies. See [signal.setReset] for the forms of a reset and
// [parseRetryAfter] for those of Retry-After.
//
// Retry-After is parsed, in every dialect, only where it has a meaning: on a
// 429 (RFC 6585), a 503 or a redirection (RFC 9110, section 10.2.3). On other
// responses it is not read, nor counted as an anomaly. A response without any
// of these headers gives a signal with dialect none, count -1 and nothing else
// set.
func parseSignal(h http.Header, code int, now time.Time) signal {
	s := signal{count: -1}
	var limit []string
	s.dialect, limit = detectDialect(h)
	switch s.dialect {
	case dialectVendor:
		s.parseVendor(h, limit)
	case dialectIETF:
		s.parseIETF(h, now)
	case dialectIETFOld:
		s.parseIETFOld(h, now)
	case dialectGitHub:
		if limit == nil {
			s.parseGitHub(h, now)
		} else {
			s.parseHyphenated(h, limit, now)
		}
	}
	if s.limit > 0 && s.count > s.limit {
		s.count = -1
		s.anomalies |= anomalyCountOverLimit
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code >= 300 && code < 400 {
		if v, ok := s.lookup(h, "Retry-After"); ok {
			if d, ok := parseRetryAfter(v, now); ok {
				s.retryAfter, s.hasRetryAfter = d, true
			} else {
				s.anomalies |= anomalyRetryAfter
			}
		}
	}
	return s
}

// detectDialect applies the order documented on [parseSignal]. It also
// returns the values of the limit header that detected the dialect, when the
// dialect reads it next, so that it is looked up once: X-Ratelimit for the
// vendor dialect, X-Rate-Limit-Limit for the hyphenated spelling of GitHub's.
// For the other dialects, and GitHub's own spelling, it returns nil.
func detectDialect(h http.Header) (dialect, []string) {
	has := func(key string) bool { return len(h[key]) > 0 }
	limit := h["X-Ratelimit"]
	switch {
	case (len(limit) > 0 || has("X-Ratelimit-Used")) && !has("X-Ratelimit-Remaining"):
		return dialectVendor, limit
	case has("Ratelimit-Policy") || has("Ratelimit"):
		return dialectIETF, nil
	case has("Ratelimit-Limit") || has("Ratelimit-Remaining"):
		return dialectIETFOld, nil
	case has("X-Ratelimit-Limit") || has("X-Ratelimit-Remaining"):
		return dialectGitHub, nil
	}
	if limit := h["X-Rate-Limit-Limit"]; len(limit) > 0 {
		return dialectGitHub, limit
	}
	return dialectNone, nil
}

// parseVendor reads X-ratelimit (the limit), X-ratelimit-used (the count) and
// X-ratelimit-window (minute, hour or day; one hour when absent).
//
// limit holds the values of X-Ratelimit, which detectDialect looked up.
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

// parseIETF reads the current draft's RateLimit-Policy and RateLimit fields.
// It also understands the forms servers still send from earlier drafts: a
// policy item that is a bare quota (`100;w=60`), a RateLimit dictionary
// (`limit=100, remaining=50, reset=30`), and RateLimit-Limit, -Remaining and
// -Reset next to a RateLimit-Policy.
func (s *signal) parseIETF(h http.Header, now time.Time) {
	// name picks the policy the RateLimit item reports on; quota does the same
	// for the dictionary form, which has no names.
	var name, quota string
	v, sawRateLimit := s.lookup(h, "Ratelimit")
	if sawRateLimit {
		first, _ := nextSFMember(v)
		if first.key == "" {
			name = sfUnquote(first.item)
			if r, ok := sfParam(first.params, "r"); ok {
				s.setRemaining(r)
			} else {
				s.anomalies |= anomalyCount // r is required
			}
			if t, ok := sfParam(first.params, "t"); ok {
				s.setReset(t, now, false)
			}
		} else {
			for rest := v; rest != ""; {
				var m sfMember
				m, rest = nextSFMember(rest)
				switch {
				case strings.EqualFold(m.key, "limit"):
					quota = m.item
				case strings.EqualFold(m.key, "remaining"):
					s.setRemaining(m.item)
				case strings.EqualFold(m.key, "reset"):
					s.setReset(m.item, now, false)
				}
			}
		}
	}

	if v, ok := s.lookup(h, "Ratelimit-Policy"); ok {
		p := pickPolicy(v, name, quota)
		q, ok := sfParam(p.params, "q")
		if !ok && p.key == "" && isDigits(p.item) {
			q, ok = p.item, true
		}
		if ok {
			s.setLimit(q)
		} else {
			s.anomalies |= anomalyLimit // q is required
		}
		if w, ok := sfParam(p.params, "w"); ok {
			s.setWindow(w)
		}
	} else if quota != "" {
		s.setLimit(quota)
	} else if v, ok := s.lookup(h, "Ratelimit-Limit"); ok {
		s.setOldLimit(v)
	}

	if !sawRateLimit {
		s.parseOldCountReset(h, now)
	}
}

// pickPolicy returns the member of the RateLimit-Policy list v named name, or
// else the first whose bare quota is quota, or else the first member.
func pickPolicy(v, name, quota string) sfMember {
	first, rest := nextSFMember(v)
	if name == "" && quota == "" {
		return first
	}
	for m := first; ; m, rest = nextSFMember(rest) {
		if (name != "" && sfUnquote(m.item) == name) || (quota != "" && m.item == quota) {
			return m
		}
		if rest == "" {
			return first
		}
	}
}

// parseIETFOld reads RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
// of the drafts before RateLimit-Policy carried the quota.
func (s *signal) parseIETFOld(h http.Header, now time.Time) {
	if v, ok := s.lookup(h, "Ratelimit-Limit"); ok {
		s.setOldLimit(v)
	}
	s.parseOldCountReset(h, now)
}

// setOldLimit reads a RateLimit-Limit value: the first integer is the limit,
// and the w parameter of the first member with that same quota, if any, is
// the window (`100, 100;w=60, 1000;w=3600`).
func (s *signal) setOldLimit(v string) {
	first, rest := nextSFMember(v)
	s.setLimit(first.item)
	for m := first; ; m, rest = nextSFMember(rest) {
		if m.item == first.item {
			if w, ok := sfParam(m.params, "w"); ok {
				s.setWindow(w)
				return
			}
		}
		if rest == "" {
			return
		}
	}
}

// parseOldCountReset reads RateLimit-Remaining and RateLimit-Reset. The reset
// is delta seconds in the drafts, but servers also send a Unix time or an HTTP
// date there (see [signal.setReset]).
func (s *signal) parseOldCountReset(h http.Header, now time.Time) {
	if v, ok := s.lookup(h, "Ratelimit-Remaining"); ok {
		s.setRemaining(v)
	}
	if v, ok := s.lookup(h, "Ratelimit-Reset"); ok {
		s.setReset(v, now, true)
	}
}

// parseGitHub reads X-RateLimit-Limit, X-RateLimit-Remaining (the count) and
// X-RateLimit-Reset (Unix seconds, delta seconds below 1e9, or an HTTP date;
// see [signal.setReset]). X-RateLimit-Used is ignored: the remaining count
// says the same. There is no window header: the window stays unknown.
func (s *signal) parseGitHub(h http.Header, now time.Time) {
	if v, ok := s.lookup(h, "X-Ratelimit-Limit"); ok {
		s.setLimit(v)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Remaining"); ok {
		s.setRemaining(v)
	}
	if v, ok := s.lookup(h, "X-Ratelimit-Reset"); ok {
		s.setReset(v, now, true)
	}
}

// parseHyphenated reads the GitHub dialect as Twitter, Okta and tollbooth
// spell it: X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset
// as [signal.parseGitHub] reads their namesakes, and X-Rate-Limit-Duration,
// which tollbooth sends with the limit ("1", its limits being per second), as
// the window.
//
// limit holds the values of X-Rate-Limit-Limit, which detectDialect looked up.
func (s *signal) parseHyphenated(h http.Header, limit []string, now time.Time) {
	if v, ok := s.first(limit); ok {
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

// setLimit sets the limit from v, a positive integer up to maxHeaderInt, also
// written with a zero fraction ("5.00", as tollbooth sends it), or reports
// anomalyLimit.
func (s *signal) setLimit(v string) {
	n, ok := parseHeaderInt(v, maxHeaderInt)
	if !ok {
		n, ok = wholeDecimal(v)
	}
	if ok && n > 0 {
		s.limit = n
		return
	}
	s.anomalies |= anomalyLimit
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

// setRemaining sets the count from v, a number of remaining requests up to
// maxHeaderInt: a fraction is floored ("598.0", "597.5"), and a negative number
// is 0. It reports anomalyCount when v is not a number or is over
// maxHeaderInt.
func (s *signal) setRemaining(v string) {
	if n, ok := parseHeaderInt(v, maxHeaderInt); ok {
		s.count = n
		return
	}
	switch n, _, neg, ok := parseDecimal(v); {
	case ok && neg:
		s.count = 0
	case ok && n <= maxHeaderInt:
		s.count = n
	default:
		s.anomalies |= anomalyCount
	}
}

// setWindow sets the window from v as [parseWindow] reads it, or reports
// anomalyWindow.
func (s *signal) setWindow(v string) {
	if d, ok := parseWindow(v); ok {
		s.window = d
		return
	}
	s.anomalies |= anomalyWindow
}

// setReset sets the reset instant from v: delta seconds after now, an integer
// or a decimal ("30", "0.5"). If absolute is set, as for the GitHub and older
// IETF reset headers, v may also be an instant: Unix seconds when the number
// is 1e9 or more, also with a fraction ("1700000000.123"), or an HTTP date,
// also ending in UTC or +0000 (see [parseHTTPDate]), from 2001 on like the
// Unix seconds. Fractions are kept to the nanosecond, rounded up. It reports
// anomalyReset when v is none of these, is negative, or names an instant more
// than maxWindow after now. An instant in the past is kept: the caller knows
// the window is over.
func (s *signal) setReset(v string, now time.Time, absolute bool) {
	var t time.Time
	n, ok := parseHeaderInt(v, maxHeaderInt)
	switch {
	case !ok:
		t, ok = otherReset(v, now, absolute)
	case absolute && n >= epochThreshold:
		t = time.Unix(n, 0)
	case n <= int64(maxWindow/time.Second):
		s.reset = now.Add(time.Duration(n) * time.Second)
		return
	default:
		ok = false
	}
	if ok && t.Sub(now) <= maxWindow {
		s.reset = t
		return
	}
	s.anomalies |= anomalyReset
}

// otherReset reads the reset forms that are not integers, as [signal.setReset]
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
