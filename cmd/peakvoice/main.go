// Command peakvoice is the Peak Voice server and its tools. Run
// `peakvoice serve` for the API with zero configuration (SQLite in ./data).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peakvoice/peakvoice/internal/app"
	"github.com/peakvoice/peakvoice/internal/db"
)

const usage = `peakvoice — AI voice agents and SMS over a telephony carrier

Usage:
  peakvoice serve [flags]     run the API server (see 'peakvoice serve -h')
  peakvoice migrate [flags]   apply database migrations and exit (same database flags as serve)
  peakvoice telnyx-sim [flags] run the Telnyx-compatible simulator alone (--addr, --api-key)
  peakvoice sim ACTION        drive a simulator: call-in, text-in, calls (see 'peakvoice sim')
  peakvoice version           print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "peakvoice:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		cfg, err := app.ParseServe(args[1:], nil)
		if err != nil {
			return err
		}
		log := app.NewLogger(cfg, stderr)
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		return a.Run(ctx, nil)
	case "migrate":
		cfg, err := app.ParseServe(args[1:], nil)
		if err != nil {
			return err
		}
		d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
		if err != nil {
			return err
		}
		defer d.Close()
		if err := app.Migrate(ctx, d); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "telnyx-sim":
		return runTelnyxSim(ctx, args[1:], stdout, stderr)
	case "sim":
		return runSim(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, app.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
