package ratehttp

import (
	"context"
	"net/http"
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// A RequestOption changes how the [Transport] treats the requests made with
// a context, through [WithRequestOptions]. Where a request option and a
// Transport [Option] set the same thing, the request option wins for that
// request.
type RequestOption interface {
	applyRequest(*requestOptions)
}

type requestOptionFunc func(*requestOptions)

func (f requestOptionFunc) applyRequest(o *requestOptions) { f(o) }

// requestOptions is what WithRequestOptions stored in a context. The has
// fields say which values were set; the others come from the Transport.
type requestOptions struct {
	hasMaxWait bool
	maxWait    time.Duration
	hasRetries bool
	retries    int
	priority   priority
	cost       int64 // 0: one
	tokens     int64
	events     func(Event)
}

type requestOptionsKey struct{}

// WithRequestOptions returns a copy of ctx that carries opts: the requests
// made with it (see [http.NewRequestWithContext]) follow them. Options
// already in ctx are kept, and opts override those they set again.
//
// A request's options are read once, when [Transport.RoundTrip] starts; they
// also govern its retries.
func WithRequestOptions(ctx context.Context, opts ...RequestOption) context.Context {
	o := new(requestOptions)
	if prev, ok := ctx.Value(requestOptionsKey{}).(*requestOptions); ok {
		*o = *prev
	}
	for _, opt := range opts {
		if opt != nil {
			opt.applyRequest(o)
		}
	}
	return context.WithValue(ctx, requestOptionsKey{}, o)
}

// MaxWait sets the maximum wait of a request in place of [WithMaxWait]'s,
// longer or shorter, with the same meaning: zero or negative means that the
// request never waits.
func MaxWait(d time.Duration) RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.hasMaxWait, o.maxWait = true, max(d, 0) })
}

// Retries sets how many times a request may be retried after its first
// attempt, in place of [WithRetries]'s count: zero or negative means none.
func Retries(n int) RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.hasRetries, o.retries = true, max(n, 0) })
}

// Interactive marks a request as one a person is waiting for. When requests
// queue for a quota, interactive ones go before the others (see the package
// documentation's Priorities).
func Interactive() RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.priority = priorityInteractive })
}

// Batch marks a request as background work. When requests queue for a
// quota, batch ones go after the others, and they never take the last
// requests of a window's budget (see the package documentation's
// Priorities).
func Batch() RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.priority = priorityBatch })
}

// Cost declares how much of its quota a request counts, where the quota
// counts something other than one per request (a batch endpoint that
// counts as n requests, say): the Transport takes n from the key's budget
// and from its pace (at most the pace's burst), and a request costlier than
// what remains waits for the budget to refill. The default, and n below 1,
// is one.
//
// The cost must be in the unit the server's quota headers count: the
// Transport paces requests, so a token quota (OpenAI's, Anthropic's) is
// not paced by a declared token cost (see the README's supported APIs).
func Cost(n int) RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.cost = int64(max(n, 1)) })
}

// TokenCost declares the tokens a request is expected to use, for servers
// that also limit tokens (OpenAI's and Anthropic's token quotas): the
// request waits while a token quota the server reported has fewer left, by
// the Transport's estimate (what the newest answer said, risen by the refill
// its reset implies, less the tokens declared since), until enough has
// refilled, at most until that quota's reset; [PolicyState.TokensPerRequest]
// suggests a value. A request that declares no
// tokens is never held by a token quota. The estimate is only as good as
// the declarations: tokens a request uses beyond its declaration show in the
// next answer's headers, and a 429 they cause is handled like any other.
// Zero or negative declares none.
func TokenCost(n int) RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.tokens = int64(max(n, 0)) })
}

// OnEvent makes f receive the events of a request (see [Event]), after the
// Transport's own handler ([WithEvents]), if any. A nil f removes a handler
// set earlier in the context.
func OnEvent(f func(Event)) RequestOption {
	return requestOptionFunc(func(o *requestOptions) { o.events = f })
}

// priority orders requests that wait for the same quota: higher first.
type priority int8

const (
	priorityBatch       priority = -1
	priorityDefault     priority = 0
	priorityInteractive priority = 1
)

// call is what governs one request: the Transport's configuration, and the
// request's options over it (o, nil when the request has none). It is two
// words, passed by value.
type call struct {
	cfg *config
	o   *requestOptions
}

// newCall returns the call of a request made with ctx.
func (t *Transport) newCall(ctx context.Context) call { return t.cfg.call(ctx) }

// call returns the call of a request made with ctx under c.
func (c *config) call(ctx context.Context) call {
	o, _ := ctx.Value(requestOptionsKey{}).(*requestOptions)
	return call{cfg: c, o: o}
}

func (c call) maxWait() time.Duration {
	if c.o != nil && c.o.hasMaxWait {
		return c.o.maxWait
	}
	return c.cfg.maxWait
}

func (c call) retries() int {
	if c.o != nil && c.o.hasRetries {
		return c.o.retries
	}
	return c.cfg.retries
}

// want is what attempt n of req asks of its quota: its priority, its cost
// in requests, the tokens it declares, and the request and attempt, for the
// engine to ask whether a 429 would be retried (see retried) only when that
// matters.
func (c call) want(req *http.Request, n int) iquota.Want {
	if c.o == nil {
		return iquota.Want{Cost: 1, Req: req, Attempt: int32(n)}
	}
	return iquota.Want{Prio: int8(c.o.priority), Cost: max(c.o.cost, 1), Tokens: c.o.tokens, Req: req, Attempt: int32(n)}
}

// retried reports whether a 429 to attempt n of req would be retried:
// another attempt is allowed, the body can be replayed, and the retry
// policy is the default (WithRetryPolicy's own may not retry a 429).
func (c *config) retried(req *http.Request, n int) bool {
	return !c.ownPolicy && n <= c.call(req.Context()).retries() && replayable(req)
}
