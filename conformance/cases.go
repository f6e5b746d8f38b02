package conformance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/didip/tollbooth/v7"
	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/memstore"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// path is what the workers GET; every limiter keys on the client's address
// (or on nothing), so all workers share one quota.
const path = "/v1/items"

// Cases returns every case: [MiddlewareCases], then [ProxyCases].
func Cases() []Case {
	return append(MiddlewareCases(), ProxyCases()...)
}

// MiddlewareCases returns the in-process cases: Go middleware, each
// configured so that a run crosses several of its windows in a few seconds.
// Each Library names the module versions that go.mod requires
// (TestLibrariesMatchGoMod checks).
func MiddlewareCases() []Case {
	return []Case{
		{
			Name: "httprate", Library: "github.com/go-chi/httprate v0.16.1",
			Family: SlidingWindow, SendsHeaders: true,
			Rate: 20, Burst: 40, Window: 2 * time.Second,
			Start: startHTTPRate(40, 2*time.Second),
		},
		{
			Name: "httprate, no headers", Library: "github.com/go-chi/httprate v0.16.1",
			Family: SlidingWindow, SendsHeaders: false,
			Rate: 20, Burst: 40, Window: 2 * time.Second,
			Start: startHTTPRate(40, 2*time.Second, httprate.WithResponseHeaders(httprate.ResponseHeaders{})),
		},
		{
			Name: "throttled", Library: "github.com/throttled/throttled/v2 v2.15.0",
			Family: TokenBucket, SendsHeaders: true,
			Rate: 20, Burst: 10, Window: time.Second,
			Start: startThrottled(20, 10),
		},
		{
			Name: "ulule/limiter", Library: "github.com/ulule/limiter/v3 v3.11.2",
			Family: WindowFromFirstRequest, SendsHeaders: true,
			Rate: 25, Burst: 50, Window: 2 * time.Second,
			Start: startUlule(50, 2*time.Second),
		},
		{
			Name: "sethvargo/go-limiter", Library: "github.com/sethvargo/go-limiter v0.7.1",
			Family: FixedWindow, SendsHeaders: true,
			Rate: 25, Burst: 25, Window: time.Second,
			Start: startGoLimiter(25, time.Second),
		},
		{
			Name: "tollbooth", Library: "github.com/didip/tollbooth/v7 v7.0.2",
			Family: TokenBucket, SendsHeaders: true,
			Rate: 20, Burst: 10, Window: time.Second,
			Start: startTollbooth(20, 10),
		},
		{
			Name: "redis_rate", Library: "github.com/go-redis/redis_rate/v10 v10.0.1, github.com/redis/go-redis/v9 v9.23.0, redis-server",
			Family: TokenBucket, SendsHeaders: true,
			Rate: 30, Burst: 10, Window: time.Second,
			Start: startRedisRate(30, 10, time.Second),
		},
	}
}

// serve starts a loopback server with h behind the request log.
func serve(h http.Handler, epoch time.Time, stop func()) Target {
	log := &Log{}
	mux := http.NewServeMux()
	mux.Handle(path, log.Wrap(h))
	srv := httptest.NewServer(mux)
	return Target{
		URL:   srv.URL + path,
		Log:   log,
		Epoch: epoch,
		Stop: func() {
			srv.Close()
			if stop != nil {
				stop()
			}
		},
	}
}

// startHTTPRate: weighted sliding-window counter, one key for every request;
// windows aligned to the limiter's creation.
func startHTTPRate(limit int, window time.Duration, opts ...httprate.Option) func() (Target, error) {
	return func() (Target, error) {
		epoch := time.Now()
		rl := httprate.NewRateLimiter(limit, window, opts...)
		return serve(rl.Handler(App()), epoch, nil), nil
	}
}

// startThrottled: GCRA in memory; a burst of maxBurst+1 requests.
func startThrottled(perSec, burst int) func() (Target, error) {
	return func() (Target, error) {
		st, err := memstore.NewCtx(1024)
		if err != nil {
			return Target{}, err
		}
		rl, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{MaxRate: throttled.PerSec(perSec), MaxBurst: burst - 1})
		if err != nil {
			return Target{}, err
		}
		mw := &throttled.HTTPRateLimiterCtx{RateLimiter: rl}
		return serve(mw.RateLimit(App()), time.Time{}, nil), nil
	}
}

// startUlule: fixed window opened by the first request after the last one
// expired, keyed by client IP, in memory.
func startUlule(limit int64, window time.Duration) func() (Target, error) {
	return func() (Target, error) {
		lim := limiter.New(memory.NewStore(), limiter.Rate{Period: window, Limit: limit})
		return serve(stdlib.NewMiddleware(lim).Handler(App()), time.Time{}, nil), nil
	}
}

// startGoLimiter: go-limiter's memorystore, keyed by client IP. Despite its
// name it refills the whole bucket at each tick of the interval, counted
// from the bucket's creation at the first request: a fixed window.
func startGoLimiter(tokens uint64, interval time.Duration) func() (Target, error) {
	return func() (Target, error) {
		st, err := memorystore.New(&memorystore.Config{Tokens: tokens, Interval: interval})
		if err != nil {
			return Target{}, err
		}
		mw, err := httplimit.NewMiddleware(st, httplimit.IPKeyFunc())
		if err != nil {
			st.Close(context.Background())
			return Target{}, err
		}
		return serve(mw.Handle(App()), time.Time{}, func() { st.Close(context.Background()) }), nil
	}
}

// startTollbooth: a golang.org/x/time/rate bucket per client IP and path.
func startTollbooth(perSec float64, burst int) func() (Target, error) {
	return func() (Target, error) {
		lmt := tollbooth.NewLimiter(perSec, nil)
		lmt.SetBurst(burst)
		return serve(tollbooth.LimitHandler(lmt, App()), time.Time{}, nil), nil
	}
}
