package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/peakvoice/peakvoice/internal/app"
	"github.com/peakvoice/peakvoice/internal/db"
)

// target is a Peak Voice server under test: started here in-process, or
// an external one at --url whose data directory is readable.
type target struct {
	engine  string // sqlite or postgres
	base    string
	pid     int // process whose RSS is reported; 0 when unknown
	app     *app.App
	db      *db.DB // for seeding; the app's own when in-process
	ownDB   bool
	simKey  ed25519.PrivateKey
	toolKey []byte
	stop    func()
	runFor  time.Duration // the scenario duration, which bounds settling
	// Set by setupAccount.
	apiKey, teamID, agentID, numberID, number string
	cl                                        *client
}

// secretsFile mirrors what a development server writes into its data dir.
type secretsFile struct {
	WebhookSigningSecret string `json:"webhook_signing_secret"`
	SimSigningKey        string `json:"sim_signing_key"`
}

func readSecrets(dir string) (ed25519.PrivateKey, []byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("read the server's secrets (is --data-dir right?): %w", err)
	}
	var s secretsFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil, err
	}
	seed, err := base64.RawURLEncoding.DecodeString(s.SimSigningKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, nil, errors.New("secrets.json: sim_signing_key is malformed")
	}
	return ed25519.NewKeyFromSeed(seed), []byte(s.WebhookSigningSecret), nil
}

// startInProcess builds and runs the app on a fresh data directory (and,
// for PostgreSQL, a fresh schema) with call limits raised for load.
func startInProcess(ctx context.Context, o *options, engine string) (*target, error) {
	dir, err := os.MkdirTemp(o.tmp, "server-"+engine+"-")
	if err != nil {
		return nil, err
	}
	dbURL := ""
	dropSchema := func() {}
	if engine == "postgres" {
		dbURL, dropSchema, err = freshSchema(ctx, o.pgURL)
		if err != nil {
			return nil, err
		}
	}
	cfg := app.Config{
		Addr: "127.0.0.1:0", DataDir: dir, DatabaseURL: dbURL, AllowRegistration: true,
		Mode: app.ModeDevelopment, SimAddr: "127.0.0.1:0", TelnyxAPIBase: "https://api.telnyx.com/v2",
		PoolDrain: time.Hour, PoolCooldown: 24 * time.Hour,
		CallsPerMinute: 1e7, CallBurst: 1_000_000, MaxLiveCalls: 1_000_000,
		TeamRate: -1, TeamInFlight: -1, // one bench team stands in for many
		LogLevel: "error", LogFormat: "text", ShutdownTimeout: 10 * time.Second,
	}
	runCtx, cancel := context.WithCancel(ctx)
	a, err := app.New(runCtx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		dropSchema()
		return nil, err
	}
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- a.Run(runCtx, func(addr string) { addrc <- addr }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		cancel()
		dropSchema()
		return nil, err
	}
	key, tool, err := readSecrets(dir)
	if err != nil {
		cancel()
		return nil, err
	}
	t := &target{engine: engine, base: "http://" + addr, pid: os.Getpid(), app: a, db: a.DB, simKey: key, toolKey: tool}
	t.stop = func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(20 * time.Second):
		}
		dropSchema()
	}
	return t, nil
}

// attachExternal targets a running server at o.url; seeding needs its
// database (--data-dir for SQLite, --database-url for PostgreSQL).
func attachExternal(ctx context.Context, o *options) (*target, error) {
	key, tool, err := readSecrets(o.dataDir)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, db.Options{URL: o.pgURL, DataDir: o.dataDir})
	if err != nil {
		return nil, err
	}
	engine := "sqlite"
	if o.pgURL != "" {
		engine = "postgres"
	}
	return &target{engine: engine, base: o.url, pid: o.serverPID, db: d, ownDB: true, simKey: key, toolKey: tool,
		stop: func() { d.Close() }}, nil
}

// freshSchema creates an empty schema on the server at base and returns a
// URL that uses it, and a func that drops it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "pvbench_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	}
	return u.String(), drop, nil
}

// setupAccount registers a team through the API, makes an API key, claims
// a simulator number and binds a new agent to it.
func (t *target) setupAccount(ctx context.Context, o *options) error {
	t.cl = newClient(t.base, o.concurrency+8)
	t.runFor = o.duration
	email := fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano())
	var reg struct {
		Data struct {
			AccessToken string `json:"access_token"`
			Team        struct{ ID string }
		}
	}
	if _, err := t.cl.do(ctx, "POST", "/api/v1/auth/register", mustJSON(map[string]string{
		"email": email, "password": "correct horse battery staple", "team_name": "Bench"}), &reg); err != nil {
		return err
	}
	t.teamID = reg.Data.Team.ID
	bearer := []string{"Authorization", "Bearer " + reg.Data.AccessToken}
	var key struct{ Data struct{ Key string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/auth/api-keys", mustJSON(map[string]string{"name": "bench"}), &key, bearer...); err != nil {
		return err
	}
	t.apiKey = key.Data.Key
	var avail struct {
		Data []struct {
			PhoneNumber string `json:"phone_number"`
		}
	}
	if _, err := t.cl.do(ctx, "GET", "/api/v1/phone-numbers/available", nil, &avail, t.auth()...); err != nil {
		return err
	}
	if len(avail.Data) == 0 {
		return errors.New("the simulator offers no numbers")
	}
	var pn struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/phone-numbers", mustJSON(map[string]string{"phone_number": avail.Data[0].PhoneNumber}), &pn, t.auth()...); err != nil {
		return err
	}
	t.numberID, t.number = pn.Data.ID, avail.Data[0].PhoneNumber
	var ag struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/agents", mustJSON(map[string]any{
		"name": "Front desk", "channels": []string{"voice_outbound", "voice_inbound"},
		"instructions": "You call {{customer_name}} about order {{order_id}}. Caller status {{caller_match_status}}.",
	}), &ag, t.auth()...); err != nil {
		return err
	}
	t.agentID = ag.Data.ID
	_, err := t.cl.do(ctx, "PATCH", "/api/v1/phone-numbers/"+t.numberID, mustJSON(map[string]string{"voice_agent_id": t.agentID}), &struct{}{}, t.auth()...)
	return err
}

func (t *target) auth() []string { return []string{"X-API-Key", t.apiKey} }

func (t *target) close() {
	if t.cl != nil {
		t.cl.close()
	}
	if t.stop != nil {
		t.stop()
	}
}
