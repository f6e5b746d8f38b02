package ratehttp

import (
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// headersT0 is the instant every header test receives its response at.
var headersT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestDialectString(t *testing.T) {
	tests := []struct {
		give dialect
		want string
	}{
		{dialectNone, "none"},
		{dialectVendor, "vendor"},
		{dialectIETF, "ietf"},
		{dialectIETFOld, "ietf_old"},
		{dialectGitHub, "github"},
		{dialectOpenAI, "openai"},
		{dialectAnthropic, "anthropic"},
		{dialectAPIG, "apig"},
		{dialectShopify, "shopify"},
		{dialect(200), "dialect(200)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("dialect(%d).String() = %q, want %q", uint8(tt.give), got, tt.want)
		}
	}
}

func TestAnomalyKinds(t *testing.T) {
	seen := make(map[string]bool)
	for i, k := range anomalyKinds {
		if k.bit != 1<<i {
			t.Errorf("anomalyKinds[%d].bit = %#x, want %#x", i, k.bit, 1<<i)
		}
		if k.name == "" || strings.ToLower(k.name) != k.name || seen[k.name] {
			t.Errorf("anomalyKinds[%d].name = %q, want a new lowercase label", i, k.name)
		}
		seen[k.name] = true
	}
	if last := anomalyKinds[len(anomalyKinds)-1].bit; last != anomalyTooLong {
		t.Errorf("last anomaly kind = %#x, want anomalyTooLong (%#x): a kind is missing", last, anomalyTooLong)
	}
}

// allAnomalies is the union of every known anomaly kind.
func allAnomalies() anomaly {
	var all anomaly
	for _, k := range anomalyKinds {
		all |= k.bit
	}
	return all
}

// formatAnomalies names the kinds in a, for failure messages.
func formatAnomalies(a anomaly) string {
	var names []string
	for _, k := range anomalyKinds {
		if a&k.bit != 0 {
			names = append(names, k.name)
			a &^= k.bit
		}
	}
	if a != 0 {
		names = append(names, fmt.Sprintf("%#x", uint16(a)))
	}
	return "{" + strings.Join(names, ",") + "}"
}

func parseWindowTests() []struct {
	give   string
	want   time.Duration
	wantOK bool
} {
	return []struct {
		give   string
		want   time.Duration
		wantOK bool
	}{
		// The vendor's units, any case, singular or plural.
		{"minute", time.Minute, true},
		{"hour", time.Hour, true},
		{"day", 24 * time.Hour, true},
		{"second", time.Second, true},
		{"Minutes", time.Minute, true},
		{"HOUR", time.Hour, true},
		{"days", 24 * time.Hour, true},
		{"SECONDS", time.Second, true},
		{" hour\t", time.Hour, true},
		{"15 minutes", 15 * time.Minute, true},
		{"2days", 48 * time.Hour, true},
		{"1\thour", time.Hour, true},
		{"31 days", maxWindow, true},
		{"32 days", 0, false},
		{"0 days", 0, false},
		{"99999999999999999999 days", 0, false},
		{"minutez", 0, false},
		{"hourss", 0, false},
		{"week", 0, false},
		{"minute minute", 0, false},
		{"s", 0, false},
		// Go durations.
		{"10s", 10 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"1.5h", 90 * time.Minute, true},
		{"10ms", minWindow, true},
		{"9ms", 0, false},
		{"744h", maxWindow, true},
		{"745h", 0, false},
		{"-1h", 0, false},
		{"10 s", 0, false},
		// Bare seconds.
		{"60", time.Minute, true},
		{" 60 ", time.Minute, true},
		{"2678400", maxWindow, true},
		{"2678401", 0, false},
		{"0", 0, false},
		{"-60", 0, false},
		{"+60", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"99999999999999999999", 0, false},
		{"\uff16\uff10", 0, false}, // fullwidth digits
		{"", 0, false},
		{"   ", 0, false},
	}
}

func TestParseWindow(t *testing.T) {
	for _, tt := range parseWindowTests() {
		got, ok := parseWindow(tt.give)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseWindow(%q) = %v, %t, want %v, %t", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestParseWindowRoundTrip checks that every window in range survives being
// formatted as a Go duration and as whole seconds.
func TestParseWindowRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{minWindow, time.Second, 90 * time.Second, time.Hour, 25 * time.Hour, maxWindow} {
		if got, ok := parseWindow(d.String()); got != d || !ok {
			t.Errorf("parseWindow(%q) = %v, %t, want %v, true", d.String(), got, ok, d)
		}
		if d%time.Second == 0 {
			s := strconv.FormatInt(int64(d/time.Second), 10)
			if got, ok := parseWindow(s); got != d || !ok {
				t.Errorf("parseWindow(%q) = %v, %t, want %v, true", s, got, ok, d)
			}
		}
	}
}

func parseRetryAfterTests(t0 time.Time) []struct {
	give   string
	want   time.Duration
	wantOK bool
} {
	const year = 365 * 24 * time.Hour
	return []struct {
		give   string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 120\t", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{"31536000", year, true},
		{"3153600000", 100 * year, true},
		{"3153600001", 100 * year, true},
		{"9999999999", 100 * year, true},
		{"99999999999999999999999999999999", 100 * year, true},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{t0.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true},
		{t0.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second, true},
		{t0.Format(http.TimeFormat), 0, true},
		{t0.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{t0.AddDate(200, 0, 0).Format(http.TimeFormat), 100 * year, true},
		// Fractional seconds, kept to the nanosecond, rounded up.
		{"1.5", 1500 * time.Millisecond, true},
		{"19.991", 19991 * time.Millisecond, true},
		{"0.5", 500 * time.Millisecond, true},
		{" 0.25\t", 250 * time.Millisecond, true},
		{"0.000000001", time.Nanosecond, true},
		{"0.0000000001", time.Nanosecond, true},
		{"1.0000000000000000000001", time.Second + time.Nanosecond, true},
		{"0.999999999", time.Second - time.Nanosecond, true},
		{"0.9999999991", time.Second, true},
		{"2.000000000000", 2 * time.Second, true},
		{"3153599999.9999999999", 100 * year, true},
		{"3153600000.5", 100 * year, true},
		{"99999999999999999999.5", 100 * year, true},
		// Dates with UTC or a numeric zone, as Go's time.RFC1123 and
		// time.RFC1123Z print them (sethvargo/go-limiter's httplimit).
		{"Fri, 02 Jan 2026 03:05:35 UTC", 90 * time.Second, true},
		{t0.Add(90 * time.Second).Format(time.RFC1123), 90 * time.Second, true},
		{t0.Add(90 * time.Second).Format(time.RFC1123Z), 90 * time.Second, true},
		{t0.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true},
		{"Fri, 02 Jan 2026 03:05:35 +0000", 90 * time.Second, true},
		{"Fri, 02 Jan 2026 03:05:35 -0000", 90 * time.Second, true},
		{"Fri, 02 Jan 2026 04:05:35 +0100", 90 * time.Second, true},
		{"Thu, 01 Jan 2026 20:05:35 -0700", 90 * time.Second, true},
		{"Fri, 02 Jan 2026 03:04:04 UTC", 0, true},
		{"Fri, 02 Jan 2026 03:05:35 PST", 0, false},
		{"Friday, 02-Jan-26 03:05:35 EST", 0, false},
		{"Fri, 02 Jan 2026 03:05:35 utc", 0, false},
		{"Fri, 02 Jan 2026 03:05:35", 0, false},
		{"Fri, 02 Jan 2026 03:05:35 +01:00", 0, false},
		{"-1", 0, false},
		{"-0", 0, false},
		{"-0.5", 0, false},
		{"+1", 0, false},
		{"+1.5", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1..5", 0, false},
		{"1.5.", 0, false},
		{"1,5", 0, false},
		{"1.5e3", 0, false},
		{"1e3", 0, false},
		{"1.-5", 0, false},
		{"1. 5", 0, false},
		{"NaN", 0, false},
		{"12a", 0, false},
		{"1 2", 0, false},
		{"soon", 0, false},
		{"2026-01-02T03:04:05Z", 0, false},
		{"", 0, false},
		{" ", 0, false},
	}
}

func TestParseRetryAfter(t *testing.T) {
	t0 := headersT0
	for _, tt := range parseRetryAfterTests(t0) {
		got, ok := parseRetryAfter(tt.give, t0)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q, t0) = %v, %t, want %v, %t", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestParseHTTPDateRoundTrip checks that every instant, printed in each form
// parseHTTPDate reads, comes back whole.
func TestParseHTTPDateRoundTrip(t *testing.T) {
	layouts := []string{http.TimeFormat, time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC}
	for _, give := range []time.Time{
		headersT0,
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC),
	} {
		for _, layout := range layouts {
			v := give.Format(layout)
			if got, ok := parseHTTPDate(v); !got.Equal(give) || !ok {
				t.Errorf("parseHTTPDate(%q) = %v, %t, want %v, true", v, got, ok, give)
			}
		}
		for _, zone := range []*time.Location{time.FixedZone("", 3600), time.FixedZone("", -7*3600-30*60)} {
			v := give.In(zone).Format(time.RFC1123Z)
			if got, ok := parseHTTPDate(v); !got.Equal(give) || !ok {
				t.Errorf("parseHTTPDate(%q) = %v, %t, want %v, true", v, got, ok, give)
			}
		}
	}
}

func parseDecimalTests() []struct {
	give            string
	want, wantNanos int64
	wantNeg, wantOK bool
} {
	return []struct {
		give            string
		want, wantNanos int64
		wantNeg, wantOK bool
	}{
		{"0", 0, 0, false, true},
		{"42", 42, 0, false, true},
		{" 42\t", 42, 0, false, true},
		{"-3", 3, 0, true, true},
		{"-0", 0, 0, true, true},
		{"5.00", 5, 0, false, true},
		{"598.0", 598, 0, false, true},
		{"19.991", 19, 991_000_000, false, true},
		{"1700000000.123", 1_700_000_000, 123_000_000, false, true},
		{"0.000000001", 0, 1, false, true},
		{"0.0000000001", 0, 1, false, true},
		{"0.0000000000", 0, 0, false, true},
		{"0.9999999999", 0, 1_000_000_000, false, true},
		{"-1.5", 1, 500_000_000, true, true},
		{"1000000000000000", decimalCap, 0, false, true},
		{"99999999999999999999999999.5", decimalCap, 500_000_000, false, true},
		{"", 0, 0, false, false},
		{"-", 0, 0, false, false},
		{"--1", 0, 0, false, false},
		{"+1", 0, 0, false, false},
		{"1.", 0, 0, false, false},
		{".5", 0, 0, false, false},
		{"-.5", 0, 0, false, false},
		{"1.5.", 0, 0, false, false},
		{"1,5", 0, 0, false, false},
		{"1_000", 0, 0, false, false},
		{"1e3", 0, 0, false, false},
		{"1.5e3", 0, 0, false, false},
		{"1 5", 0, 0, false, false},
		{"- 1", 0, 0, false, false},
		{"\uff11", 0, 0, false, false}, // fullwidth digit
		{"Infinity", 0, 0, false, false},
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tt := range parseDecimalTests() {
		n, nanos, neg, ok := parseDecimal(tt.give)
		if n != tt.want || nanos != tt.wantNanos || neg != tt.wantNeg || ok != tt.wantOK {
			t.Errorf("parseDecimal(%q) = %d, %d, %t, %t, want %d, %d, %t, %t",
				tt.give, n, nanos, neg, ok, tt.want, tt.wantNanos, tt.wantNeg, tt.wantOK)
		}
	}
}

// parseDecimalRef is parseDecimal written plainly, with math/big.
func parseDecimalRef(v string) (n, nanos int64, neg, ok bool) {
	v, neg = strings.CutPrefix(trimOWS(v), "-")
	whole, frac, dot := strings.Cut(v, ".")
	if !isDigits(whole) || dot && !isDigits(frac) {
		return 0, 0, false, false
	}
	r, _ := new(big.Rat).SetString(v)
	i := new(big.Int).Quo(r.Num(), r.Denom())
	// The fraction in nanoseconds, rounded up.
	f := new(big.Rat).Sub(r, new(big.Rat).SetInt(i))
	f.Mul(f, big.NewRat(int64(time.Second), 1))
	ns, rem := new(big.Int).QuoRem(f.Num(), f.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		ns.Add(ns, big.NewInt(1))
	}
	if i.Cmp(big.NewInt(decimalCap)) > 0 {
		i.SetInt64(decimalCap)
	}
	return i.Int64(), ns.Int64(), neg, true
}

func FuzzParseDecimal(f *testing.F) {
	for _, tt := range parseDecimalTests() {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n, nanos, neg, ok := parseDecimal(v)
		wn, wnanos, wneg, wok := parseDecimalRef(v)
		if n != wn || nanos != wnanos || neg != wneg || ok != wok {
			t.Errorf("parseDecimal(%q) = %d, %d, %t, %t, want %d, %d, %t, %t", v, n, nanos, neg, ok, wn, wnanos, wneg, wok)
		}
	})
}

// setHeaders builds a header with Set, which canonicalizes the names given in
// kv, alternately names and values.
func setHeaders(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func parseSignalTests(t0 time.Time) []struct {
	name string
	give http.Header
	want signal
} {
	unix := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }
	long := strings.Repeat("9", 10<<10)
	// At the boundary, a value exactly maxHeaderValue long is still read.
	padded := strings.Repeat(" ", maxHeaderValue-3) + "100"
	return []struct {
		name string
		give http.Header
		want signal
	}{
		{
			name: "no headers",
			give: http.Header{"Content-Type": {"application/json"}},
			want: signal{count: -1},
		},

		// The seeds' vendor.
		{
			name: "vendor seeds",
			give: http.Header{"X-Ratelimit": {"1000"}, "X-Ratelimit-Used": {"998"}, "X-Ratelimit-Window": {"minute"}},
			want: signal{dialect: dialectVendor, limit: 1000, count: 998, window: time.Minute},
		},
		{
			name: "vendor set in other cases",
			give: setHeaders("x-ratelimit", "100", "X-RATELIMIT-USED", "7", "x-RateLimit-window", "DAY"),
			want: signal{dialect: dialectVendor, limit: 100, count: 7, window: 24 * time.Hour},
		},
		{
			name: "vendor default window",
			give: setHeaders("X-ratelimit", "100", "X-ratelimit-used", "7"),
			want: signal{dialect: dialectVendor, limit: 100, count: 7, window: time.Hour},
		},
		{
			// The vendor always sends X-ratelimit: used alone is no dialect.
			name: "vendor used alone is no dialect",
			give: setHeaders("X-ratelimit-used", "0"),
			want: signal{count: -1},
		},
		{
			name: "vendor limit only, plural window",
			give: setHeaders("X-ratelimit", "60", "X-ratelimit-window", "Minutes"),
			want: signal{dialect: dialectVendor, limit: 60, count: -1, window: time.Minute},
		},
		{
			name: "vendor repeated header uses the first value",
			give: http.Header{"X-Ratelimit": {"100", "5"}, "X-Ratelimit-Used": {"50", "99"}},
			want: signal{dialect: dialectVendor, limit: 100, count: 50, window: time.Hour},
		},
		{
			name: "vendor surrounding spaces",
			give: http.Header{"X-Ratelimit": {" 100\t"}, "X-Ratelimit-Used": {"\t7 "}, "X-Ratelimit-Window": {" hour "}},
			want: signal{dialect: dialectVendor, limit: 100, count: 7, window: time.Hour},
		},
		{
			name: "non-canonical raw key is not seen",
			give: http.Header{"x-ratelimit": {"100"}, "X-RateLimit-Used": {"7"}},
			want: signal{count: -1},
		},
		{
			name: "vendor wins over IETF",
			give: setHeaders("X-Ratelimit", "100", "RateLimit-Policy", "10;w=1"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, window: time.Hour},
		},
		{
			name: "vendor limit at maximum",
			give: setHeaders("X-Ratelimit", "1000000000000", "X-Ratelimit-Used", "1000000000000"),
			want: signal{dialect: dialectVendor, limit: 1e12, count: 1e12, window: time.Hour},
		},

		// Vendor anomalies.
		{
			name: "negative limit",
			give: setHeaders("X-Ratelimit", "-5", "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "zero limit",
			give: setHeaders("X-Ratelimit", "0", "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "non-numeric limit",
			give: setHeaders("X-Ratelimit", "lots", "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "float limit",
			give: setHeaders("X-Ratelimit", "1.5"),
			want: signal{dialect: dialectVendor, count: -1, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "plus sign limit",
			give: setHeaders("X-Ratelimit", "+5"),
			want: signal{dialect: dialectVendor, count: -1, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "empty limit",
			give: http.Header{"X-Ratelimit": {""}},
			want: signal{dialect: dialectVendor, count: -1, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "limit over maximum",
			give: setHeaders("X-Ratelimit", "1000000000001", "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "limit overflows int64",
			give: setHeaders("X-Ratelimit", "99999999999999999999", "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyLimit},
		},
		{
			name: "negative used",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Used", "-1"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, window: time.Hour, anomalies: anomalyCount},
		},
		{
			name: "non-numeric used",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Used", "none"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, window: time.Hour, anomalies: anomalyCount},
		},
		{
			name: "used over limit",
			give: setHeaders("X-Ratelimit", "1000", "X-Ratelimit-Used", "1001"),
			want: signal{dialect: dialectVendor, limit: 1000, count: -1, window: time.Hour, anomalies: anomalyCountOverLimit},
		},
		{
			name: "used equal to limit",
			give: setHeaders("X-Ratelimit", "1000", "X-Ratelimit-Used", "1000"),
			want: signal{dialect: dialectVendor, limit: 1000, count: 1000, window: time.Hour},
		},
		{
			name: "absurd window",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Window", "32 days"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, anomalies: anomalyWindow},
		},
		{
			name: "unknown window",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Window", "fortnight"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, anomalies: anomalyWindow},
		},
		{
			name: "vendor limit with zero fraction",
			give: setHeaders("X-Ratelimit", " 1000.00 ", "X-Ratelimit-Used", "998"),
			want: signal{dialect: dialectVendor, limit: 1000, count: 998, window: time.Hour},
		},
		{
			name: "vendor used is never a decimal",
			give: setHeaders("X-Ratelimit", "1000", "X-Ratelimit-Used", "998.0"),
			want: signal{dialect: dialectVendor, limit: 1000, count: -1, window: time.Hour, anomalies: anomalyCount},
		},
		{
			name: "every vendor anomaly at once",
			give: setHeaders("X-Ratelimit", "-1", "X-Ratelimit-Used", "x", "X-Ratelimit-Window", "0", "Retry-After", "later"),
			want: signal{dialect: dialectVendor, count: -1, anomalies: anomalyLimit | anomalyCount | anomalyWindow | anomalyRetryAfter},
		},
		{
			name: "10 KB limit is not read",
			give: setHeaders("X-Ratelimit", long, "X-Ratelimit-Used", "3"),
			want: signal{dialect: dialectVendor, count: 3, window: time.Hour, anomalies: anomalyTooLong},
		},
		{
			name: "10 KB window is unknown, not the default",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Window", long),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, anomalies: anomalyTooLong},
		},
		{
			name: "value of maxHeaderValue bytes is read",
			give: http.Header{"X-Ratelimit": {padded}},
			want: signal{dialect: dialectVendor, limit: 100, count: -1, window: time.Hour},
		},
		{
			name: "value of maxHeaderValue+1 bytes is not",
			give: http.Header{"X-Ratelimit": {" " + padded}},
			want: signal{dialect: dialectVendor, count: -1, window: time.Hour, anomalies: anomalyTooLong},
		},

		// IETF, current draft.
		{
			name: "ietf",
			give: setHeaders("RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=50;t=30`),
			want: signal{dialect: dialectIETF, limit: 100, count: 50, window: time.Minute, reset: t0.Add(30 * time.Second)},
		},
		{
			name: "ietf with spaces and partition keys",
			give: setHeaders(
				"ratelimit-policy", `"100-in-1min"; q=100; w=60; pk=:ZGVmYXVsdA==:`,
				"RATELIMIT", `"100-in-1min"; r=25; t=5; pk=:ZGVmYXVsdA==:`),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, window: time.Minute, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf policy matched by name",
			give: setHeaders(
				"RateLimit-Policy", `"burst";q=10;w=1, "daily";q=1000;w=86400`,
				"RateLimit", `"daily";r=999;t=3600`),
			want: signal{dialect: dialectIETF, limit: 1000, count: 999, window: 24 * time.Hour, reset: t0.Add(time.Hour)},
		},
		{
			name: "ietf unmatched name uses the first policy",
			give: setHeaders(
				"RateLimit-Policy", `"burst";q=10;w=1`,
				"RateLimit", `"hourly";r=5`),
			want: signal{dialect: dialectIETF, limit: 10, count: 5, window: time.Second},
		},
		{
			// The lone item takes "burst" (5 per second left); "daily" allows
			// 1000 a day at most, and binds.
			name: "ietf a tighter policy without live figures binds",
			give: setHeaders(
				"RateLimit-Policy", `"burst";q=10;w=1, "daily";q=1000;w=86400`,
				"RateLimit", `"hourly";r=5`),
			want: signal{dialect: dialectIETF, limit: 1000, count: -1, window: 24 * time.Hour},
		},
		{
			name: "ietf token names and quoted separators",
			give: setHeaders(
				"RateLimit-Policy", `"a,b;c=\"d";q=5;w=10, burst;q=1;w=1`,
				"RateLimit", `burst;r=0;t=1`),
			want: signal{dialect: dialectIETF, limit: 1, count: 0, window: time.Second, reset: t0.Add(time.Second)},
		},
		{
			// The draft lets clients ignore RateLimit-Policy; alone, it is
			// no dialect.
			name: "ietf policy alone is no dialect",
			give: setHeaders("RateLimit-Policy", `"default";q=100;w=60`),
			want: signal{count: -1},
		},
		{
			name: "ietf policy without window",
			give: setHeaders("RateLimit-Policy", `"default";q=100`, "RateLimit", `"default";r=1`),
			want: signal{dialect: dialectIETF, limit: 100, count: 1},
		},
		{
			name: "ietf ratelimit only",
			give: setHeaders("RateLimit", `"default";r=50;t=30`),
			want: signal{dialect: dialectIETF, count: 50, reset: t0.Add(30 * time.Second)},
		},
		{
			name: "ietf capitalized parameters",
			give: setHeaders("RateLimit-Policy", `"default";Q=100;W=60`, "RateLimit", `"default";R=50`),
			want: signal{dialect: dialectIETF, limit: 100, count: 50, window: time.Minute},
		},
		{
			name: "ietf older policy form with old fields (draft 6)",
			give: setHeaders("RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100", "RateLimit-Remaining", "25", "RateLimit-Reset", "5"),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, window: time.Minute, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf dictionary (draft 7)",
			give: setHeaders("RateLimit-Policy", "100;w=60", "RateLimit", "limit=100, remaining=25, reset=5"),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, window: time.Minute, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf dictionary picks the policy by quota",
			give: setHeaders("RateLimit-Policy", "10;w=1, 100;w=60", "RateLimit", "limit=100, remaining=25, reset=5"),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, window: time.Minute, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf dictionary without policy",
			give: setHeaders("RateLimit", "limit=100, remaining=25, reset=5"),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf wins over github",
			give: setHeaders("RateLimit", `"default";r=50`, "X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "10"),
			want: signal{dialect: dialectIETF, count: 50},
		},

		// IETF anomalies.
		{
			name: "ietf policy without quota",
			give: setHeaders("RateLimit-Policy", `"default";w=60`, "RateLimit", `"default";r=50`),
			want: signal{dialect: dialectIETF, count: 50, window: time.Minute, anomalies: anomalyLimit},
		},
		{
			name: "ietf non-numeric quota",
			give: setHeaders("RateLimit-Policy", `"default";q=many;w=60`, "RateLimit", `"default";r=1`),
			want: signal{dialect: dialectIETF, count: 1, window: time.Minute, anomalies: anomalyLimit},
		},
		{
			name: "ietf zero window",
			give: setHeaders("RateLimit-Policy", `"default";q=100;w=0`, "RateLimit", `"default";r=1`),
			want: signal{dialect: dialectIETF, limit: 100, count: 1, anomalies: anomalyWindow},
		},
		{
			name: "ietf window without value",
			give: setHeaders("RateLimit-Policy", `"default";q=100;w`, "RateLimit", `"default";r=1`),
			want: signal{dialect: dialectIETF, limit: 100, count: 1, anomalies: anomalyWindow},
		},
		{
			name: "ietf absurd window",
			give: setHeaders("RateLimit-Policy", `"default";q=100;w=99999999`, "RateLimit", `"default";r=1`),
			want: signal{dialect: dialectIETF, limit: 100, count: 1, anomalies: anomalyWindow},
		},
		{
			name: "ietf ratelimit without remaining",
			give: setHeaders("RateLimit-Policy", `"default";q=100`, "RateLimit", `"default";t=5`),
			want: signal{dialect: dialectIETF, limit: 100, count: -1, reset: t0.Add(5 * time.Second), anomalies: anomalyCount},
		},
		{
			name: "ietf negative remaining is 0",
			give: setHeaders("RateLimit", `"default";r=-1;t=5`),
			want: signal{dialect: dialectIETF, count: 0, reset: t0.Add(5 * time.Second)},
		},
		{
			name: "ietf remaining and reset with fractions",
			give: setHeaders("RateLimit", `"default";r=7.9;t=1.5`),
			want: signal{dialect: dialectIETF, count: 7, reset: t0.Add(1500 * time.Millisecond)},
		},
		{
			name: "ietf garbage remaining",
			give: setHeaders("RateLimit", `"default";r=-;t=5`),
			want: signal{dialect: dialectIETF, count: -1, reset: t0.Add(5 * time.Second), anomalies: anomalyCount},
		},
		{
			name: "ietf reset is never a date",
			give: setHeaders("RateLimit", `"default";r=1;t="Fri, 02 Jan 2026 03:05:35 GMT"`),
			want: signal{dialect: dialectIETF, count: 1, anomalies: anomalyReset},
		},
		{
			name: "ietf remaining over quota",
			give: setHeaders("RateLimit-Policy", `"default";q=100`, "RateLimit", `"default";r=101`),
			want: signal{dialect: dialectIETF, limit: 100, count: -1, anomalies: anomalyCountOverLimit},
		},
		{
			name: "ietf absurd reset",
			give: setHeaders("RateLimit", `"default";r=1;t=99999999`),
			want: signal{dialect: dialectIETF, count: 1, anomalies: anomalyReset},
		},
		{
			name: "ietf reset is never a Unix time",
			give: setHeaders("RateLimit", `"default";r=1;t=`+unix(time.Minute)),
			want: signal{dialect: dialectIETF, count: 1, anomalies: anomalyReset},
		},
		{
			name: "ietf garbage",
			give: setHeaders("RateLimit-Policy", "???", "RateLimit", "!!!"),
			want: signal{dialect: dialectIETF, count: -1, anomalies: anomalyLimit | anomalyCount},
		},
		{
			name: "ietf 10 KB ratelimit falls back to old fields",
			give: setHeaders("RateLimit-Policy", "100;w=60", "RateLimit", long, "RateLimit-Remaining", "25"),
			want: signal{dialect: dialectIETF, limit: 100, count: 25, window: time.Minute, anomalies: anomalyTooLong},
		},

		// IETF, older drafts.
		{
			name: "ietf old",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "50", "RateLimit-Reset", "30"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 50, reset: t0.Add(30 * time.Second)},
		},
		{
			name: "ietf old with policy",
			give: setHeaders("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "50"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 50, window: time.Minute},
		},
		{
			name: "ietf old with policies of other quotas",
			give: setHeaders("RateLimit-Limit", "100, 1000;w=3600", "RateLimit-Remaining", "50"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 50},
		},
		{
			name: "ietf old lowercase",
			give: setHeaders("ratelimit-limit", "5", "ratelimit-remaining", "3"),
			want: signal{dialect: dialectIETFOld, limit: 5, count: 3},
		},
		{
			// RateLimit-Limit is what recognises the older drafts.
			name: "ietf old remaining alone is no dialect",
			give: setHeaders("RateLimit-Remaining", "3"),
			want: signal{count: -1},
		},
		{
			name: "ietf old reset as Unix time",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", unix(time.Minute)),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, reset: t0.Add(time.Minute)},
		},
		{
			name: "ietf old garbage reset",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", "soon"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, anomalies: anomalyReset},
		},
		{
			name: "ietf old absurd reset delta",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", "2678401"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, anomalies: anomalyReset},
		},
		{
			name: "ietf old reset as decimal delta",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", "0.5"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, reset: t0.Add(500 * time.Millisecond)},
		},
		{
			name: "ietf old reset as Unix time with decimals",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", unix(time.Minute)+".25"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, reset: t0.Add(time.Minute + 250*time.Millisecond)},
		},
		{
			name: "ietf old reset as HTTP date",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", t0.Add(time.Minute).Format(http.TimeFormat)),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, reset: t0.Add(time.Minute)},
		},
		{
			name: "ietf old reset as date in UTC",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "99", "RateLimit-Reset", "Fri, 02 Jan 2026 03:05:05 UTC"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 99, reset: t0.Add(time.Minute)},
		},
		{
			name: "ietf old negative remaining is 0",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "-3"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: 0},
		},
		{
			name: "ietf old remaining over limit",
			give: setHeaders("RateLimit-Limit", "100", "RateLimit-Remaining", "200"),
			want: signal{dialect: dialectIETFOld, limit: 100, count: -1, anomalies: anomalyCountOverLimit},
		},

		// GitHub.
		{
			name: "github",
			give: setHeaders("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", unix(time.Hour), "X-RateLimit-Used", "1"),
			want: signal{dialect: dialectGitHub, limit: 5000, count: 4999, reset: t0.Add(time.Hour)},
		},
		{
			name: "github reset in the past is kept",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(-time.Hour)),
			want: signal{dialect: dialectGitHub, limit: 60, count: 0, reset: t0.Add(-time.Hour)},
		},
		{
			name: "github reset as delta seconds",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "60"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(time.Minute)},
		},
		{
			name: "github remaining only",
			give: setHeaders("X-RateLimit-Remaining", "10"),
			want: signal{dialect: dialectGitHub, count: 10},
		},
		{
			// Without a limit, used plus remaining is the limit (Reddit).
			name: "github used does not make it vendor",
			give: http.Header{"X-Ratelimit-Used": {"1"}, "X-Ratelimit-Remaining": {"59"}},
			want: signal{dialect: dialectGitHub, limit: 60, count: 59},
		},
		{
			name: "github reset at maxWindow is believed",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", unix(maxWindow)),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(maxWindow)},
		},
		{
			name: "github reset beyond maxWindow",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", unix(maxWindow+time.Second)),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github reset in milliseconds",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", unix(0)+"000"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github float reset",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "1.5e9"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github remaining over limit",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "61"),
			want: signal{dialect: dialectGitHub, limit: 60, count: -1, anomalies: anomalyCountOverLimit},
		},
		{
			name: "github delta reset leaves the window unknown",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "60"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(time.Minute)},
		},
		{
			name: "github reset as decimal delta",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "59.5"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(59500 * time.Millisecond)},
		},
		{
			name: "github reset delta fraction rounds up to the nanosecond",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "0.0000000001"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(time.Nanosecond)},
		},
		{
			name: "github reset as HTTP date",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", t0.Add(time.Hour).Format(http.TimeFormat)),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(time.Hour)},
		},
		{
			name: "github reset as date with numeric zone",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "Fri, 02 Jan 2026 05:04:05 +0100"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, reset: t0.Add(time.Hour)},
		},
		{
			name: "github reset as date beyond maxWindow",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", t0.Add(maxWindow+time.Second).Format(http.TimeFormat)),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github reset as date before 2001",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "Mon, 01 Jan 0001 00:00:00 GMT"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github reset as date in an unknown zone",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "Fri, 02 Jan 2026 03:05:05 PST"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github negative reset",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "-5"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github garbage reset",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "soon"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 59, anomalies: anomalyReset},
		},
		{
			name: "github limit and remaining with zero fractions",
			give: setHeaders("X-RateLimit-Limit", "60.0", "X-RateLimit-Remaining", "12.0"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 12},
		},
		{
			name: "github fractional remaining is floored",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "\t12.9 "),
			want: signal{dialect: dialectGitHub, limit: 60, count: 12},
		},
		{
			name: "github negative remaining is 0",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "-3"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 0},
		},
		{
			name: "github negative fractional remaining is 0",
			give: setHeaders("X-RateLimit-Remaining", "-0.5"),
			want: signal{dialect: dialectGitHub, count: 0},
		},
		{
			name: "github fractional limit",
			give: setHeaders("X-RateLimit-Limit", "60.5", "X-RateLimit-Remaining", "1"),
			want: signal{dialect: dialectGitHub, count: 1, anomalies: anomalyLimit},
		},
		{
			name: "github signed and exponent numbers",
			give: setHeaders("X-RateLimit-Limit", "+60", "X-RateLimit-Remaining", "1e3"),
			want: signal{dialect: dialectGitHub, count: -1, anomalies: anomalyLimit | anomalyCount},
		},
		{
			name: "github remaining without digits",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "-"),
			want: signal{dialect: dialectGitHub, limit: 60, count: -1, anomalies: anomalyCount},
		},
		{
			name: "github remaining over maximum",
			give: setHeaders("X-RateLimit-Remaining", "1000000000001"),
			want: signal{dialect: dialectGitHub, count: -1, anomalies: anomalyCount},
		},
		{
			name: "github fractional remaining just over maximum is floored",
			give: setHeaders("X-RateLimit-Remaining", "1000000000000.5"),
			want: signal{dialect: dialectGitHub, count: 1e12},
		},

		// Middleware and APIs that send the GitHub dialect, as they document it.
		{
			// github.com/sethvargo/go-limiter/httplimit, on a 429.
			name: "go-limiter",
			give: setHeaders(
				"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", "Fri, 02 Jan 2026 03:04:06 UTC", "Retry-After", "Fri, 02 Jan 2026 03:04:06 UTC"),
			want: signal{dialect: dialectGitHub, limit: 10, count: 0, reset: t0.Add(time.Second), retryAfter: time.Second, hasRetryAfter: true},
		},
		{
			// go-limiter truncates the reset to the second.
			name: "go-limiter reset truncated into the past is kept",
			give: setHeaders("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "9", "X-RateLimit-Reset", "Fri, 02 Jan 2026 03:04:04 UTC"),
			want: signal{dialect: dialectGitHub, limit: 10, count: 9, reset: t0.Add(-time.Second)},
		},
		{
			name: "github epoch reset truncated into the past is kept",
			give: setHeaders("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(-time.Second)),
			want: signal{dialect: dialectGitHub, limit: 10, count: 0, reset: t0.Add(-time.Second)},
		},
		{
			// Discord: a Unix time with milliseconds, and headers it adds.
			name: "discord",
			give: setHeaders(
				"X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(time.Minute)+".123",
				"X-RateLimit-Reset-After", "60.123", "X-RateLimit-Bucket", "abcd1234"),
			want: signal{dialect: dialectGitHub, limit: 5, count: 0, reset: t0.Add(time.Minute + 123*time.Millisecond)},
		},
		{
			// Reddit: remaining as a float, reset as delta seconds, no limit.
			name: "reddit",
			give: setHeaders("X-Ratelimit-Used", "2", "X-Ratelimit-Remaining", "598.0", "X-Ratelimit-Reset", "540"),
			want: signal{dialect: dialectGitHub, limit: 600, count: 598, reset: t0.Add(9 * time.Minute)},
		},
		{
			name: "twitter",
			give: setHeaders("x-rate-limit-limit", "900", "x-rate-limit-remaining", "899", "x-rate-limit-reset", unix(15*time.Minute)),
			want: signal{dialect: dialectGitHub, limit: 900, count: 899, reset: t0.Add(15 * time.Minute)},
		},
		{
			name: "okta",
			give: setHeaders("X-Rate-Limit-Limit", "1200", "X-Rate-Limit-Remaining", "1199", "X-Rate-Limit-Reset", unix(time.Minute)),
			want: signal{dialect: dialectGitHub, limit: 1200, count: 1199, reset: t0.Add(time.Minute)},
		},
		{
			// github.com/didip/tollbooth, on a 429: the limit per second.
			name: "tollbooth",
			give: setHeaders(
				"X-Rate-Limit-Limit", "5.00", "X-Rate-Limit-Duration", "1",
				"X-Rate-Limit-Request-Forwarded-For", "203.0.113.7", "X-Rate-Limit-Request-Remote-Addr", "192.0.2.1:50312"),
			want: signal{dialect: dialectGitHub, limit: 5, count: -1, window: time.Second},
		},
		{
			name: "tollbooth limit under one per second",
			give: setHeaders("X-Rate-Limit-Limit", "0.50", "X-Rate-Limit-Duration", "1"),
			want: signal{dialect: dialectGitHub, count: -1, window: time.Second, anomalies: anomalyLimit},
		},
		{
			name: "hyphenated duration as a Go duration",
			give: setHeaders("X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "9", "X-Rate-Limit-Duration", "1m0s"),
			want: signal{dialect: dialectGitHub, limit: 10, count: 9, window: time.Minute},
		},
		{
			name: "hyphenated garbage",
			give: setHeaders("X-Rate-Limit-Limit", "ten", "X-Rate-Limit-Remaining", "nine", "X-Rate-Limit-Reset", "later", "X-Rate-Limit-Duration", "0"),
			want: signal{dialect: dialectGitHub, count: -1, anomalies: anomalyLimit | anomalyCount | anomalyReset | anomalyWindow},
		},
		{
			name: "hyphenated negative remaining is 0",
			give: setHeaders("X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "-3"),
			want: signal{dialect: dialectGitHub, limit: 10, count: 0},
		},
		{
			name: "hyphenated remaining over limit",
			give: setHeaders("X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "11"),
			want: signal{dialect: dialectGitHub, limit: 10, count: -1, anomalies: anomalyCountOverLimit},
		},
		{
			name: "hyphenated 10 KB limit is not read",
			give: setHeaders("X-Rate-Limit-Limit", long, "X-Rate-Limit-Remaining", "9"),
			want: signal{dialect: dialectGitHub, count: 9, anomalies: anomalyTooLong},
		},
		{
			name: "hyphenated remaining alone is no dialect",
			give: setHeaders("X-Rate-Limit-Remaining", "9", "X-Rate-Limit-Reset", "60"),
			want: signal{count: -1},
		},
		{
			name: "github spelling wins over the hyphenated one",
			give: setHeaders("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "6", "X-Rate-Limit-Limit", "10", "X-Rate-Limit-Duration", "1"),
			want: signal{dialect: dialectGitHub, limit: 60, count: 6},
		},
		{
			name: "vendor wins over the hyphenated spelling",
			give: setHeaders("X-Ratelimit", "100", "X-Rate-Limit-Limit", "10"),
			want: signal{dialect: dialectVendor, limit: 100, count: -1, window: time.Hour},
		},

		// Retry-After, in every dialect.
		{
			name: "retry-after alone",
			give: setHeaders("retry-after", "120"),
			want: signal{count: -1, retryAfter: 2 * time.Minute, hasRetryAfter: true},
		},
		{
			name: "retry-after date",
			give: setHeaders("Retry-After", t0.Add(time.Minute).Format(http.TimeFormat)),
			want: signal{count: -1, retryAfter: time.Minute, hasRetryAfter: true},
		},
		{
			name: "retry-after past date",
			give: setHeaders("Retry-After", t0.Add(-time.Minute).Format(http.TimeFormat)),
			want: signal{count: -1, retryAfter: 0, hasRetryAfter: true},
		},
		{
			name: "retry-after of a year is valid",
			give: setHeaders("Retry-After", "31536000"),
			want: signal{count: -1, retryAfter: 365 * 24 * time.Hour, hasRetryAfter: true},
		},
		{
			name: "retry-after with fraction",
			give: setHeaders("Retry-After", "19.991"),
			want: signal{count: -1, retryAfter: 19991 * time.Millisecond, hasRetryAfter: true},
		},
		{
			name: "retry-after date in UTC",
			give: setHeaders("Retry-After", "Fri, 02 Jan 2026 03:05:05 UTC"),
			want: signal{count: -1, retryAfter: time.Minute, hasRetryAfter: true},
		},
		{
			name: "retry-after negative fraction",
			give: setHeaders("Retry-After", "-0.5"),
			want: signal{count: -1, anomalies: anomalyRetryAfter},
		},
		{
			name: "retry-after garbage",
			give: setHeaders("Retry-After", "in a while"),
			want: signal{count: -1, anomalies: anomalyRetryAfter},
		},
		{
			name: "retry-after negative",
			give: setHeaders("Retry-After", "-5"),
			want: signal{count: -1, anomalies: anomalyRetryAfter},
		},
		{
			name: "retry-after 10 KB",
			give: setHeaders("Retry-After", long),
			want: signal{count: -1, anomalies: anomalyTooLong},
		},
		{
			name: "retry-after with vendor",
			give: setHeaders("X-Ratelimit", "100", "X-Ratelimit-Used", "100", "Retry-After", "30"),
			want: signal{dialect: dialectVendor, limit: 100, count: 100, window: time.Hour, retryAfter: 30 * time.Second, hasRetryAfter: true},
		},
		{
			name: "retry-after with ietf",
			give: setHeaders("RateLimit", `"default";r=0;t=30`, "Retry-After", "30"),
			want: signal{dialect: dialectIETF, count: 0, reset: t0.Add(30 * time.Second), retryAfter: 30 * time.Second, hasRetryAfter: true},
		},
		{
			name: "window alone is no dialect",
			give: setHeaders("X-Ratelimit-Window", "minute"),
			want: signal{count: -1},
		},
	}
}

func TestParseSignal(t *testing.T) {
	t0 := headersT0
	for _, tt := range parseSignalTests(t0) {
		t.Run(tt.name, func(t *testing.T) {
			got := parseSignal(tt.give, http.StatusTooManyRequests, t0)
			if diff := diffSignal(got, tt.want); diff != "" {
				t.Errorf("parseSignal(%v, http.StatusTooManyRequests, t0): %s", tt.give, diff)
			}
		})
	}
}

// diffSignal describes how got differs from want, or returns "".
func diffSignal(got, want signal) string {
	var d []string
	if got.dialect != want.dialect {
		d = append(d, fmt.Sprintf("dialect = %v, want %v", got.dialect, want.dialect))
	}
	if got.limit != want.limit {
		d = append(d, fmt.Sprintf("limit = %d, want %d", got.limit, want.limit))
	}
	if got.count != want.count {
		d = append(d, fmt.Sprintf("count = %d, want %d", got.count, want.count))
	}
	if got.window != want.window {
		d = append(d, fmt.Sprintf("window = %v, want %v", got.window, want.window))
	}
	if !got.reset.Equal(want.reset) {
		d = append(d, fmt.Sprintf("reset = %v, want %v", got.reset, want.reset))
	}
	if got.retryAfter != want.retryAfter || got.hasRetryAfter != want.hasRetryAfter {
		d = append(d, fmt.Sprintf("retryAfter = %v, %t, want %v, %t", got.retryAfter, got.hasRetryAfter, want.retryAfter, want.hasRetryAfter))
	}
	if got.anomalies != want.anomalies {
		d = append(d, fmt.Sprintf("anomalies = %s, want %s", formatAnomalies(got.anomalies), formatAnomalies(want.anomalies)))
	}
	return strings.Join(d, "; ")
}

// benchHeaders are typical responses of each dialect, with the other headers a
// response carries, so that map look-ups cost what they do in production.
func benchHeaders(t0 time.Time) []struct {
	name string
	h    http.Header
} {
	base := func(kv ...string) http.Header {
		h := http.Header{
			"Content-Type":   {"application/json; charset=UTF-8"},
			"Content-Length": {"1234"},
			"Date":           {t0.Format(http.TimeFormat)},
			"X-Request-Id":   {"0b6f7c1e-3f0a-4d3b-9c1d-2f2a1b0c9d8e-1767323045-host01"},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	reset := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
	return []struct {
		name string
		h    http.Header
	}{
		{"vendor", base("X-ratelimit", "1000", "X-ratelimit-used", "998", "X-ratelimit-window", "minute")},
		{"ietf", base("RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=50;t=30`)},
		{"ietf_old", base("RateLimit-Limit", "100", "RateLimit-Remaining", "50", "RateLimit-Reset", "30")},
		{"github", base("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", reset, "X-RateLimit-Used", "1")},
		{"github_date", base("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "9", "X-RateLimit-Reset", t0.Add(time.Second).Format(time.RFC1123))},
		{"github_decimal", base("X-RateLimit-Limit", "600.0", "X-RateLimit-Remaining", "598.0", "X-RateLimit-Reset", reset+".123")},
		{"hyphenated", base("X-Rate-Limit-Limit", "900", "X-Rate-Limit-Remaining", "899", "X-Rate-Limit-Reset", reset)},
		{"ietf_two_policies", base("RateLimit-Policy", `"permin";q=50;w=60, "perhr";q=1000;w=3600`, "RateLimit", `"permin";r=10;t=30, "perhr";r=100;t=3000`)},
		{"gitlab", base("RateLimit-Limit", "60", "RateLimit-Observed", "6", "RateLimit-Remaining", "54", "RateLimit-Reset", reset, "RateLimit-ResetTime", t0.Add(time.Hour).Format(http.TimeFormat))},
		{"discord", base("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "4", "X-RateLimit-Reset", reset+".123", "X-RateLimit-Reset-After", "1.123", "X-RateLimit-Bucket", "abcd1234", "X-RateLimit-Scope", "user")},
		{"reddit", base("X-Ratelimit-Used", "2", "X-Ratelimit-Remaining", "598.0", "X-Ratelimit-Reset", "540")},
		{"openai", base("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-limit-tokens", "150000", "x-ratelimit-remaining-tokens", "149984", "x-ratelimit-reset-tokens", "6m0s")},
		{"anthropic", base("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", t0.Add(time.Second).Format(time.RFC3339),
			"anthropic-ratelimit-tokens-limit", "40000", "anthropic-ratelimit-tokens-remaining", "39000",
			"anthropic-ratelimit-tokens-reset", t0.Add(time.Second).Format(time.RFC3339))},
		{"apig", base("X-Apig-RateLimit-Api", "remain:9,limit:10,time:10 second", "X-Apig-RateLimit-User", "remain:99,limit:100,time:1 minute",
			"X-Apig-RateLimit-App", "remain:999,limit:1000,time:1 hour", "X-Apig-RateLimit-Ip", "remain:19,limit:20,time:10 second")},
		{"shopify", base("X-Shopify-Shop-Api-Call-Limit", "32/40")},
		{"none", base()},
		{"retry_after", base("X-ratelimit", "1000", "X-ratelimit-used", "1000", "Retry-After", "30")},
		{"retry_after_date", base("X-ratelimit", "1000", "X-ratelimit-used", "1000", "Retry-After", t0.Add(time.Second).Format(time.RFC1123))},
	}
}

// TestParseSignalAllocs holds parseSignal to allocating nothing on the common
// responses of every dialect, vendor first.
func TestParseSignalAllocs(t *testing.T) {
	t0 := headersT0
	for _, bh := range benchHeaders(t0) {
		if got := parseSignal(bh.h, http.StatusTooManyRequests, t0); got.anomalies != 0 {
			t.Errorf("parseSignal(%s headers).anomalies = %s, want {}", bh.name, formatAnomalies(got.anomalies))
		}
		if n := testing.AllocsPerRun(100, func() { parseSignal(bh.h, http.StatusTooManyRequests, t0) }); n != 0 {
			t.Errorf("parseSignal(%s headers) allocates %v times, want 0", bh.name, n)
		}
	}
}

func BenchmarkParseSignal(b *testing.B) {
	t0 := headersT0
	for _, bh := range benchHeaders(t0) {
		b.Run(bh.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				parseSignal(bh.h, http.StatusTooManyRequests, t0)
			}
		})
	}
}

// fuzzSignalKeys are the headers FuzzParseSignal sets, by bit of its present
// argument; key i takes value i%6, so the six strings also reach the other
// dialects.
var fuzzSignalKeys = [...]string{
	"X-Ratelimit", "X-Ratelimit-Used", "X-Ratelimit-Window", "Retry-After", "Ratelimit-Policy", "Ratelimit",
	"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
	"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", "X-Rate-Limit-Duration",
}

func FuzzParseSignal(f *testing.F) {
	t0 := headersT0
	// Seed with the table: each case gives one input per six keys.
	for _, tt := range parseSignalTests(t0) {
		for first := 0; first < len(fuzzSignalKeys); first += 6 {
			var vals [6]string
			var present uint16
			for i := first; i < min(first+6, len(fuzzSignalKeys)); i++ {
				if vs := tt.give[fuzzSignalKeys[i]]; len(vs) > 0 {
					vals[i%6] = vs[0]
					present |= 1 << i
				}
			}
			if present != 0 {
				f.Add(vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], present)
			}
		}
	}
	f.Fuzz(func(t *testing.T, limit, used, window, retryAfter, policy, rateLimit string, present uint16) {
		vals := [6]string{limit, used, window, retryAfter, policy, rateLimit}
		h := http.Header{}
		for i, k := range fuzzSignalKeys {
			if present&(1<<i) != 0 {
				h[k] = []string{vals[i%6]}
			}
		}
		s := parseSignal(h, http.StatusTooManyRequests, t0)

		if s.limit != 0 && (s.limit < 0 || s.limit > 1e12) {
			t.Errorf("limit = %d, want 0 or in (0, 1e12]", s.limit)
		}
		if s.count != -1 && (s.count < 0 || s.count > 1e12) {
			t.Errorf("count = %d, want -1 or in [0, 1e12]", s.count)
		}
		if s.limit > 0 && s.count > s.limit {
			t.Errorf("count = %d over limit = %d", s.count, s.limit)
		}
		if s.window != 0 && (s.window < minWindow || s.window > maxWindow) {
			t.Errorf("window = %v, want 0 or in [%v, %v]", s.window, minWindow, maxWindow)
		}
		if s.dialect == dialectVendor && len(h["X-Ratelimit-Window"]) == 0 && s.window != time.Hour {
			t.Errorf("vendor window = %v without a window header, want 1h", s.window)
		}
		if s.dialect == dialectGitHub && len(h["X-Rate-Limit-Duration"]) == 0 && s.window != 0 {
			t.Errorf("github window = %v without a window header, want 0", s.window)
		}
		if !s.reset.IsZero() && s.reset.Sub(t0) > maxWindow {
			t.Errorf("reset = %v, more than maxWindow after t0", s.reset)
		}
		if s.retryAfter < 0 || s.retryAfter > retryAfterCap || (!s.hasRetryAfter && s.retryAfter != 0) {
			t.Errorf("retryAfter = %v, %t, want in [0, %v], and 0 when false", s.retryAfter, s.hasRetryAfter, retryAfterCap)
		}
		if len(h["Retry-After"]) == 0 && (s.hasRetryAfter || s.anomalies&anomalyRetryAfter != 0) {
			t.Errorf("retryAfter = %v, %t, anomalies %s without a Retry-After header", s.retryAfter, s.hasRetryAfter, formatAnomalies(s.anomalies))
		}
		if s.anomalies&^allAnomalies() != 0 {
			t.Errorf("anomalies = %s, has unknown bits", formatAnomalies(s.anomalies))
		}
		if s.dialect == dialectNone && (s.limit != 0 || s.count != -1 || s.window != 0 || !s.reset.IsZero()) {
			t.Errorf("dialect none carries a quota: %+v", s)
		}
	})
}

func FuzzParseWindow(f *testing.F) {
	for _, tt := range parseWindowTests() {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseWindow(v)
		if ok && (d < minWindow || d > maxWindow) {
			t.Errorf("parseWindow(%q) = %v, true, want in [%v, %v]", v, d, minWindow, maxWindow)
		}
		if !ok && d != 0 {
			t.Errorf("parseWindow(%q) = %v, false, want 0", v, d)
		}
		// Whitespace around a window never matters.
		if d2, ok2 := parseWindow(" " + v + "\t"); d2 != d || ok2 != ok {
			t.Errorf("parseWindow(%q) = %v, %t, but parseWindow(%q) = %v, %t", " "+v+"\t", d2, ok2, v, d, ok)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	t0 := headersT0
	for _, tt := range parseRetryAfterTests(t0) {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, t0)
		if ok && (d < 0 || d > retryAfterCap) {
			t.Errorf("parseRetryAfter(%q, t0) = %v, true, want in [0, %v]", v, d, retryAfterCap)
		}
		if !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q, t0) = %v, false, want 0", v, d)
		}
		// A later response never waits longer for the same value.
		if d2, ok2 := parseRetryAfter(v, t0.Add(time.Hour)); ok2 != ok || d2 > d {
			t.Errorf("parseRetryAfter(%q, t0+1h) = %v, %t, want at most %v, %t", v, d2, ok2, d, ok)
		}
		// Every date net/http reads in GMT reads the same here.
		if tm, err := http.ParseTime(v); err == nil && strings.HasSuffix(v, " GMT") {
			if want := min(max(tm.Sub(t0), 0), retryAfterCap); d != want || !ok {
				t.Errorf("parseRetryAfter(%q, t0) = %v, %t, want %v, true as http.ParseTime reads it", v, d, ok, want)
			}
		}
	})
}

// parseHeaderIntRef is parseHeaderInt written plainly, with strconv.
func parseHeaderIntRef(v string, limit int64) (int64, bool) {
	v = trimOWS(v)
	if !isDigits(v) {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || limit < 0 || n > uint64(limit) {
		return 0, false
	}
	return int64(n), true
}

func TestParseHeaderInt(t *testing.T) {
	for _, tt := range []struct {
		v     string
		limit int64
		want  int64
		ok    bool
	}{
		{"0", 10, 0, true},
		{" 42\t", 100, 42, true},
		{"10", 10, 10, true},
		{"11", 10, 0, false},
		{"9", 5, 0, false},
		{"5", 5, 5, true},
		{"1000000000000", maxHeaderInt, maxHeaderInt, true},
		{"1000000000001", maxHeaderInt, 0, false},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64, true},
		{"9223372036854775808", math.MaxInt64, 0, false},
		{"99999999999999999999999", math.MaxInt64, 0, false},
		{"-1", 10, 0, false},
		{"+1", 10, 0, false},
		{"1e3", 10000, 0, false},
		{"", 10, 0, false},
		{"1", -1, 0, false},
	} {
		if got, ok := parseHeaderInt(tt.v, tt.limit); got != tt.want || ok != tt.ok {
			t.Errorf("parseHeaderInt(%q, %d) = %d, %t, want %d, %t", tt.v, tt.limit, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseHeaderInt(f *testing.F) {
	f.Add("42", int64(100))
	f.Add("9223372036854775807", int64(math.MaxInt64))
	f.Add("1000000000001", int64(maxHeaderInt))
	f.Fuzz(func(t *testing.T, v string, limit int64) {
		got, ok := parseHeaderInt(v, limit)
		want, wantOK := parseHeaderIntRef(v, limit)
		if got != want || ok != wantOK {
			t.Errorf("parseHeaderInt(%q, %d) = %d, %t, want %d, %t", v, limit, got, ok, want, wantOK)
		}
	})
}
