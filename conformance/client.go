package conformance

import (
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/ratehttp/ratehttp"
)

// Client is a kind of client driven against each case.
type Client int

const (
	// RateHTTP is ratehttp.New(base) with its default options.
	RateHTTP Client = iota
	// Plain is the base transport alone, for contrast: it ignores the quota.
	Plain
	// Paced97 is a hand-set golang.org/x/time/rate limiter at 97% of the
	// case's true rate, burst 1, in front of the base transport, for
	// contrast: what a client that knows the quota in advance achieves.
	Paced97
)

// Clients lists every kind, in the order the table prints them.
var Clients = []Client{RateHTTP, Plain, Paced97}

// String returns the kind's name as the table prints it.
func (c Client) String() string {
	switch c {
	case RateHTTP:
		return "ratehttp"
	case Plain:
		return "plain"
	case Paced97:
		return "x/time/rate 97%"
	}
	return "unknown client"
}

// transport returns the kind's RoundTripper over base for case cs.
func (c Client) transport(base http.RoundTripper, cs Case) http.RoundTripper {
	switch c {
	case RateHTTP:
		return ratehttp.New(base)
	case Paced97:
		return &pacedTransport{base: base, lim: rate.NewLimiter(rate.Limit(0.97*cs.Rate), 1)}
	}
	return base
}

// newBase returns a transport like http.DefaultTransport, with enough idle
// connections per host for the workers so that none is opened per request.
func newBase(workers int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(workers, 2)
	return tr
}

// pacedTransport waits for its limiter before each request.
type pacedTransport struct {
	base http.RoundTripper
	lim  *rate.Limiter
}

func (p *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := p.lim.Wait(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return p.base.RoundTrip(req)
}

// recorder records every attempt that passes through it, retries included.
type recorder struct {
	base http.RoundTripper
	log  Log
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	at := time.Now()
	resp, err := r.base.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	r.log.Add(Event{At: at, Status: status})
	return resp, err
}
