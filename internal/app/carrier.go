package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// SimInfoFile is written to the data directory when the embedded simulator
// runs, so `peakvoice sim …` finds it with no flags.
const SimInfoFile = "sim.json"

// SimInfo says where the embedded simulator listens.
type SimInfo struct {
	URL       string `json:"url"`      // control API base, e.g. http://127.0.0.1:41234
	APIBase   string `json:"api_base"` // Telnyx API base, URL + "/v2"
	APIKey    string `json:"api_key"`
	PublicKey string `json:"public_key"`
}

// setupCarrier connects the app to Telnyx, or starts the embedded simulator
// on loopback and points the same adapter at it, so every feature runs the
// same code path either way.
func (a *App) setupCarrier(secrets devSecrets) error {
	if a.cfg.RealCarrier() {
		v, err := telnyx.NewVerifier(a.cfg.TelnyxPublicKey)
		if err != nil {
			return fmt.Errorf("--telnyx-public-key: %w", err)
		}
		a.Carrier = telnyx.New(telnyx.Config{BaseURL: a.cfg.TelnyxAPIBase, APIKey: a.cfg.TelnyxAPIKey})
		a.CarrierVerifier = v
		return nil
	}
	seed, err := base64.RawURLEncoding.DecodeString(secrets.SimSigningKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("simulator signing key in %s is malformed", secretsFile)
	}
	simCfg := telnyxsim.Config{
		PrivateKey: ed25519.NewKeyFromSeed(seed),
		StepDelay:  a.cfg.simStepDelay,
		Logger:     a.log.With("component", "telnyx-sim"),
	}
	if a.cfg.simStepDelay > 0 {
		// Tests speed the simulator up; on a loaded CI machine running the
		// race detector they also need it to wait longer for this server
		// than the real carrier would.
		simCfg.WebhookTimeout = 10 * time.Second
	}
	sim, err := telnyxsim.New(simCfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.SimAddr)
	if err != nil {
		sim.Close()
		return fmt.Errorf("simulator: listen on %s: %w", a.cfg.SimAddr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		sim.Close()
		return fmt.Errorf("--sim-addr must be a loopback address, got %s", ln.Addr())
	}
	a.Sim, a.simLn = sim, ln
	info := SimInfo{URL: "http://" + ln.Addr().String(), APIKey: sim.APIKey(), PublicKey: sim.PublicKey()}
	info.APIBase = info.URL + "/v2"
	a.SimInfo = info
	v, err := telnyx.NewVerifier(sim.PublicKey())
	if err != nil {
		return err
	}
	a.Carrier = telnyx.New(telnyx.Config{BaseURL: info.APIBase, APIKey: info.APIKey})
	a.CarrierVerifier = v
	if a.cfg.DataDir != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(filepath.Join(a.cfg.DataDir, SimInfoFile), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", SimInfoFile, err)
		}
	}
	return nil
}

// serveSim runs the embedded simulator until ctx ends; the returned func
// waits for it to stop.
func (a *App) serveSim(ctx context.Context) (wait func()) {
	if a.Sim == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Sim.Serve(ctx, a.simLn); err != nil {
			a.log.Error("simulator stopped", "err", err)
		}
	}()
	a.log.Info("carrier simulator serving", "url", a.SimInfo.URL, "api_base", a.SimInfo.APIBase,
		"public_key", a.SimInfo.PublicKey)
	return func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			a.log.Warn("simulator did not stop in time")
		}
	}
}
