package redisquota

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ratehttp/ratehttp"
	"github.com/redis/go-redis/v9"
)

// Defaults.
const (
	// DefaultTimeout bounds how long Take waits for Redis (see
	// [WithTimeout]).
	DefaultTimeout = 100 * time.Millisecond
	// DefaultKeyPrefix starts the names of the budget's Redis keys (see
	// [WithKeyPrefix]).
	DefaultKeyPrefix = "ratehttp:"

	// probeInterval is how long a budget whose Redis failed answers Take
	// with an error at once, before one Take tries Redis again.
	probeInterval = time.Second
	// readInterval is how often a process that has not learned a key's
	// quota itself looks for one published by another.
	readInterval = time.Second
	// minPublishTTL is the shortest life of a published quota; it is also
	// ten windows at least, and republished at half its life.
	minPublishTTL = time.Hour
)

// Budget is a [ratehttp.SharedBudget] kept in Redis: every Transport given a
// Budget on the same Redis (and key prefix) draws from one budget per quota
// key, in one process or in many. The budget is a GCRA (the generic cell
// rate algorithm of github.com/go-redis/redis_rate, one Lua script run
// atomically in Redis) pacing the whole fleet at the quota's limit per
// window, less a small reserve (see Leases).
//
// # Quota
//
// The quota is the one a Transport learned from the server's headers (any
// replica's: each publishes what it learned in Redis, and those that have
// learned nothing yet use what is published), else the one set with
// [WithLimit]. While none is known, Take lets every request go.
//
// # Leases
//
// A Budget does not ask Redis for every request: it books a lease of
// several at once and answers Take from it in memory. A lease is at most
// a 400th of the limit (at least 1, at most 64; see [WithMaxLease]), grows
// while this process uses its leases up and shrinks while they lapse
// unused. Redis books leases in the order processes ask, up to 32 leases
// ahead of the GCRA's schedule: a process whose lease is due later waits
// for it in memory (Take returns the wait) instead of asking Redis again.
// A lease is due when it is no more than two leases ahead of the schedule
// (the GCRA's burst), and lapses once it has been due as long as the GCRA
// takes to earn that burst, or 5 ms (its requests are then not sent;
// [Budget.Close] gives back those of the leases held). The fleet's rate is
// the limit less a reserve of at least the burst and at least a 128th of
// the limit, so that no window of the server, fixed or sliding, sees more
// than the limit, and the Transports' own models, which still read the
// server's remaining, seldom find it at 0.
//
// # When Redis fails
//
// Take waits for Redis at most the timeout ([DefaultTimeout], see
// [WithTimeout]), whatever the client's own timeouts, and returns when its
// context ends. When Redis fails or is late, Take returns an error matching
// [ErrUnavailable] (the Transport then paces the request with its own model
// alone), the failure is logged once, and for the next second every Take
// fails at once; then one Take tries Redis again, and the first answer in
// time brings the budget back (logged once too). Requests of a lease held
// are still taken meanwhile.
//
// # Synchronization notes
//
// What is exact: the GCRA in Redis, which all processes share. What is
// eventually consistent: the quota, which each process publishes when it
// learns a different one and the others read at most once a second; two
// replicas that disagree (during a change of the server's limit) pace with
// their own figures until they learn the same. A lease drawn by one
// process is invisible to the others until used or lapsed.
//
// A Budget is safe for concurrent use. It is a [prometheus.Collector] (see
// README.md for the metrics); it registers nothing itself.
type Budget struct {
	cfg   config
	store store
	m     *metrics
	keys  sync.Map // quota key -> *keyState

	// downUntil is 0 while Redis answers, else when (in Unix nanoseconds)
	// a Take may try it again.
	downUntil atomic.Int64
}

var (
	_ ratehttp.SharedBudget = (*Budget)(nil)
	_ prometheus.Collector  = (*Budget)(nil)
)

// keyState is the budget of one quota key in this process.
type keyState struct {
	name string // the key's name in Redis: hashKey of the quota key

	mu        sync.Mutex
	lease     lease                // requires mu held
	gcra      gcra                 // GCRA of the last draw; requires mu held
	learned   ratehttp.SharedQuota // the newest quota a Transport told; requires mu held
	published ratehttp.SharedQuota // the quota in Redis as last seen; requires mu held
	seenAt    time.Time            // when published was last read or written; requires mu held
	openUntil time.Time            // no quota known: not limited until then; requires mu held
	owed      int                  // requests let go while no quota was known, not yet booked; requires mu held
	refill    *refill              // the draw in flight, if any; requires mu held
}

// refill is a draw from Redis in flight, shared by the Takes that need it.
type refill struct {
	start time.Time
	done  chan struct{} // closed when the draw ended
}

// New returns a Budget that keeps its state in rdb (a *redis.Client,
// *redis.ClusterClient or *redis.Ring). rdb stays the caller's: the
// Budget does not close it.
func New(rdb redis.UniversalClient, opts ...Option) *Budget {
	cfg := config{timeout: DefaultTimeout, prefix: DefaultKeyPrefix}
	for _, o := range opts {
		o.apply(&cfg)
	}
	b := &Budget{cfg: cfg, m: newMetrics()}
	b.store = store{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), prefix: cfg.prefix, m: b.m}
	return b
}

// Take asks for one request of key's budget (see [ratehttp.SharedBudget]).
// It returns 0 when the request may go (taken from the lease held, or from
// a new lease drawn from Redis), or how long to wait for the next lease. It
// returns 0 and no error while no quota is known for key. It returns an
// error matching [ErrUnavailable] when Redis does not answer within the
// timeout, or answers with an error, and ctx's error when ctx ends first.
func (b *Budget) Take(ctx context.Context, key string, quota ratehttp.SharedQuota) (time.Duration, error) {
	k := b.state(key)
	for {
		now := time.Now()
		k.mu.Lock()
		if quota.Limit > 0 && quota.Window > 0 {
			k.learned = quota
			k.openUntil = time.Time{}
		}
		ok, wait, lapsed := k.lease.take(now)
		if ok {
			k.mu.Unlock()
			b.m.take(outcomeLease)
			return 0, nil
		}
		if wait > 0 {
			k.mu.Unlock()
			b.m.take(outcomeWait)
			return wait, nil
		}
		if lapsed > 0 {
			b.m.leased.WithLabelValues("lapsed").Add(float64(lapsed))
		}
		if b.isDown(now) {
			k.mu.Unlock()
			b.m.take(outcomeFallback)
			b.m.fallbacks.Inc()
			return 0, &UnavailableError{Err: errDown}
		}
		if now.Before(k.openUntil) {
			k.owed++
			k.mu.Unlock()
			b.m.take(outcomeUnlimited)
			return 0, nil
		}
		if wait := k.lease.notBefore.Sub(now); wait > 0 {
			k.mu.Unlock()
			b.m.take(outcomeWait)
			return wait, nil
		}
		r := k.refill
		if r == nil || now.Sub(r.start) > b.cfg.timeout {
			// None in flight, or one stuck past the timeout (its client's
			// own timeouts are longer): a new one, after probeInterval.
			r = &refill{start: now, done: make(chan struct{})}
			k.refill = r
			go b.draw(k, r)
		}
		k.mu.Unlock()
		if err := b.await(ctx, r); err != nil {
			if ctx.Err() == nil {
				b.m.take(outcomeFallback)
				b.m.fallbacks.Inc()
			}
			return 0, err
		}
	}
}

// errDown is the cause of the errors Take returns at once while a failure
// of Redis is recent.
var errDown = errorString("redis failed less than a second ago")

type errorString string

func (e errorString) Error() string { return string(e) }

// await waits for r to end, at most the timeout after it started.
func (b *Budget) await(ctx context.Context, r *refill) error {
	select {
	case <-r.done:
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(r.start.Add(b.cfg.timeout)))
	defer timer.Stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		b.markDown(time.Now(), context.DeadlineExceeded)
		return &UnavailableError{Err: context.DeadlineExceeded}
	}
}

// state returns key's state, creating it.
func (b *Budget) state(key string) *keyState {
	if k, ok := b.keys.Load(key); ok {
		return k.(*keyState)
	}
	k, _ := b.keys.LoadOrStore(key, &keyState{name: hashKey(key)})
	return k.(*keyState)
}

// draw runs refill r of k: it settles the quota (publishing or reading it)
// and draws a lease. It runs on its own goroutine so that Take's wait is
// bounded whatever the client's timeouts; the Redis calls have the timeout
// as their context's deadline too, which clients with
// ContextTimeoutEnabled honour.
func (b *Budget) draw(k *keyState, r *refill) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.timeout)
	defer cancel()
	err := b.drawLease(ctx, k, r)
	if err != nil {
		// Redis may come back empty (restarted): publish again then.
		k.mu.Lock()
		k.seenAt = time.Time{}
		k.mu.Unlock()
		b.markDown(time.Now(), err)
	} else if time.Since(r.start) <= b.cfg.timeout {
		b.markUp()
	}
}

// drawLease is draw's work; it ends r.
func (b *Budget) drawLease(ctx context.Context, k *keyState, r *refill) error {
	defer func() {
		k.mu.Lock()
		if k.refill == r {
			k.refill = nil
		}
		k.mu.Unlock()
		close(r.done)
	}()
	q, err := b.settle(ctx, k, r.start)
	if err != nil {
		return err
	}
	if q.Limit <= 0 || q.Window <= 0 {
		k.mu.Lock()
		k.openUntil = time.Now().Add(readInterval)
		k.mu.Unlock()
		return nil
	}
	g := shape(q, b.cfg.maxLease)
	k.mu.Lock()
	n := k.lease.want(g.lease)
	// The requests let go before the quota was known are booked with the
	// lease, a part at a time, so that the fleet's pace makes room for
	// them: a sliding window remembers them for a whole window.
	owed := min(k.owed, g.limit.Burst/2)
	k.mu.Unlock()
	res, err := b.store.draw(ctx, k.name, g.limit, n+owed)
	if err != nil {
		return err
	}
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gcra = g
	if res.Allowed > 0 {
		k.owed -= owed
		k.lease.grant(n, g.due(now, res.ResetAfter), g.lifetime())
		b.m.leases.Inc()
		b.m.leased.WithLabelValues("granted").Add(float64(n))
	} else {
		k.lease.deny(now, res.RetryAfter)
	}
	return nil
}

// settle returns the quota to pace k with: the one a Transport of this
// process learned (published if Redis has another), else the one
// published, else the one set by hand. It reads Redis at most once per
// readInterval.
func (b *Budget) settle(ctx context.Context, k *keyState, now time.Time) (ratehttp.SharedQuota, error) {
	k.mu.Lock()
	learned, published, seenAt := k.learned, k.published, k.seenAt
	k.mu.Unlock()
	if learned.Limit > 0 {
		ttl := max(10*learned.Window, minPublishTTL)
		if learned == published && now.Sub(seenAt) < ttl/2 {
			return learned, nil
		}
		if err := b.store.publish(ctx, k.name, learned, ttl); err != nil {
			return learned, err
		}
		k.mu.Lock()
		k.published, k.seenAt = learned, now
		k.mu.Unlock()
		return learned, nil
	}
	if seenAt.IsZero() || now.Sub(seenAt) >= readInterval {
		q, err := b.store.read(ctx, k.name)
		if err != nil {
			return q, err
		}
		k.mu.Lock()
		k.published, k.seenAt = q, now
		k.mu.Unlock()
		published = q
	}
	if published.Limit > 0 {
		return published, nil
	}
	return b.cfg.limit, nil
}

// isDown reports whether Take should fail at once at now: Redis failed
// less than probeInterval ago.
func (b *Budget) isDown(now time.Time) bool {
	d := b.downUntil.Load()
	return d != 0 && now.UnixNano() < d
}

// markDown records a failure of Redis at now, logging it if Redis was up.
func (b *Budget) markDown(now time.Time, err error) {
	next := now.Add(probeInterval).UnixNano()
	for {
		d := b.downUntil.Load()
		if d >= next {
			return
		}
		if b.downUntil.CompareAndSwap(d, next) {
			if d == 0 {
				b.log(slog.LevelWarn, "redisquota: Redis failed; the Transports pace with their local models until it recovers", slog.String("error", err.Error()))
				b.m.up.Set(0)
			}
			return
		}
	}
}

// markUp records that Redis answered in time, logging it if it was down.
func (b *Budget) markUp() {
	if b.downUntil.Load() != 0 && b.downUntil.Swap(0) != 0 {
		b.log(slog.LevelInfo, "redisquota: Redis answers again; back to the shared budget")
		b.m.up.Set(1)
	}
}

func (b *Budget) log(level slog.Level, msg string, attrs ...slog.Attr) {
	l := b.cfg.logger
	if l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	l.LogAttrs(context.Background(), level, msg, attrs...)
}

// Close gives back to Redis the unused requests of the leases this process
// holds, so that the other processes can use them, waiting at most the
// timeout for each key. It does not close the Redis client. Take may still
// be called after Close, and draws new leases.
func (b *Budget) Close() error {
	var first error
	b.keys.Range(func(_, v any) bool {
		k := v.(*keyState)
		k.mu.Lock()
		n, g := k.lease.unused(time.Now()), k.gcra
		k.mu.Unlock()
		if n == 0 || g.limit.Rate == 0 {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.timeout)
		defer cancel()
		if _, err := b.store.draw(ctx, k.name, g.limit, -n); err != nil && first == nil {
			first = &UnavailableError{Err: err}
		} else if err == nil {
			b.m.leased.WithLabelValues("returned").Add(float64(n))
		}
		return true
	})
	return first
}

// Describe sends the descriptors of the Budget's metrics to ch.
func (b *Budget) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range b.m.collectors {
		c.Describe(ch)
	}
}

// Collect sends the Budget's metrics to ch.
func (b *Budget) Collect(ch chan<- prometheus.Metric) {
	for _, c := range b.m.collectors {
		c.Collect(ch)
	}
}
