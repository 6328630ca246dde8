package app

import (
	"strings"
	"testing"
	"time"
)

// TestNoSecretInLogs runs the flows that handle secrets — registration,
// sign-in, refresh, API keys, signed webhooks, carrier traffic — with debug
// logging, then scans every log line for the secrets themselves.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.LogLevel, cfg.LogFormat = "debug", "json"
	s := startServerLogging(t, cfg, NewLogger(cfg, &buf))

	acc := s.register(t, "ada@example.com")
	s.do("POST", "/api/v1/auth/login", map[string]string{"email": acc.email, "password": "wrong password here"}).expect(t, 401)
	s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": acc.refresh}).expect(t, 200)
	key := apiKey(t, s, acc)
	s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", key).expect(t, 200)
	s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", key+"x").expect(t, 401)
	pnID, _ := s.claimNumber(t, acc)
	sink := newEventSink(t)
	m := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550142", "text": "hi", "idempotency_key": "s-1",
		"phone_number_id": pnID, "webhook_url": sink.srv.URL}, bearer(acc.access)...).expect(t, 201).data(t)
	s.waitMessage(t, acc, m["id"].(string), "delivered")
	sink.waitFor(t, "sms.delivered")
	time.Sleep(100 * time.Millisecond)
	s.shutdown()

	secrets, err := loadDevSecrets(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatal("no request logs captured; the scan would prove nothing")
	}
	for name, secret := range map[string]string{
		"password": acc.password, "wrong password": "wrong password here", "access token": acc.access,
		"refresh token": acc.refresh, "API key": key, "JWT secret": secrets.JWTSecret,
		"webhook signing secret": secrets.WebhookSigningSecret, "simulator key": secrets.SimSigningKey,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
	// The API key's secret part, even without its prefix.
	if strings.Contains(logs, key[len(key)-20:]) {
		t.Error("part of the API key secret appears in the logs")
	}
}
