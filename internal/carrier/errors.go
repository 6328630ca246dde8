package carrier

import (
	"errors"
	"strings"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// classified is a carrier error with a sentinel the domains understand.
type classified struct {
	kind error
	err  error
}

func (c *classified) Error() string         { return c.err.Error() }
func (c *classified) Unwrap() []error       { return []error{c.kind, c.err} }
func (c *classified) CarrierDetail() string { return carrierDetail(c.err) }

// wrap classifies a Telnyx error as not found, rejected or unavailable.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	kind := carriererr.ErrUnavailable
	var te *telnyx.Error
	if errors.As(err, &te) {
		switch te.Kind {
		case telnyx.KindNotFound:
			kind = carriererr.ErrNotFound
		case telnyx.KindInvalidRequest:
			kind = carriererr.ErrRejected
		}
	}
	return &classified{kind: kind, err: err}
}

func carrierDetail(err error) string {
	var te *telnyx.Error
	if !errors.As(err, &te) {
		return ""
	}
	parts := []string{}
	for _, s := range []string{te.Title, te.Detail} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if te.Code != "" {
		parts = append(parts, "carrier code "+te.Code)
	}
	return strings.Join(parts, ": ")
}
