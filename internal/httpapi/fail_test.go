package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
)

func TestFailMapsErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	notFound := errors.New("no such thing")
	missing := NewError(http.StatusNotFound, CodeNotFound, "thing not found")
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name   string
		ctx    context.Context
		err    error
		status int
	}{
		{"client error passes through", live, fmt.Errorf("wrapped: %w", NewError(http.StatusConflict, "conflict", "taken")), http.StatusConflict},
		{"not found", live, fmt.Errorf("load: %w", notFound), http.StatusNotFound},
		{"request ended while the work waited", gone, fmt.Errorf("begin: %w", context.Canceled), http.StatusServiceUnavailable},
		// A cancellation that is not the request's own is a server fault.
		{"inner cancellation on a live request", live, fmt.Errorf("begin: %w", context.Canceled), http.StatusInternalServerError},
		{"anything else", gone, errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var he *Error
			if !errors.As(Fail(c.ctx, log, c.err, notFound, missing), &he) {
				t.Fatal("Fail did not return an *Error")
			}
			if he.status != c.status {
				t.Fatalf("status %d, want %d", he.status, c.status)
			}
			if c.status == http.StatusServiceUnavailable && he.headers.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}
