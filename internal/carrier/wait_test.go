package carrier

import (
	"context"
	"errors"
	"testing"
)

func TestApplySoon(t *testing.T) {
	early := errors.New("too early")
	other := errors.New("broken")
	isEarly := func(err error) bool { return errors.Is(err, early) }

	t.Run("succeeds once the change is recorded", func(t *testing.T) {
		n := 0
		err := applySoon(context.Background(), func() error {
			n++
			if n < 3 {
				return early
			}
			return nil
		}, isEarly)
		if err != nil || n != 3 {
			t.Fatalf("err %v after %d attempts, want nil after 3", err, n)
		}
	})
	t.Run("gives up after the last pause", func(t *testing.T) {
		n := 0
		err := applySoon(context.Background(), func() error { n++; return early }, isEarly)
		if !errors.Is(err, early) || n != len(waitSteps)+1 {
			t.Fatalf("err %v after %d attempts, want %v after %d", err, n, early, len(waitSteps)+1)
		}
	})
	t.Run("other errors return at once", func(t *testing.T) {
		n := 0
		err := applySoon(context.Background(), func() error { n++; return other }, isEarly)
		if !errors.Is(err, other) || n != 1 {
			t.Fatalf("err %v after %d attempts, want %v after 1", err, n, other)
		}
	})
	t.Run("a finished request stops waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := applySoon(ctx, func() error { n++; cancel(); return early }, isEarly)
		if !errors.Is(err, early) || n != 1 {
			t.Fatalf("err %v after %d attempts, want %v after 1", err, n, early)
		}
	})
}
