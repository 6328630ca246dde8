package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peakvoice/peakvoice/internal/app"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// runTelnyxSim serves the simulator alone, for people who point their own
// code at a Telnyx-compatible API.
func runTelnyxSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("telnyx-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:4010", "address to listen on")
	key := fs.String("api-key", telnyxsim.DefaultAPIKey, "bearer token API requests must carry")
	step := fs.Duration("step-delay", 300*time.Millisecond, "pause between play-out steps of messages and calls")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return telnyxsim.Run(ctx, *addr, telnyxsim.Config{APIKey: *key, StepDelay: *step}, func(base string, s *telnyxsim.Server) {
		fmt.Fprintf(stdout, "telnyx simulator listening\n  api base:   %s\n  api key:    %s\n  public key: %s\n", base, s.APIKey(), s.PublicKey())
	})
}

const simUsage = `Usage:
  peakvoice sim call-in --from +1… --to +1… [--name NAME] [--script FILE]
  peakvoice sim text-in --from +1… --to +1… --text TEXT
  peakvoice sim calls
Flags common to all: --sim-url URL (default: read from <data-dir>/sim.json), --data-dir DIR
`

// runSim drives a running simulator through its control API.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, simUsage)
		return errors.New("sim: no action given")
	}
	action := args[0]
	fs := flag.NewFlagSet("sim "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	simURL := fs.String("sim-url", os.Getenv("PEAKVOICE_SIM_URL"), "simulator base URL (env PEAKVOICE_SIM_URL)")
	dataDir := fs.String("data-dir", envOr("PEAKVOICE_DATA_DIR", "./data"), "data directory of a running 'peakvoice serve'")
	from := fs.String("from", "", "caller or sender number, E.164")
	to := fs.String("to", "", "one of the simulator's numbers, E.164")
	name := fs.String("name", "", "caller name (call-in)")
	script := fs.String("script", "", "JSON file with the caller's script (call-in)")
	text := fs.String("text", "", "message text (text-in)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	base := strings.TrimRight(*simURL, "/")
	if base == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, app.SimInfoFile))
		if err != nil {
			return fmt.Errorf("no --sim-url and no running server's %s in %s: %w", app.SimInfoFile, *dataDir, err)
		}
		var info app.SimInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return fmt.Errorf("%s: %w", app.SimInfoFile, err)
		}
		base = info.URL
	}
	switch action {
	case "call-in":
		body := map[string]any{"from": *from, "to": *to}
		if *name != "" {
			body["caller_name"] = *name
		}
		if *script != "" {
			raw, err := os.ReadFile(*script)
			if err != nil {
				return err
			}
			body["script"] = json.RawMessage(raw)
		}
		return simCall(ctx, stdout, http.MethodPost, base+"/_sim/inbound-calls", body)
	case "text-in":
		return simCall(ctx, stdout, http.MethodPost, base+"/_sim/inbound-messages", map[string]any{"from": *from, "to": *to, "text": *text})
	case "calls":
		return simCall(ctx, stdout, http.MethodGet, base+"/_sim/calls", nil)
	}
	fmt.Fprint(stderr, simUsage)
	return fmt.Errorf("sim: unknown action %q", action)
}

func simCall(ctx context.Context, stdout io.Writer, method, url string, body any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintln(stdout, string(out))
	if res.StatusCode >= 300 {
		return fmt.Errorf("simulator answered %s", res.Status)
	}
	return nil
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
