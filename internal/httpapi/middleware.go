package httpapi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
	clientAddrKey
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withRequestID gives every request an id — the caller's, when it sent a
// sane one — echoes it in the response and puts it in the context, where the
// log handler picks it up.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		addr := r.RemoteAddr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		ctx = context.WithValue(ctx, clientAddrKey, addr)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientAddr is the network address of the request's client (the direct
// peer; forwarded headers are not trusted).
func ClientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey).(string)
	return a
}

// RequestID returns the id of the request that ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// LogHandler wraps h so every record logged with a request's context carries
// its request_id.
func LogHandler(h slog.Handler) slog.Handler { return &ctxLogHandler{h} }

type ctxLogHandler struct{ slog.Handler }

func (h *ctxLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *ctxLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ctxLogHandler{h.Handler.WithAttrs(as)}
}

func (h *ctxLogHandler) WithGroup(name string) slog.Handler {
	return &ctxLogHandler{h.Handler.WithGroup(name)}
}

// responseWriter remembers the status and size of a response. It passes
// Flush and Hijack through and unwraps for http.ResponseController, so
// streams work behind it.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wrote {
			w.status, w.wrote = http.StatusOK, true
		}
		f.Flush()
	}
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request and records it in the metrics, labelled by the
// route pattern (never the raw path, which would explode label cardinality).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw, ok := w.(*responseWriter)
		if !ok {
			rw = &responseWriter{ResponseWriter: w}
		}
		next.ServeHTTP(rw, r)
		elapsed := time.Since(start)
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.observeRequest(route, r.Method, status, elapsed)
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.logger.Log(r.Context(), level, "request",
			"method", r.Method, "route", route, "path", r.URL.Path, "status", status,
			"bytes", rw.bytes, "duration_ms", float64(elapsed.Microseconds())/1000)
	})
}
