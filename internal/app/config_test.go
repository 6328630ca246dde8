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

func TestParseServeRecoveryTimings(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	c, err := ParseServe(nil, none)
	if err != nil {
		t.Fatal(err)
	}
	// The defaults are the ones the packages used before these were flags.
	if c.SMSStaleAfter != 2*time.Minute+15*time.Second || c.CallStaleAfter != 2*time.Minute ||
		c.CallReconcileEvery != 30*time.Second || c.JobTimeout != time.Minute || c.JobRescueAfter != 2*time.Minute {
		t.Fatalf("defaults: sms %v, call %v/%v, jobs %v/%v", c.SMSStaleAfter, c.CallStaleAfter, c.CallReconcileEvery, c.JobTimeout, c.JobRescueAfter)
	}
	env := map[string]string{
		"PEAKVOICE_SMS_STALE_AFTER": "20s", "PEAKVOICE_CALL_STALE_AFTER": "5s", "PEAKVOICE_CALL_RECONCILE_EVERY": "2s",
		"PEAKVOICE_JOB_TIMEOUT": "10s", "PEAKVOICE_JOB_RESCUE_AFTER": "12s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err = ParseServe(nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMSStaleAfter != 20*time.Second || c.CallStaleAfter != 5*time.Second || c.CallReconcileEvery != 2*time.Second ||
		c.JobTimeout != 10*time.Second || c.JobRescueAfter != 12*time.Second {
		t.Fatalf("env: %+v", c)
	}
	c, err = ParseServe([]string{"--sms-stale-after", "16s", "--call-reconcile-every", "1s", "--job-rescue-after", "11s"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMSStaleAfter != 16*time.Second || c.CallReconcileEvery != time.Second || c.JobRescueAfter != 11*time.Second || c.JobTimeout != 10*time.Second {
		t.Fatalf("flags must beat env: %+v", c)
	}

	for _, args := range [][]string{
		{"--sms-stale-after", "15s"},                          // not more than the send timeout
		{"--sms-stale-after", "-1m"},                          // negative
		{"--call-stale-after", "-1s"},                         // negative
		{"--call-reconcile-every", "-1s"},                     // negative
		{"--call-stale-after", "0s"},                          // zero
		{"--job-timeout", "0s"},                               // zero
		{"--job-timeout", "5m"},                               // beyond the default rescue time
		{"--job-timeout", "10s", "--job-rescue-after", "10s"}, // not more than the timeout
		{"--job-rescue-after", "30s"},                         // below the default job timeout
	} {
		if _, err := ParseServe(args, none); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	_, err = ParseServe(nil, func(k string) (string, bool) {
		if k == "PEAKVOICE_JOB_RESCUE_AFTER" {
			return "soon", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "PEAKVOICE_JOB_RESCUE_AFTER") {
		t.Fatalf("bad duration env: %v", err)
	}
	// A config built in code may leave them zero: the packages' defaults.
	if err := (Config{DataDir: "x", Mode: ModeDevelopment, LogLevel: "info", LogFormat: "text"}).validate(); err != nil {
		t.Fatalf("zero timings refused: %v", err)
	}
}
