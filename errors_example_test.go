package ratehttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ratehttp/ratehttp"
)

func ExampleCheckResponse() {
	// A response as the vendor documents it, built by hand so that the
	// example runs offline; in real code it comes from http.Client.Do.
	const body = `{
    "error_msg": "The format of message is error",
    "error_code": "AS.0001"
}`
	resp := &http.Response{
		StatusCode: http.StatusBadRequest,
		Status:     "400 Bad Request",
		Header: http.Header{
			"Content-Type": {"application/json;charset=UTF-8"},
			"X-Request-Id": {"3f2a9c1e-1700000000-host1"},
		},
		Body: io.NopCloser(strings.NewReader(body)),
	}
	defer resp.Body.Close()

	err := ratehttp.CheckResponse(resp)
	fmt.Println(err)
	fmt.Println("bad request:", errors.Is(err, ratehttp.ErrBadRequest))
	fmt.Println("rate limited:", errors.Is(err, ratehttp.ErrRateLimited))

	var apiErr *ratehttp.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("code:", apiErr.Code)
	}

	// The body was put back: it can still be read in full.
	b, _ := io.ReadAll(resp.Body)
	fmt.Println("body intact:", string(b) == body)
	// Output:
	// ratehttp: 400 Bad Request: AS.0001: The format of message is error (request id 3f2a9c1e-1700000000-host1)
	// bad request: true
	// rate limited: false
	// code: AS.0001
	// body intact: true
}
