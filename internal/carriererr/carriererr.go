// Package carriererr names the ways a call to the telephony carrier can fail,
// in terms domain packages can act on without knowing the carrier's wire
// format: the carrier bridge wraps its errors with these sentinels.
package carriererr

import "errors"

var (
	// ErrNotFound: the carrier has no such resource.
	ErrNotFound = errors.New("carrier: not found")
	// ErrRejected: the carrier refused the request's content (4xx); the
	// wrapped error says why.
	ErrRejected = errors.New("carrier: request rejected")
	// ErrUnavailable: the carrier could not be reached or failed (5xx,
	// timeout, rate limit); the outcome of a write may be unknown.
	ErrUnavailable = errors.New("carrier: unavailable")
)

// Detail is the carrier's own explanation of err, for messages to users.
type Detail interface{ CarrierDetail() string }

// DetailOf returns the carrier's explanation of err, or "".
func DetailOf(err error) string {
	var d Detail
	if errors.As(err, &d) {
		return d.CarrierDetail()
	}
	return ""
}
