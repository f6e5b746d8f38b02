// Command loadtest is ratehttp's load-test client (go run ./example, in the
// repository's root) with one more flag, -redis, that joins a shared budget
// kept in Redis by redisquota: several load generators started side by side
// with the same -redis split one quota instead of competing for it.
//
//	go run ./cmd/loadtest -redis 127.0.0.1:6379 -server-addr 127.0.0.1:8080 -duration 20s
//	go run ./cmd/loadtest -redis 127.0.0.1:6379 -url http://127.0.0.1:8080/v1/items -duration 20s
//
// The first starts the simulated API on 127.0.0.1:8080 and loads it; the
// second loads the same API. Both draw from one budget in Redis. Every other
// flag is the example's (see -h).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/internal/loadtest"
	"github.com/ratehttp/ratehttp/redisquota"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop)
	os.Exit(loadtest.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, options()))
}

// options adds -redis, -redis-prefix, -redis-limit, -redis-window,
// -redis-timeout and -server-addr to the example's flags.
func options() loadtest.Options {
	var (
		addr, prefix, serverAddr string
		limit                    int64
		window, timeout          time.Duration
	)
	return loadtest.Options{
		Name: "loadtest",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&addr, "redis", "", "join a shared budget kept in the Redis at this `address`, such as 127.0.0.1:6379 (default: none, the Transport's local model alone)")
			fs.StringVar(&prefix, "redis-prefix", redisquota.DefaultKeyPrefix, "prefix of the budget's Redis keys")
			fs.Int64Var(&limit, "redis-limit", 0, "quota of the shared budget for a server that sends no quota headers, with -redis-window (0: learned from the headers)")
			fs.DurationVar(&window, "redis-window", time.Minute, "window of -redis-limit")
			fs.DurationVar(&timeout, "redis-timeout", redisquota.DefaultTimeout, "how long a request waits for Redis before it goes under the local model alone")
			fs.StringVar(&serverAddr, "server-addr", "", "embedded server: listen on this `address`, such as 127.0.0.1:8080, so that another generator can load it with -url (default: a free loopback port)")
		},
		Setup: func() (loadtest.Extension, error) {
			x := loadtest.Extension{ServerAddr: serverAddr}
			if addr == "" {
				return x, nil
			}
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := rdb.Ping(ctx).Err(); err != nil {
				rdb.Close()
				return x, fmt.Errorf("-redis %s: %v", addr, err)
			}
			opts := []redisquota.Option{redisquota.WithKeyPrefix(prefix), redisquota.WithTimeout(timeout)}
			if limit > 0 {
				opts = append(opts, redisquota.WithLimit(limit, window))
			}
			b := redisquota.New(rdb, opts...)
			x.Transport = []ratehttp.Option{ratehttp.WithSharedBudget(b)}
			x.Collectors = []prometheus.Collector{b}
			x.Describe = fmt.Sprintf("Shared budget: Redis %s, key prefix %q.", addr, prefix)
			x.Close = func() {
				b.Close()
				rdb.Close()
			}
			return x, nil
		},
	}
}
