package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// Fail is how a handler answers an error: client errors (*Error) pass
// through, errors matching notFound become missing (a 404 for that
// resource), a request that ended (client gone, deadline passed) before
// its work could finish gets a 503 to try again, and anything else is
// logged and hidden behind a 500.
func Fail(ctx context.Context, log *slog.Logger, err error, notFound error, missing *Error) error {
	var he *Error
	switch {
	case errors.As(err, &he):
		return he
	case notFound != nil && errors.Is(err, notFound):
		return missing
	case Ended(ctx, err):
		log.WarnContext(ctx, "request ended before its work finished", "err", err)
		return Interrupted()
	}
	log.ErrorContext(ctx, "request failed", "err", err)
	return Internal()
}

// Ended reports whether err comes from ctx having ended: the client hung
// up or its deadline passed while the server was busy. Nothing about the
// request was wrong, and transactions roll back, so the caller may simply
// send it again.
func Ended(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// Interrupted is the answer to a request that Ended: 503 with a
// Retry-After, so a client that is still listening retries.
func Interrupted() *Error {
	return NewError(http.StatusServiceUnavailable, CodeUnavailable,
		"the request ended before the server could finish it; nothing was changed, send it again").WithHeader("Retry-After", "1")
}
