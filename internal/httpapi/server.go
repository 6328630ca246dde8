// Package httpapi is the HTTP plumbing every Peak Voice route shares: the
// huma API on the standard library mux, the spec's envelopes and errors,
// authentication, pagination, request ids, logging, metrics and the public
// documentation pages. Domain packages register their operations on it.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Security scheme names in the OpenAPI document.
const (
	SchemeBearer = "bearerAuth"
	SchemeAPIKey = "apiKeyAuth"
)

// Security requirements for operations: Authed accepts a JWT or an API key;
// JWTOnly accepts a JWT alone (API-key management).
var (
	Authed  = []map[string][]string{{SchemeBearer: {}}, {SchemeAPIKey: {}}}
	JWTOnly = []map[string][]string{{SchemeBearer: {}}}
)

// Config wires the server to the rest of the app.
type Config struct {
	Title   string
	Version string
	Logger  *slog.Logger
	// Auth checks credentials on every operation that declares security.
	Auth Authenticator
	// Metrics, when set, counts requests and serves /metrics.
	Metrics *Metrics
	// Ready answers /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Guide holds the Markdown documentation served under /documentation.
	Guide Guide
	// TeamLimits bound each team's request rate and requests in flight.
	TeamLimits TeamLimits
}

// Server is the HTTP surface: a mux with the huma API mounted on it.
type Server struct {
	API    huma.API
	mux    *http.ServeMux
	cfg    Config
	logger *slog.Logger
	limits *teamLimiter
}

// New builds the server with the shared routes (health, readiness, docs,
// metrics) registered. Domains then register their operations on API.
func New(cfg Config) *Server {
	installErrorModel()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig(cfg.Title, cfg.Version)
	hc.DocsPath = ""     // Swagger UI is served from embedded assets instead.
	hc.CreateHooks = nil // no $schema links in bodies: the spec's envelopes only.
	hc.OpenAPIPath = "/openapi"
	hc.Info.Description = "Peak Voice runs AI voice agents and SMS over a telephony carrier. " +
		"Every /api/v1 route needs `Authorization: Bearer <jwt>` or `X-API-Key: pv_…`. " +
		"Successful responses are `{data}` or `{data, meta}`; errors are `{error:{code,message,details?}}`."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SchemeBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "Access token from /api/v1/auth/login, /register or /refresh."},
		SchemeAPIKey: {Type: "apiKey", In: "header", Name: "X-API-Key",
			Description: "A `pv_…` API key from /api/v1/auth/api-keys. Also accepted as `Authorization: Bearer pv_…`."},
	}
	api := humago.New(mux, hc)
	s := &Server{API: api, mux: mux, cfg: cfg, logger: cfg.Logger, limits: newTeamLimiter(cfg.TeamLimits)}
	api.UseMiddleware(s.authenticate)
	s.registerShared()
	return s
}

// Handler is the full HTTP handler: middleware around the mux, with unknown
// routes and wrong methods answered in the error envelope.
func (s *Server) Handler() http.Handler {
	var h http.Handler = http.HandlerFunc(s.route)
	h = bodyDeadline(h)
	h = s.observe(h)
	h = s.recoverPanics(h)
	return withRequestID(h)
}

// BodyTimeout bounds how long a client may take to send a request body.
const BodyTimeout = 30 * time.Second

// bodyDeadline stops a client that trickles its request body from holding
// a connection and a handler forever. It applies only to requests that
// carry a body, so long-lived streams (GET) are unaffected; the server's
// ReadHeaderTimeout covers slow headers.
func bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(BodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// route dispatches to the mux, turning its plain-text 404 and 405 answers
// into enveloped errors.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		writeError(w, NewError(http.StatusNotFound, CodeNotFound, "no route matches "+r.URL.Path))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			r.Method+" is not allowed on "+r.URL.Path))
	default:
		s.mux.ServeHTTP(w, r) // redirects and the like: let the mux answer
	}
}

// statusProbe records what the mux would answer without writing it.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &responseWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.logger.ErrorContext(r.Context(), "panic serving request",
				"panic", p, "path", r.URL.Path, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, Internal())
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// registerShared adds the routes that are not part of /api/v1.
func (s *Server) registerShared() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(r.Context()); err != nil {
				s.logger.WarnContext(r.Context(), "not ready", "err", err)
				writeError(w, NewError(http.StatusServiceUnavailable, CodeUnavailable, "not ready"))
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
	}
	s.registerDocs()
}

// Handle mounts a plain handler on the mux, for routes outside the huma API
// (carrier webhooks, the simulator's control API, streams).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
