package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the PostgreSQL baseline
	_ "modernc.org/sqlite"             // "sqlite" driver for the SQLite baseline

	"github.com/peakvoice/peakvoice/internal/db"
)

// Baseline names; scenarios quote their ratio against one of them.
const (
	baseHTTP   = "bare-http"
	baseSQLite = "bare-sqlite-commit"
	basePG     = "bare-pg-commit"
)

// bareHTTP measures a plain net/http server that decodes a small JSON
// body and answers JSON, on loopback, with the same client and
// concurrency as the scenarios.
func bareHTTP(ctx context.Context, o *options) (*result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"ok": true, "echo": in["id"]}})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := newClient("http://"+ln.Addr().String(), o.concurrency)
	defer c.close()
	body := []byte(`{"id":"evt-1","type":"assistant.initialization","payload":{"call_control_id":"v3:abc"}}`)
	r := runClosed(ctx, o.duration, o.concurrency, os.Getpid(), func(ctx context.Context, _, _ int) int {
		return c.status(ctx, "POST", "/", body)
	})
	r.Name, r.Engine = baseHTTP, "-"
	return r, nil
}

// bareCommit measures single-row committed inserts: BEGIN, one INSERT,
// COMMIT, as the product's write transactions do. On SQLite the pragmas
// and the single writer connection match internal/db; on PostgreSQL a pool
// of 20 connections matches the product's default.
func bareCommit(ctx context.Context, o *options, pgURL string) (*result, error) {
	var d *sql.DB
	var err error
	name, engine := baseSQLite, "sqlite"
	if pgURL == "" {
		dir, err := os.MkdirTemp(o.tmp, "bare-sqlite-")
		if err != nil {
			return nil, err
		}
		q := url.Values{}
		for _, p := range db.SQLitePragmas {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		d, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "bare.db")+"?"+q.Encode())
		if err != nil {
			return nil, err
		}
		d.SetMaxOpenConns(1)
		d.SetMaxIdleConns(1)
	} else {
		name, engine = basePG, "postgres"
		d, err = sql.Open("pgx", pgURL)
		if err != nil {
			return nil, err
		}
		d.SetMaxOpenConns(20)
		d.SetMaxIdleConns(20)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE bare_rows (id TEXT PRIMARY KEY, team_id TEXT NOT NULL,
		body TEXT NOT NULL, created_at BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("%s baseline: %w", engine, err)
	}
	body := `{"to":"+14155550142","text":"Your table is ready","status":"queued"}`
	r := runClosed(ctx, o.duration, o.concurrency, os.Getpid(), func(ctx context.Context, _, _ int) int {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return 0
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bare_rows (id, team_id, body, created_at) VALUES ($1, $2, $3, $4)`,
			uuid.Must(uuid.NewV7()).String(), "team-1", body, time.Now().UnixMicro()); err != nil {
			_ = tx.Rollback()
			return 0
		}
		if tx.Commit() != nil {
			return 0
		}
		return 200
	})
	r.Name, r.Engine = name, engine
	return r, nil
}
