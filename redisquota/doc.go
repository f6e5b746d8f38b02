// Package redisquota keeps one ratehttp quota budget in Redis, shared by
// every Transport that uses it: the replicas of a service, or several load
// generators, that call one API with one key.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	budget := redisquota.New(rdb)
//	reg.MustRegister(budget) // its metrics, in your registry
//	client := &http.Client{Transport: ratehttp.New(nil, ratehttp.WithSharedBudget(budget))}
//
// [Budget] is the [ratehttp.SharedBudget]: each Transport asks it before
// each attempt, then paces the attempt with its own model of the quota as
// usual. The budget is a GCRA (github.com/go-redis/redis_rate's Lua
// script), so Redis holds one number per quota key, and a process asks it
// for a lease of several requests at a time (see [Budget] for the sizes).
//
// # Quota
//
// The limit and window come from the server's headers, as each Transport
// learns them; a process that learns them publishes them in Redis, and the
// others use them until they learn them too. For a server that sends no
// quota headers, set them by hand with [WithLimit].
//
// # Failures
//
// Redis down, slow or refusing never fails a request and never holds one
// longer than the timeout ([DefaultTimeout], [WithTimeout]): Take returns
// an error matching [ErrUnavailable] and the Transport paces that request
// with its local model alone. The failure is counted
// (ratehttp_shared_fallbacks_total), logged once ([WithLogger]), and the
// budget is back within a second of Redis answering again.
//
// # Keys
//
// Redis keys are the prefix ([WithKeyPrefix], default "ratehttp:") and the
// first 128 bits of the quota key's SHA-256, in hex: a quota key made of a
// credential (ratehttp.WithKeyFunc) never appears in Redis in clear. The
// GCRA's key has redis_rate's own "rate:" in front.
package redisquota
