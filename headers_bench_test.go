package ratehttp

import (
	"net/http"
	"testing"
)

// ordinaryHeaders are responses without any rate-limit header, as most
// responses are: the cost of finding that out is paid on every response read.
func ordinaryHeaders() []struct {
	name string
	h    http.Header
} {
	small := http.Header{
		"Content-Type":   {"application/json; charset=UTF-8"},
		"Content-Length": {"1234"},
		"Date":           {"Fri, 02 Jan 2026 03:04:05 GMT"},
		"X-Request-Id":   {"0b6f7c1e-3f0a-4d3b-9c1d-2f2a1b0c9d8e"},
	}
	large := http.Header{
		"Access-Control-Allow-Origin": {"*"},
		"Alt-Svc":                     {`h3=":443"; ma=86400`},
		"Cache-Control":               {"private, max-age=0"},
		"Content-Encoding":            {"gzip"},
		"Content-Type":                {"application/json; charset=UTF-8"},
		"Date":                        {"Fri, 02 Jan 2026 03:04:05 GMT"},
		"Etag":                        {`W/"5e0a-1b2c"`},
		"Server":                      {"nginx"},
		"Strict-Transport-Security":   {"max-age=31536000; includeSubDomains"},
		"Vary":                        {"Accept-Encoding"},
		"X-Content-Type-Options":      {"nosniff"},
		"X-Frame-Options":             {"DENY"},
		"X-Request-Id":                {"0b6f7c1e-3f0a-4d3b-9c1d-2f2a1b0c9d8e"},
		"X-Runtime":                   {"0.012345"},
	}
	return []struct {
		name string
		h    http.Header
	}{{"small", small}, {"large", large}}
}

// BenchmarkParseSignalOrdinary measures parseSignal on 200 responses that
// carry no rate-limit header. It cycles through 64 copies of each header map:
// each map hashes with its own random seed, and the cost of a look-up varies
// with the seed (a collision costs a string comparison), so that a count of
// instructions (bench/cmd/instr's method) is an average, not one draw.
func BenchmarkParseSignalOrdinary(b *testing.B) {
	t0 := headersT0
	for _, oh := range ordinaryHeaders() {
		var hs [64]http.Header
		for i := range hs {
			hs[i] = oh.h.Clone()
		}
		b.Run(oh.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				parseSignal(hs[i%len(hs)], http.StatusOK, t0)
				i++
			}
		})
	}
}
