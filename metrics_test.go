package ratehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// vendorHeader is what the vendor sends: X-Ratelimit-Used is what remains.
func vendorHeader(limit, remaining int, window string) http.Header {
	return http.Header{
		"X-Ratelimit":        {strconv.Itoa(limit)},
		"X-Ratelimit-Used":   {strconv.Itoa(remaining)},
		"X-Ratelimit-Window": {window},
	}
}

// okBase answers every request with 200 and a quota that never binds.
func okBase() roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		return respond(r, http.StatusOK, vendorHeader(1000000, 999999, "second"), ""), nil
	}
}

// do sends one request through rt and closes the response body.
func do(t *testing.T, rt http.RoundTripper, req *http.Request) (int, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func newReq(t *testing.T, ctx context.Context, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// gather registers c in a fresh pedantic registry and gathers it.
func gather(t *testing.T, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("Register() error = %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	return mfs
}

// histogramValue returns the sample count and sum of the histogram name{host}.
func histogramValue(t *testing.T, mfs []*dto.MetricFamily, name, host string) (uint64, float64) {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "host") == host {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0, 0
}

// counterValue returns the value of the counter name{host, method, code}, 0
// when there is none.
func counterValue(mfs []*dto.MetricFamily, name, host, method, code string) float64 {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "host") == host && label(m, "method") == method && label(m, "code") == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// exercise drives tr through every kind of event a metric records.
func exercise(t *testing.T, tr *Transport) {
	t.Helper()
	ctx := context.Background()
	var flaky int
	tr.base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		switch r.URL.Path {
		case "/error":
			return nil, errors.New("connection reset")
		case "/flaky":
			if flaky++; flaky == 1 {
				return respond(r, http.StatusServiceUnavailable, vendorHeader(100, 90, "minute"), ""), nil
			}
		case "/nonsense":
			return respond(r, http.StatusOK, http.Header{
				"X-Ratelimit": {"-1"}, "X-Ratelimit-Used": {"many"}, "X-Ratelimit-Window": {"fortnight"},
			}, ""), nil
		case "/denied":
			h := vendorHeader(100, 90, "minute")
			h.Set("Content-Type", "application/json")
			return respond(r, http.StatusForbidden, h, `{"error_code":"APIGW.0302","error_msg":"denied"}`), nil
		}
		return respond(r, http.StatusOK, vendorHeader(100, 90, "minute"), ""), nil
	})
	// Nonsense first: a settled quota does not read every answer, and the
	// first is always read.
	for _, p := range []string{"/nonsense", "/ok", "/flaky", "/error", "/denied"} {
		do(t, tr, newReq(t, ctx, http.MethodGet, "http://api.test"+p))
	}
	do(t, tr, newReq(t, ctx, "PURGE", "http://api.test/ok"))
	do(t, tr, newReq(t, ctx, http.MethodPost, "http://other.test/ok"))
}

func TestMetricsLint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(nil, WithAPIErrors(DefaultErrorBodyLimit), WithBackoff(time.Millisecond, time.Millisecond))
		exercise(t, tr)
		problems, err := testutil.CollectAndLint(tr)
		if err != nil {
			t.Fatalf("CollectAndLint() error = %v", err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
		mfs := gather(t, tr)
		want := []string{
			metricRequests, metricAttempts, metricRetries, metricDuration, metricWait, metricInFlight,
			metricPace, metricLimit, metricRemaining, metricWindow, metricReset, metricAnomalies, metricAPIErrors,
		}
		got := make(map[string]bool)
		for _, mf := range mfs {
			got[mf.GetName()] = true
			for _, m := range mf.GetMetric() {
				if c := label(m, "client"); c != "default" {
					t.Errorf("%s client = %q, want %q", mf.GetName(), c, "default")
				}
			}
		}
		for _, name := range want {
			if !got[name] {
				t.Errorf("Gather() has no %s", name)
			}
		}
	})
}

func TestMetricsExercise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(nil, WithAPIErrors(DefaultErrorBodyLimit), WithBackoff(time.Millisecond, time.Millisecond))
		exercise(t, tr)
		const want = `
# HELP ratehttp_api_errors_total Error responses turned into APIError (WithAPIErrors), by vendor error code.
# TYPE ratehttp_api_errors_total counter
ratehttp_api_errors_total{client="default",error_code="APIGW.0302",host="api.test"} 1
# HELP ratehttp_header_anomalies_total Rate-limit response headers ignored as nonsense, in the responses read (a settled quota reads one routine answer in eight), by kind.
# TYPE ratehttp_header_anomalies_total counter
ratehttp_header_anomalies_total{client="default",host="api.test",kind="count"} 1
ratehttp_header_anomalies_total{client="default",host="api.test",kind="limit"} 1
ratehttp_header_anomalies_total{client="default",host="api.test",kind="window"} 1
# HELP ratehttp_requests_total Requests completed by RoundTrip, by method and final status code ("error" for a transport error, "refused" for a request the quota refused locally).
# TYPE ratehttp_requests_total counter
ratehttp_requests_total{client="default",code="200",host="api.test",method="GET"} 3
ratehttp_requests_total{client="default",code="200",host="api.test",method="other"} 1
ratehttp_requests_total{client="default",code="200",host="other.test",method="POST"} 1
ratehttp_requests_total{client="default",code="403",host="api.test",method="GET"} 1
ratehttp_requests_total{client="default",code="error",host="api.test",method="GET"} 1
# HELP ratehttp_retries_total Retries started, by reason: 429, 5xx, error (transport error) or policy (a custom retry policy).
# TYPE ratehttp_retries_total counter
ratehttp_retries_total{client="default",host="api.test",reason="5xx"} 1
ratehttp_retries_total{client="default",host="api.test",reason="error"} 3
`
		err := testutil.CollectAndCompare(tr, strings.NewReader(want),
			metricRequests, metricRetries, metricAnomalies, metricAPIErrors)
		if err != nil {
			t.Error(err)
		}
		mfs := gather(t, tr)
		if got, want := counterValue(mfs, metricAttempts, "api.test", "GET", "error"), 4.0; got != want {
			t.Errorf("attempts{code=error} = %v, want %v", got, want)
		}
		if got, want := counterValue(mfs, metricAttempts, "api.test", "GET", "503"), 1.0; got != want {
			t.Errorf("attempts{code=503} = %v, want %v", got, want)
		}
		// Two requests answered at once (counted once for both counters)
		// and the retry of /flaky.
		if got, want := counterValue(mfs, metricAttempts, "api.test", "GET", "200"), 3.0; got != want {
			t.Errorf("attempts{code=200} = %v, want %v", got, want)
		}
	})
}

// TestMetricsScenario plays a scripted scenario against the in-memory server
// and checks the metrics against what the server saw and last said.
func TestMetricsScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 5, Window: time.Minute})
		start := time.Now()
		var last http.Header
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := srv.RoundTrip(r)
			if err == nil {
				last = resp.Header.Clone()
			}
			return resp, err
		})
		tr := New(base, WithMaxWait(20*time.Second))
		ctx := context.Background()
		const url = "http://api.test/v1/items"
		// The test's own view of the time each request took, and of the
		// part spent waiting for the quota.
		var took, waited time.Duration
		var waits int
		get := func(ctx context.Context) string {
			t.Helper()
			t0 := time.Now()
			code, err := do(t, tr, newReq(t, ctx, http.MethodGet, url))
			took += time.Since(t0)
			switch {
			case errors.Is(err, ErrRateLimited):
				return "refused"
			case err != nil:
				t.Fatalf("RoundTrip(%s) error = %v", url, err)
			}
			return strconv.Itoa(code)
		}
		expect := func(got, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("at %v: RoundTrip(%s) = %s, want %s", time.Since(start), url, got, want)
			}
		}

		// got sends one request that makes a single attempt, so all the time
		// it takes is spent waiting for the quota.
		got := func(ctx context.Context) string {
			t.Helper()
			before := took
			code := get(ctx)
			if d := took - before; d > 0 {
				waited += d
				waits++
			}
			return code
		}

		expect(got(ctx), "200") // t=0: learns 5 per minute
		srv.Consume(4)          // others spend the window
		// A 429 whose Retry-After (the reset at t=60s) passes the maximum
		// wait: not retried; the 429 is returned at once.
		expect(get(ctx), "429")
		// The next request would wait 60s for the reset, beyond the
		// maximum wait: refused at once.
		expect(got(ctx), "refused")
		time.Sleep(45 * time.Second) // t=45s
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		expect(got(short), "refused") // would wait 15s
		cancel()
		expect(got(ctx), "200") // waits 15s for the reset, t=60s
		for range 3 {
			expect(got(ctx), "200")
		}
		now := time.Now()
		resetIn := now.Truncate(time.Minute).Add(time.Minute).Sub(now) // the server's windows are UTC minutes

		st := srv.Stats()
		if st.Accepted != 5 || st.Rejected != 1 {
			t.Fatalf("srv.Stats() = %+v, want 5 accepted and 1 rejected", st)
		}
		limit, _ := strconv.Atoi(last.Get(ratehttptest.HeaderLimit))
		remaining, _ := strconv.Atoi(last.Get(ratehttptest.HeaderUsed))
		want := fmt.Sprintf(`
# HELP ratehttp_attempts_total Attempts sent to the base transport, retries included, by method and status code ("error" for a transport error).
# TYPE ratehttp_attempts_total counter
ratehttp_attempts_total{client="default",code="200",host="api.test",method="GET"} %d
ratehttp_attempts_total{client="default",code="429",host="api.test",method="GET"} %d
# HELP ratehttp_pace_requests_per_second Rate at which requests are paced; 0 when they are not.
# TYPE ratehttp_pace_requests_per_second gauge
ratehttp_pace_requests_per_second{client="default",host="api.test"} %v
# HELP ratehttp_quota_limit Requests per window, as the server last reported.
# TYPE ratehttp_quota_limit gauge
ratehttp_quota_limit{client="default",host="api.test"} %d
# HELP ratehttp_quota_remaining Requests estimated to remain in the current window: the server's last count less the requests sent since.
# TYPE ratehttp_quota_remaining gauge
ratehttp_quota_remaining{client="default",host="api.test"} %d
# HELP ratehttp_quota_reset_seconds Estimated time until the quota window resets.
# TYPE ratehttp_quota_reset_seconds gauge
ratehttp_quota_reset_seconds{client="default",host="api.test"} %v
# HELP ratehttp_quota_window_seconds Length of the quota window, as the server last reported.
# TYPE ratehttp_quota_window_seconds gauge
ratehttp_quota_window_seconds{client="default",host="api.test"} 60
# HELP ratehttp_refused_requests_total Requests refused locally with ErrRateLimited because the quota wait would pass the context deadline (deadline) or the maximum wait (max_wait).
# TYPE ratehttp_refused_requests_total counter
ratehttp_refused_requests_total{client="default",host="api.test",reason="deadline"} 1
ratehttp_refused_requests_total{client="default",host="api.test",reason="max_wait"} 1
# HELP ratehttp_requests_in_flight Requests in RoundTrip, waiting for their quota or sent.
# TYPE ratehttp_requests_in_flight gauge
ratehttp_requests_in_flight{client="default",host="api.test"} 0
# HELP ratehttp_requests_total Requests completed by RoundTrip, by method and final status code ("error" for a transport error, "refused" for a request the quota refused locally).
# TYPE ratehttp_requests_total counter
ratehttp_requests_total{client="default",code="200",host="api.test",method="GET"} 5
ratehttp_requests_total{client="default",code="429",host="api.test",method="GET"} 1
ratehttp_requests_total{client="default",code="refused",host="api.test",method="GET"} 2
`, st.Accepted, st.Rejected, 5.0/60, limit, remaining, resetIn.Seconds())
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(tr)
		err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			metricAttempts, metricPace, metricLimit, metricRemaining, metricReset, metricWindow,
			metricRefused, metricInFlight, metricRequests, metricRetries)
		if err != nil {
			t.Error(err)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("GatherAndLint() = %v, %v; want no problems", problems, err)
		}

		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if waited < 15*time.Second {
			t.Errorf("waited %v in all, want at least the 15s to the reset", waited)
		}
		if n, sum := histogramValue(t, mfs, metricWait, "api.test"); n != uint64(waits) || sum != waited.Seconds() {
			t.Errorf("%s count, sum = %d, %v; want %d, %v", metricWait, n, sum, waits, waited.Seconds())
		}
		if n, sum := histogramValue(t, mfs, metricDuration, "api.test"); n != 8 || sum != took.Seconds() {
			t.Errorf("%s count, sum = %d, %v; want 8, %v", metricDuration, n, sum, took.Seconds())
		}
		if took != waited {
			t.Errorf("requests took %v, want %v: all of it waiting for the quota", took, waited)
		}
	})
}

func TestMetricsCardinality(t *testing.T) {
	tr := New(okBase())
	ctx := context.Background()
	for i := range 10000 {
		do(t, tr, newReq(t, ctx, http.MethodGet, fmt.Sprintf("http://api.test/v1/items/%d?request_id=%d", i, i)))
	}
	for i := range 1000 {
		do(t, tr, newReq(t, ctx, http.MethodGet, fmt.Sprintf("http://h%d.test/v1/items/%d", i, i)))
	}
	mfs := gather(t, tr)
	hosts := make(map[string]bool)
	series := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			series++
			hosts[label(m, "host")] = true
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), "/") {
					t.Errorf("%s label %s = %q holds a path", mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	if got, want := len(hosts), DefaultMaxHostLabels+1; got != want {
		t.Errorf("distinct hosts = %d, want %d", got, want)
	}
	// Per host: requests, attempts, two histograms, in flight and five
	// quota gauges.
	if max := 10 * (DefaultMaxHostLabels + 1); series > max {
		t.Errorf("series = %d, want at most %d", series, max)
	}
	if got := counterValue(gather(t, tr), metricRequests, hostOther, "GET", "200"); got != 1000-DefaultMaxHostLabels+1 {
		t.Errorf(`requests{host="other"} = %v, want %d`, got, 1000-DefaultMaxHostLabels+1)
	}
	t.Logf("%d series for 10000 paths and 1001 hosts", series)
}

// TestMetricsConcurrent records from many goroutines while scraping, for the
// race detector, and checks that no request is lost.
func TestMetricsConcurrent(t *testing.T) {
	tr := New(okBase(), WithRetries(0))
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr)
	const workers, each = 8, 200
	done := make(chan struct{})
	scraped := make(chan error)
	go func() {
		for {
			if _, err := reg.Gather(); err != nil {
				scraped <- err
				return
			}
			select {
			case <-done:
				scraped <- nil
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				url := fmt.Sprintf("http://h%d.test/%d", (w*each+i)%(2*DefaultMaxHostLabels), i)
				if _, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, url)); err != nil {
					t.Errorf("RoundTrip(%s) error = %v", url, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-scraped; err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() == metricRequests {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if total != workers*each {
		t.Errorf("sum of %s = %v, want %d", metricRequests, total, workers*each)
	}
}

func TestHostLabel(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"api.test", "api.test"},
		{"api.test:8443", "api.test:8443"},
		{"[::1]:80", "[::1]:80"},
		{"", hostOther},
		{hostOther, hostOther},
		{"bad\xff.test", hostOther},
		{strings.Repeat("a", maxHostLabelLen+1), hostOther},
	}
	m := newMetrics(&config{clientName: "c", maxHosts: 10, maxCodes: 10})
	for _, tt := range tests {
		if got := m.host(tt.give).host; got != tt.want {
			t.Errorf("host(%q) label = %q, want %q", tt.give, got, tt.want)
		}
	}
	if a, b := m.host("api.test"), m.host("api.test"); a != b {
		t.Errorf("host(api.test) twice gave two hostMetrics")
	}
	var nilMetrics *metrics
	if h := nilMetrics.host("api.test"); h != nil {
		t.Errorf("(*metrics)(nil).host() = %v, want nil", h)
	}
}

func TestCodeLabel(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"", codeLabelNone},
		{"APIGW.0308", "APIGW.0308"},
		{"ECS.0114", "ECS.0114"},
		{"a_b-c.9", "a_b-c.9"},
		{strings.Repeat("x", maxCodeLabelLen), strings.Repeat("x", maxCodeLabelLen)},
		{strings.Repeat("x", maxCodeLabelLen+1), codeLabelOther},
		{"has space", codeLabelOther},
		{`quo"te`, codeLabelOther},
		{"new\nline", codeLabelOther},
		{"ünï", codeLabelOther},
		{"s3cr3t/../x", codeLabelOther},
	}
	for _, tt := range tests {
		m := newMetrics(&config{clientName: "c", maxHosts: 10, maxCodes: 10})
		if got := m.codeLabel(tt.give); got != tt.want {
			t.Errorf("codeLabel(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}

	m := newMetrics(&config{clientName: "c", maxHosts: 10, maxCodes: 3})
	for i, want := range []string{"E.0", "E.1", "E.2", codeLabelOther, codeLabelOther} {
		if got := m.codeLabel(fmt.Sprintf("E.%d", i)); got != want {
			t.Errorf("codeLabel(E.%d) after %d codes = %q, want %q", i, i, got, want)
		}
	}
	if got := m.codeLabel("E.1"); got != "E.1" {
		t.Errorf("codeLabel(E.1) again = %q, want E.1", got)
	}
}

func TestAPIErrorCodesCapped(t *testing.T) {
	var n int
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n++
		h := http.Header{"Content-Type": {"application/json"}}
		return respond(r, http.StatusBadRequest, h, fmt.Sprintf(`{"error_code":"E.%d","error_msg":"bad"}`, n)), nil
	}), WithAPIErrors(DefaultErrorBodyLimit))
	for range 3 * DefaultMaxCodeLabels {
		if _, err := do(t, tr, newReq(t, context.Background(), http.MethodPost, "http://api.test/x")); err == nil {
			t.Fatal("RoundTrip() error = nil, want an *APIError")
		}
	}
	mfs := gather(t, tr)
	for _, mf := range mfs {
		if mf.GetName() != metricAPIErrors {
			continue
		}
		if got, want := len(mf.GetMetric()), DefaultMaxCodeLabels+1; got != want {
			t.Errorf("%s series = %d, want %d", metricAPIErrors, got, want)
		}
	}
	if got, want := testutil.ToFloat64(tr.metrics.apiErrors.WithLabelValues("api.test", codeLabelOther)), float64(2*DefaultMaxCodeLabels); got != want {
		t.Errorf(`%s{error_code="other"} = %v, want %v`, metricAPIErrors, got, want)
	}
}

func TestMethodAndCodeLabels(t *testing.T) {
	tests := []struct {
		method string
		code   int
		err    error
		want   [2]string
	}{
		{"", 200, nil, [2]string{"GET", "200"}},
		{"GET", 100, nil, [2]string{"GET", "100"}},
		{"PATCH", 599, nil, [2]string{"PATCH", "599"}},
		{"get", 200, nil, [2]string{"other", "200"}},
		{"PURGE", 404, nil, [2]string{"other", "404"}},
		{"DELETE", 600, nil, [2]string{"DELETE", "other"}},
		{"TRACE", 0, nil, [2]string{"TRACE", "other"}},
		{"PUT", 0, errors.New("reset"), [2]string{"PUT", "error"}},
		{"HEAD", 0, &RateLimitError{Wait: time.Hour}, [2]string{"HEAD", "refused"}},
		{"OPTIONS", 0, fmt.Errorf("wrapped: %w", &RateLimitError{}), [2]string{"OPTIONS", "refused"}},
		{"CONNECT", 0, context.Canceled, [2]string{"CONNECT", "error"}},
		{"POST", 0, nil, [2]string{"POST", "other"}},
	}
	for _, tt := range tests {
		got := [2]string{methodNames[methodIndex(tt.method)], codeName(codeIndex(tt.code, tt.err))}
		if got != tt.want {
			t.Errorf("labels(%q, %d, %v) = %q, want %q", tt.method, tt.code, tt.err, got, tt.want)
		}
	}
	for code := 100; code <= 599; code++ {
		if got, want := codeName(codeIndex(code, nil)), strconv.Itoa(code); got != want {
			t.Errorf("codeName(codeIndex(%d)) = %q, want %q", code, got, want)
		}
	}
}

// TestMetricsKeyFunc checks that with a custom key function the quota
// gauges report the most constrained quota of a host, and that a quota
// serving several hosts counts each request under its own host.
func TestMetricsKeyFunc(t *testing.T) {
	remaining := map[string]int{"a": 50, "b": 7, "c": 30}
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return respond(r, http.StatusOK, vendorHeader(100, remaining[r.Header.Get("X-Tenant")], "hour"), ""), nil
	}), WithKeyFunc(func(r *http.Request) string { return "tenant-" + r.Header.Get("X-Tenant") }))
	ctx := context.Background()
	for _, tenant := range []string{"a", "b", "c"} {
		req := newReq(t, ctx, http.MethodGet, "http://api.test/x")
		req.Header.Set("X-Tenant", tenant)
		do(t, tr, req)
	}
	// Tenant c's quota now also serves a second host.
	req := newReq(t, ctx, http.MethodGet, "http://mirror.test/x")
	req.Header.Set("X-Tenant", "c")
	do(t, tr, req)

	const want = `
# HELP ratehttp_quota_remaining Requests estimated to remain in the current window: the server's last count less the requests sent since.
# TYPE ratehttp_quota_remaining gauge
ratehttp_quota_remaining{client="default",host="api.test"} 7
# HELP ratehttp_requests_total Requests completed by RoundTrip, by method and final status code ("error" for a transport error, "refused" for a request the quota refused locally).
# TYPE ratehttp_requests_total counter
ratehttp_requests_total{client="default",code="200",host="api.test",method="GET"} 3
ratehttp_requests_total{client="default",code="200",host="mirror.test",method="GET"} 1
`
	if err := testutil.CollectAndCompare(tr, strings.NewReader(want), metricRemaining, metricRequests); err != nil {
		t.Error(err)
	}
}

func TestMetricsClientNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(okBase(), WithClientName("a"))
	b := New(okBase(), WithClientName("b"))
	if err := reg.Register(a); err != nil {
		t.Fatalf("Register(client a) error = %v", err)
	}
	if err := reg.Register(b); err != nil {
		t.Fatalf("Register(client b) error = %v", err)
	}
	do(t, a, newReq(t, context.Background(), http.MethodGet, "http://api.test/"))
	do(t, b, newReq(t, context.Background(), http.MethodGet, "http://api.test/"))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather() error = %v", err)
	}

	again := New(okBase(), WithClientName("a"))
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(again); !errors.As(err, &are) {
		t.Errorf("Register(client a again) error = %v, want AlreadyRegisteredError", err)
	} else if are.ExistingCollector != a {
		t.Errorf("AlreadyRegisteredError.ExistingCollector is not the first Transport")
	}

	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(New(nil))
	if err := reg2.Register(New(nil)); !errors.As(err, &are) {
		t.Errorf("Register(default client twice) error = %v, want AlreadyRegisteredError", err)
	}
}

func TestMetricsBadClientName(t *testing.T) {
	tr := New(okBase(), WithClientName("bad\xff"))
	if _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, "http://api.test/")); err != nil {
		t.Fatalf("RoundTrip() error = %v", err)
	}
	if err := prometheus.NewRegistry().Register(tr); err == nil {
		t.Error("Register(invalid client name) error = nil, want an error")
	}
	ch := make(chan prometheus.Metric, 100)
	tr.Collect(ch) // must not panic
}

func TestMetricsHoldNoCredentials(t *testing.T) {
	const secret = "s3cr3t"
	tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := vendorHeader(100, 90, "minute")
		h.Set("Content-Type", "application/json")
		h.Set("X-Subject-Token", secret)
		return respond(r, http.StatusUnauthorized, h, `{"error_code":"APIGW.0301","error_msg":"`+secret+`"}`), nil
	}),
		WithAPIErrors(DefaultErrorBodyLimit),
		WithKeyFunc(func(r *http.Request) string { return r.Header.Get("Authorization") }),
		WithClientName("svc"))
	for _, url := range []string{
		"https://api.test/v1/" + secret + "/items?token=" + secret,
		"https://user:" + secret + "@api.test/v1/items?token=" + secret,
	} {
		req := newReq(t, context.Background(), http.MethodGet, url)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Auth-Token", secret)
		do(t, tr, req)
	}

	// Everything, as a scrape would see it (CollectAndFormat without names
	// formats nothing).
	var scrape strings.Builder
	enc := expfmt.NewEncoder(&scrape, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range gather(t, tr) {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	text := scrape.String()
	if !strings.Contains(text, `ratehttp_quota_limit{client="svc",host="api.test"} 100`) {
		t.Fatalf("scrape has no quota gauge:\n%s", text)
	}
	if strings.Contains(text, secret) {
		t.Errorf("scrape holds a credential:\n%s", text)
	}
	descs := make(chan *prometheus.Desc, 100)
	tr.Describe(descs)
	close(descs)
	for d := range descs {
		if strings.Contains(d.String(), secret) {
			t.Errorf("descriptor %s holds a credential", d)
		}
	}
}

// withoutMetrics turns tr's metrics off, as if they had never been built, so
// that benchmarks compare with a Transport that records nothing.
func withoutMetrics(tr *Transport) *Transport {
	tr.metrics = nil
	return tr
}

func TestWithoutMetrics(t *testing.T) {
	tr := withoutMetrics(New(okBase()))
	exercise(t, tr)
	if mfs := gather(t, tr); len(mfs) != 0 {
		t.Errorf("Gather() = %d families, want none", len(mfs))
	}
}

// BenchmarkMetricsOverhead measures the cost of recording metrics: the same
// requests through a Transport with metrics and one without.
//
//	go test -run '^$' -bench MetricsOverhead -benchmem -count 5
func BenchmarkMetricsOverhead(b *testing.B) {
	canned := &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", ProtoMajor: 1, ProtoMinor: 1,
		Header: vendorHeader(1000000000, 999999999, "second"),
		Body:   http.NoBody,
	}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return canned, nil })
	for _, mode := range []struct {
		name string
		new  func() *Transport
	}{
		{"without", func() *Transport { return withoutMetrics(New(base)) }},
		{"with", func() *Transport {
			tr := New(base)
			prometheus.NewRegistry().MustRegister(tr)
			return tr
		}},
	} {
		b.Run(mode.name+"/serial", func(b *testing.B) {
			tr := mode.new()
			req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode.name+"/parallel", func(b *testing.B) {
			tr := mode.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/items", nil)
				for pb.Next() {
					if _, err := tr.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
