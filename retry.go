package ratehttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// RetryPolicy decides whether an attempt may be retried. It receives the
// request and either the response (err == nil) or the transport error (resp ==
// nil). A policy that reads resp.Body must leave it readable, as
// [CheckResponse] does.
//
// Whatever the policy says, a request is never retried once its context has
// ended, when its body cannot be replayed (a body without GetBody), or when
// the retries configured with [WithRetries] are spent.
type RetryPolicy func(req *http.Request, resp *http.Response, err error) bool

// DefaultRetryPolicy retries:
//   - a 429 response, for any method: the server did not process the request;
//   - a 5xx response other than 501, and a transport error, only for an
//     idempotent request (see [Idempotent]): a POST is not replayed behind the
//     caller's back.
//
// It never retries TLS certificate errors or malformed requests.
func DefaultRetryPolicy(req *http.Request, resp *http.Response, err error) bool {
	if err != nil {
		return Idempotent(req) && !permanent(err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code != http.StatusNotImplemented:
		return Idempotent(req)
	}
	return false
}

// Idempotent reports whether req may be sent twice with the effect of once,
// as [http.Transport] defines it: GET, HEAD, OPTIONS, TRACE, PUT and DELETE,
// or any request with an Idempotency-Key or X-Idempotency-Key header.
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	if !ok {
		_, ok = req.Header["X-Idempotency-Key"]
	}
	return ok
}

// permanent reports errors that no retry can mend.
func permanent(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verify) ||
		errors.Is(err, errNilResponse)
}

var errNilResponse = errors.New("ratehttp: base RoundTripper returned a nil response and a nil error")

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryable reports whether the outcome of an attempt calls for a retry.
func (t *Transport) retryable(req *http.Request, c call, resp *http.Response, err error) bool {
	if err == nil && !t.cfg.ownPolicy && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return false // what DefaultRetryPolicy would say, sooner
	}
	if c.retries() == 0 || req.Context().Err() != nil || !replayable(req) {
		return false
	}
	if err != nil {
		if _, ok := errors.AsType[*RateLimitError](err); ok {
			return false // the quota refused: a retry would be refused too
		}
	}
	return t.cfg.policy(req, resp, err)
}

// retry runs the retries of req after a first attempt that asked for one, on
// a go-retryablehttp engine. It is the slow path: the happy path never builds
// an engine.
//
// The engine is configured away from its defaults: no logger; bodies are
// replayed with GetBody, not read into memory (its FromRequest would); the
// last response is returned when retries run out (its default drops it); its
// inner http.Client follows no redirect; and its calls to
// CloseIdleConnections reach nothing, since the inner round tripper has no
// such method, so the shared pool is left alone.
func (t *Transport) retry(req *http.Request, q *quota, call call, resp *http.Response, err error) (*http.Response, error) {
	c := &retryCall{t: t, q: q, call: call, req: req, firstResp: resp, firstErr: err}

	// The engine gets its own shallow copy of req, without a body: the
	// first attempt already consumed req.Body, and each retry asks GetBody.
	inner := *req
	inner.Body = nil
	inner.RequestURI = "" // set on server requests; http.Client refuses it
	rreq, rerr := retryablehttp.FromRequest(&inner)
	if rerr != nil {
		return resp, err // cannot happen with a nil body; keep what we have
	}
	engine := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     c,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:       nil,
		RetryWaitMin: t.cfg.backoffBase,
		RetryWaitMax: t.cfg.backoffCap,
		RetryMax:     call.retries(),
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: c.giveUp,
	}
	resp, err = engine.Do(rreq)
	if err != nil {
		resp = nil
		// Unwrap the inner http.Client's *url.Error: the caller's client
		// adds its own.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
	}
	return resp, err
}

// retryCall is the state of one request's retries. It is the engine's inner
// round tripper.
type retryCall struct {
	t    *Transport
	q    *quota
	call call
	req  *http.Request

	firstResp *http.Response
	firstErr  error
	replayed  bool // the first outcome was handed to the engine

	attempts int           // outcomes judged so far
	wait     time.Duration // the wait checkRetry chose for the next retry
}

// RoundTrip hands the engine the outcome of the first attempt, which
// [Transport.RoundTrip] already made, then makes each retry as a copy of the
// caller's request with a fresh body. The engine's own request is not sent:
// its inner http.Client may have added headers (Basic auth from the URL's
// userinfo) that the first attempt did not carry.
func (c *retryCall) RoundTrip(*http.Request) (*http.Response, error) {
	if !c.replayed {
		c.replayed = true
		return c.firstResp, c.firstErr
	}
	ar := new(http.Request)
	*ar = *c.req
	ar.Body = nil
	if c.req.Body != nil && c.req.Body != http.NoBody {
		body, err := c.req.GetBody()
		if err != nil {
			return nil, err
		}
		ar.Body = body
	}
	hm := c.t.hostMetricsFor(c.q, c.req)
	resp, _, sent, err := c.t.attempt(ar, c.q, hm, time.Now(), c.call, c.attempts+1)
	if sent {
		hm.attempt(c.req.Method, statusOf(resp), err)
	}
	return resp, err
}

// checkRetry is the engine's CheckRetry: our policy, plus the decision not to
// start a wait that the context's deadline would cut short.
func (c *retryCall) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c.attempts++
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
	}
	if c.attempts > 1 && !c.t.retryable(c.req, c.call, resp, err) {
		return false, nil
	}
	if c.attempts > c.call.retries() {
		return false, nil // spent: the engine returns the last outcome
	}
	w, must := c.t.retryWait(c.attempts, resp, c.q, c.call.maxWait())
	if must && w > c.call.maxWait() {
		// The server or the quota asks for more than we may wait: the
		// request is not sent early, and the caller gets this answer.
		c.t.log(slog.LevelDebug, "ratehttp: no retry, the wait asked for passes the maximum wait", c.req, slog.Duration("wait", w))
		return false, nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(w).After(dl) {
		c.t.log(slog.LevelDebug, "ratehttp: no retry, the deadline is too near", c.req, slog.Duration("wait", w))
		return false, nil
	}
	c.wait = w
	reason := retryReason(resp, err)
	c.t.hostMetricsFor(c.q, c.req).retry(reason)
	if c.call.emitting() {
		c.call.emit(Event{Kind: EventRetry, Request: c.req, Attempt: c.attempts, Status: statusOf(resp), Err: err, Wait: w, Reason: reason})
	}
	c.t.log(slog.LevelDebug, "ratehttp: retrying", c.req,
		slog.Int("attempt", c.attempts+1), slog.Int("status", statusOf(resp)), slog.Duration("wait", w))
	return true, nil
}

// backoff is the engine's Backoff: the wait checkRetry chose.
func (c *retryCall) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return c.wait
}

// giveUp is the engine's ErrorHandler. It returns the last outcome as is: a
// response obtained is the caller's, with a nil error.
func (c *retryCall) giveUp(resp *http.Response, err error, _ int) (*http.Response, error) {
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// retryWait is how long to wait before the retry that follows attempt n
// (counting from 1), and whether that wait is one the server or the quota
// asks for (must), which the maximum wait may not shorten: Retry-After when
// the response has one, or, for a 429, the longer of it and the quota's
// pause; else exponential backoff with full jitter, capped by the maximum
// wait.
func (t *Transport) retryWait(n int, resp *http.Response, q *quota, maxWait time.Duration) (d time.Duration, must bool) {
	now := time.Now()
	if resp != nil {
		if v := resp.Header["Retry-After"]; len(v) > 0 {
			if d, must = parseRetryAfter(v[0], now); must && !q.SensibleRetryAfter(d) {
				d, must = 0, false
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			// Wait for the quota's reset, not for a blind backoff.
			if p := q.PausedFor(now); p > 0 && p >= d {
				d, must = p, true
			}
		}
		if must {
			return d, true
		}
	}
	d = t.cfg.backoffCap
	if shift := n - 1; shift < 32 {
		d = min(t.cfg.backoffBase<<shift, t.cfg.backoffCap)
	}
	return min(rand.N(d+1), maxWait), false
}

func retryReason(resp *http.Response, err error) string {
	switch {
	case err != nil:
		return "error"
	case resp.StatusCode == http.StatusTooManyRequests:
		return "429"
	case resp.StatusCode >= 500:
		return "5xx"
	}
	return "policy"
}

// drain reads a bounded amount of body and closes it, so that the connection
// can be reused.
func drain(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 4<<10)
	body.Close()
}
