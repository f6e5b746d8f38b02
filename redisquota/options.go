package redisquota

import (
	"log/slog"
	"time"

	"github.com/ratehttp/ratehttp"
)

// An Option configures a [Budget].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	timeout  time.Duration
	prefix   string
	limit    ratehttp.SharedQuota
	maxLease int
	logger   *slog.Logger
}

// WithLimit sets the quota, limit requests per window, for keys whose
// server reports none in its headers. A quota learned from the headers (by
// this process or published by another) wins over it. The default (and a
// limit or window not above zero) is none: such keys are not limited by the
// budget.
func WithLimit(limit int64, window time.Duration) Option {
	return optionFunc(func(c *config) {
		if limit > 0 && window > 0 {
			c.limit = ratehttp.SharedQuota{Limit: limit, Window: window}
		} else {
			c.limit = ratehttp.SharedQuota{}
		}
	})
}

// WithTimeout sets how long Take waits for Redis before it returns an error
// and the request goes under the Transport's local model. The default is
// [DefaultTimeout], 100 ms; zero or less means the default.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			d = DefaultTimeout
		}
		c.timeout = d
	})
}

// WithKeyPrefix sets the start of the names of the budget's Redis keys;
// the rest is a hash of the quota key, never the key itself. Budgets share
// a budget when they use the same Redis and prefix. The default is
// [DefaultKeyPrefix], "ratehttp:"; an empty prefix is allowed.
func WithKeyPrefix(p string) Option {
	return optionFunc(func(c *config) { c.prefix = p })
}

// WithMaxLease sets the most requests drawn from Redis at once. The GCRA's
// burst is twice that, and is kept from the fleet's rate, so a larger lease
// costs fewer Redis calls and more of the quota. The default (and n not
// above zero) is a 400th of the limit, at least 1 and at most 64: a
// reserve of 0.5% of the quota when the limit is 400 or more.
func WithMaxLease(n int) Option {
	return optionFunc(func(c *config) { c.maxLease = max(n, 0) })
}

// WithLogger sets the logger that reports when Redis fails and when it
// answers again, once each time. The default (and nil) logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}
