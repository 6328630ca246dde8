package telnyxsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Fault kinds accepted by POST /_sim/faults and AddFault.
const (
	// FaultStatus answers matching API requests with Status (and an
	// optional Retry-After) in Telnyx's error envelope.
	FaultStatus = "status"
	// FaultLatency delays matching API requests by LatencyMS, then serves
	// them normally.
	FaultLatency = "latency"
	// FaultUnreachable drops the connection of matching API requests
	// without answering.
	FaultUnreachable = "unreachable"
	// FaultDuplicateWebhooks delivers the next Count webhooks twice.
	FaultDuplicateWebhooks = "duplicate_webhooks"
	// FaultReorderWebhooks holds each of the next Count webhooks back and
	// delivers it after the following webhook of the same message or call.
	FaultReorderWebhooks = "reorder_webhooks"
	// FaultDropWebhooks never delivers the next Count webhooks, as if the
	// carrier had given up on them: the state they report still changes
	// and can be read through the API.
	FaultDropWebhooks = "drop_webhooks"
)

// Fault is an armed fault. Request faults (status, latency, unreachable)
// apply to /v2 requests matching Method and PathPrefix (empty matches
// all); webhook faults apply to outgoing webhooks.
type Fault struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Count is how many requests or webhooks remain to be affected.
	Count int `json:"count"`
	// Status is the HTTP status for FaultStatus.
	Status int `json:"status,omitempty"`
	// RetryAfter, in seconds, is sent as Retry-After with FaultStatus.
	RetryAfter int `json:"retry_after,omitempty"`
	// LatencyMS is the delay for FaultLatency.
	LatencyMS  int    `json:"latency_ms,omitempty"`
	Method     string `json:"method,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
}

// validate normalizes f and reports a problem, if any.
func (f *Fault) validate() string {
	if f.Count <= 0 {
		f.Count = 1
	}
	f.Method = strings.ToUpper(f.Method)
	switch f.Kind {
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			return "status must be between 400 and 599"
		}
	case FaultLatency:
		if f.LatencyMS <= 0 {
			return "latency_ms must be positive"
		}
	case FaultUnreachable, FaultDuplicateWebhooks, FaultReorderWebhooks, FaultDropWebhooks:
	default:
		return "kind must be one of status, latency, unreachable, duplicate_webhooks, reorder_webhooks"
	}
	return ""
}

// AddFault arms a fault and returns it with its id.
func (s *Server) AddFault(f Fault) (Fault, error) {
	if msg := f.validate(); msg != "" {
		return Fault{}, &faultError{msg}
	}
	f.ID = uuid.NewString()
	s.mu.Lock()
	s.st.faults = append(s.st.faults, &f)
	s.mu.Unlock()
	return f, nil
}

type faultError struct{ msg string }

func (e *faultError) Error() string { return "telnyxsim: " + e.msg }

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.st.faults = nil
	s.mu.Unlock()
}

// takeFault consumes one use of the first armed fault that matches.
func (s *Server) takeFault(match func(*Fault) bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.st.faults {
		if !match(f) {
			continue
		}
		cp := *f
		f.Count--
		if f.Count <= 0 {
			s.st.faults = append(s.st.faults[:i], s.st.faults[i+1:]...)
		}
		return &cp
	}
	return nil
}

// takeWebhookFault consumes one use of a webhook fault of the given kind.
func (s *Server) takeWebhookFault(kind string) bool {
	return s.takeFault(func(f *Fault) bool { return f.Kind == kind }) != nil
}

// withFaults applies request faults before anything else, as a network or
// an overloaded carrier would.
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.takeFault(func(f *Fault) bool {
			switch f.Kind {
			case FaultStatus, FaultLatency, FaultUnreachable:
			default:
				return false
			}
			return (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix)
		})
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case FaultUnreachable:
			// Aborting the handler closes the connection with no response.
			panic(http.ErrAbortHandler)
		case FaultLatency:
			if !sleep(r.Context(), nil, time.Duration(f.LatencyMS)*time.Millisecond) {
				return
			}
			next.ServeHTTP(w, r)
		case FaultStatus:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			writeErr(w, f.Status, faultBody(f.Status))
		}
	})
}

// faultBody is the Telnyx error a given status carries.
func faultBody(status int) apiError {
	switch status {
	case http.StatusTooManyRequests:
		return newAPIError("10011", "Too many requests", "You have exceeded the maximum number of allowed requests.")
	case http.StatusServiceUnavailable:
		return newAPIError("10037", "Service unavailable", "The service is temporarily unavailable.")
	case http.StatusUnauthorized:
		return newAPIError("10009", "Authentication failed", "The required authentication headers were either invalid or not included in the request.")
	case http.StatusForbidden:
		return newAPIError("10010", "Authorization failed", "You are not authorized to perform this action.")
	case http.StatusNotFound:
		return newAPIError("10005", "Resource not found", "The requested resource or URL could not be found.")
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return newAPIError("10008", "Request timeout", "The request timed out.")
	case http.StatusBadRequest:
		return newAPIError("10015", "Bad Request", "The request was malformed.")
	case http.StatusUnprocessableEntity:
		return newAPIError("10027", "Unprocessable Entity", "The request could not be processed.")
	default:
		return newAPIError("10007", "Unexpected error", "An unexpected error occurred.")
	}
}
