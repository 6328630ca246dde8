package telnyx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func asError(err error, target **telnyx.Error) bool { return errors.As(err, target) }

func sendParams(b *bundle) telnyx.SendMessageParams {
	return telnyx.SendMessageParams{From: telnyxsim.DefaultNumbers()[0], To: "+13125550100", Text: "hi"}
}

func TestAuthFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := telnyx.New(telnyx.Config{BaseURL: b.srv.URL + "/v2", APIKey: "wrong"})
	_, err := bad.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{})
	var te *telnyx.Error
	if !telnyx.IsAuth(err) || !asError(err, &te) {
		t.Fatalf("want Auth error, got %v", err)
	}
	if te.Status != 401 || te.Code != "10009" || te.Title != "Authentication failed" {
		t.Errorf("error fields: %+v", te)
	}
	if telnyx.IsTemporary(err) {
		t.Error("auth failures are not temporary")
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	_, err := b.client.GetMessage(c, "40385f64-5717-4562-b3fc-2c963f66afa6")
	var te *telnyx.Error
	if !telnyx.IsNotFound(err) || !asError(err, &te) || te.Code != "10005" || te.Status != 404 {
		t.Errorf("message: %v", err)
	}
	if _, err := b.client.FindConversationByCall(c, "v3:nope"); !telnyx.IsNotFound(err) {
		t.Errorf("conversation: %v", err)
	}
	if _, err := b.client.GetRecording(c, "40385f64-5717-4562-b3fc-2c963f66afa6"); !telnyx.IsNotFound(err) {
		t.Errorf("recording: %v", err)
	}
	if err := b.client.HangupCall(c, "v3:nope"); !telnyx.IsNotFound(err) {
		t.Errorf("hangup: %v", err)
	}
	if _, err := b.client.GetAssistant(c, ""); !telnyx.IsInvalidRequest(err) {
		t.Errorf("empty id should be refused locally, got %v", err)
	}
}

func TestInvalidRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := sendParams(b)
	p.To = "3125550100"
	_, err := b.client.SendMessage(ctx(t), p)
	var te *telnyx.Error
	if !telnyx.IsInvalidRequest(err) || !asError(err, &te) {
		t.Fatalf("want InvalidRequest, got %v", err)
	}
	if te.Status != 422 || te.Code != "10016" || te.Source != "/to" {
		t.Errorf("error fields: %+v", te)
	}
	p = sendParams(b)
	p.From = "+14155550100" // valid, but not ours
	if _, err := b.client.SendMessage(ctx(t), p); !telnyx.IsInvalidRequest(err) {
		t.Errorf("foreign from: %v", err)
	}
}

func TestRateLimitedGETIsRetriedAfterRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 429, RetryAfter: 1, Count: 1, Method: "GET", PathPrefix: "/v2/phone_numbers"})
	page, err := b.client.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{})
	if err != nil || len(page.Numbers) != 5 {
		t.Fatalf("want success after retry, got %v", err)
	}
	if left := b.faults(t); len(left) != 0 {
		t.Errorf("fault not consumed: %+v", left)
	}
}

func TestRateLimitedPOSTIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 429, RetryAfter: 3, Count: 1, PathPrefix: "/v2/messages"})
	_, err := b.client.SendMessage(ctx(t), sendParams(b))
	var te *telnyx.Error
	if !telnyx.IsRateLimited(err) || !asError(err, &te) {
		t.Fatalf("want RateLimited, got %v", err)
	}
	if te.RetryAfter != 3*time.Second || te.Code != "10011" || telnyx.RetryAfter(err) != 3*time.Second {
		t.Errorf("error fields: %+v", te)
	}
	if n := len(b.simMessages(t)); n != 0 {
		t.Errorf("sim holds %d messages, want 0", n)
	}
	// The next send goes through: exactly one message exists.
	if _, err := b.client.SendMessage(ctx(t), sendParams(b)); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if n := len(b.simMessages(t)); n != 1 {
		t.Errorf("sim holds %d messages, want 1", n)
	}
}

func TestRetryAfterBeyondCapIsReturned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 429, RetryAfter: 60, Count: 1})
	_, err := b.client.GetPhoneNumber(ctx(t), "x")
	if !telnyx.IsRateLimited(err) || telnyx.RetryAfter(err) != time.Minute {
		t.Fatalf("want RateLimited with 60s, got %v", err)
	}
}

func TestUnavailableExhaustsRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 5})
	_, err := b.client.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{})
	var te *telnyx.Error
	if !telnyx.IsUnavailable(err) || !asError(err, &te) || te.Status != 503 || te.Code != "10037" {
		t.Fatalf("want Unavailable 503, got %v", err)
	}
	// One attempt plus the default two retries consumed three of five.
	left := b.faults(t)
	if len(left) != 1 || left[0].Count != 2 {
		t.Errorf("faults left: %+v", left)
	}
}

func TestServerErrorOnPOSTIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 500, Count: 2})
	_, err := b.client.CreateTeXMLApp(ctx(t), telnyx.TeXMLAppParams{FriendlyName: "a", VoiceURL: "https://example.invalid/"})
	if !telnyx.IsUnavailable(err) {
		t.Fatalf("want Unavailable, got %v", err)
	}
	if left := b.faults(t); len(left) != 1 || left[0].Count != 1 {
		t.Errorf("POST was retried; faults left: %+v", left)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultUnreachable, Count: 1, Method: "GET"})
	if _, err := b.client.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{}); err != nil {
		t.Fatalf("GET should survive one dropped connection: %v", err)
	}
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultUnreachable, Count: 1, Method: "POST"})
	_, err := b.client.SendMessage(ctx(t), sendParams(b))
	var te *telnyx.Error
	if !telnyx.IsUnavailable(err) || !asError(err, &te) || te.Status != 0 || te.Err == nil {
		t.Fatalf("want transport Unavailable, got %v", err)
	}
	if n := len(b.simMessages(t)); n != 0 {
		t.Errorf("dropped POST created %d messages", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	base := dead.URL
	dead.Close()
	c := telnyx.New(telnyx.Config{BaseURL: base + "/v2", APIKey: "k", RetryDelay: time.Millisecond})
	_, err := c.GetMessage(ctx(t), "m")
	if !telnyx.IsUnavailable(err) || !telnyx.IsTemporary(err) {
		t.Fatalf("want Unavailable, got %v", err)
	}
}

func TestClientTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultLatency, LatencyMS: 5000, Count: 1})
	c := telnyx.New(telnyx.Config{BaseURL: b.srv.URL + "/v2", APIKey: "KEYtest", MaxRetries: -1,
		HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	_, err := c.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{})
	if !telnyx.IsUnavailable(err) {
		t.Fatalf("want Unavailable on timeout, got %v", err)
	}
	// Latency faults delay but still answer.
	b.addFault(t, telnyxsim.Fault{Kind: telnyxsim.FaultLatency, LatencyMS: 20, Count: 1})
	if _, err := b.client.ListPhoneNumbers(ctx(t), telnyx.PhoneNumberFilter{}); err != nil {
		t.Errorf("latency fault: %v", err)
	}
}

func TestFaultValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if code := b.simJSON(t, http.MethodPost, "/_sim/faults", telnyxsim.Fault{Kind: "explode"}, nil); code != 422 {
		t.Errorf("unknown kind: HTTP %d", code)
	}
	if code := b.simJSON(t, http.MethodPost, "/_sim/faults", telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 200}, nil); code != 422 {
		t.Errorf("status 200: HTTP %d", code)
	}
}
