package app

import (
	"strings"
	"testing"
	"time"
)

func TestParseServeDefaultsEnvAndFlags(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	c, err := ParseServe(nil, none)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.DatabaseURL != "" || !c.AllowRegistration || c.ShutdownTimeout != 20*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	env := map[string]string{
		"PEAKVOICE_ADDR": "127.0.0.1:9999", "PEAKVOICE_DATA_DIR": "/tmp/pv", "PEAKVOICE_DATABASE_URL": "postgres://u@h/db",
		"PEAKVOICE_ALLOW_REGISTRATION": "false", "PEAKVOICE_SHUTDOWN_TIMEOUT": "3s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err = ParseServe(nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DataDir != "/tmp/pv" || c.DatabaseURL != "postgres://u@h/db" || c.AllowRegistration || c.ShutdownTimeout != 3*time.Second {
		t.Fatalf("env: %+v", c)
	}
	c, err = ParseServe([]string{"--addr", "127.0.0.1:7000", "--allow-registration=true"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || !c.AllowRegistration {
		t.Fatalf("flags must beat env: %+v", c)
	}
}

func TestParseServeRejectsBadValues(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{
		{"--database-url", "mysql://x"},
		{"--jwt-secret", "short"},
		{"--log-level", "loud"},
		{"--log-format", "xml"},
		{"stray"},
	} {
		if _, err := ParseServe(args, none); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	_, err := ParseServe(nil, func(k string) (string, bool) {
		if k == "PEAKVOICE_ALLOW_REGISTRATION" {
			return "maybe", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "PEAKVOICE_ALLOW_REGISTRATION") {
		t.Fatalf("bad bool env: %v", err)
	}
}

func TestProductionModeNeedsExplicitSecrets(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	if _, err := ParseServe([]string{"--mode", "production"}, none); err == nil {
		t.Fatal("production without secrets accepted")
	}
	secret := strings.Repeat("s", 32)
	c, err := ParseServe([]string{"--mode", "production", "--jwt-secret", secret, "--webhook-signing-secret", secret,
		"--telnyx-api-key", "KEY1", "--telnyx-public-key", "pk", "--public-url", "https://pv.example.com"}, none)
	if err != nil || c.Mode != ModeProduction {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseServe([]string{"--mode", "staging"}, none); err == nil {
		t.Fatal("unknown mode accepted")
	}
}
