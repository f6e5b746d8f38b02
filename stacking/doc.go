// Package stacking holds tested examples of ratehttp stacked with the HTTP
// clients its users already have: go-retryablehttp, resty and otelhttp. It is
// a module of its own, so that the ratehttp module depends on none of them;
// it has no API. Read the examples (go doc -all, or the _test.go files) and
// copy them.
//
// # Which layer retries
//
// One layer retries, never two: retries multiply (go-retryablehttp's
// defaults over ratehttp's make 5 × 4 = 20 attempts of one request that
// keeps failing). Let ratehttp retry, and turn the other client's retries
// off: ratehttp retries only what is safe (a POST is not replayed after a
// 5xx), waits for the quota's reset or Retry-After rather than a blind
// backoff, never starts a wait that passes the deadline or the maximum wait,
// and sends every retry through the quota. If the other client must retry,
// give ratehttp [ratehttp.WithRetries](0) and exclude local refusals from the
// other client's retry condition.
//
// # Local refusals
//
// A request that ratehttp refuses without sending it (its wait for the quota
// would pass the context's deadline or [ratehttp.WithMaxWait]) fails with a
// [*ratehttp.RateLimitError], at once. Retrying it at once is refused again
// at once, so a retry condition must not retry it: test it with
// errors.As(err, new(*ratehttp.RateLimitError)) or
// errors.AsType[*ratehttp.RateLimitError](err); both see through the
// [*url.Error] of [http.Client]. Its Wait field says how long the quota
// needs; try again after it, not before. errors.Is(err,
// ratehttp.ErrRateLimited) also matches it, and matches a server's 429 made
// into an [*ratehttp.APIError] as well.
//
// # Tracing
//
// Put otelhttp outside ratehttp for one span per request, which covers the
// quota wait, the retries and the local refusals; inside it (as its base) for
// one span per attempt sent; or both, for a request span whose children are
// its attempts.
package stacking
