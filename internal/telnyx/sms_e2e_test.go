package telnyx_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func TestSMSEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hooks := newReceiver(t, b.verifier, nil)
	c := ctx(t)

	sent, err := b.client.SendMessage(c, telnyx.SendMessageParams{
		From: telnyxsim.DefaultNumbers()[0], To: "+13125550100", Text: "Your table is ready", WebhookURL: hooks.URL + "/sms",
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if !uuidRe.MatchString(sent.ID) || sent.Status() != telnyx.MessageQueued || sent.Direction != "outbound" || sent.Parts != 1 ||
		sent.Encoding != "GSM-7" || sent.Cost == nil || sent.Cost.Currency != "USD" || sent.ReceivedAt.IsZero() || !sent.CompletedAt.IsZero() {
		t.Errorf("queued message: %+v", sent)
	}
	eventually(t, "two delivery webhooks", func() bool { return len(hooks.all()) >= 2 })
	evs := hooks.events(t)
	if len(evs) != 2 || evs[0].Type != telnyx.EventMessageSent || evs[1].Type != telnyx.EventMessageFinalized {
		t.Fatalf("events: %+v", evs)
	}
	for _, ev := range evs {
		if ev.Attempt != 1 || ev.DeliveredTo != hooks.URL+"/sms" || !uuidRe.MatchString(ev.ID) || ev.OccurredAt.IsZero() {
			t.Errorf("envelope: %+v", ev)
		}
	}
	m1, _ := evs[0].Message()
	m2, _ := evs[1].Message()
	if m1.ID != sent.ID || m1.Status() != telnyx.MessageSent || m1.SentAt.IsZero() {
		t.Errorf("sent payload: %+v", m1)
	}
	if m2.Status() != telnyx.MessageDelivered || m2.CompletedAt.IsZero() || len(m2.Errors) != 0 {
		t.Errorf("finalized payload: %+v", m2)
	}
	got, err := b.client.GetMessage(c, sent.ID)
	if err != nil || got.Status() != telnyx.MessageDelivered || got.Text != "Your table is ready" {
		t.Errorf("get: %v %+v", err, got)
	}
	if n := len(hooks.rejections()); n != 0 {
		t.Errorf("%d webhooks failed verification", n)
	}
}

func TestSMSMagicFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hooks := newReceiver(t, b.verifier, nil)
	sent, err := b.client.SendMessage(ctx(t), telnyx.SendMessageParams{From: telnyxsim.DefaultNumbers()[1], To: "+13125550004", Text: "x", WebhookURL: hooks.URL})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "finalized", func() bool { return len(hooks.all()) >= 2 })
	m, err := hooks.events(t)[1].Message()
	if err != nil || m.ID != sent.ID || m.Status() != telnyx.MessageDeliveryFailed || len(m.Errors) != 1 || m.Errors[0].Code != "40300" {
		t.Errorf("failed delivery: %v %+v", err, m)
	}
}

func TestWebhookRetriesCountAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	hooks := newReceiver(t, b.verifier, func(r received, w http.ResponseWriter) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if _, err := b.client.SendMessage(ctx(t), telnyx.SendMessageParams{From: telnyxsim.DefaultNumbers()[0], To: "+13125550100", Text: "x", WebhookURL: hooks.URL}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three webhook requests", func() bool { return len(hooks.all()) >= 3 })
	evs := hooks.events(t)
	if evs[0].Type != telnyx.EventMessageSent || evs[0].Attempt != 1 || evs[1].Type != telnyx.EventMessageSent || evs[1].Attempt != 2 || evs[0].ID != evs[1].ID {
		t.Errorf("retry: %+v %+v", evs[0], evs[1])
	}
	if evs[2].Type != telnyx.EventMessageFinalized || evs[2].Attempt != 1 {
		t.Errorf("after retry: %+v", evs[2])
	}
}

func TestWebhookFailoverToProfile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := newReceiver(t, b.verifier, func(r received, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	profileHook := newReceiver(t, b.verifier, nil)
	c := ctx(t)
	prof, err := b.client.CreateMessagingProfile(c, telnyx.MessagingProfileParams{Name: "p", WebhookURL: &profileHook.URL})
	if err != nil {
		t.Fatal(err)
	}
	nums, _ := b.client.ListAllPhoneNumbers(c, telnyx.PhoneNumberFilter{})
	if _, err := b.client.UpdateNumberMessaging(c, nums[2].ID, telnyx.NumberMessagingUpdate{MessagingProfileID: &prof.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.SendMessage(c, telnyx.SendMessageParams{From: nums[2].PhoneNumber, To: "+13125550100", Text: "x", WebhookURL: down.URL}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "profile webhook", func() bool { return len(profileHook.all()) >= 2 })
	if n := len(down.all()); n != 6 {
		t.Errorf("message URL got %d attempts, want 3 per event", n)
	}
	evs := profileHook.events(t)
	if evs[0].Attempt != 1 || evs[0].DeliveredTo != profileHook.URL {
		t.Errorf("profile delivery: %+v", evs[0])
	}
}

func TestWebhookDuplicateAndReorderFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hooks := newReceiver(t, b.verifier, nil)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultReorderWebhooks, Count: 1})
	if _, err := b.client.SendMessage(ctx(t), telnyx.SendMessageParams{From: telnyxsim.DefaultNumbers()[0], To: "+13125550100", Text: "x", WebhookURL: hooks.URL}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reordered webhooks", func() bool { return len(hooks.all()) >= 2 })
	evs := hooks.events(t)
	if evs[0].Type != telnyx.EventMessageFinalized || evs[1].Type != telnyx.EventMessageSent {
		t.Errorf("order: %s then %s", evs[0].Type, evs[1].Type)
	}

	dup := newReceiver(t, b.verifier, nil)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultDuplicateWebhooks, Count: 1})
	if _, err := b.client.SendMessage(ctx(t), telnyx.SendMessageParams{From: telnyxsim.DefaultNumbers()[0], To: "+13125550100", Text: "y", WebhookURL: dup.URL}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "duplicated webhooks", func() bool { return len(dup.all()) >= 3 })
	evs = dup.events(t)
	if evs[0].ID != evs[1].ID || evs[0].Type != telnyx.EventMessageSent || evs[2].Type != telnyx.EventMessageFinalized {
		t.Errorf("duplicate: %+v", evs)
	}
}

func TestInboundSMS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hooks := newReceiver(t, b.verifier, nil)
	c := ctx(t)
	prof, err := b.client.CreateMessagingProfile(c, telnyx.MessagingProfileParams{Name: "inbound", WebhookURL: &hooks.URL})
	if err != nil {
		t.Fatal(err)
	}
	nums, _ := b.client.ListAllPhoneNumbers(c, telnyx.PhoneNumberFilter{})
	if _, err := b.client.UpdateNumberMessaging(c, nums[0].ID, telnyx.NumberMessagingUpdate{MessagingProfileID: &prof.ID}); err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	code := b.simJSON(t, http.MethodPost, "/_sim/inbound-messages", map[string]string{"from": "+13125550177", "to": nums[0].PhoneNumber, "text": "STOP"}, &created)
	if code != http.StatusCreated || created["direction"] != "inbound" {
		t.Fatalf("inject: HTTP %d %v", code, created)
	}
	eventually(t, "message.received", func() bool { return len(hooks.all()) >= 1 })
	ev := hooks.events(t)[0]
	m, err := ev.Message()
	if ev.Type != telnyx.EventMessageReceived || err != nil || m.Direction != "inbound" || m.Text != "STOP" ||
		m.From.PhoneNumber != "+13125550177" || m.To[0].PhoneNumber != nums[0].PhoneNumber || m.ID != created["id"] {
		t.Errorf("received: %v %+v", err, m)
	}
	if code := b.simJSON(t, http.MethodPost, "/_sim/inbound-messages", map[string]string{"from": "+13125550177", "to": "+13125550199", "text": "x"}, nil); code != 404 {
		t.Errorf("inbound to a foreign number: HTTP %d", code)
	}
	msgs := b.simMessages(t)
	if len(msgs) != 1 || msgs[0]["direction"] != "inbound" {
		t.Errorf("sim messages: %v", msgs)
	}
}
