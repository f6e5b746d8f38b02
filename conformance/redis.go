package conformance

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// startRedisRate: GCRA in a real redis-server, started on a free loopback
// port for this target and killed by its Stop. Without redis-server on PATH
// the case is unavailable.
func startRedisRate(rate, burst int, period time.Duration) func() (Target, error) {
	return func() (Target, error) {
		rs, err := startRedis()
		if err != nil {
			return Target{}, err
		}
		rdb := redis.NewClient(&redis.Options{Addr: rs.addr})
		lim := redis_rate.NewLimiter(rdb)
		h := redisRateHandler(lim, redis_rate.Limit{Rate: rate, Burst: burst, Period: period}, App())
		return serve(h, time.Time{}, func() {
			rdb.Close()
			rs.stop()
		}), nil
	}
}

// redisRateHandler limits next with lim and announces what lim's Result
// says: Limit.Rate as X-RateLimit-Limit, Remaining, ResetAfter as
// X-RateLimit-Reset in seconds from now, and RetryAfter as Retry-After on a
// 429, both rounded up to whole seconds.
func redisRateHandler(lim *redis_rate.Limiter, limit redis_rate.Limit, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := lim.Allow(r.Context(), "conformance", limit)
		if err != nil {
			http.Error(w, "limiter unavailable", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(res.Limit.Rate))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
		h.Set("X-RateLimit-Reset", ceilSeconds(res.ResetAfter))
		if res.Allowed == 0 {
			h.Set("Retry-After", ceilSeconds(res.RetryAfter))
			http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func ceilSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(max(d, 0).Seconds())))
}

// redisServer is a redis-server process this package started.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
	dir  string
	once sync.Once
}

// startRedis starts redis-server on a free loopback port, with no
// persistence, and waits until it answers PING.
func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: redis-server not found: %v", ErrUnavailable, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "conformance-redis-")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	rs := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir}

	rdb := redis.NewClient(&redis.Options{Addr: rs.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return rs, nil
		}
		if time.Now().After(deadline) {
			rs.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within 5s: %v; output: %s", rs.addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the process and removes its directory.
func (rs *redisServer) stop() {
	rs.once.Do(func() {
		rs.cmd.Process.Kill()
		rs.cmd.Wait()
		os.RemoveAll(rs.dir)
	})
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
