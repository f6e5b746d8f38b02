package ratehttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"
)

// The error bodies of the vendor's documentation, byte for byte as the pages
// show them (seeds 000 and 001).
const (
	seedErrorMsgBody = `{
       "error_msg": "The format of message is error",
       "error_code": "AS.0001"
   }`
	seedErrorMessageBody = `{
       "error_message": "The format of message is error",
       "error_code": "AS.0001"
   }`
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		give        string
		wantCode    string
		wantMessage string
		wantID      string
	}{
		{name: "seed error_msg", contentType: "application/json;charset=UTF-8", give: seedErrorMsgBody,
			wantCode: "AS.0001", wantMessage: "The format of message is error"},
		{name: "seed error_message", contentType: "application/json; charset=UTF-8", give: seedErrorMessageBody,
			wantCode: "AS.0001", wantMessage: "The format of message is error"},
		{name: "seed without content type", give: seedErrorMsgBody,
			wantCode: "AS.0001", wantMessage: "The format of message is error"},
		{name: "encoded authorization message is never read",
			give:     `{"error_code":"XXX.0001","error_msg":"Some errors occurred.","encoded_authorization_message":"Egpjbi1ub*****GoxMzgrcA==","request_id":"97e2-11df"}`,
			wantCode: "XXX.0001", wantMessage: "Some errors occurred.", wantID: "97e2-11df"},
		{name: "encoded authorization message alone",
			give: `{"encoded_authorization_message":"Egpjbi1ub*****GoxMzgrcA=="}`},
		{name: "code and message", give: `{"code":"InvalidParameter","message":"name is too long"}`,
			wantCode: "InvalidParameter", wantMessage: "name is too long"},
		{name: "numeric code", give: `{"code":1001,"message":"quota exhausted"}`,
			wantCode: "1001", wantMessage: "quota exhausted"},
		{name: "numeric error_code", give: `{"error_code":-7.5e3,"error_msg":"odd"}`,
			wantCode: "-7.5e3", wantMessage: "odd"},
		{name: "errorCode errorMessage", give: `{"errorCode":"E1","errorMessage":"first shape"}`,
			wantCode: "E1", wantMessage: "first shape"},
		{name: "errorCode errorMsg", give: `{"errorCode":"E2","errorMsg":"second shape"}`,
			wantCode: "E2", wantMessage: "second shape"},
		{name: "keys in any case", give: `{"Error_Code":"E3","ERROR_MSG":"shouting","RequestId":"r-3"}`,
			wantCode: "E3", wantMessage: "shouting", wantID: "r-3"},
		{name: "nested error", give: `{"error":{"code":"XXX.0001","message":"Some errors occurred.","encoded_authorization_message":"Egpjbi1ub*****GoxMzgrcA=="}}`,
			wantCode: "XXX.0001", wantMessage: "Some errors occurred."},
		{name: "nested Error", give: `{"Error":{"Code":"InvalidAction","Message":"no such action"},"requestId":"aws-1"}`,
			wantCode: "InvalidAction", wantMessage: "no such action", wantID: "aws-1"},
		{name: "top level wins over nested", give: `{"error":{"code":"N","message":"nested"},"error_code":"T","error_msg":"top"}`,
			wantCode: "T", wantMessage: "top"},
		{name: "oauth", give: `{"error":"invalid_grant","error_description":"The refresh token has expired."}`,
			wantCode: "invalid_grant", wantMessage: "The refresh token has expired."},
		{name: "oauth without description", give: `{"error":"invalid_client"}`, wantCode: "invalid_client"},
		{name: "error as prose", give: `{"error":"Something went wrong here"}`, wantMessage: "Something went wrong here"},
		{name: "openstack itemNotFound", give: `{"itemNotFound": {"message": "Instance could not be found", "code": 404}}`,
			wantCode: "itemNotFound", wantMessage: "Instance could not be found"},
		{name: "openstack overLimit", give: `{"overLimit": {"code": 413, "message": "Over limit", "retryAfter": "10"}}`,
			wantCode: "overLimit", wantMessage: "Over limit"},
		{name: "openstack NeutronError", give: `{"NeutronError": {"type": "NetworkNotFound", "message": "Network 42 could not be found.", "detail": ""}}`,
			wantCode: "NetworkNotFound", wantMessage: "Network 42 could not be found."},
		{name: "google nested reason", give: `{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}],"status":"PERMISSION_DENIED"}}`,
			wantCode: "rateLimitExceeded", wantMessage: "Rate Limit Exceeded"},
		{name: "kubernetes status", give: `{"kind":"Status","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404}`,
			wantCode: "NotFound", wantMessage: `pods "x" not found`},
		{name: "problem details", contentType: "application/problem+json",
			give:        `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","status":403,"detail":"Your current balance is 30."}`,
			wantMessage: "Your current balance is 30."},
		{name: "array of errors", give: `[{"code":"A1","message":"first"},{"code":"A2","message":"second"}]`,
			wantCode: "A1", wantMessage: "first"},
		{name: "errors array", give: `{"errors":[{"code":"E","message":"listed","request_id":"r-9"}]}`,
			wantCode: "E", wantMessage: "listed", wantID: "r-9"},
		{name: "bare json string", contentType: "application/json", give: `"Too many requests"`, wantMessage: "Too many requests"},
		{name: "numeric request id", give: `{"message":"m","request_id":12345}`, wantMessage: "m", wantID: "12345"},
		{name: "x-request-id in body", give: `{"message":"m","X-Request-Id":"b-1"}`, wantMessage: "m", wantID: "b-1"},
		{name: "unknown json", give: `{"foo":"bar"}`},
		{name: "too deep", give: `{"a":{"b":{"c":{"d":{"e":{"message":"deep"}}}}}}`},
		{name: "byte order mark", give: "\ufeff" + `{"code":"B","message":"bom"}`, wantCode: "B", wantMessage: "bom"},
		{name: "truncated json falls back to text", give: `{"error_msg": "The format`, wantMessage: `{"error_msg": "The format`},
		{name: "html title", contentType: "text/html",
			give:        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			wantMessage: "502 Bad Gateway"},
		{name: "html without title", contentType: "text/html; charset=utf-8",
			give:        `<!DOCTYPE html><html><head><style>p{color:red}</style><script>var token="x";</script></head><body><!-- hidden --><h1>Access&nbsp;denied</h1><p>Tom &amp; Jerry</p></body></html>`,
			wantMessage: "Access denied Tom & Jerry"},
		{name: "html sniffed", give: "<!doctype html><title>Forbidden</title>", wantMessage: "Forbidden"},
		{name: "html behind json content type", contentType: "application/json", give: "<html><title>Gateway Timeout</title></html>",
			wantMessage: "Gateway Timeout"},
		{name: "json behind html content type", contentType: "text/html", give: `{"error_code":"APIGW.0308","error_msg":"The request is throttled."}`,
			wantCode: "APIGW.0308", wantMessage: "The request is throttled."},
		{name: "xml aws", contentType: "application/xml",
			give:     `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`,
			wantCode: "NoSuchKey", wantMessage: "The specified key does not exist.", wantID: "4442587FB7D0A2F9"},
		{name: "xml lower case, sniffed", give: `<error><codes>no</codes><message>bad &lt;input&gt;</message></error>`,
			wantMessage: "bad <input>"},
		{name: "xml cdata", contentType: "text/xml", give: `<Error><Message><![CDATA[a <b> c]]></Message></Error>`,
			wantMessage: "a <b> c"},
		{name: "xml self-closing message", contentType: "text/xml", give: `<Error><Message/><Reason>busy</Reason></Error>`,
			wantMessage: "busy"},
		{name: "xml without message", contentType: "application/xml", give: `<Response><Errors><Error>Unavailable</Error></Errors></Response>`,
			wantMessage: "Unavailable"},
		{name: "plain text", contentType: "text/plain", give: "Service Unavailable\n\nTry again later.\n",
			wantMessage: "Service Unavailable Try again later."},
		{name: "empty"},
		{name: "white space", give: " \r\n\t "},
		{name: "invalid utf-8 and control characters", give: "bad\xffmsg\x00\x1b[31m red",
			wantMessage: "bad\ufffdmsg [31m red"},
		{name: "format characters dropped", give: `{"message":"abc\u202edef\u200b!"}`, wantMessage: "abcdef!"},
		{name: "long message", give: strings.Repeat("x", 5000),
			wantMessage: strings.Repeat("x", maxMessageRunes-1) + "…"},
		{name: "long code", give: `{"code":"` + strings.Repeat("C", 500) + `","message":"m"}`,
			wantCode: strings.Repeat("C", maxCodeRunes-1) + "…", wantMessage: "m"},
		{name: "aws encoded failure message cut", contentType: "text/xml",
			give:     `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf0123</Message></Error></Errors><RequestID>a1</RequestID></Response>`,
			wantCode: "UnauthorizedOperation", wantMessage: "You are not authorized to perform this operation", wantID: "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, id := parseErrorBody(tt.contentType, []byte(tt.give))
			if code != tt.wantCode || msg != tt.wantMessage || id != tt.wantID {
				t.Errorf("parseErrorBody(%q, %q) = %q, %q, %q, want %q, %q, %q",
					tt.contentType, tt.give, code, msg, id, tt.wantCode, tt.wantMessage, tt.wantID)
			}
		})
	}
}

func TestParseErrorBodyDeepNesting(t *testing.T) {
	const n = 200000
	for _, give := range []string{
		strings.Repeat("[", n) + strings.Repeat("]", n),
		strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n),
		strings.Repeat("[", n), // truncated: read as text
	} {
		code, msg, id := parseErrorBody("application/json", []byte(give))
		if code != "" || id != "" || utf8.RuneCountInString(msg) > maxMessageRunes {
			t.Errorf("parseErrorBody(%.20q…) = %q, %.20q…, %q, want no code, a bounded message, no id", give, code, msg, id)
		}
	}
}

// newResponse returns a response as the client would hand it over.
func newResponse(status int, header http.Header, body io.Reader) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		StatusCode:    status,
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:        header,
		Body:          &trackedBody{Reader: body},
		ContentLength: -1,
	}
}

// trackedBody counts the bytes read from it and records Close.
type trackedBody struct {
	io.Reader
	read   int64
	closed bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed = true
	return nil
}

func TestCheckResponse(t *testing.T) {
	header := http.Header{
		"Content-Type": {"application/json;charset=UTF-8"},
		"X-request-id": {"3f2a9c1e-1700000000-host1"}, // as the vendor spells it, not canonical
	}
	resp := newResponse(http.StatusNotFound, header, strings.NewReader(seedErrorMsgBody))
	err := CheckResponse(resp)

	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("CheckResponse() = %v (%T), want an *APIError", err, err)
	}
	want := APIError{
		StatusCode: 404,
		Status:     "404 Not Found",
		Code:       "AS.0001",
		Message:    "The format of message is error",
		RequestID:  "3f2a9c1e-1700000000-host1",
		Body:       []byte(seedErrorMsgBody),
	}
	if got := *apiErr; got.StatusCode != want.StatusCode || got.Status != want.Status || got.Code != want.Code ||
		got.Message != want.Message || got.RequestID != want.RequestID || !bytes.Equal(got.Body, want.Body) {
		t.Errorf("CheckResponse() = %+v, want %+v", got, want)
	}
	const wantMsg = "ratehttp: 404 Not Found: AS.0001: The format of message is error (request id 3f2a9c1e-1700000000-host1)"
	if got := err.Error(); got != wantMsg {
		t.Errorf("Error() = %q, want %q", got, wantMsg)
	}
	body, readErr := io.ReadAll(resp.Body)
	if readErr != nil || string(body) != seedErrorMsgBody {
		t.Errorf("ReadAll(restored body) = %q, %v, want the whole body", body, readErr)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

func TestCheckResponseSuccess(t *testing.T) {
	if err := CheckResponse(nil); err != nil {
		t.Errorf("CheckResponse(nil) = %v, want nil", err)
	}
	for _, status := range []int{200, 204, 304, 399} {
		resp := newResponse(status, nil, strings.NewReader(`{"error_code":"X"}`))
		body := resp.Body
		if err := CheckResponse(resp); err != nil {
			t.Errorf("CheckResponse(%d) = %v, want nil", status, err)
		}
		if resp.Body != body || body.(*trackedBody).read != 0 {
			t.Errorf("CheckResponse(%d) touched the body", status)
		}
	}
}

func TestCheckResponseEmptyBody(t *testing.T) {
	tests := []struct {
		name string
		body io.ReadCloser
	}{
		{name: "nil", body: nil},
		{name: "NoBody", body: http.NoBody},
		{name: "empty", body: io.NopCloser(strings.NewReader(""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := newResponse(http.StatusServiceUnavailable, nil, nil)
			resp.Body = tt.body
			err := CheckResponse(resp)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Message != "Service Unavailable" || apiErr.Code != "" {
				t.Fatalf("CheckResponse() = %#v, want an *APIError with the status text as message", err)
			}
			if got, want := err.Error(), "ratehttp: 503 Service Unavailable"; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if resp.Body == nil && tt.body != nil {
				t.Errorf("CheckResponse() set Body to nil")
			}
		})
	}
}

// patternReader yields size bytes of a fixed pattern, or forever if size < 0,
// without allocating them.
type patternReader struct {
	pattern string
	size    int64 // bytes left, or < 0 for endless
	off     int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.size == 0 {
		return 0, io.EOF
	}
	if r.size > 0 && int64(len(p)) > r.size {
		p = p[:r.size]
	}
	for i := range p {
		p[i] = r.pattern[r.off]
		r.off = (r.off + 1) % len(r.pattern)
	}
	if r.size > 0 {
		r.size -= int64(len(p))
	}
	return len(p), nil
}

func TestCheckResponseRestoresBody(t *testing.T) {
	const pattern = `{"error_code":"AS.0001","error_msg":"x","pad":"0123456789abcdef"},`
	for _, size := range []int64{0, 1, 4095, 4096, DefaultErrorBodyLimit - 1, DefaultErrorBodyLimit, DefaultErrorBodyLimit + 1, 3 << 20} {
		resp := newResponse(http.StatusTooManyRequests, nil, &patternReader{pattern: pattern, size: size})
		if err := CheckResponse(resp); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("CheckResponse(%d bytes) = %v, want ErrRateLimited", size, err)
		}
		got, err := io.ReadAll(resp.Body)
		want, _ := io.ReadAll(&patternReader{pattern: pattern, size: size})
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadAll(restored body of %d bytes) = %d bytes, %v, want the same %d bytes", size, len(got), err, size)
		}
		resp.Body.Close()
		if tb := findTracked(t, resp.Body); !tb.closed {
			t.Errorf("Close(restored body of %d bytes) did not close the original body", size)
		}
	}
}

func findTracked(t *testing.T, body io.ReadCloser) *trackedBody {
	t.Helper()
	rb, ok := body.(restoredBody)
	if !ok {
		t.Fatalf("Body is %T, want restoredBody", body)
	}
	return rb.Closer.(*trackedBody)
}

func TestCheckResponseBoundedRead(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		pattern     string
		size        int64
	}{
		{name: "100 MiB of text", contentType: "text/plain", pattern: "abcdefghij\n", size: 100 << 20},
		{name: "100 MiB of json", contentType: "application/json", pattern: `{"message":"`, size: 100 << 20},
		{name: "endless html", contentType: "text/html", pattern: "<p>x</p>", size: -1},
		{name: "endless json array", pattern: "[", size: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &patternReader{pattern: tt.pattern, size: tt.size}
			resp := newResponse(http.StatusInternalServerError, http.Header{"Content-Type": {tt.contentType}}, src)
			tb := resp.Body.(*trackedBody)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := CheckResponse(resp)
			runtime.ReadMemStats(&after)

			var apiErr *APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, ErrServerError) {
				t.Fatalf("CheckResponse() = %v, want an *APIError matching ErrServerError", err)
			}
			if tb.read > DefaultErrorBodyLimit || len(apiErr.Body) != DefaultErrorBodyLimit {
				t.Errorf("CheckResponse() read %d bytes and kept %d, want %d", tb.read, len(apiErr.Body), DefaultErrorBodyLimit)
			}
			if n := utf8.RuneCountInString(apiErr.Message); n > maxMessageRunes {
				t.Errorf("Message has %d runes, want at most %d", n, maxMessageRunes)
			}
			// A few copies of the limit at most, nothing near the body's size.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*DefaultErrorBodyLimit {
				t.Errorf("CheckResponse() allocated %d bytes, want at most %d", alloc, 16*DefaultErrorBodyLimit)
			}
			// The restored body goes on with the original.
			p := make([]byte, 2*DefaultErrorBodyLimit)
			n, _ := io.ReadFull(resp.Body, p)
			if n != len(p) || tb.read != int64(len(p)) {
				t.Errorf("ReadFull(restored body) = %d bytes, %d read from the original, want %d", n, tb.read, len(p))
			}
		})
	}
}

func TestCheckResponseReadError(t *testing.T) {
	errBoom := errors.New("connection reset")
	resp := newResponse(http.StatusBadGateway, nil,
		io.MultiReader(strings.NewReader(`{"error_code":"GW.1","error_msg":"upstream`), iotest.ErrReader(errBoom)))
	err := CheckResponse(resp)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "" || !strings.HasPrefix(apiErr.Message, `{"error_code":"GW.1"`) {
		t.Fatalf("CheckResponse() = %#v, want an *APIError with the text read", err)
	}
	got, readErr := io.ReadAll(resp.Body)
	if string(got) != `{"error_code":"GW.1","error_msg":"upstream` || readErr != errBoom {
		t.Errorf("ReadAll(restored body) = %q, %v, want the prefix, then %v", got, readErr, errBoom)
	}
}

func TestNewAPIError(t *testing.T) {
	tests := []struct {
		name       string
		limit      int64
		give       io.Reader
		wantPrefix string
		wantErr    error
	}{
		{name: "within limit", limit: 64, give: strings.NewReader(`{"code":"C"}`), wantPrefix: `{"code":"C"}`},
		{name: "cut at limit", limit: 8, give: strings.NewReader(`{"code":"C"}`), wantPrefix: `{"code":`},
		{name: "zero limit reads none", limit: 0, give: strings.NewReader("short"), wantPrefix: ""},
		{name: "one byte at a time", limit: 64, give: iotest.OneByteReader(strings.NewReader("slow body")), wantPrefix: "slow body"},
		{name: "data and EOF together", limit: 64, give: iotest.DataErrReader(strings.NewReader("eof")), wantPrefix: "eof"},
		{name: "timeout", limit: 64, give: iotest.TimeoutReader(strings.NewReader("abc")), wantPrefix: "abc", wantErr: iotest.ErrTimeout},
		{name: "no progress", limit: 64, give: zeroReader{}, wantErr: io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := newResponse(http.StatusBadRequest, nil, tt.give)
			e, prefix, err := newAPIError(resp, tt.limit)
			if string(prefix) != tt.wantPrefix || !bytes.Equal(e.Body, prefix) || err != tt.wantErr {
				t.Errorf("newAPIError(limit %d) = Body %q, prefix %q, %v, want %q, %v", tt.limit, e.Body, prefix, err, tt.wantPrefix, tt.wantErr)
			}
			if resp.Body.(*trackedBody).closed {
				t.Errorf("newAPIError() closed the body")
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{name: "canonical", header: http.Header{"X-Request-Id": {"h-1"}}, want: "h-1"},
		{name: "vendor spelling", header: http.Header{"X-request-id": {"h-2"}}, want: "h-2"},
		{name: "lower case", header: http.Header{"x-request-id": {"h-3"}}, want: "h-3"},
		{name: "openstack", header: http.Header{"X-Openstack-Request-Id": {"req-4"}}, want: "req-4"},
		{name: "compute", header: http.Header{"X-Compute-Request-Id": {"req-5"}}, want: "req-5"},
		{name: "first in order", header: http.Header{"X-Compute-Request-Id": {"req-6b"}, "X-Request-Id": {"req-6a"}}, want: "req-6a"},
		{name: "header before body", header: http.Header{"X-Request-Id": {"h-7"}}, body: `{"message":"m","request_id":"b-7"}`, want: "h-7"},
		{name: "body as fallback", body: `{"message":"m","requestId":"b-8"}`, want: "b-8"},
		{name: "blank header, body", header: http.Header{"X-Request-Id": {""}}, body: `{"RequestId":"b-9"}`, want: "b-9"},
		{name: "sanitised and bounded", header: http.Header{"X-Request-Id": {"a\r\nb" + strings.Repeat("z", 300)}},
			want: "a b" + strings.Repeat("z", maxRequestIDRunes-4) + "…"},
		{name: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResponse(newResponse(http.StatusConflict, tt.header, strings.NewReader(tt.body)))
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.RequestID != tt.want {
				t.Errorf("CheckResponse() = %#v, want RequestID %q", err, tt.want)
			}
		})
	}
}

var sentinels = map[string]error{
	"ErrRateLimited":  ErrRateLimited,
	"ErrBadRequest":   ErrBadRequest,
	"ErrUnauthorized": ErrUnauthorized,
	"ErrForbidden":    ErrForbidden,
	"ErrNotFound":     ErrNotFound,
	"ErrConflict":     ErrConflict,
	"ErrServerError":  ErrServerError,
}

func TestAPIErrorIs(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   []string
	}{
		{status: 400, want: []string{"ErrBadRequest"}},
		{status: 401, want: []string{"ErrUnauthorized"}},
		{status: 403, want: []string{"ErrForbidden"}},
		{status: 404, body: seedErrorMessageBody, want: []string{"ErrNotFound"}},
		{status: 405},
		{status: 409, want: []string{"ErrConflict"}},
		{status: 418},
		{status: 429, want: []string{"ErrRateLimited"}},
		{status: 500, want: []string{"ErrServerError"}},
		{status: 503, want: []string{"ErrServerError"}},
		{status: 599, want: []string{"ErrServerError"}},
		{status: 600},
		{status: 400, body: `{"error_code":"APIGW.0308","error_msg":"The request is throttled."}`, want: []string{"ErrBadRequest", "ErrRateLimited"}},
		{status: 403, body: `{"error":{"code":403,"errors":[{"reason":"rateLimitExceeded"}]}}`, want: []string{"ErrForbidden", "ErrRateLimited"}},
		{status: 503, body: `<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`, want: []string{"ErrServerError", "ErrRateLimited"}},
	}
	for _, tt := range tests {
		err := CheckResponse(newResponse(tt.status, nil, strings.NewReader(tt.body)))
		wrapped := map[string]error{
			"direct":    err,
			"url.Error": &url.Error{Op: "Get", URL: "http://x", Err: err},
			"%w":        fmt.Errorf("listing servers: %w", &url.Error{Op: "Get", URL: "http://x", Err: err}),
		}
		for how, err := range wrapped {
			for name, sentinel := range sentinels {
				want := false
				for _, w := range tt.want {
					want = want || w == name
				}
				if got := errors.Is(err, sentinel); got != want {
					t.Errorf("errors.Is(%s of status %d %.30q, %s) = %v, want %v", how, tt.status, tt.body, name, got, want)
				}
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Errorf("errors.As(%s of status %d, *APIError) failed", how, tt.status)
			}
		}
	}
}

func TestIsThrottleCode(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"APIGW.0308", true},
		{"apig.0308", true},
		{"APIG.0309", false},
		{"ThrottlingException", true},
		{"RequestThrottled", true},
		{"TooManyRequestsException", true},
		{"userRateLimitExceeded", true},
		{"RequestLimitExceeded", true},
		{"SlowDown", true},
		{"AS.0001", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isThrottleCode(tt.give); got != tt.want {
			t.Errorf("isThrottleCode(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestAPIErrorError(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name string
		give APIError
		want string
	}{
		{name: "seed", give: APIError{StatusCode: 404, Status: "404 Not Found", Code: "AS.0001", Message: "The format of message is error", RequestID: "3f2a"},
			want: "ratehttp: 404 Not Found: AS.0001: The format of message is error (request id 3f2a)"},
		{name: "no code, no id", give: APIError{StatusCode: 500, Status: "500 Internal Server Error", Message: "boom"},
			want: "ratehttp: 500 Internal Server Error: boom"},
		{name: "status text as message", give: APIError{StatusCode: 502, Status: "502 Bad Gateway", Message: "Bad Gateway"},
			want: "ratehttp: 502 Bad Gateway"},
		{name: "no status line", give: APIError{StatusCode: 429, Code: "APIGW.0308"},
			want: "ratehttp: 429 Too Many Requests: APIGW.0308"},
		{name: "unknown status", give: APIError{StatusCode: 599, Message: "odd"},
			want: "ratehttp: 599: odd"},
		{name: "status line that does not match", give: APIError{StatusCode: 400, Status: "Bad"},
			want: "ratehttp: 400 Bad Request"},
		{name: "long message", give: APIError{StatusCode: 400, Status: "400 Bad Request", Message: long},
			want: "ratehttp: 400 Bad Request: " + long[:2*(maxErrorRunes-1)] + "…"},
		{name: "hostile fields", give: APIError{StatusCode: 400, Status: "400 Bad\r\nRequest", Code: "C\x00D", Message: "a\u202eb\xffc\nd", RequestID: "r\tid"},
			want: "ratehttp: 400 Bad Request: C D: ab\ufffdc d (request id r id)"},
		{name: "zero", want: "ratehttp: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIErrorHoldsNoCredentials(t *testing.T) {
	const secret = "s3cr3t-t0k3n"
	req, err := http.NewRequest(http.MethodGet, "https://user:"+secret+"@api.example.com/v1/servers?token="+secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("X-Auth-Token", secret)
	resp := newResponse(http.StatusUnauthorized, http.Header{
		"X-Subject-Token": {secret},
		"Set-Cookie":      {"session=" + secret},
		"X-Request-Id":    {"req-1"},
		"Content-Type":    {"application/json"},
	}, strings.NewReader(`{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","encoded_authorization_message":"`+secret+`"}`))
	resp.Request = req

	err = CheckResponse(resp)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("CheckResponse() = %v, want an *APIError matching ErrUnauthorized", err)
	}
	shown := *apiErr
	shown.Body = nil // the server's own bytes, never printed
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", shown), fmt.Sprintf("%#v", shown),
		(&url.Error{Op: "Get", URL: "https://api.example.com/v1/servers", Err: err}).Error()} {
		if strings.Contains(s, secret) {
			t.Errorf("error text %q holds a credential", s)
		}
	}
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add("application/json", []byte(seedErrorMsgBody))
	f.Add("", []byte(seedErrorMessageBody))
	f.Add("application/json", []byte(`{"itemNotFound": {"message": "Instance could not be found", "code": 404}}`))
	f.Add("text/html", []byte("<html><head><title>502 Bad Gateway</title></head></html>"))
	f.Add("application/xml", []byte(`<Error><Code>SlowDown</Code><Message>m</Message><RequestId>r</RequestId></Error>`))
	f.Add("text/plain", []byte("bad\xffmsg\x00"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		code, msg, id := parseErrorBody(contentType, body)
		for _, part := range []struct {
			name, s string
			max     int
		}{{"code", code, maxCodeRunes}, {"message", msg, maxMessageRunes}, {"request id", id, maxRequestIDRunes}} {
			if !utf8.ValidString(part.s) || utf8.RuneCountInString(part.s) > part.max {
				t.Errorf("parseErrorBody() %s = %q, want valid UTF-8 of at most %d runes", part.name, part.s, part.max)
			}
			if strings.IndexFunc(part.s, unicode.IsControl) >= 0 || part.s != strings.TrimSpace(part.s) {
				t.Errorf("parseErrorBody() %s = %q, want no control characters nor outer spaces", part.name, part.s)
			}
		}
		if c, m, i := parseErrorBody(contentType, body); c != code || m != msg || i != id {
			t.Errorf("parseErrorBody() is not deterministic: %q, %q, %q then %q, %q, %q", code, msg, id, c, m, i)
		}
		e := &APIError{StatusCode: 400, Status: "400 Bad Request", Code: code, Message: msg, RequestID: id}
		if s := e.Error(); !utf8.ValidString(s) || utf8.RuneCountInString(s) > 600 {
			t.Errorf("Error() = %q, want valid UTF-8 of bounded length", s)
		}
	})
}

func FuzzParseErrorResponse(f *testing.F) {
	f.Add(404, "application/json", []byte(seedErrorMsgBody))
	f.Add(429, "", []byte(`{"error_code":"APIGW.0308","error_msg":"throttled"}`))
	f.Add(503, "text/html", []byte("<title>Service Unavailable</title>"))
	f.Add(200, "text/plain", []byte("fine"))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		resp := newResponse(status, http.Header{"Content-Type": {contentType}}, bytes.NewReader(body))
		err := CheckResponse(resp)
		if (err == nil) != (status < 400) {
			t.Fatalf("CheckResponse(status %d) = %v, want an error exactly for status >= 400", status, err)
		}
		if got, readErr := io.ReadAll(resp.Body); readErr != nil || !bytes.Equal(got, body) {
			t.Errorf("ReadAll(restored body) = %q, %v, want %q", got, readErr, body)
		}
		if err == nil {
			return
		}
		if got, want := errors.Is(err, ErrServerError), status >= 500 && status <= 599; got != want {
			t.Errorf("errors.Is(status %d, ErrServerError) = %v, want %v", status, got, want)
		}
		if s := err.Error(); !utf8.ValidString(s) || !strings.HasPrefix(s, "ratehttp: ") || strings.ContainsAny(s, "\r\n") {
			t.Errorf("Error() = %q, want one valid line starting with ratehttp: ", s)
		}
	})
}
