package redisquota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/ratehttp/ratehttp"
	"github.com/redis/go-redis/v9"
)

// Redis operations, as labelled in the metrics.
const (
	opDraw    = "draw"    // a lease from the GCRA
	opGive    = "return"  // unused requests given back to the GCRA
	opPublish = "publish" // the quota learned, for the others
	opRead    = "read"    // the quota the others published
)

// store is the budget's data in Redis: for each key, the GCRA's state
// (redis_rate's, under "rate:" + prefix + hash) and the quota published
// (under prefix + hash + ":quota", "limit window" in nanoseconds, with a
// TTL). Its methods make one Redis call each and time it.
type store struct {
	rdb    redis.UniversalClient
	gcra   *redis_rate.Limiter
	prefix string
	m      *metrics
}

// hashKey names a quota key in Redis without revealing it: the first 128
// bits of its SHA-256, in hex.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// draw asks the GCRA for n requests under lim, all or none. A negative n
// gives -n back.
func (s *store) draw(ctx context.Context, name string, lim redis_rate.Limit, n int) (*redis_rate.Result, error) {
	op := opDraw
	if n < 0 {
		op = opGive
	}
	start := time.Now()
	res, err := s.gcra.AllowN(ctx, s.prefix+name, lim, n)
	s.m.call(op, start, err)
	return res, err
}

// quotaKey is where name's quota is published.
func (s *store) quotaKey(name string) string { return s.prefix + name + ":quota" }

// publish writes q as name's quota for ttl.
func (s *store) publish(ctx context.Context, name string, q ratehttp.SharedQuota, ttl time.Duration) error {
	start := time.Now()
	v := strconv.FormatInt(q.Limit, 10) + " " + strconv.FormatInt(int64(q.Window), 10)
	err := s.rdb.Set(ctx, s.quotaKey(name), v, ttl).Err()
	s.m.call(opPublish, start, err)
	return err
}

// read returns name's published quota; the zero SharedQuota when none is
// published or the value is not one.
func (s *store) read(ctx context.Context, name string) (ratehttp.SharedQuota, error) {
	start := time.Now()
	v, err := s.rdb.Get(ctx, s.quotaKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	s.m.call(opRead, start, err)
	if err != nil {
		return ratehttp.SharedQuota{}, err
	}
	return parseQuota(v), nil
}

// parseQuota parses a published quota, "limit window"; anything else is
// the zero SharedQuota.
func parseQuota(v string) ratehttp.SharedQuota {
	ls, ws, ok := strings.Cut(v, " ")
	if !ok {
		return ratehttp.SharedQuota{}
	}
	l, err1 := strconv.ParseInt(ls, 10, 64)
	w, err2 := strconv.ParseInt(ws, 10, 64)
	if err1 != nil || err2 != nil || l <= 0 || w <= 0 {
		return ratehttp.SharedQuota{}
	}
	return ratehttp.SharedQuota{Limit: l, Window: time.Duration(w)}
}

// ErrUnavailable is the error Take returns while Redis does not answer in
// time (or answers with an error): the Transport then paces the request with
// its own model alone. Errors returned by Take match it with [errors.Is].
var ErrUnavailable = errors.New("redisquota: shared budget unavailable")

// UnavailableError is the error Take returns when Redis failed: it matches
// [ErrUnavailable], and unwraps to the cause (such as
// [context.DeadlineExceeded] for a timeout, or the client's error).
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return ErrUnavailable.Error()
	}
	return fmt.Sprintf("%v: %v", ErrUnavailable, e.Err)
}

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }
