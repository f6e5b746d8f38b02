package ratehttp

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratehttp/ratehttp/ratehttptest"
)

// Credentials a caller sends, each by another route. None may appear in an
// error, a log record or a metric that this package produces.
const (
	secretBearer = "s3cr3t-a" // Authorization: Bearer
	secretHeader = "s3cr3t-b" // X-Auth-Token
	secretQuery  = "s3cr3t-c" // ?token=
	secretPass   = "s3cr3t-d" // the URL's userinfo password
)

var allSecrets = []string{secretBearer, secretHeader, secretQuery, secretPass}

// secretRequest is a request carrying every credential.
func secretRequest(ctx context.Context, method, base string) *http.Request {
	u, _ := url.Parse(base)
	u.User = url.UserPassword("user", secretPass)
	u.Path = "/v1/items"
	u.RawQuery = "token=" + secretQuery
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader(`{"name":"x"}`)
	}
	req, _ := http.NewRequestWithContext(ctx, method, u.String(), body)
	req.Header.Set("Authorization", "Bearer "+secretBearer)
	req.Header.Set("X-Auth-Token", secretHeader)
	return req
}

// leaked returns the secrets that text holds more often than allowed does.
func leaked(text, allowed string) []string {
	var out []string
	for _, s := range allSecrets {
		if strings.Count(text, s) > strings.Count(allowed, s) {
			out = append(out, s)
		}
	}
	return out
}

// hostileHandler answers 401 with the caller's token in its message and its
// request id: a server that echoes credentials into the very fields an
// APIError shows.
var hostileHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", r.Header.Get("X-Auth-Token"))
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `{"error_code":"APIGW.0301","error_msg":"invalid token %s"}`, r.Header.Get("Authorization"))
})

// secCase is a server that takes the Transport down one error path.
type secCase struct {
	name    string
	cfg     ratehttptest.Config
	method  string
	timeout time.Duration // per call; default 5 s
	calls   int           // default 1
	closed  bool          // the server is closed before the calls: nothing listens
	echoed  bool          // the server puts the credentials in its message and request id
	// want checks the error of the last call: RoundTrip's, or else the
	// body read's.
	want func(error) bool
}

func isAPIError(code int) func(error) bool {
	return func(err error) bool {
		var ae *APIError
		return errors.As(err, &ae) && ae.StatusCode == code
	}
}

func isRateLimitError(err error) bool {
	var rl *RateLimitError
	return errors.As(err, &rl)
}

func isTransportError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func every(k ratehttptest.FaultKind, f ratehttptest.Fault) ratehttptest.Config {
	f.Kind, f.Every = k, 1
	return ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{f}}
}

func secCases() []secCase {
	type F = ratehttptest.Fault
	return []secCase{
		{name: "reset before the API", cfg: every(ratehttptest.FaultReset, F{}), want: isTransportError},
		{name: "reset after processing, POST", cfg: every(ratehttptest.FaultResetAfter, F{}), method: http.MethodPost, want: isTransportError},
		{name: "reset mid-body", cfg: every(ratehttptest.FaultResetMidBody, F{}), want: isTransportError},
		{name: "nothing listening", cfg: ratehttptest.Config{Limit: 1}, closed: true, want: isTransportError},
		{name: "503 with Retry-After", cfg: every(ratehttptest.FaultServerError, F{Status: 503, RetryAfter: "0", Processed: true}), want: isAPIError(503)},
		{name: "400 echoing the request", cfg: every(ratehttptest.FaultEcho, F{}), want: isAPIError(400)},
		{name: "500 echoing the request, PUT", cfg: every(ratehttptest.FaultEcho, F{Status: 500, Processed: true}), method: http.MethodPut, want: isAPIError(500)},
		{name: "401 with the token in its message", cfg: ratehttptest.Config{Limit: 100, Handler: hostileHandler}, echoed: true, want: isAPIError(401)},
		{name: "proxy HTML page", cfg: every(ratehttptest.FaultProxyHTML, F{}), want: isAPIError(502)},
		{name: "100 MiB error body", cfg: every(ratehttptest.FaultHugeBody, F{}), want: isAPIError(500)},
		{name: "endless error body", cfg: every(ratehttptest.FaultEndlessBody, F{}), want: isAPIError(500)},
		{name: "head past the deadline", cfg: every(ratehttptest.FaultSlowHeaders, F{Delay: 2 * time.Second}), timeout: 200 * time.Millisecond,
			want: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{name: "quota spent, tiny deadline", cfg: ratehttptest.Config{Limit: 1, Window: time.Hour}, calls: 2, timeout: 200 * time.Millisecond, want: isRateLimitError},
		{name: "429 with a 40-digit Retry-After", cfg: every(ratehttptest.FaultThrottle, F{RetryAfter: strings.Repeat("9", 40)}), calls: 2, timeout: 200 * time.Millisecond, want: isRateLimitError},
		{name: "garbage rate-limit headers", cfg: every(ratehttptest.FaultBadRateHeaders, F{}), calls: 14, want: func(err error) bool { return err == nil }},
		{name: "64 KiB header", cfg: every(ratehttptest.FaultHugeHeader, F{}), want: func(err error) bool { return err == nil }},
	}
}

// TestSecurityNoCredentialLeak sends credentials in a header, a bearer token,
// the query string and the URL's userinfo down every error path, and scans
// what the Transport produces: every error RoundTrip returns and every error
// reading a body it returned, every log record at debug level, and every
// scraped metric.
//
// What is ours and what is the server's: an APIError shows the server's
// message and request id. A hostile server that copies a request's token
// into those fields makes Error() print it; that is outside our control, and
// the test allows a secret in Error() exactly as often as it is in Message
// and RequestID. APIError.Body holds whatever the server sent, echoes
// included, and is never printed. What our own code adds — the request's
// headers, URL, path, query or userinfo — must appear nowhere.
//
// Errors are taken from Transport.RoundTrip itself. Through an http.Client
// they come wrapped in a *url.Error, whose message is http.Client's: it
// prints the URL with the password redacted but the query string in clear.
// The test checks that the error inside holds no secret and logs the
// wrapper's text.
func TestSecurityNoCredentialLeak(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := New(base, WithLogger(logger), WithAPIErrors(DefaultErrorBodyLimit), WithRetries(2), WithBackoff(time.Millisecond, 10*time.Millisecond))
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr)

	var scanned int
	for _, tt := range secCases() {
		t.Run(tt.name, func(t *testing.T) {
			srv := ratehttptest.NewServer(tt.cfg)
			addr := srv.Start()
			defer srv.Close()
			if tt.closed {
				srv.Close()
			}
			var last error
			for range max(tt.calls, 1) {
				ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(tt.timeout, 5*time.Second))
				req := secretRequest(ctx, cmp.Or(tt.method, http.MethodGet), addr)
				resp, err := tr.RoundTrip(req)
				last = err
				if err != nil {
					scanned++
					allowed := ""
					if ae := (*APIError)(nil); errors.As(err, &ae) {
						allowed = ae.Message + " " + ae.RequestID
						if tt.cfg.Faults != nil && tt.cfg.Faults[0].Kind == ratehttptest.FaultEcho && !bytes.Contains(ae.Body, []byte(secretBearer)) {
							t.Errorf("APIError.Body = %.200q, want the server's echo of the request", ae.Body)
						}
						if tt.echoed {
							// The server's own words, shown as it sent them.
							if !strings.Contains(err.Error(), secretBearer) || !strings.Contains(err.Error(), secretHeader) {
								t.Errorf("Error() = %q, want the server's message and request id, echo included", err)
							}
							t.Logf("a server echoing a token into its message is shown as it said it: %v", err)
						}
					}
					if s := leaked(err.Error(), allowed); s != nil {
						t.Errorf("RoundTrip error %q holds %q", err, s)
					}
				} else {
					_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					if rerr != nil {
						scanned++
						last = rerr
						if s := leaked(rerr.Error(), ""); s != nil {
							t.Errorf("body read error %q holds %q", rerr, s)
						}
					}
				}
				cancel()
			}
			if !tt.want(last) {
				t.Errorf("last error = %v (%T): not the path this case is for", last, last)
			}
		})
	}

	t.Run("through http.Client", func(t *testing.T) {
		srv := ratehttptest.NewServer(every(ratehttptest.FaultReset, ratehttptest.Fault{}))
		addr := srv.Start()
		defer srv.Close()
		_, err := (&http.Client{Transport: tr}).Do(secretRequest(context.Background(), http.MethodGet, addr))
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatalf("Do() error = %v, want a *url.Error", err)
		}
		if s := leaked(ue.Err.Error(), ""); s != nil {
			t.Errorf("error inside http.Client's *url.Error %q holds %q", ue.Err, s)
		}
		if strings.Contains(ue.Error(), secretPass) {
			t.Errorf("http.Client's error %q shows the URL's password", ue)
		}
		t.Logf("http.Client's own *url.Error prints the query string (not our doing): %v", ue)
	})

	out := logs.String()
	for _, want := range []string{"ratehttp: retrying", "ratehttp: request refused by the quota"} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q record: the scan below would prove little", want)
		}
	}
	if s := leaked(out, ""); s != nil {
		t.Errorf("log records hold %q:\n%s", s, out)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	var series int
	for _, mf := range mfs {
		text := mf.GetName() + " " + mf.GetHelp()
		for _, m := range mf.GetMetric() {
			series++
			for _, lp := range m.GetLabel() {
				text += " " + lp.GetName() + "=" + lp.GetValue()
			}
		}
		if s := leaked(text, ""); s != nil {
			t.Errorf("metric %s holds %q: %s", mf.GetName(), s, text)
		}
	}
	if series == 0 || scanned < 10 {
		t.Errorf("scanned %d errors and %d metric series, want many of both", scanned, series)
	}
	t.Logf("scanned %d errors, %d log bytes, %d metric series", scanned, len(out), series)
}

// TestSecurityRetryAddsNoCredentials: a retry must send what the first
// attempt sent. A URL with userinfo and no Authorization header goes out
// without credentials on the first attempt (http.Transport does not turn
// userinfo into a header; http.Client does, before calling RoundTrip), so
// no retry may add them.
func TestSecurityRetryAddsNoCredentials(t *testing.T) {
	srv := ratehttptest.NewServer(ratehttptest.Config{Limit: 100, Faults: []ratehttptest.Fault{
		{Kind: ratehttptest.FaultServerError, Status: 503, Every: 1, Processed: true},
	}})
	var (
		mu    sync.Mutex
		auths []string
	)
	srv.SetHook(func(e ratehttptest.Event) {
		mu.Lock()
		auths = append(auths, e.Header.Get("Authorization"))
		mu.Unlock()
	})
	addr := srv.Start()
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := New(base, WithRetries(2), WithBackoff(time.Millisecond, time.Millisecond))

	u, _ := url.Parse(addr)
	u.User = url.UserPassword("user", secretPass)
	req, _ := http.NewRequest(http.MethodGet, u.String()+"/v1/items", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip() error = %v", err)
	}
	resp.Body.Close()
	srv.Close()
	if len(auths) != 3 {
		t.Fatalf("server saw %d attempts, want 3", len(auths))
	}
	for i, a := range auths {
		if a != "" {
			t.Errorf("attempt %d carried Authorization %q, want none, as the first attempt", i+1, a)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
