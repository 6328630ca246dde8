package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// Error is the one error type handlers return to a client. It serializes as
// the spec's envelope, {"error":{"code","message","details"}}, and huma uses
// it for every error it raises itself, so all errors look alike.
type Error struct {
	Body    ErrorInfo `json:"error"`
	status  int
	headers http.Header
}

// ErrorInfo is the inside of the error envelope.
type ErrorInfo struct {
	Code    string         `json:"code" doc:"Stable machine-readable error code." example:"not_found"`
	Message string         `json:"message" doc:"Human-readable explanation, safe to show to a user."`
	Details map[string]any `json:"details,omitempty" doc:"Extra structured context, such as field-level validation errors under 'fields'."`
}

// NewError builds an Error with a status, a stable code and a message.
func NewError(status int, code, message string) *Error {
	return &Error{status: status, Body: ErrorInfo{Code: code, Message: message}}
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.Body.Code, e.Body.Message)
}

// Code is the stable machine code.
func (e *Error) Code() string { return e.Body.Code }

// GetStatus implements huma.StatusError.
func (e *Error) GetStatus() int { return e.status }

// GetHeaders implements huma.HeadersError, so limits can send Retry-After.
func (e *Error) GetHeaders() http.Header { return e.headers }

// ContentType keeps errors plain JSON rather than problem+json.
func (e *Error) ContentType(string) string { return "application/json" }

// WithHeader returns e with a response header set.
func (e *Error) WithHeader(key, value string) *Error {
	if e.headers == nil {
		e.headers = http.Header{}
	}
	e.headers.Set(key, value)
	return e
}

// WithDetails returns e with details attached.
func (e *Error) WithDetails(d map[string]any) *Error {
	e.Body.Details = d
	return e
}

// Codes used by the shared plumbing. Domains define their own next to the
// rules that produce them.
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidJSON          = "invalid_json"
	CodeValidation           = "validation_error"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal_error"
	CodeUnavailable          = "service_unavailable"
)

// codeForStatus names the default code of a status, for errors raised by the
// framework rather than by our handlers.
func codeForStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusUnprocessableEntity:
		return CodeValidation
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// Internal is the answer to a failure the client cannot fix. The cause is
// logged by the caller; the client sees no internal detail.
func Internal() *Error {
	return NewError(http.StatusInternalServerError, CodeInternal, "internal server error")
}

// fromHuma turns an error raised by the framework into our envelope. Field
// errors become details.fields; a body that is not JSON becomes 400
// invalid_json; server errors never leak their internal text.
func fromHuma(status int, msg string, errs ...error) huma.StatusError {
	for _, err := range errs {
		var own *Error
		if errors.As(err, &own) {
			return own
		}
	}
	e := NewError(status, codeForStatus(status), msg)
	var fields []map[string]any
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if !errors.As(err, &d) {
			fields = append(fields, map[string]any{"message": err.Error()})
			continue
		}
		f := map[string]any{"location": d.Location, "message": d.Message}
		if echoable(d.Location, d.Value) {
			f["value"] = d.Value
		}
		fields = append(fields, f)
		if d.Location == "body" && isJSONSyntaxMessage(d.Message) {
			e.status, e.Body.Code = http.StatusBadRequest, CodeInvalidJSON
			e.Body.Message = "the request body is not valid JSON"
		}
	}
	if status >= 500 {
		return Internal()
	}
	if len(fields) > 0 {
		e.Body.Details = map[string]any{"fields": fields}
	}
	if e.status == http.StatusUnsupportedMediaType {
		e.Body.Message = "unsupported content type; send Content-Type: application/json"
	}
	if e.Body.Message == "" {
		e.Body.Message = strings.ToLower(http.StatusText(e.status))
	}
	return e
}

// echoable reports whether a rejected value may be repeated back: scalars
// only (never the whole body), and nothing that looks like a credential.
func echoable(location string, v any) bool {
	switch v.(type) {
	case string, bool, float64, float32, int, int64, int32, uint, uint64, uint32:
	default:
		return false
	}
	l := strings.ToLower(location)
	for _, s := range []string{"password", "secret", "token", "key"} {
		if strings.Contains(l, s) {
			return false
		}
	}
	return true
}

// isJSONSyntaxMessage tells a body that does not parse from one that parses
// but breaks the schema; huma reports both at location "body".
func isJSONSyntaxMessage(msg string) bool {
	for _, s := range []string{"invalid character", "unexpected end of JSON", "unexpected EOF", "looking for beginning"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// installErrorModel makes huma raise every error in our envelope. huma keeps
// its error constructors in package variables, so they are set once per
// process, however many servers (tests) are built.
func installErrorModel() { errorModelOnce.Do(setErrorModel) }

var errorModelOnce sync.Once

func setErrorModel() {
	huma.NewError = fromHuma
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return fromHuma(status, msg, errs...)
	}
}

// WriteError writes e as an enveloped error from a plain http.Handler
// (carrier webhooks and other routes outside the huma API).
func WriteError(w http.ResponseWriter, e *Error) { writeError(w, e) }

// writeError writes e outside huma (unknown routes, panics, middleware).
func writeError(w http.ResponseWriter, e *Error) {
	for k, vs := range e.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeJSON(w, e.status, e)
}
