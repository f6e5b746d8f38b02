package ratehttp

import (
	"net/http"
	"strings"
	"time"
)

// Buckets shared across routes (Discord). A server may name, in each answer,
// the bucket that counted the request (X-RateLimit-Bucket): requests to
// different routes may draw from one bucket, and requests to one host from
// several. With a key per route ([WithKeyFunc]), the keys whose answers name
// the same bucket of the same host share one quota: the first key to name a
// bucket keeps its quota, and the others are moved onto it as their answers
// name it. Apart, each route's model would see the others' requests as
// another client's, which it copes with (see internal/quota's others.go);
// together they are one model, with one pace and one queue, in which
// priorities hold across the routes. With the default key (one quota per
// host), the first answer that names a bucket makes the host's requests
// keyed by route (routeKey), and the routes share their buckets' quotas as
// above: one quota per host would mix the buckets' counts in one model. A
// 429 that the
// server says is global (X-RateLimit-Global: true, or X-RateLimit-Scope:
// global) pauses every quota of its host for its Retry-After, whatever key
// drew it.
//
// A Transport keeps at most maxSharedBuckets buckets; a bucket named after that is
// not shared. A bucket is forgotten with its quota (see sweep).

// bucketNamed is the bit of quota.observe's result that says the answer
// names a bucket or a global limit: no anomaly (no metric counts it), but
// news for bucketNews, found where the headers are read, so that the answers
// that name none cost the Transport nothing more.
const bucketNamed anomaly = 1 << 15

// bucketKey names a bucket of a host.
type bucketKey struct{ host, id string }

// maxSharedBuckets bounds the buckets a Transport keeps.
const maxSharedBuckets = 4096

// maxBucketID bounds the length of a bucket's name: a longer one is not
// shared (Discord's are 32 hexadecimal digits).
const maxBucketID = 128

// bucketNews folds the bucket headers of resp, the answer to req sent under
// q, received at now, into the Transport: a global 429 pauses q's host, and
// q's key shares the quota of the bucket the answer names. It runs only for
// answers read that name one or the other (see bucketNamed).
func (t *Transport) bucketNews(q *quota, req *http.Request, resp *http.Response, now time.Time) {
	h := resp.Header
	if resp.StatusCode == http.StatusTooManyRequests && globalLimit(h) {
		if v := h["Retry-After"]; len(v) > 0 {
			if d, ok := parseRetryAfter(v[0], now); ok && q.SensibleRetryAfter(d) {
				t.pauseHost(q.host, now.Add(d))
			}
		}
	}
	v := h["X-Ratelimit-Bucket"]
	if len(v) == 0 {
		return
	}
	id := trimOWS(v[0])
	if id == "" || len(id) > maxBucketID {
		return
	}
	var k quotaKey
	if t.cfg.keyFunc != nil {
		k = quotaKey{custom: t.cfg.keyFunc(req)}
	} else if t.routeBy(q, req) {
		return
	} else {
		k = routeKey(req)
	}
	bk := bucketKey{host: q.host, id: id}
	// Once a key shares its bucket's quota, every answer says so again:
	// that is read under the read lock, and only news takes the write lock
	// that quotaFor's slow path waits on.
	t.mu.RLock()
	owner, e := t.buckets[bk], t.quotas[k]
	t.mu.RUnlock()
	if owner != nil && owner == e {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e = t.quotas[k]
	if e == nil || e.q != q {
		return // the key was forgotten, or moved, meanwhile
	}
	switch owner := t.buckets[bk]; {
	case owner == nil:
		if len(t.buckets) < maxSharedBuckets {
			t.buckets[bk] = e
		}
	case owner != e:
		t.quotas[k] = owner
		t.last.CompareAndSwap(e, nil)
	}
}

// routeBy reports whether q is the quota of req's host under the default
// key, and if so keys the host's requests by route from now on (routeKey):
// its answers name buckets, which one quota per host would mix. The host's
// own quota stays for the requests already sent under it.
func (t *Transport) routeBy(q *quota, req *http.Request) bool {
	t.mu.RLock()
	e := t.quotas[quotaKey{scheme: req.URL.Scheme, host: req.URL.Host}]
	t.mu.RUnlock()
	if e == nil || e.q != q {
		return false // a route's quota (or the host's was forgotten)
	}
	if !e.routed.Load() {
		// lookUp stores last and then reads routed; this stores routed
		// and then clears last: the host's entry does not stay in last.
		e.routed.Store(true)
		t.last.CompareAndSwap(e, nil)
	}
	return true
}

// maxRoute bounds the length of the path a route key keeps: longer paths
// that agree on their first maxRoute bytes share a quota.
const maxRoute = 256

// routeKey is the key of req's route, under the default key on a host whose
// answers name buckets: its scheme, method and path, with each numeric ID
// that is not a major parameter (Discord's: the one after channels, guilds
// or webhooks) replaced by "{id}", so that the requests to one message, say,
// and to the next share a route. Its scheme field is empty, so that
// quotaFor's fast path, which matches scheme and host, never serves it.
func routeKey(req *http.Request) quotaKey {
	m := req.Method
	if m == "" {
		m = http.MethodGet
	}
	return quotaKey{host: req.URL.Host, custom: req.URL.Scheme + " " + m + " " + route(req.URL.Path)}
}

// route returns path with its minor numeric IDs replaced (see routeKey),
// at most maxRoute bytes of it.
func route(path string) string {
	if len(path) > maxRoute {
		path = path[:maxRoute]
	}
	if strings.IndexFunc(path, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 {
		return path
	}
	var b strings.Builder
	prev := ""
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if numeric(seg) && prev != "channels" && prev != "guilds" && prev != "webhooks" {
			seg = "{id}"
		}
		b.WriteString(seg)
		prev = seg
	}
	return b.String()
}

// numeric reports whether s is a non-empty run of ASCII digits.
func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// globalLimit reports whether a 429's headers say that the limit it hit is
// global: the server's, over every route (Discord).
func globalLimit(h http.Header) bool {
	if v := h["X-Ratelimit-Global"]; len(v) > 0 && strings.EqualFold(trimOWS(v[0]), "true") {
		return true
	}
	v := h["X-Ratelimit-Scope"]
	return len(v) > 0 && strings.EqualFold(trimOWS(v[0]), "global")
}

// pauseHost pauses every quota of host until until.
func (t *Transport) pauseHost(host string, until time.Time) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, e := range t.quotas {
		if e.q.host == host {
			e.q.Pause(until)
		}
	}
}
