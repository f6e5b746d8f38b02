package ratehttp

import (
	"net/http"
	"testing"
)

// cannedBase answers every request at once with a 200 whose quota headers
// never bind, to isolate the cost of the layers above it.
type cannedBase struct{ header http.Header }

func newCannedBase() cannedBase {
	return cannedBase{header: http.Header{
		"X-Ratelimit":        {"1000000000"},
		"X-Ratelimit-Used":   {"999999999"},
		"X-Ratelimit-Window": {"second"},
	}}
}

func (c cannedBase) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: c.header, Body: http.NoBody, Request: r}, nil
}

// BenchmarkRoundTrip measures the happy path (no retry, limit not binding):
// the stub alone, the Transport with retries disabled, and with the default
// retries, serially and in parallel.
func BenchmarkRoundTrip(b *testing.B) {
	base := newCannedBase()
	cases := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", base},
		{"no-retry", New(base, WithRetries(0))},
		{"retry", New(base)},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		})
	}
}

var allocSink *http.Response

// TestNoAllocsAcrossHosts: a client alternating between hosts allocates
// nothing on the happy path beyond what the base transport does.
func TestNoAllocsAcrossHosts(t *testing.T) {
	base := newCannedBase()
	rt := New(base, WithRetries(0))
	a, _ := http.NewRequest(http.MethodGet, "http://a.test/x", nil)
	b, _ := http.NewRequest(http.MethodGet, "http://b.test/x", nil)
	for _, r := range []*http.Request{a, b} { // create the quotas and metric children
		resp, _ := rt.RoundTrip(r)
		resp.Body.Close()
	}
	var rtBase http.RoundTripper = base
	bare := testing.AllocsPerRun(200, func() { allocSink, _ = rtBase.RoundTrip(a) })
	got := testing.AllocsPerRun(200, func() {
		for _, r := range []*http.Request{a, b} {
			resp, err := rt.RoundTrip(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	})
	if got > 2*bare {
		t.Errorf("RoundTrip alternating two hosts: %.1f allocs per pair, want %.0f (the base's own)", got, 2*bare)
	}
}
