package httpapi

import (
	"context"
	"errors"
	"log/slog"
)

// Fail is how a handler answers an error: client errors (*Error) pass
// through, errors matching notFound become missing (a 404 for that
// resource), and anything else is logged and hidden behind a 500.
func Fail(ctx context.Context, log *slog.Logger, err error, notFound error, missing *Error) error {
	var he *Error
	switch {
	case errors.As(err, &he):
		return he
	case notFound != nil && errors.Is(err, notFound):
		return missing
	}
	log.ErrorContext(ctx, "request failed", "err", err)
	return Internal()
}
