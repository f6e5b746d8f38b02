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
// priorities hold across the routes. (With the default key, one quota per host, a Discord client's
// routes share one model, which a bucket cannot split.) A 429 that the
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
	if t.cfg.keyFunc == nil {
		return // one quota per host already
	}
	v := h["X-Ratelimit-Bucket"]
	if len(v) == 0 {
		return
	}
	id := trimOWS(v[0])
	if id == "" || len(id) > maxBucketID {
		return
	}
	k := quotaKey{custom: t.cfg.keyFunc(req)}
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
