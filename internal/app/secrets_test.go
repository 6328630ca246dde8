package app

import (
	"strings"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
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

// TestSecretsStoredOnlyAsHashes reads every text value of every table
// after the secret-bearing flows have run and looks for the secrets
// themselves: passwords, refresh tokens and API keys may only be stored
// as hashes, on both engines.
func TestSecretsStoredOnlyAsHashes(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		acc := s.register(t, "grace@example.com")
		rot := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": acc.refresh}).expect(t, 200).data(t)
		key := apiKey(t, s, acc)
		s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", key).expect(t, 200) // stamps last_used_at
		secrets := map[string]string{
			"password": acc.password, "first refresh token": acc.refresh,
			"rotated refresh token": rot["refresh_token"].(string), "API key": key,
			"API key without its prefix": key[len(key)-20:],
		}

		tables := s.tableNames(t)
		if len(tables) < 5 {
			t.Fatalf("found only tables %v; the scan would prove nothing", tables)
		}
		values := 0
		for _, table := range tables {
			rows, err := s.app.DB.R.Query(`SELECT * FROM ` + table)
			if err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatalf("scan %s: %v", table, err)
				}
				for i, v := range vals {
					var text string
					switch v := v.(type) {
					case string:
						text = v
					case []byte:
						text = string(v)
					default:
						continue
					}
					values++
					for name, secret := range secrets {
						if strings.Contains(text, secret) {
							t.Errorf("the %s is stored in %s.%s", name, table, cols[i])
						}
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
		var hashes int
		if err := s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM api_keys WHERE secret_hash <> ''`).Scan(&hashes); err != nil || hashes != 1 {
			t.Fatalf("api_keys with a hash: %d (%v), want 1", hashes, err)
		}
		t.Logf("scanned %d text values in %d tables", values, len(tables))
	})
}

// tableNames lists the application's tables on either engine.
func (s *testServer) tableNames(t *testing.T) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if s.app.DB.Dialect == db.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := s.app.DB.R.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}
