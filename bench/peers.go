// Package bench compares the cost and the quota behaviour of
// github.com/ratehttp/ratehttp with the libraries a user would otherwise
// reach for. It is a separate module so that those peers never enter the
// library's go.mod.
//
// The package holds what the benchmarks and the programs under cmd/ share:
// a stub base transport ([Stub]), a loopback handler ([Handler]) and the
// round-tripper stacks being compared ([CostStacks]). Run everything with
// run.sh; README.md records the latest figures.
package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ratehttp/ratehttp"
	"golang.org/x/time/rate"
)

// Vendor headers announcing a quota so large that it never binds: a billion
// requests per second, of which 999,999,999 remain (the vendor's
// X-Ratelimit-Used counts what remains).
const (
	HugeLimit     = "1000000000"
	HugeRemaining = "999999999"
	HugeWindow    = "second"
)

// OKBody is the small body of every successful benchmark response.
const OKBody = `{"ok":true}`

// hugeQuotaHeader returns a response header carrying the never-binding quota.
func hugeQuotaHeader() http.Header {
	return http.Header{
		"Content-Type":       {"application/json"},
		"X-Ratelimit":        {HugeLimit},
		"X-Ratelimit-Used":   {HugeRemaining},
		"X-Ratelimit-Window": {HugeWindow},
	}
}

// Stub is a base [http.RoundTripper] that answers every request at once with
// a canned 200 response carrying [OKBody] and the never-binding quota
// headers. It drains and closes the request body. It isolates the cost of the
// wrappers above it from the network.
//
// Each response is built as net/http's client builds one off the wire, minus
// the parsing: a fresh header map per response (wrappers may modify the
// headers of the response they get), holding the header fields the loopback
// server sends (Content-Type, Content-Length, Date and the quota headers),
// with their values in one backing array, as net/textproto allocates them.
// MinStub is the cheapest possible base, sharing one map between responses.
type Stub struct {
	date string
}

// NewStub returns a Stub.
func NewStub() *Stub { return &Stub{date: time.Now().UTC().Format(http.TimeFormat)} }

// RoundTrip implements [http.RoundTripper].
func (s *Stub) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	// As net/textproto reads a header: one map, one backing array for the
	// values, one string per value, and one per key it does not intern
	// (Content-Type, Content-Length and Date are interned).
	vs := make([]string, 6)
	vs[0], vs[1], vs[2] = strings.Clone("application/json"), strings.Clone(okBodyLen), strings.Clone(s.date)
	vs[3], vs[4], vs[5] = strings.Clone(HugeLimit), strings.Clone(HugeRemaining), strings.Clone(HugeWindow)
	h := make(http.Header, len(vs))
	h["Content-Type"] = vs[0:1:1]
	h["Content-Length"] = vs[1:2:2]
	h["Date"] = vs[2:3:3]
	h[strings.Clone("X-Ratelimit")] = vs[3:4:4]
	h[strings.Clone("X-Ratelimit-Used")] = vs[4:5:5]
	h[strings.Clone("X-Ratelimit-Window")] = vs[5:6:6]
	return cannedResponse(req, h), nil
}

var okBodyLen = strconv.Itoa(len(OKBody))

// MinStub is the cheapest base [http.RoundTripper]: like [Stub], but every
// response shares one header map, which no wrapper under test modifies, so
// it allocates only the response and its body. Against it, ratios to bare
// are the largest they can be.
type MinStub struct {
	header http.Header
}

// NewMinStub returns a MinStub.
func NewMinStub() *MinStub { return &MinStub{header: hugeQuotaHeader()} }

// RoundTrip implements [http.RoundTripper].
func (s *MinStub) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return cannedResponse(req, s.header), nil
}

func cannedResponse(req *http.Request, h http.Header) *http.Response {
	b := &stubBody{}
	b.Reset(OKBody)
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          b,
		ContentLength: int64(len(OKBody)),
		Request:       req,
	}
}

// stubBody is a response body in one allocation.
type stubBody struct{ strings.Reader }

func (*stubBody) Close() error { return nil }

// Handler returns the loopback counterpart of [Stub]: an [http.Handler]
// answering 200 with [OKBody] and the never-binding quota headers.
func Handler() http.Handler {
	h := hugeQuotaHeader()
	h["Content-Length"] = []string{fmt.Sprint(len(OKBody))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		out := w.Header()
		for k, v := range h {
			out[k] = v // shared, read-only slices: the server only reads them
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, OKBody)
	})
}

// NewLoopbackTransport returns the bare transport of the loopback runs: an
// [http.Transport] with keep-alive and enough idle connections per host for
// every benchmark goroutine, no proxy and no HTTP/2.
func NewLoopbackTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
}

// A Stack builds one of the round-tripper stacks being compared on top of a
// base transport.
type Stack struct {
	// Name is the short name used in benchmark names and tables.
	Name string
	// Note says how the stack is configured and what it forces on the caller.
	Note string
	// Comparable marks peers that offer a feature comparable to ratehttp's
	// quota handling, which ratehttp must beat on cost.
	Comparable bool
	// New wraps base.
	New func(base http.RoundTripper) http.RoundTripper
}

// CostStacks returns the stacks of the cost-per-request benchmarks, the bare
// base first.
func CostStacks() []Stack {
	return []Stack{
		{
			Name: "bare",
			Note: "the base transport itself (the stub, or http.Transport on loopback)",
			New:  func(base http.RoundTripper) http.RoundTripper { return base },
		},
		{
			Name: "ratehttp",
			Note: "ratehttp.New(base): quota, 3 retries, metrics registered on a fresh registry" + collectorNote(),
			New: func(base http.RoundTripper) http.RoundTripper {
				t := ratehttp.New(base)
				RegisterRatehttp(prometheus.NewRegistry(), t)
				return t
			},
		},
		{
			Name: "ratehttp-quota",
			Note: "ratehttp.New(base, WithRetries(0)); ratehttp has no option to turn metrics off",
			New: func(base http.RoundTripper) http.RoundTripper {
				return ratehttp.New(base, ratehttp.WithRetries(0))
			},
		},
		{
			Name: "retryablehttp",
			Note: "retryablehttp.RoundTripper, Logger nil, RetryMax 3; forces an inner http.Client and copies every request",
			New: func(base http.RoundTripper) http.RoundTripper {
				return &retryablehttp.RoundTripper{Client: NewRetryableClient(base, 3, 250*time.Millisecond, 30*time.Second)}
			},
		},
		{
			Name:       "failsafe",
			Note:       "failsafehttp.NewRoundTripper with failsafehttp.NewRetryPolicyBuilder, 3 retries",
			Comparable: true,
			New: func(base http.RoundTripper) http.RoundTripper {
				return failsafehttp.NewRoundTripper(base, NewFailsafeRetry(3, 250*time.Millisecond))
			},
		},
		{
			Name: "promhttp",
			Note: "promhttp.InstrumentRoundTripperCounter(InstrumentRoundTripperDuration(base)), labels code and method",
			New: func(base http.RoundTripper) http.RoundTripper {
				return Instrument(prometheus.NewRegistry(), base)
			},
		},
		{
			Name:       "gofri",
			Note:       "github_ratelimit.New(base) of go-github-ratelimit/v2 (primary and secondary limiters, GitHub headers only)",
			Comparable: true,
			New: func(base http.RoundTripper) http.RoundTripper {
				return github_ratelimit.New(base)
			},
		},
		{
			Name:       "naive",
			Note:       "retryablehttp (RetryMax 3) over promhttp (counter+duration) over a rate.Limiter of 1e9/s, burst 1000",
			Comparable: true,
			New: func(base http.RoundTripper) http.RoundTripper {
				limited := &Limited{Base: base, Limiter: rate.NewLimiter(1e9, 1000)}
				inst := Instrument(prometheus.NewRegistry(), limited)
				return &retryablehttp.RoundTripper{Client: NewRetryableClient(inst, 3, 250*time.Millisecond, 30*time.Second)}
			},
		},
	}
}

// RegisterRatehttp registers t on reg if t is a [prometheus.Collector], and
// reports whether it did. The library is gaining its collector concurrently
// with this module; the assertion keeps the benchmarks building either way.
func RegisterRatehttp(reg *prometheus.Registry, t *ratehttp.Transport) bool {
	c, ok := any(t).(prometheus.Collector)
	if ok {
		reg.MustRegister(c)
	}
	return ok
}

// RatehttpIsCollector reports whether this build of ratehttp exports metrics.
func RatehttpIsCollector() bool {
	_, ok := any(ratehttp.New(NewStub())).(prometheus.Collector)
	return ok
}

func collectorNote() string {
	if RatehttpIsCollector() {
		return ""
	}
	return " (this build of ratehttp is not yet a prometheus.Collector: nothing registered)"
}

// NewRetryableClient returns a go-retryablehttp client sending through base,
// with its logger off and the given retries and backoff bounds. Its inner
// http.Client follows redirects as http.Client does.
func NewRetryableClient(base http.RoundTripper, retries int, waitMin, waitMax time.Duration) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: base}
	c.Logger = nil
	c.RetryMax = retries
	c.RetryWaitMin = waitMin
	c.RetryWaitMax = waitMax
	return c
}

// NewFailsafeRetry returns failsafe-go's HTTP retry policy (429, 5xx except
// 501, transport errors; Retry-After honoured) with the given retries and an
// exponential backoff from delay, capped at 30 s.
func NewFailsafeRetry(retries int, delay time.Duration) retrypolicy.RetryPolicy[*http.Response] {
	return failsafehttp.NewRetryPolicyBuilder().
		WithMaxRetries(retries).
		WithBackoff(delay, max(delay, 30*time.Second)).
		ReturnLastFailure().
		Build()
}

// Instrument wraps next in promhttp's counter and duration instrumentation,
// with collectors registered on reg.
func Instrument(reg *prometheus.Registry, next http.RoundTripper) http.RoundTripper {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "client_requests_total",
		Help: "Requests sent.",
	}, []string{"code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "client_request_duration_seconds",
		Help:    "Request latency.",
		Buckets: prometheus.DefBuckets,
	}, []string{"code", "method"})
	reg.MustRegister(requests, duration)
	return promhttp.InstrumentRoundTripperCounter(requests,
		promhttp.InstrumentRoundTripperDuration(duration, next))
}

// Limited is the hand-made limiter a user puts in front of a transport: it
// waits on Limiter before each request.
type Limited struct {
	Base    http.RoundTripper
	Limiter *rate.Limiter
}

// RoundTrip waits for the limiter, then sends req through Base. When the
// wait cannot finish before the context's deadline, the error matches
// [context.DeadlineExceeded], so callers can tell it from a failure.
func (l *Limited) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := l.Limiter.Wait(ctx); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		if ctx.Err() == nil {
			if _, ok := ctx.Deadline(); ok {
				return nil, fmt.Errorf("bench: %w: %v", context.DeadlineExceeded, err)
			}
		}
		return nil, err
	}
	return l.Base.RoundTrip(req)
}
