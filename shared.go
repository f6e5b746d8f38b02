package ratehttp

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// A SharedBudget is a quota budget shared by several Transports, in one
// process or in many (the module github.com/ratehttp/ratehttp/redisquota
// keeps one in Redis). With [WithSharedBudget], a Transport asks it before
// each attempt, and then paces the attempt with its own model of the quota
// as usual: the shared budget bounds what all the Transports send together,
// the Transport's model what the server's answers allow.
//
// Implementations must be safe for concurrent use, and should answer from
// memory most of the time (by drawing requests from the shared store in
// batches): Take is on every request's path.
type SharedBudget interface {
	// Take asks for one request of key's budget, at once. It returns 0
	// when the request may go, or how long to wait before asking again.
	// quota is what the calling Transport has learned of key's quota from
	// the server (zero until a response reported one), for the budget to
	// publish to the others; a budget may also have a quota set by hand,
	// for servers that report none.
	//
	// An error means that the budget cannot answer (its store is down or
	// slow): the Transport then sends the request under its own model
	// alone, and asks again for the next one. Take should return within a
	// bounded time whatever the store does, and must return when ctx ends.
	Take(ctx context.Context, key string, quota SharedQuota) (wait time.Duration, err error)
}

// SharedQuota is a quota as a Transport learned it from the server.
type SharedQuota struct {
	// Limit is the number of requests per Window; 0 when unknown.
	Limit int64
	// Window is the length of the quota's window; 0 when unknown.
	Window time.Duration
}

// WithSharedBudget makes the Transport draw every attempt from b before
// pacing it with its own model (see [SharedBudget]). A wait that b asks for
// counts as a wait for the quota: it is bounded by the maximum wait and the
// request's deadline, and a wait that cannot end in time is not started (the
// request fails at once with a [*RateLimitError]). When b returns an error,
// the request goes under the Transport's own model alone. The default (and a
// nil b) is none.
func WithSharedBudget(b SharedBudget) Option {
	return optionFunc(func(c *config) { c.shared = b })
}

// takeShared draws req's attempt from the shared budget b, waiting as long
// as b asks within c's maximum wait and ctx's deadline. It returns how long
// it waited, and a *RateLimitError (or ctx's error) when the request must
// not be sent. An error of b's own is logged and ignored: the request goes
// under the local model.
func (t *Transport) takeShared(ctx context.Context, b SharedBudget, req *http.Request, q *quota, c call) (time.Duration, error) {
	var waited time.Duration
	maxWait := c.maxWait()
	for {
		d, err := b.Take(ctx, q.key, q.sharedQuota())
		if ctxErr := ctx.Err(); ctxErr != nil {
			return waited, context.Cause(ctx)
		}
		if err != nil {
			t.log(slog.LevelDebug, "ratehttp: shared budget unavailable, the local model alone paces the request", req, slog.String("error", err.Error()))
			return waited, nil
		}
		if d <= 0 {
			return waited, nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			return waited, &RateLimitError{Key: q.key, Wait: d, Err: context.DeadlineExceeded}
		}
		if waited+d > maxWait {
			return waited, &RateLimitError{Key: q.key, Wait: waited + d}
		}
		start := time.Now()
		_, err = iquota.Sleep(ctx, d, nil)
		waited += time.Since(start)
		if err != nil {
			return waited, err
		}
	}
}
