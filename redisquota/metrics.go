package redisquota

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of Take, as labelled in ratehttp_shared_takes_total.
const (
	outcomeLease     = "lease"     // taken from the lease held: no Redis call
	outcomeWait      = "wait"      // asked to wait for the next lease
	outcomeFallback  = "fallback"  // an error: the local model alone
	outcomeUnlimited = "unlimited" // no quota known yet: not limited
)

// metrics are a Budget's collectors. Without labels that name keys: a key
// may be a credential.
type metrics struct {
	takes      *prometheus.CounterVec
	takeBy     map[string]prometheus.Counter
	calls      *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	leases     prometheus.Counter
	leased     *prometheus.CounterVec
	fallbacks  prometheus.Counter
	up         prometheus.Gauge
	collectors []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		takes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratehttp_shared_takes_total",
			Help: "Calls of the shared budget's Take, by outcome: lease (answered from the lease held), wait (asked to wait), fallback (Redis unavailable: the local model alone), unlimited (no quota known yet).",
		}, []string{"outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratehttp_shared_redis_calls_total",
			Help: "Redis calls of the shared budget, by operation (draw, return, publish, read) and result (ok, error, timeout).",
		}, []string{"op", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ratehttp_shared_redis_call_duration_seconds",
			Help:    "Duration of the shared budget's Redis calls, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		leases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratehttp_shared_leases_total",
			Help: "Leases of requests drawn from the shared budget.",
		}),
		leased: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratehttp_shared_lease_requests_total",
			Help: "Requests of the leases, by fate: granted, lapsed (unused when the lease expired), returned (given back to Redis).",
		}, []string{"fate"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratehttp_shared_fallbacks_total",
			Help: "Takes answered with an error because Redis was down, slow or refusing: those requests were paced by the Transport's local model alone.",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ratehttp_shared_up",
			Help: "1 while Redis answers the shared budget in time, 0 while the Transports fall back to their local models.",
		}),
	}
	m.up.Set(1)
	m.takeBy = map[string]prometheus.Counter{}
	for _, o := range []string{outcomeLease, outcomeWait, outcomeFallback, outcomeUnlimited} {
		m.takeBy[o] = m.takes.WithLabelValues(o)
	}
	m.collectors = []prometheus.Collector{m.takes, m.calls, m.latency, m.leases, m.leased, m.fallbacks, m.up}
	return m
}

// take counts a Take of outcome o.
func (m *metrics) take(o string) { m.takeBy[o].Inc() }

// call records a Redis call of op that started at start and returned err.
func (m *metrics) call(op string, start time.Time, err error) {
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	result := "ok"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	case err != nil:
		result = "error"
	}
	m.calls.WithLabelValues(op, result).Inc()
}
