package telnyx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind classifies a failed Telnyx call by what the caller should do about it.
type Kind int

const (
	// KindUnknown is a failure that fits no other class.
	KindUnknown Kind = iota
	// KindInvalidRequest means Telnyx rejected the request's content
	// (HTTP 400, 409, 422); repeating it unchanged will fail again.
	KindInvalidRequest
	// KindNotFound means the addressed resource does not exist (HTTP 404).
	KindNotFound
	// KindAuth means the API key is missing, wrong or lacks permission
	// (HTTP 401, 403).
	KindAuth
	// KindRateLimited means Telnyx throttled the request (HTTP 429);
	// Error.RetryAfter says how long to wait when Telnyx said so.
	KindRateLimited
	// KindUnavailable means Telnyx could not be reached or failed
	// (connection errors, timeouts, HTTP 408 and 5xx). Retrying later may work.
	KindUnavailable
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindInvalidRequest:
		return "invalid_request"
	case KindNotFound:
		return "not_found"
	case KindAuth:
		return "auth"
	case KindRateLimited:
		return "rate_limited"
	case KindUnavailable:
		return "unavailable"
	default:
		return "unknown"
	}
}

// Error is the single error type returned for failed Telnyx calls. Status,
// Code, Title, Detail and Source come from the first entry of Telnyx's
// {"errors":[...]} body (or its /ai/* validation body) when there is one.
type Error struct {
	// Kind is the class of failure.
	Kind Kind
	// Op names the request, e.g. "GET /phone_numbers/123".
	Op string
	// Status is the HTTP status, or 0 when no response arrived.
	Status int
	// Code is Telnyx's error code, a string of digits such as "10009".
	Code string
	// Title is Telnyx's short error title.
	Title string
	// Detail is Telnyx's human-readable explanation.
	Detail string
	// Source names the offending field (a JSON pointer) or query parameter.
	Source string
	// RetryAfter is the wait Telnyx asked for on a 429 or 503, if any.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, if any.
	Err error
}

// Error formats the failure for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("telnyx: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != "" {
			fmt.Fprintf(&b, ", code %s", e.Code)
		}
		b.WriteString(")")
	}
	if e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" && e.Detail != e.Title {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the underlying transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err if it wraps an *Error, else KindUnknown.
func KindOf(err error) Kind {
	var te *Error
	if errors.As(err, &te) {
		return te.Kind
	}
	return KindUnknown
}

// IsNotFound reports whether err is a Telnyx "resource not found" failure.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }

// IsInvalidRequest reports whether Telnyx rejected the request's content.
func IsInvalidRequest(err error) bool { return err != nil && KindOf(err) == KindInvalidRequest }

// IsAuth reports whether err is an authentication or authorization failure.
func IsAuth(err error) bool { return err != nil && KindOf(err) == KindAuth }

// IsRateLimited reports whether Telnyx throttled the request.
func IsRateLimited(err error) bool { return err != nil && KindOf(err) == KindRateLimited }

// IsUnavailable reports whether Telnyx was unreachable or failed server-side.
func IsUnavailable(err error) bool { return err != nil && KindOf(err) == KindUnavailable }

// IsTemporary reports whether repeating the same request later may succeed
// (rate limiting or unavailability). Whether it is safe to repeat is the
// caller's decision: a POST may already have taken effect.
func IsTemporary(err error) bool { return IsRateLimited(err) || IsUnavailable(err) }

// RetryAfter returns the wait Telnyx asked for, or zero.
func RetryAfter(err error) time.Duration {
	var te *Error
	if errors.As(err, &te) {
		return te.RetryAfter
	}
	return 0
}

// kindForStatus maps an HTTP status to a Kind.
func kindForStatus(status int) Kind {
	switch {
	case status == http.StatusBadRequest, status == http.StatusConflict, status == http.StatusUnprocessableEntity:
		return KindInvalidRequest
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout, status >= 500 && status <= 599:
		return KindUnavailable
	default:
		return KindUnknown
	}
}

// wireErrors is Telnyx's standard v2 error body.
type wireErrors struct {
	Errors []struct {
		Code   json.RawMessage `json:"code"` // documented as a digit string; one legacy schema uses an integer
		Title  string          `json:"title"`
		Detail string          `json:"detail"`
		Source *struct {
			Pointer   string `json:"pointer"`
			Parameter string `json:"parameter"`
		} `json:"source"`
	} `json:"errors"`
	// Detail carries the FastAPI-style body of /ai/* endpoints: either a
	// string or a list of {loc, msg, type}.
	Detail json.RawMessage `json:"detail"`
}

// parseError builds an *Error from a non-2xx response.
func parseError(op string, resp *http.Response, raw []byte) *Error {
	e := &Error{Kind: kindForStatus(resp.StatusCode), Op: op, Status: resp.StatusCode}
	if e.Kind == KindRateLimited || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(resp.Header, time.Now())
	}
	var w wireErrors
	if json.Unmarshal(raw, &w) == nil {
		if len(w.Errors) > 0 {
			first := w.Errors[0]
			e.Code = strings.Trim(string(first.Code), `"`)
			if e.Code == "null" {
				e.Code = ""
			}
			e.Title = first.Title
			e.Detail = first.Detail
			if first.Source != nil {
				e.Source = first.Source.Pointer
				if e.Source == "" {
					e.Source = first.Source.Parameter
				}
			}
		} else if len(w.Detail) > 0 {
			fillFastAPIDetail(e, w.Detail)
		}
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// fillFastAPIDetail reads the /ai/* error body: {"detail": "text"} or
// {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}.
func fillFastAPIDetail(e *Error, raw json.RawMessage) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		e.Detail = s
		return
	}
	var items []struct {
		Loc  []any  `json:"loc"`
		Msg  string `json:"msg"`
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return
	}
	e.Title = "Validation error"
	e.Detail = items[0].Msg
	var parts []string
	for _, l := range items[0].Loc {
		parts = append(parts, fmt.Sprint(l))
	}
	if len(parts) > 0 {
		e.Source = "/" + strings.Join(parts, "/")
	}
}

// parseRetryAfter reads Retry-After-Ms, then Retry-After (seconds or an
// HTTP date). It returns zero when neither is usable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
