package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// TestEmbeddedSimulatorIsWired starts a zero-config server and checks that
// its carrier adapter reaches the embedded simulator, that the simulator's
// signed webhooks verify with the app's verifier, and that sim.json tells
// `peakvoice sim` where to find it.
func TestEmbeddedSimulatorIsWired(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	a := s.app
	ctx := context.Background()
	if a.Sim == nil || a.SimInfo.URL == "" {
		t.Fatal("no embedded simulator")
	}
	nums, err := a.Carrier.ListAllPhoneNumbers(ctx, telnyx.PhoneNumberFilter{})
	if err != nil || len(nums) == 0 {
		t.Fatalf("list numbers through the adapter: %d %v", len(nums), err)
	}
	raw, err := os.ReadFile(filepath.Join(s.cfg.DataDir, SimInfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info SimInfo
	if err := json.Unmarshal(raw, &info); err != nil || info != a.SimInfo {
		t.Fatalf("sim.json %s vs %+v", raw, a.SimInfo)
	}

	// A signed inbound-message webhook from the simulator verifies.
	got := make(chan error, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := a.CarrierVerifier.ReadVerified(r, time.Now())
		select {
		case got <- err:
		default:
		}
	}))
	defer rcv.Close()
	hook := rcv.URL
	profile, err := a.Carrier.CreateMessagingProfile(ctx, telnyx.MessagingProfileParams{Name: "test", WebhookURL: &hook})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Carrier.UpdateNumberMessaging(ctx, nums[0].ID, telnyx.NumberMessagingUpdate{MessagingProfileID: &profile.ID}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"from": "+14155550123", "to": nums[0].PhoneNumber, "text": "hello"})
	res, err := http.Post(a.SimInfo.URL+"/_sim/inbound-messages", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("inject: %d %s", res.StatusCode, out)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("simulator webhook did not verify: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook from the simulator")
	}
}

// TestSimulatorKeyIsStableAcrossRestarts: webhooks signed before a restart
// and verifiers configured from sim.json keep working.
func TestSimulatorKeyIsStableAcrossRestarts(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, dbOptionsSQLite(t))
	a1, err := New(context.Background(), cfg, nilLogger())
	if err != nil {
		t.Fatal(err)
	}
	key := a1.SimInfo.PublicKey
	a1.closeAll()
	a2, err := New(context.Background(), cfg, nilLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a2.closeAll()
	if a2.SimInfo.PublicKey != key {
		t.Fatal("simulator public key changed across restarts")
	}
}

func TestCarrierConfigRules(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	if _, err := ParseServe([]string{"--telnyx-api-key", "KEY123"}, none); err == nil {
		t.Fatal("API key without public key and public URL accepted")
	}
	c, err := ParseServe([]string{"--telnyx-api-key", "KEY123", "--telnyx-public-key", "abc", "--public-url", "https://pv.example.com"}, none)
	if err != nil || !c.RealCarrier() {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseServe([]string{"--public-url", "ftp://x"}, none); err == nil {
		t.Fatal("ftp public URL accepted")
	}
	// A real carrier with a malformed public key fails at start, clearly.
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.TelnyxAPIKey, cfg.TelnyxPublicKey, cfg.PublicURL = "KEY123", "not-base64!", "https://pv.example.com"
	cfg.TelnyxAPIBase = "http://127.0.0.1:1/v2"
	if _, err := New(context.Background(), cfg, nilLogger()); err == nil {
		t.Fatal("malformed Telnyx public key accepted")
	}
}

func TestNumberHelpersOverHTTP(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	acc := s.register(t, "ada@example.com")
	h := bearer(acc.access)
	p := s.do("POST", "/api/v1/numbers/parse", map[string]string{"number": "(415) 555-2671", "default_region": "US"}, h...).expect(t, 200).data(t)
	if p["e164"] != "+14155552671" || p["region"] != "US" || p["valid"] != true {
		t.Fatalf("parse %v", p)
	}
	bad := s.do("POST", "/api/v1/numbers/parse", map[string]string{"number": "banana"}, h...).expect(t, 422)
	if c := bad.errCode(t); c != "invalid_phone_number" {
		t.Fatalf("code %q", c)
	}
	v := s.do("POST", "/api/v1/numbers/validate", map[string]string{"number": "415 555 2671"}, h...).expect(t, 200).data(t)
	if v["valid"] != false || v["reason"] != "missing_country_code" {
		t.Fatalf("validate %v", v)
	}
	f := s.do("POST", "/api/v1/numbers/format", map[string]string{"number": "+14155552671", "format": "RFC3966"}, h...).expect(t, 200).data(t)
	if f["number"] != "tel:+1-415-555-2671" {
		t.Fatalf("format %v", f)
	}
	s.do("POST", "/api/v1/numbers/format", map[string]string{"number": "+14155552671", "format": "WEIRD"}, h...).expect(t, 422)
	s.do("POST", "/api/v1/numbers/parse", map[string]string{"number": "+14155552671"}).expect(t, 401)
}
