package stacking_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// otelhttp outside ratehttp: one span per request, from the call to the
// final answer, so it covers the wait for the quota and ratehttp's retries;
// a request refused locally, never sent, still has its span, with the error.
// This is the order to use for the caller's view of latency and errors.
func Example_otelhttp() {
	// An API that answers 503 to every request (Retry-After: 0, so the
	// example does not wait), and one whose quota another client has spent
	// (429, Retry-After: 3600).
	down := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	spent := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow, RetryAfter: true})
	spent.Consume(1)

	for _, api := range []*ratehttptest.Server{down, spent} {
		sent := 0
		api.SetHook(func(ratehttptest.Event) { sent++ })
		spans := tracetest.NewSpanRecorder() // in real code, an exporter
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

		client := &http.Client{Transport: otelhttp.NewTransport(
			ratehttp.New(api), // in real code ratehttp.New(nil)
			otelhttp.WithTracerProvider(tp),
		)}
		for range 2 {
			resp, err := client.Get("http://api.example/v1/items")
			if err == nil {
				resp.Body.Close() // ends the span
			}
		}
		fmt.Printf("2 requests, %d sent:\n", sent)
		for _, s := range spans.Ended() {
			fmt.Println(describe(s))
		}
	}
	// Output:
	// 2 requests, 8 sent:
	// HTTP GET status 503
	// HTTP GET status 503
	// 2 requests, 1 sent:
	// HTTP GET status 429
	// HTTP GET error *ratehttp.RateLimitError
}

// otelhttp on both sides of ratehttp: the outer span is the request, as in
// the example above, and the inner otelhttp, ratehttp's base transport,
// makes a child span for each attempt sent (and sends each its own
// traceparent). Only the inner otelhttp, without the outer, gives the
// attempts alone: no span then shows the quota wait or a local refusal.
func Example_otelhttpAttempts() {
	down := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	attempts := otelhttp.NewTransport(
		down, // in real code http.DefaultTransport, or nil for it
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "attempt " + r.Method }),
	)
	client := &http.Client{Transport: otelhttp.NewTransport(
		ratehttp.New(attempts),
		otelhttp.WithTracerProvider(tp),
	)}
	resp, err := client.Get("http://api.example/v1/items")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	var request sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if !s.Parent().IsValid() {
			request = s // the outer span has no parent
		}
	}
	fmt.Println(describe(request))
	for _, s := range spans.Ended() {
		if s != request {
			fmt.Printf("  %s, child of the request: %v\n", describe(s), s.Parent().SpanID() == request.SpanContext().SpanID())
		}
	}
	// Output:
	// HTTP GET status 503
	//   attempt GET status 503, child of the request: true
	//   attempt GET status 503, child of the request: true
	//   attempt GET status 503, child of the request: true
	//   attempt GET status 503, child of the request: true
}

// describe returns a span's name and its HTTP status or error type.
func describe(s sdktrace.ReadOnlySpan) string {
	var status, errType string
	for _, a := range s.Attributes() {
		switch a.Key {
		case attribute.Key("http.response.status_code"):
			status = a.Value.String()
		case attribute.Key("error.type"):
			errType = a.Value.String()
		}
	}
	if status != "" {
		return s.Name() + " status " + status
	}
	return s.Name() + " error " + errType
}

// ratehttp's events as span events: with otelhttp outside ratehttp, a
// handler given to ratehttp.WithEvents adds each step of the request (the
// wait for the quota, each attempt and its answer, a 429, a retry, a local
// refusal) to the request's span, found in the request's context. The core
// module takes no OpenTelemetry dependency: the handler is the bridge.
func Example_otelhttpEvents() {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 2},
	}})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	toSpan := func(e ratehttp.Event) {
		trace.SpanFromContext(e.Request.Context()).AddEvent("ratehttp."+e.Kind.String(), trace.WithAttributes(
			attribute.Int("ratehttp.attempt", e.Attempt),
			attribute.Int("http.response.status_code", e.Status),
			attribute.Int64("ratehttp.wait_ms", e.Wait.Milliseconds()),
		))
	}
	client := &http.Client{Transport: otelhttp.NewTransport(
		ratehttp.New(api, ratehttp.WithEvents(toSpan)), // in real code ratehttp.New(nil, …)
		otelhttp.WithTracerProvider(tp),
	)}
	for range 2 { // the API fails every second request it receives
		resp, err := client.Get("http://api.example/v1/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	for _, s := range spans.Ended() {
		fmt.Println(describe(s))
		for _, e := range s.Events() {
			fmt.Println("  event", e.Name)
		}
	}
	// Output:
	// HTTP GET status 200
	//   event ratehttp.attempt
	//   event ratehttp.response
	// HTTP GET status 200
	//   event ratehttp.attempt
	//   event ratehttp.response
	//   event ratehttp.retry
	//   event ratehttp.attempt
	//   event ratehttp.response
}
