package carrier

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// waitSteps are the pauses between attempts at an event that arrived
// before the change it refers to was recorded: the carrier's first status
// callback often races the transaction that stores its call or message
// id. About 1.5 s in all, well inside the carrier's webhook timeout.
var waitSteps = []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 400 * time.Millisecond, 700 * time.Millisecond}

// applySoon runs apply, and again after each pause while it reports that
// it is too early (retryLater). Only when the pauses are used up, or the
// request ends, is "too early" returned, and the carrier asked to deliver
// again.
func applySoon(ctx context.Context, apply func() error, retryLater func(error) bool) error {
	err := apply()
	for _, d := range waitSteps {
		if err == nil || !retryLater(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		err = apply()
	}
	return err
}

// failRequest answers a carrier request whose handling failed. When the
// request itself ended first (the carrier stopped waiting, or the server
// is shutting down) it is a 503 the carrier retries, logged as a warning;
// anything else is a 500, logged as an error.
func failRequest(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, msg string, args ...any) {
	args = append(args, "err", err)
	if httpapi.Ended(r.Context(), err) {
		log.WarnContext(r.Context(), msg+": the request ended first", args...)
		httpapi.WriteError(w, httpapi.Interrupted())
		return
	}
	log.ErrorContext(r.Context(), msg, args...)
	httpapi.WriteError(w, httpapi.Internal())
}
