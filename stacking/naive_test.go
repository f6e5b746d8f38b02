package stacking_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
)

// These tests pin down what the examples avoid: both layers retrying with
// their defaults. They are the figures the README quotes.

// downAPI returns an API that answers every request 503 with Retry-After: 0,
// and a pointer to the count of requests it received.
func downAPI() (*ratehttptest.Server, *int) {
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 1000, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, RetryAfter: "0", Every: 1},
	}})
	sent := new(int)
	api.SetHook(func(ratehttptest.Event) { *sent++ }) // RoundTrip calls it synchronously
	return api, sent
}

// spentTransport returns a ratehttp Transport whose quota is spent for an
// hour, as the server said in a 429 with Retry-After: 3600, and a pointer to
// the count of requests the server received after that 429.
func spentTransport(t *testing.T) (*ratehttp.Transport, *int) {
	t.Helper()
	api := ratehttptest.NewServer(ratehttptest.Config{Limit: 1, Window: time.Hour, Policy: ratehttptest.SlidingWindow, RetryAfter: true})
	api.Consume(1)
	tr := ratehttp.New(api)
	resp, err := (&http.Client{Transport: tr}).Get("http://api.example/v1/items")
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("Get() status = %d, want 429", resp.StatusCode)
	}
	sent := new(int)
	api.SetHook(func(ratehttptest.Event) { *sent++ })
	return tr, sent
}

// go-retryablehttp's defaults (4 retries) over ratehttp's (3 retries): one
// request to an API that keeps failing costs 5 × 4 = 20 attempts.
func TestRetryablehttpDefaultsMultiplyAttempts(t *testing.T) {
	api, sent := downAPI()
	client := retryablehttp.NewClient()
	client.Logger = nil
	client.HTTPClient = &http.Client{Transport: ratehttp.New(api)}
	resp, err := client.Get("http://api.example/v1/items")
	if err == nil {
		resp.Body.Close()
	}
	if *sent != 20 {
		t.Errorf("API received %d requests, want 20 (5 retryablehttp tries × 4 ratehttp attempts)", *sent)
	}
	// And retryablehttp drops the last response: the caller gets an error.
	if err == nil {
		t.Errorf("Get() error = nil, want retryablehttp's \"giving up\"")
	}
}

// go-retryablehttp's DefaultRetryPolicy retries ratehttp's local refusals:
// five refusals, none sent, each after a backoff.
func TestRetryablehttpDefaultsRetryRefusals(t *testing.T) {
	tr, sent := spentTransport(t)
	client := retryablehttp.NewClient()
	client.Logger = nil
	client.RetryWaitMin, client.RetryWaitMax = time.Millisecond, time.Millisecond
	client.HTTPClient = &http.Client{Transport: tr}
	tries := 0
	client.RequestLogHook = func(retryablehttp.Logger, *http.Request, int) { tries++ }
	if _, err := client.Get("http://api.example/v1/items"); err == nil {
		t.Fatal("Get() error = nil, want a refusal")
	}
	if tries != 5 || *sent != 0 {
		t.Errorf("retryablehttp tried %d times, API received %d; want 5 tries of a refusal, 0 received", tries, *sent)
	}
}

// resty retries only errors by default, so with SetRetryCount(3) it retries
// ratehttp's local refusals, and with a condition on 5xx (as its users add)
// one request that keeps failing costs 4 × 4 = 16 attempts.
func TestRestyRetries(t *testing.T) {
	t.Run("refusal", func(t *testing.T) {
		tr, sent := spentTransport(t)
		client := resty.New().SetTransport(tr).SetRetryCount(3).
			SetRetryWaitTime(time.Millisecond).SetRetryMaxWaitTime(time.Millisecond).
			SetLogger(quietLogger{})
		resp, err := client.R().Get("http://api.example/v1/items")
		if err == nil {
			t.Fatal("Get() error = nil, want a refusal")
		}
		if resp.Request.Attempt != 4 || *sent != 0 {
			t.Errorf("resty tried %d times, API received %d; want 4 tries of a refusal, 0 received", resp.Request.Attempt, *sent)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		api, sent := downAPI()
		client := resty.New().SetTransport(ratehttp.New(api)).SetRetryCount(3).
			SetRetryWaitTime(time.Millisecond).SetRetryMaxWaitTime(time.Millisecond).
			AddRetryCondition(func(r *resty.Response, err error) bool { return err == nil && r.StatusCode() >= 500 })
		resp, err := client.R().Get("http://api.example/v1/items")
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		if resp.StatusCode() != 503 || *sent != 16 {
			t.Errorf("Get() status = %d, API received %d; want 503, 16 (4 resty tries × 4 ratehttp attempts)", resp.StatusCode(), *sent)
		}
	})
}

// quietLogger is a resty.Logger that prints nothing.
type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}
