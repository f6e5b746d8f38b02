package ratehttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors, matched with [errors.Is]. Each typed error of this package
// ([*RateLimitError], [*APIError]) reports the sentinel of its category.
var (
	// ErrRateLimited reports that a request was refused by a rate limit: locally,
	// because the wait for the quota could not finish in time, or by the server
	// (status 429 or a vendor throttling code).
	ErrRateLimited = errors.New("ratehttp: rate limited")

	// ErrBadRequest reports a response with status 400 Bad Request.
	ErrBadRequest = errors.New("ratehttp: bad request")
	// ErrUnauthorized reports a response with status 401 Unauthorized: the
	// credentials are missing, wrong or expired.
	ErrUnauthorized = errors.New("ratehttp: unauthorized")
	// ErrForbidden reports a response with status 403 Forbidden.
	ErrForbidden = errors.New("ratehttp: forbidden")
	// ErrNotFound reports a response with status 404 Not Found.
	ErrNotFound = errors.New("ratehttp: not found")
	// ErrConflict reports a response with status 409 Conflict.
	ErrConflict = errors.New("ratehttp: conflict")
	// ErrServerError reports a response with a status from 500 to 599.
	ErrServerError = errors.New("ratehttp: server error")
)

// RateLimitError is returned by [Transport.RoundTrip] when a request was not
// sent because waiting for its quota would pass the context's deadline or the
// configured maximum wait (see [WithMaxWait]). It matches [ErrRateLimited] with
// [errors.Is]; when the deadline was the reason, it also matches
// [context.DeadlineExceeded] through Unwrap.
//
// Its message never includes the key, which a custom key function may derive
// from credentials.
type RateLimitError struct {
	// Key is the quota key the request belongs to (see [WithKeyFunc]).
	Key string
	// Wait is how long the request would have had to wait for its quota: at
	// least that long, when requests waiting ahead of it were the reason.
	Wait time.Duration
	// Err is the cause: context.DeadlineExceeded when the deadline was the
	// reason, nil when the maximum wait was.
	Err error
}

// Error returns a message with the wait, never the key.
func (e *RateLimitError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("ratehttp: rate limited: quota needs a wait of %v: %v", e.Wait, e.Err)
	}
	return fmt.Sprintf("ratehttp: rate limited: quota needs a wait of %v, over the maximum wait", e.Wait)
}

// Is reports whether target is [ErrRateLimited].
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Unwrap returns the cause, if any.
func (e *RateLimitError) Unwrap() error { return e.Err }

// DefaultErrorBodyLimit is how many bytes of an error response's body
// [CheckResponse] reads at most (1 MiB).
const DefaultErrorBodyLimit = 1 << 20

// Bounds on what an [APIError] holds and prints, in runes, and on how much of
// a body is parsed.
const (
	maxCodeRunes      = 64
	maxMessageRunes   = 1024 // in APIError.Message
	maxErrorRunes     = 256  // of the message, in APIError.Error
	maxRequestIDRunes = 128
	maxStatusRunes    = 64

	textScanLimit   = 64 << 10 // bytes of a non-JSON body looked at
	maxJSONDepth    = 4        // values nested deeper are not decoded
	maxJSONElements = 8        // nor array elements after these
)

// APIError is an error response (status 400 or above) turned into a Go error
// by [CheckResponse]. It matches with [errors.Is] the sentinel of its status
// category ([ErrBadRequest], [ErrUnauthorized], [ErrForbidden], [ErrNotFound],
// [ErrConflict], [ErrServerError]) and [ErrRateLimited] for status 429 or a
// vendor throttling code (see [APIError.Is]).
//
// It holds only what the server sent back: never the request's headers, URL,
// query string or tokens, nor response headers other than the request id.
// Code, Message and RequestID are sanitised and bounded; Body is the raw
// prefix that was read. An APIError is not modified after it is returned, so
// it is safe to share between goroutines.
type APIError struct {
	// StatusCode is the response's status code, such as 404.
	StatusCode int
	// Status is the response's status line, such as "404 Not Found".
	Status string
	// Code is the vendor's error code, such as "AS.0001", or "" when the body
	// has none. A numeric code is kept in decimal, such as "1001".
	Code string
	// Message is the vendor's message, or for a body without one a short text
	// taken from it (an HTML page's title, an XML <Message> element), or the
	// status text when the body is empty or says nothing usable. It is valid
	// UTF-8 without control characters, and at most 1024 runes long.
	Message string
	// RequestID is the id the server gave the request, from the first of the
	// X-Request-Id, X-Openstack-Request-Id or X-Compute-Request-Id headers
	// that is set, else from the body (request_id, requestId, <RequestId>…);
	// "" when there is none.
	RequestID string
	// Body is the prefix of the body that was read, at most the read limit
	// (by default [DefaultErrorBodyLimit]) long. It may hold whatever the
	// server sent; [APIError.Error] never prints it. After [CheckResponse] it
	// shares memory with the restored response body: do not modify it.
	Body []byte
}

var _ error = (*APIError)(nil)

// Error returns a single line such as
//
//	ratehttp: 404 Not Found: AS.0001: The format of message is error (request id 3f2a9c1e-1700000000-host1)
//
// The code is left out when empty, the message when empty or equal to the
// status text, and the request id when empty. Every part is sanitised again
// (an APIError may be built by hand) and the message is cut to 256 runes,
// ending with "…".
func (e *APIError) Error() string {
	status, reason := e.statusLine()
	var b strings.Builder
	b.WriteString("ratehttp: ")
	b.WriteString(status)
	if code := clean(e.Code, maxCodeRunes); code != "" {
		b.WriteString(": ")
		b.WriteString(code)
	}
	msg := clean(e.Message, maxErrorRunes)
	if msg != "" && !strings.EqualFold(msg, reason) && !strings.EqualFold(msg, http.StatusText(e.StatusCode)) {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if id := clean(e.RequestID, maxRequestIDRunes); id != "" {
		b.WriteString(" (request id ")
		b.WriteString(id)
		b.WriteString(")")
	}
	return b.String()
}

// statusLine returns the sanitised status line and its reason phrase, built
// from StatusCode when Status is empty or does not start with it.
func (e *APIError) statusLine() (status, reason string) {
	num := strconv.Itoa(e.StatusCode)
	if s := clean(e.Status, maxStatusRunes); strings.HasPrefix(s, num) {
		return s, strings.TrimSpace(s[len(num):])
	}
	reason = http.StatusText(e.StatusCode)
	return strings.TrimSpace(num + " " + reason), reason
}

// Is reports whether target is the sentinel of e's status category:
// [ErrBadRequest] (400), [ErrUnauthorized] (401), [ErrForbidden] (403),
// [ErrNotFound] (404), [ErrConflict] (409), [ErrServerError] (500–599). It
// also reports true for [ErrRateLimited] when the status is 429 or Code is a
// throttling code, whatever the status: one of APIGW.0308 and APIG.0308
// (API Gateway throttling), RequestLimitExceeded and SlowDown, or any code
// containing "Throttl", "TooManyRequests" or "RateLimitExceeded", all
// compared without regard to case.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests || isThrottleCode(e.Code)
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrServerError:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// throttleCodes are vendor codes that mean "throttled" whatever the status,
// compared in lower case; throttleMarks are parts of such codes. Read-only.
var (
	throttleCodes = []string{"apigw.0308", "apig.0308", "requestlimitexceeded", "slowdown"}
	throttleMarks = []string{"throttl", "toomanyrequests", "ratelimitexceeded"}
)

// isThrottleCode reports whether code is in throttleCodes or has one of the
// throttleMarks.
func isThrottleCode(code string) bool {
	code = strings.ToLower(code)
	for _, c := range throttleCodes {
		if code == c {
			return true
		}
	}
	for _, m := range throttleMarks {
		if strings.Contains(code, m) {
			return true
		}
	}
	return false
}

// requestIDHeaders are the response headers holding a request id, best
// first, matched without regard to case. Read-only.
var requestIDHeaders = []string{
	"X-Request-Id", "X-Openstack-Request-Id", "X-Compute-Request-Id",
	"X-Amz-Request-Id", "X-Amzn-Requestid",
}

// CheckResponse returns nil if resp is nil or its status is below 400, and
// leaves resp untouched. Otherwise it returns an [*APIError] built from the
// status, the request id header and at most [DefaultErrorBodyLimit] bytes of
// the body, however much the server sends.
//
// It puts the body back: resp.Body is replaced by a reader that yields the
// bytes read, then the rest of the original body, so the caller can still read
// all of it; its Close closes the original body. CheckResponse never closes
// the body itself: the caller still has to. If reading the body failed, the error is still an *APIError built
// from what was read, and reading resp.Body returns the read error after those
// bytes.
//
// The result survives wrapping: errors.Is and errors.As see through a
// *url.Error or fmt.Errorf("…: %w", err).
func CheckResponse(resp *http.Response) error {
	if resp == nil || resp.StatusCode < 400 {
		return nil
	}
	e, prefix, err := newAPIError(resp, DefaultErrorBodyLimit)
	if resp.Body != nil {
		var rest io.Reader = resp.Body
		switch {
		case err != nil:
			rest = errReader{err}
		case len(prefix) < DefaultErrorBodyLimit:
			rest = bytes.NewReader(nil) // the body ended within the limit
		}
		resp.Body = restoredBody{io.MultiReader(bytes.NewReader(prefix), rest), resp.Body}
	}
	return e
}

type restoredBody struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// newAPIError reads at most limit bytes of resp.Body (none if limit <= 0)
// into a new *APIError; resp must not be nil and a nil Body reads as empty.
// It returns the prefix read, and the read error if any other than io.EOF. It
// does not close or restore the body: the caller decides.
func newAPIError(resp *http.Response, limit int64) (*APIError, []byte, error) {
	var (
		prefix []byte
		err    error
	)
	if resp.Body != nil && limit > 0 {
		prefix, err = readPrefix(resp.Body, limit, resp.ContentLength)
	}
	code, msg, id := parseErrorBody(headerValue(resp.Header, "Content-Type"), prefix)
	for _, name := range requestIDHeaders {
		if v := clean(headerValue(resp.Header, name), maxRequestIDRunes); v != "" {
			id = v
			break
		}
	}
	e := &APIError{StatusCode: resp.StatusCode, Status: clean(resp.Status, maxStatusRunes), Code: code, Message: msg, RequestID: id, Body: prefix}
	if e.Message == "" {
		_, e.Message = e.statusLine()
	}
	return e, prefix, err
}

// readPrefix reads r until EOF or limit bytes, whichever comes first. It
// never asks r for more than limit bytes in all, and grows its buffer as data
// comes, so a false Content-Length costs little.
func readPrefix(r io.Reader, limit, contentLength int64) ([]byte, error) {
	size := int64(4 << 10)
	if contentLength >= 0 && contentLength < size {
		size = contentLength + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit))
	for empty := 0; int64(len(buf)) < limit; {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		case n == 0:
			if empty++; empty >= 100 {
				return buf, io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return buf, nil
}

// headerValue returns the first value of the header name, also when h was
// built by hand with a key that is not in canonical form.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

// parseErrorBody extracts the error code, message and request id from a body
// prefix. JSON is tried when contentType says JSON or, whatever it says, when
// the body starts with '{' or '['; a body that is not valid JSON (such as one
// cut at the read limit) is read as HTML, XML or text instead, by contentType
// or else by its first bytes. The results are sanitised and bounded; any of
// them may be "".
func parseErrorBody(contentType string, body []byte) (code, message, requestID string) {
	body = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\ufeff")))
	if len(body) == 0 {
		return "", "", ""
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	var (
		f  fields
		ok bool
	)
	if strings.Contains(mediaType, "json") || body[0] == '{' || body[0] == '[' {
		f, ok = parseJSON(body)
	}
	if !ok {
		f = parseText(mediaType, body)
	}
	return clean(f.code, maxCodeRunes), redact(clean(f.message, maxMessageRunes)), clean(f.requestID, maxRequestIDRunes)
}

// fields are what a body says about an error. A weak code (a number, which
// mostly repeats the status) gives way to a string code found elsewhere.
type fields struct {
	code, message, requestID string
	weakCode                 bool
}

func (f *fields) merge(g fields) {
	if g.code != "" && (f.code == "" || f.weakCode && !g.weakCode) {
		f.code, f.weakCode = g.code, g.weakCode
	}
	if f.message == "" {
		f.message = g.message
	}
	if f.requestID == "" {
		f.requestID = g.requestID
	}
}

// A jsonKey is a key, in the form normaliseKey gives, whose value (a string
// or a number) may hold one of the fields. Keys marked ident (OAuth's "error", RFC 9457's
// "type") also hold prose or URIs in some APIs, and count as a code only when
// the value has no space, ':' or '/'; keys marked prose count as a message
// only when the value has a space.
type jsonKey struct {
	name         string
	ident, prose bool
}

// Keys searched in each object, best first. encoded_authorization_message is
// never read: it is privileged data meant for sts:DecodeAuthorizationMessage,
// and stays only in APIError.Body. Read-only.
var (
	codeKeys = []jsonKey{
		{name: "errorcode"}, {name: "code"}, {name: "error", ident: true},
		{name: "type", ident: true}, {name: "reason", ident: true},
	}
	messageKeys = []jsonKey{
		{name: "errormsg"}, {name: "errormessage"}, {name: "message"}, {name: "msg"},
		{name: "errordescription"}, {name: "detail"}, {name: "description"},
		{name: "title"}, {name: "error", prose: true},
	}
	requestIDKeys = []jsonKey{{name: "requestid"}, {name: "xrequestid"}}
	// nestedKeys hold an object, or an array of them, with the fields.
	nestedKeys = []string{"error", "errors"}
)

// keySeparators are dropped by normaliseKey. Read-only.
var keySeparators = strings.NewReplacer("_", "", "-", "", " ", "")

// normaliseKey folds "error_code", "errorCode" and "Error-Code" together.
func normaliseKey(k string) string { return strings.ToLower(keySeparators.Replace(k)) }

// parseJSON reports false for invalid or truncated JSON, and for JSON nested
// more than 10000 deep. It checks the whole body first, which allocates
// nothing per value, then decodes only what it looks at.
func parseJSON(body []byte) (fields, bool) {
	if !json.Valid(body) {
		return fields{}, false
	}
	if body[0] == '"' { // a bare string is the message
		s, _ := jsonScalar(body)
		return fields{message: s}, true
	}
	return scanJSON(body, 0), true
}

// scanJSON returns the fields found in the valid JSON value raw. Objects
// nested deeper than maxJSONDepth, and array elements after the first
// maxJSONElements, are not decoded at all.
func scanJSON(raw []byte, depth int) fields {
	var f fields
	if depth > maxJSONDepth || len(raw) == 0 {
		return f
	}
	if raw[0] == '[' { // the first element that says something
		dec := json.NewDecoder(bytes.NewReader(raw))
		_, _ = dec.Token()
		for i := 0; i < maxJSONElements && dec.More() && f.code == "" && f.message == ""; i++ {
			var elem json.RawMessage
			if dec.Decode(&elem) != nil {
				break
			}
			f.merge(scanJSON(elem, depth+1))
		}
		return f
	}
	var members map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return f
	}
	// Keep the members of the key tables, by normalised key; of two keys that
	// normalise alike the smaller wins, so the result does not depend on
	// map order.
	values, keys := map[string]json.RawMessage{}, map[string]string{}
	for k, v := range members {
		name := normaliseKey(k)
		if prev, seen := keys[name]; isFieldKey(name) && (!seen || k < prev) {
			values[name], keys[name] = v, k
		}
	}
	for _, k := range codeKeys {
		if v, num := jsonScalar(values[k.name]); v != "" && (!k.ident || !strings.ContainsAny(v, " \t\n:/")) {
			f.merge(fields{code: v, weakCode: num})
		}
	}
	f.message = pickValue(values, messageKeys)
	f.requestID = pickValue(values, requestIDKeys)
	for _, k := range nestedKeys {
		f.merge(scanJSON(values[k], depth+1))
	}
	if f.code != "" || f.message != "" || len(members) != 1 {
		return f
	}
	// OpenStack wraps its errors in one key named after the error:
	// {"itemNotFound": {"message": "…", "code": 404}}.
	for key, v := range members {
		if g := scanJSON(v, depth+1); v[0] == '{' && g.message != "" {
			if g.code == "" || g.weakCode {
				g.code, g.weakCode = key, false
			}
			f.merge(g)
		}
	}
	return f
}

// isFieldKey reports whether name is in one of the key tables.
func isFieldKey(name string) bool {
	for _, keys := range [][]jsonKey{codeKeys, messageKeys, requestIDKeys} {
		for _, k := range keys {
			if k.name == name {
				return true
			}
		}
	}
	return slices.Contains(nestedKeys, name)
}

// jsonScalar returns a JSON string's text, trimmed, or a number's literal
// (number true); "" for anything else.
func jsonScalar(raw []byte) (s string, number bool) {
	switch {
	case len(raw) == 0:
	case raw[0] == '"':
		_ = json.Unmarshal(raw, &s)
		return strings.TrimSpace(s), false
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		return string(raw), true
	}
	return "", false
}

// pickValue returns the first non-blank string or number among keys.
func pickValue(values map[string]json.RawMessage, keys []jsonKey) string {
	for _, k := range keys {
		if s, _ := jsonScalar(values[k.name]); s != "" && (!k.prose || strings.Contains(s, " ")) {
			return s
		}
	}
	return ""
}

// parseText reads a body that is not JSON: for HTML the <title> or else the
// text without tags; for XML the <Code>, <Message> and <RequestId> elements
// or else the text without tags; otherwise the text itself. Only the first
// textScanLimit bytes are looked at.
func parseText(mediaType string, body []byte) fields {
	body = body[:min(len(body), textScanLimit)]
	lower := asciiLower(body) // tags are ASCII; byte offsets must match body's
	isHTML := strings.Contains(mediaType, "html") ||
		!strings.Contains(mediaType, "xml") && (bytes.Contains(lower, []byte("<html")) || bytes.Contains(lower, []byte("<!doctype html")))
	switch {
	case isHTML:
		f := fields{message: elementText(body, lower, "title")}
		if f.message == "" {
			f.message = stripTags(body, lower)
		}
		return f
	case strings.Contains(mediaType, "xml") || body[0] == '<':
		f := fields{
			code:      elementText(body, lower, "code"),
			message:   elementText(body, lower, "message"),
			requestID: elementText(body, lower, "requestid"),
		}
		if f.message == "" {
			f.message = stripTags(body, lower)
		}
		return f
	}
	return fields{message: string(body)}
}

// asciiLower returns a copy of b with ASCII letters in lower case, byte for
// byte, so that offsets in it are offsets in b.
func asciiLower(b []byte) []byte {
	lower := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return lower
}

// elementText returns the text of the first element called name (lower
// case), or "". lower is body in lower case, byte for byte.
func elementText(body, lower []byte, name string) string {
	open, closing := []byte("<"+name), []byte("</"+name)
	for i := 0; ; {
		j := bytes.Index(lower[i:], open)
		if j < 0 {
			return ""
		}
		i += j + len(open)
		if i >= len(lower) || lower[i] != '>' && !unicode.IsSpace(rune(lower[i])) {
			continue // a longer name, such as <codes>
		}
		k := bytes.IndexByte(lower[i:], '>')
		if k < 0 {
			return ""
		}
		start := i + k + 1
		if lower[start-2] == '/' {
			continue // <message/>
		}
		end := bytes.Index(lower[start:], closing)
		if end < 0 {
			end = len(lower) - start
		}
		return stripTags(body[start:start+end], lower[start:start+end])
	}
}

// stripTags returns the text of an HTML or XML fragment with tags, comments,
// scripts and styles removed and entities decoded.
func stripTags(body, lower []byte) string {
	var b strings.Builder
	for i := 0; i < len(body); {
		if body[i] != '<' {
			j := bytes.IndexByte(body[i:], '<')
			if j < 0 {
				j = len(body) - i
			}
			b.Write(body[i : i+j])
			i += j
			continue
		}
		rest, end := lower[i:], ">"
		switch {
		case bytes.HasPrefix(rest, []byte("<![cdata[")):
			text, _, _ := bytes.Cut(body[i+len("<![cdata["):], []byte("]]>"))
			b.Write(text)
			end = "]]>"
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = "-->"
		case bytes.HasPrefix(rest, []byte("<script")):
			end = "</script>"
		case bytes.HasPrefix(rest, []byte("<style")):
			end = "</style>"
		}
		k := bytes.Index(rest[1:], []byte(end))
		if k < 0 {
			break
		}
		i += 1 + k + len(end)
		b.WriteByte(' ')
	}
	return html.UnescapeString(b.String())
}

// clean returns s as valid UTF-8 on one line: invalid bytes become U+FFFD,
// format characters (such as bidirectional overrides) are dropped, runs of
// spaces and control characters become one space, and the result is cut to
// max runes, the last being "…" when something was cut.
func clean(s string, max int) string {
	var b strings.Builder
	n, cut, space := 0, 0, false
	emit := func(r rune) bool {
		if n == max-1 {
			cut = b.Len()
		}
		if n == max {
			return false
		}
		b.WriteRune(r)
		n++
		return true
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = n > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space && !emit(' ') || !emit(r) {
			return strings.TrimRight(b.String()[:cut], " ") + "…"
		}
		space = false
	}
	return b.String()
}

// redact cuts off an encoded authorization failure message, which some APIs
// append to their text and which is meant for privileged decoding only.
func redact(msg string) string {
	const mark = "encoded authorization failure message"
	if i := bytes.Index(asciiLower([]byte(msg)), []byte(mark)); i >= 0 {
		return strings.TrimRight(msg[:i], " .:;,(")
	}
	return msg
}
