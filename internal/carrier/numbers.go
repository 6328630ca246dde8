package carrier

import (
	"context"

	"github.com/peakvoice/peakvoice/internal/numbers"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// Inventory adapts the Telnyx client to numbers.Inventory.
type Inventory struct{ C *telnyx.Client }

var _ numbers.Inventory = Inventory{}

// ListNumbers lists every number on the carrier account.
func (i Inventory) ListNumbers(ctx context.Context) ([]numbers.CarrierNumber, error) {
	ns, err := i.C.ListAllPhoneNumbers(ctx, telnyx.PhoneNumberFilter{})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]numbers.CarrierNumber, 0, len(ns))
	for _, n := range ns {
		out = append(out, carrierNumber(n))
	}
	return out, nil
}

// carrierNumber maps a Telnyx number. Telnyx long codes and toll-free
// numbers carry both voice and SMS; short codes carry SMS only.
func carrierNumber(n telnyx.PhoneNumber) numbers.CarrierNumber {
	short := n.PhoneNumberType == "shortcode"
	return numbers.CarrierNumber{ID: n.ID, PhoneNumber: n.PhoneNumber, Active: n.Status == "active",
		SMS: true, Voice: !short, MessagingProfileID: n.MessagingProfileID, ConnectionID: n.ConnectionID}
}

// EnsureMessagingProfile creates the profile whose webhook receives the
// account's message events, or points an existing one at webhookURL.
func (i Inventory) EnsureMessagingProfile(ctx context.Context, existingID, name, webhookURL string) (string, error) {
	if existingID != "" {
		_, err := i.C.UpdateMessagingProfile(ctx, existingID, telnyx.MessagingProfileParams{WebhookURL: &webhookURL})
		if err == nil {
			return existingID, nil
		}
		if !telnyx.IsNotFound(err) {
			return "", wrap(err)
		}
	}
	enabled := true
	p, err := i.C.CreateMessagingProfile(ctx, telnyx.MessagingProfileParams{Name: name, Enabled: &enabled, WebhookURL: &webhookURL})
	if err != nil {
		return "", wrap(err)
	}
	return p.ID, nil
}

// AssignMessagingProfile puts a number on a messaging profile.
func (i Inventory) AssignMessagingProfile(ctx context.Context, numberID, profileID string) error {
	_, err := i.C.UpdateNumberMessaging(ctx, numberID, telnyx.NumberMessagingUpdate{MessagingProfileID: &profileID})
	return wrap(err)
}

// EnsureVoiceApp creates the TeXML application whose voice_url is Peak
// Voice's inbound gate, or points an existing one at the given URLs.
func (i Inventory) EnsureVoiceApp(ctx context.Context, existingID, name, voiceURL, statusURL string) (string, error) {
	p := telnyx.TeXMLAppParams{FriendlyName: name, VoiceURL: voiceURL, VoiceMethod: "post", StatusCallback: statusURL, StatusCallbackMethod: "post"}
	if existingID != "" {
		_, err := i.C.UpdateTeXMLApp(ctx, existingID, p)
		if err == nil {
			return existingID, nil
		}
		if !telnyx.IsNotFound(err) {
			return "", wrap(err)
		}
	}
	app, err := i.C.CreateTeXMLApp(ctx, p)
	if err != nil {
		return "", wrap(err)
	}
	return app.ID, nil
}

// RouteVoice points a number's calls at a TeXML application.
func (i Inventory) RouteVoice(ctx context.Context, numberID, appID string) error {
	_, err := i.C.UpdatePhoneNumber(ctx, numberID, telnyx.PhoneNumberUpdate{ConnectionID: &appID})
	return wrap(err)
}
