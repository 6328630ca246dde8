package telnyx_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
)

var (
	assistantIDRe = regexp.MustCompile(`^assistant-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	numericIDRe   = regexp.MustCompile(`^[0-9]{15,20}$`)
	uuidRe        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	callIDRe      = regexp.MustCompile(`^v3:[A-Za-z0-9_-]{20,}$`)
)

func TestAssistantLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)

	target, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "Specialist", Instructions: "Help with billing."})
	if err != nil {
		t.Fatalf("create target: %v", err)
	}
	p := telnyx.AssistantParams{
		Name:                           "Front desk",
		Instructions:                   "You help {{customer_name}}.",
		Greeting:                       str("Hello {{customer_name}}"),
		DynamicVariables:               map[string]string{"customer_name": "there"},
		DynamicVariablesWebhookURL:     str("https://example.invalid/dv"),
		DynamicVariablesWebhookTimeout: 800 * time.Millisecond,
		Tools: []telnyx.Tool{
			{Type: telnyx.ToolWebhook, Webhook: &telnyx.WebhookTool{Name: "lookup", Description: "Look up", URL: "https://example.invalid/lookup",
				BodyParameters: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}},
			{Type: telnyx.ToolHandoff, Handoff: &telnyx.HandoffTool{VoiceMode: "unified", Assistants: []telnyx.HandoffTarget{{ID: target.ID, Name: "Specialist"}}}},
			{Type: telnyx.ToolHangup},
		},
		Telephony: &telnyx.TelephonySettings{TimeLimitSecs: 600},
	}
	a, err := b.client.CreateAssistant(c, p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !assistantIDRe.MatchString(a.ID) {
		t.Errorf("id %q does not look like assistant-<uuid>", a.ID)
	}
	if a.Name != "Front desk" || a.Greeting != "Hello {{customer_name}}" || a.DynamicVariables["customer_name"] != "there" {
		t.Errorf("round trip lost fields: %+v", a)
	}
	if a.DynamicVariablesWebhookTimeout != 800*time.Millisecond {
		t.Errorf("timeout = %v", a.DynamicVariablesWebhookTimeout)
	}
	if len(a.Tools) != 3 || a.Tools[0].Webhook == nil || a.Tools[0].Webhook.Name != "lookup" ||
		a.Tools[1].Handoff == nil || a.Tools[1].Handoff.Assistants[0].ID != target.ID || a.Tools[2].Type != telnyx.ToolHangup {
		t.Errorf("tools did not round-trip: %+v", a.Tools)
	}
	if a.Telephony == nil || !numericIDRe.MatchString(a.Telephony.DefaultTeXMLAppID) || a.Telephony.TimeLimitSecs != 600 {
		t.Errorf("telephony settings: %+v", a.Telephony)
	}
	if a.Messaging == nil || !uuidRe.MatchString(a.Messaging.DefaultMessagingProfileID) {
		t.Errorf("messaging settings: %+v", a.Messaging)
	}
	if a.Model == "" || a.VersionID == "" || a.CreatedAt.IsZero() {
		t.Errorf("server fields missing: model=%q version=%q created=%v", a.Model, a.VersionID, a.CreatedAt)
	}
	// The auto-created TeXML app is a real connection.
	if _, err := b.client.GetTeXMLApp(c, a.Telephony.DefaultTeXMLAppID); err != nil {
		t.Errorf("default TeXML app: %v", err)
	}

	got, err := b.client.GetAssistant(c, a.ID)
	if err != nil || got.Instructions != p.Instructions {
		t.Fatalf("get: %v %+v", err, got)
	}

	up, err := b.client.UpdateAssistant(c, a.ID, telnyx.AssistantParams{Instructions: "New instructions", VersionName: "v2"})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if up.Instructions != "New instructions" || up.Name != "Front desk" || up.VersionID == a.VersionID || up.VersionName != "v2" {
		t.Errorf("update result: %+v", up)
	}
	if up.Telephony == nil || up.Telephony.DefaultTeXMLAppID != a.Telephony.DefaultTeXMLAppID {
		t.Errorf("update lost the default TeXML app: %+v", up.Telephony)
	}
	// An unpromoted update adds a version but leaves main alone.
	draft, err := b.client.UpdateAssistant(c, a.ID, telnyx.AssistantParams{Instructions: "Draft", PromoteToMain: new(bool)})
	if err != nil {
		t.Fatalf("draft update: %v", err)
	}
	main, err := b.client.GetAssistant(c, a.ID)
	if err != nil || main.Instructions != "New instructions" || main.VersionID != up.VersionID {
		t.Errorf("main after draft = %+v, %v", main, err)
	}
	versions, err := b.client.ListAssistantVersions(c, a.ID)
	if err != nil {
		t.Fatalf("versions: %v", err)
	}
	ids := map[string]bool{}
	for _, v := range versions {
		ids[v.VersionID] = true
	}
	if len(versions) != 3 || !ids[a.VersionID] || !ids[up.VersionID] || !ids[draft.VersionID] {
		t.Errorf("versions = %d %v", len(versions), ids)
	}

	if err := b.client.DeleteAssistant(c, a.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := b.client.GetAssistant(c, a.ID); !telnyx.IsNotFound(err) {
		t.Errorf("get after delete: want NotFound, got %v", err)
	}
	if err := b.client.DeleteAssistant(c, a.ID); !telnyx.IsNotFound(err) {
		t.Errorf("second delete: want NotFound, got %v", err)
	}
}

func TestAssistantValidationError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.CreateAssistant(ctx(t), telnyx.AssistantParams{Name: "No instructions"})
	var te *telnyx.Error
	if !telnyx.IsInvalidRequest(err) || !asError(err, &te) {
		t.Fatalf("want InvalidRequest, got %v", err)
	}
	if te.Status != 422 || te.Source != "/body/instructions" || te.Detail != "Field required" {
		t.Errorf("error fields: %+v", te)
	}
	_, err = b.client.CreateAssistant(ctx(t), telnyx.AssistantParams{Name: "x", Instructions: "y",
		Tools: []telnyx.Tool{{Type: telnyx.ToolHandoff, Handoff: &telnyx.HandoffTool{}}}})
	if !telnyx.IsInvalidRequest(err) {
		t.Errorf("handoff without targets: want InvalidRequest, got %v", err)
	}
}

func TestPhoneNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	page, err := b.client.ListPhoneNumbers(c, telnyx.PhoneNumberFilter{PageSize: 2})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(page.Numbers) != 2 || page.Meta.TotalResults != 5 || page.Meta.TotalPages != 3 || page.Meta.PageSize != 2 {
		t.Errorf("page = %d numbers, meta %+v", len(page.Numbers), page.Meta)
	}
	all, err := b.client.ListAllPhoneNumbers(c, telnyx.PhoneNumberFilter{PageSize: 2})
	if err != nil || len(all) != 5 {
		t.Fatalf("list all: %d %v", len(all), err)
	}
	n := all[0]
	if !numericIDRe.MatchString(n.ID) || n.Status != "active" || n.ConnectionID != "" || n.PhoneNumber[0] != '+' {
		t.Errorf("number: %+v", n)
	}
	filtered, err := b.client.ListPhoneNumbers(c, telnyx.PhoneNumberFilter{PhoneNumber: "4152360"})
	if err != nil || len(filtered.Numbers) != 2 {
		t.Errorf("filter by digits: %v %+v", err, filtered)
	}
	_, err = b.client.ListPhoneNumbers(c, telnyx.PhoneNumberFilter{PageSize: 251})
	var te *telnyx.Error
	if !telnyx.IsInvalidRequest(err) || !asError(err, &te) || te.Source != "page[size]" || te.Status != 400 {
		t.Errorf("page size 251: %v", err)
	}

	app, err := b.client.CreateTeXMLApp(c, telnyx.TeXMLAppParams{FriendlyName: "Inbound", VoiceURL: "https://example.invalid/texml"})
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	up, err := b.client.UpdatePhoneNumber(c, n.ID, telnyx.PhoneNumberUpdate{ConnectionID: &app.ID, Tags: []string{"peakvoice"}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if up.ConnectionID != app.ID || up.ConnectionName != "Inbound" || len(up.Tags) != 1 {
		t.Errorf("updated: %+v", up)
	}
	byConn, err := b.client.ListPhoneNumbers(c, telnyx.PhoneNumberFilter{ConnectionID: app.ID})
	if err != nil || len(byConn.Numbers) != 1 || byConn.Numbers[0].ID != n.ID {
		t.Errorf("filter by connection: %v %+v", err, byConn)
	}
	got, err := b.client.GetPhoneNumber(c, n.ID)
	if err != nil || got.ConnectionID != app.ID {
		t.Errorf("get: %v %+v", err, got)
	}
	if _, err := b.client.UpdatePhoneNumber(c, n.ID, telnyx.PhoneNumberUpdate{ConnectionID: str("999")}); !telnyx.IsInvalidRequest(err) {
		t.Errorf("unknown connection: want InvalidRequest, got %v", err)
	}
	if _, err := b.client.GetPhoneNumber(c, "1000000000000000001"); !telnyx.IsNotFound(err) {
		t.Errorf("unknown number: want NotFound, got %v", err)
	}
	detached, err := b.client.UpdatePhoneNumber(c, n.ID, telnyx.PhoneNumberUpdate{ConnectionID: str("")})
	if err != nil || detached.ConnectionID != "" {
		t.Errorf("detach: %v %+v", err, detached)
	}

	prof, err := b.client.CreateMessagingProfile(c, telnyx.MessagingProfileParams{Name: "SMS", WebhookURL: str("https://example.invalid/sms")})
	if err != nil || !uuidRe.MatchString(prof.ID) || prof.WebhookURL != "https://example.invalid/sms" || !prof.Enabled {
		t.Fatalf("create profile: %v %+v", err, prof)
	}
	ms, err := b.client.UpdateNumberMessaging(c, n.ID, telnyx.NumberMessagingUpdate{MessagingProfileID: &prof.ID})
	if err != nil || ms.MessagingProfileID != prof.ID || ms.PhoneNumber != n.PhoneNumber {
		t.Errorf("messaging update: %v %+v", err, ms)
	}
	ms2, err := b.client.GetNumberMessaging(c, n.ID)
	if err != nil || ms2.MessagingProfileID != prof.ID {
		t.Errorf("messaging get: %v %+v", err, ms2)
	}
	got, _ = b.client.GetPhoneNumber(c, n.ID)
	if got.MessagingProfileID != prof.ID || got.MessagingProfileName != "SMS" {
		t.Errorf("number after messaging update: %+v", got)
	}
	if _, err := b.client.UpdateNumberMessaging(c, n.ID, telnyx.NumberMessagingUpdate{MessagingProfileID: str("00000000-0000-4000-8000-000000000000")}); !telnyx.IsInvalidRequest(err) {
		t.Errorf("unknown profile: want InvalidRequest, got %v", err)
	}
	p2, err := b.client.UpdateMessagingProfile(c, prof.ID, telnyx.MessagingProfileParams{WebhookURL: str("https://example.invalid/other")})
	if err != nil || p2.WebhookURL != "https://example.invalid/other" || p2.Name != "SMS" {
		t.Errorf("update profile: %v %+v", err, p2)
	}
	if _, err := b.client.GetMessagingProfile(c, prof.ID); err != nil {
		t.Errorf("get profile: %v", err)
	}
}

func TestTeXMLApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	app, err := b.client.CreateTeXMLApp(c, telnyx.TeXMLAppParams{FriendlyName: "App", VoiceURL: "https://example.invalid/a", StatusCallback: "https://example.invalid/s"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !numericIDRe.MatchString(app.ID) || app.VoiceMethod != "post" || !app.Active || app.StatusCallback != "https://example.invalid/s" {
		t.Errorf("created: %+v", app)
	}
	up, err := b.client.UpdateTeXMLApp(c, app.ID, telnyx.TeXMLAppParams{VoiceURL: "https://example.invalid/b", VoiceMethod: "get"})
	if err != nil || up.VoiceURL != "https://example.invalid/b" || up.VoiceMethod != "get" || up.FriendlyName != "App" {
		t.Errorf("update: %v %+v", err, up)
	}
	got, err := b.client.GetTeXMLApp(c, app.ID)
	if err != nil || got.VoiceURL != up.VoiceURL {
		t.Errorf("get: %v %+v", err, got)
	}
	if _, err := b.client.CreateTeXMLApp(c, telnyx.TeXMLAppParams{FriendlyName: "No URL"}); !telnyx.IsInvalidRequest(err) {
		t.Errorf("missing voice_url: want InvalidRequest, got %v", err)
	}
	if _, err := b.client.UpdateTeXMLApp(c, app.ID, telnyx.TeXMLAppParams{VoiceMethod: "put"}); !telnyx.IsInvalidRequest(err) {
		t.Errorf("bad method: want InvalidRequest, got %v", err)
	}
	if _, err := b.client.GetTeXMLApp(c, "42"); !telnyx.IsNotFound(err) {
		t.Errorf("unknown app: want NotFound, got %v", err)
	}
}
