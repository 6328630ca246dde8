package messaging

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/phonenum"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"":                                 1,
		strings.Repeat("a", 160):           1,
		strings.Repeat("a", 161):           2,
		strings.Repeat("a", 306):           2,
		strings.Repeat("a", 307):           3,
		strings.Repeat("{", 80):            1, // extended characters count twice
		strings.Repeat("{", 81):            2,
		strings.Repeat("é", 160):           1, // é is in GSM-7
		strings.Repeat("ą", 70):            1, // not GSM-7: UCS-2
		strings.Repeat("ą", 71):            2,
		strings.Repeat("😀", 35):            1, // surrogate pairs
		strings.Repeat("😀", 36):            2,
		"Hello " + strings.Repeat("ж", 65): 2,
	}
	for text, want := range cases {
		if got := Segments(text); got != want {
			t.Errorf("Segments(%d runes of %q…) = %d, want %d", len([]rune(text)), []rune(text + " ")[0], got, want)
		}
	}
}

// FuzzNormalize feeds arbitrary send bodies to the request normalizer: it
// never panics, and whatever it accepts has an E.164 destination.
func FuzzNormalize(f *testing.F) {
	f.Add("+14155550142", "hi", "+13126200100", "", "https://example.com/a.png")
	f.Add("415 555 0142", "", "", "pn-1", "")
	f.Add("+1", "\x00", "++", "x", "javascript:alert(1)")
	s := &Service{}
	f.Fuzz(func(t *testing.T, to, text, from, pnID, media string) {
		in := SendInput{To: to, Text: text, FromNumber: from, PhoneNumberID: pnID, IdempotencyKey: "k"}
		if media != "" {
			in.MediaURLs = []string{media}
		}
		n, err := s.normalize(in)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || he.GetStatus() != 422 {
				t.Fatalf("error is not a 422 envelope: %v", err)
			}
			return
		}
		if e, err := phonenum.E164(n.To); err != nil || e != n.To {
			t.Fatalf("accepted destination %q is not E.164", n.To)
		}
		if n.hash() == "" {
			t.Fatal("empty hash")
		}
	})
}

// stallingCarrier never answers, as if the process died mid-call.
type fakeCarrier struct {
	err   error
	calls int
}

func (c *fakeCarrier) SendMessage(ctx context.Context, m Outbound) (Accepted, error) {
	c.calls++
	if c.err != nil {
		return Accepted{}, c.err
	}
	return Accepted{ProviderID: "prov-" + uuid.NewString(), Status: "queued", Parts: 1}, nil
}

func setup(t *testing.T, d *db.DB, c Carrier) (*Service, string, string) {
	t.Helper()
	team := uuid.NewString()
	now := db.Now()
	if _, err := d.W.Exec(`INSERT INTO teams (id, name, created_at) VALUES ($1, 'T', $2)`, team, now); err != nil {
		t.Fatal(err)
	}
	pn := uuid.NewString()
	if _, err := d.W.Exec(`INSERT INTO phone_numbers (id, team_id, phone_number, provider, provider_number_id, status,
		sms_capable, voice_capable, created_at, updated_at) VALUES ($1, $2, '+13126200100', 'telnyx', 'c1', 'active', TRUE, TRUE, $3, $3)`,
		pn, team, now); err != nil {
		t.Fatal(err)
	}
	s := New(Config{DB: d, Carrier: c, Numbers: numbers.New(numbers.Config{DB: d})}, jobs.NewRegistry())
	return s, team, pn
}

// TestSweepEndsInterruptedSends: a send recorded but never finished (the
// process died during the carrier call) ends failed with outcome_unknown,
// and a retry with its key gets that outcome instead of a second send.
func TestSweepEndsInterruptedSends(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := &fakeCarrier{}
		s, team, pn := setup(t, d, c)
		ctx := context.Background()
		in := SendInput{To: "+14155550142", Text: "hello", IdempotencyKey: "crash-1", PhoneNumberID: pn}
		n, err := s.normalize(in)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.record(ctx, team, in.IdempotencyKey, n.hash(), n)
		if err != nil {
			t.Fatal(err)
		}
		// While in flight, a retry is told to wait.
		_, _, err = s.Send(ctx, team, in)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Code() != CodeInProgress {
			t.Fatalf("retry while in flight: %v", err)
		}
		if got, err := s.SweepInFlight(ctx, time.Now().Add(-time.Hour)); err != nil || got != 0 {
			t.Fatalf("fresh send swept: %d %v", got, err)
		}
		if got, err := s.SweepInFlight(ctx, time.Now().Add(time.Second)); err != nil || got != 1 {
			t.Fatalf("sweep: %d %v", got, err)
		}
		stored, err := messageByID(ctx, d.R, team, m.ID)
		if err != nil || stored.Status != StatusFailed || *stored.ErrorCode != ErrorOutcomeUnknown {
			t.Fatalf("after sweep: %+v %v", stored, err)
		}
		_, replayed, err := s.Send(ctx, team, in)
		if !replayed || !errors.As(err, &he) || he.GetStatus() != 502 {
			t.Fatalf("retry after sweep: replayed=%v %v", replayed, err)
		}
		if c.calls != 0 {
			t.Fatalf("carrier called %d times", c.calls)
		}
	})
}

func TestStatusNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, team, pn := setup(t, d, &fakeCarrier{})
		ctx := context.Background()
		m, _, err := s.Send(ctx, team, SendInput{To: "+14155550142", Text: "x", IdempotencyKey: "o-1", PhoneNumberID: pn})
		if err != nil {
			t.Fatal(err)
		}
		pid := *m.ProviderMessageID
		apply := func(id, status string) {
			t.Helper()
			if err := s.ApplyStatus(ctx, id, "message.finalized", StatusUpdate{ProviderID: pid, Status: status}); err != nil {
				t.Fatal(err)
			}
		}
		apply("e-delivered", "delivered")
		apply("e-sent-late", "sent")
		apply("e-failed-late", "delivery_failed")
		apply("e-delivered", "delivered")
		got, _ := messageByID(ctx, d.R, team, m.ID)
		if got.Status != StatusDelivered || got.ErrorCode != nil || got.DeliveredAt == nil {
			t.Fatalf("after reordered events: %+v", got)
		}
		var n int
		_ = d.R.QueryRow(`SELECT COUNT(*) FROM carrier_events`).Scan(&n)
		if n != 3 {
			t.Fatalf("%d events recorded, want 3 distinct", n)
		}
		// An event for a send not yet recorded asks to be redelivered.
		if err := s.ApplyStatus(ctx, "e-x", "message.sent", StatusUpdate{ProviderID: "unknown", Status: "sent"}); !IsRetryLater(err) {
			t.Fatalf("unknown message: %v", err)
		}
	})
}

func TestCarrierRejectionIsStored(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := &fakeCarrier{err: errors.Join(carriererr.ErrRejected, errors.New("destination blocked"))}
		s, team, pn := setup(t, d, c)
		in := SendInput{To: "+14155550142", Text: "x", IdempotencyKey: "r-1", PhoneNumberID: pn}
		_, _, err := s.Send(context.Background(), team, in)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.GetStatus() != 422 || he.Code() != CodeCarrierRejected {
			t.Fatalf("rejection: %v", err)
		}
		_, replayed, err := s.Send(context.Background(), team, in)
		if !replayed || !errors.As(err, &he) || he.Code() != CodeCarrierRejected || c.calls != 1 {
			t.Fatalf("replay of a rejection: %v %v calls=%d", replayed, err, c.calls)
		}
	})
}
