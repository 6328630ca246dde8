// Package console is Peak Voice's web console: server-rendered pages under
// /console for a signed-in team. It holds no business logic of its own:
// every page calls the real /api/v1 routes in-process with the user's
// access token, so authorization, validation, limits and idempotency are
// exactly the API's.
package console

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console"

// Config wires the console to the rest of the server.
type Config struct {
	// API serves /api/v1 (the server's full handler). Required.
	API http.Handler
	// Production makes cookies Secure even on plain-HTTP requests (TLS is
	// then expected to end at a proxy).
	Production bool
	// AllowRegistration shows the sign-up link.
	AllowRegistration bool
	// SimURL is the embedded carrier simulator's control API base, e.g.
	// http://127.0.0.1:41234; empty hides the simulator panel.
	SimURL string
	Logger *slog.Logger
}

// Console serves the pages.
type Console struct {
	cfg   Config
	log   *slog.Logger
	pages *pageSet
	mux   *http.ServeMux
	sim   *http.Client
	// refresh shares one token refresh among concurrent requests.
	refresh refresher
}

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil {
		return nil, errors.New("console: the API handler is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, log: cfg.Logger, pages: pages, mux: http.NewServeMux(), sim: &http.Client{}}
	c.routes()
	return c, nil
}

// ServeHTTP answers every /console/ request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	if r.Method == http.MethodPost && !c.sameOrigin(r) {
		c.renderError(w, r, http.StatusForbidden, "This form came from another site, so it was refused.")
		return
	}
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.HandleFunc("GET /console/register", c.registerPage)
	c.mux.HandleFunc("POST /console/register", c.register)
	c.mux.HandleFunc("POST /console/logout", c.logout)
	c.mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/calls", http.StatusSeeOther)
	})

	c.mux.HandleFunc("GET /console/calls", c.authed(c.callsPage))
	c.mux.HandleFunc("POST /console/calls", c.authed(c.placeCall))
	c.mux.HandleFunc("GET /console/calls/{id}", c.authed(c.callPage))
	c.mux.HandleFunc("GET /console/calls/{id}/events", c.authed(c.callEvents))
	c.mux.HandleFunc("GET /console/calls/{id}/recording", c.authed(c.callRecording))

	c.mux.HandleFunc("GET /console/agents", c.authed(c.agentsPage))
	c.mux.HandleFunc("POST /console/agents", c.authed(c.createAgent))
	c.mux.HandleFunc("GET /console/agents/{id}", c.authed(c.agentPage))
	c.mux.HandleFunc("POST /console/agents/{id}/reconcile", c.authed(c.reconcileAgent))

	c.mux.HandleFunc("GET /console/numbers", c.authed(c.numbersPage))
	c.mux.HandleFunc("POST /console/numbers", c.authed(c.claimNumber))
	c.mux.HandleFunc("POST /console/numbers/{id}/agent", c.authed(c.bindNumber))

	c.mux.HandleFunc("GET /console/sms", c.authed(c.smsPage))
	c.mux.HandleFunc("GET /console/sms/{id}", c.authed(c.threadPage))
	c.mux.HandleFunc("POST /console/sms", c.authed(c.sendSMS))

	c.mux.HandleFunc("GET /console/inbound", c.authed(c.inboundPage))

	c.mux.HandleFunc("GET /console/webhooks", c.authed(c.webhooksPage))
	c.mux.HandleFunc("GET /console/webhooks/{id}", c.authed(c.webhookEventPage))
	c.mux.HandleFunc("POST /console/webhooks/{id}/redeliver", c.authed(c.redeliver))

	c.mux.HandleFunc("GET /console/keys", c.authed(c.keysPage))
	c.mux.HandleFunc("POST /console/keys", c.authed(c.createKey))
	c.mux.HandleFunc("POST /console/keys/{id}/revoke", c.authed(c.revokeKey))

	c.mux.HandleFunc("GET /console/simulator", c.authed(c.simPage))
	c.mux.HandleFunc("POST /console/simulator/call", c.authed(c.simCall))
	c.mux.HandleFunc("POST /console/simulator/sms", c.authed(c.simSMS))

	c.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusNotFound, "There is no such page.")
	})
}

// cacheStatic lets browsers keep the stylesheet and script briefly.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}
