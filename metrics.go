package ratehttp

import "time"

// Label caps: hosts and vendor error codes beyond these collapse into "other".
const (
	DefaultMaxHostLabels = 100
	DefaultMaxCodeLabels = 50
)

// metrics records what the Transport does. A nil *metrics or *hostMetrics
// records nothing, so every method is safe to call without a check.
type metrics struct{}

func newMetrics(cfg *config) *metrics { return nil }

// hostMetrics caches the per-host children so RoundTrip does no label look-up.
type hostMetrics struct{}

func (m *metrics) host(host string) *hostMetrics                                   { return nil }
func (h *hostMetrics) attempt(method string, code int, err error)                  {}
func (h *hostMetrics) request(method string, code int, err error, d time.Duration) {}
func (h *hostMetrics) retry(reason string)                                         {}
func (h *hostMetrics) wait(d time.Duration)                                        {}
func (h *hostMetrics) refused(reason string)                                       {}
func (h *hostMetrics) inflight(delta int)                                          {}
func (h *hostMetrics) anomalies(a anomaly)                                         {}
func (h *hostMetrics) apiError(code string)                                        {}
