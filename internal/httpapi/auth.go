package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Principal is who a request acts as: a user of a team, through a JWT or an
// API key. Tenant ids come only from here, never from the request body.
type Principal struct {
	TeamID   string
	UserID   string
	Email    string
	Role     string
	APIKeyID string // set when the request used an API key
}

// ViaAPIKey reports whether the request used an API key rather than a JWT.
func (p Principal) ViaAPIKey() bool { return p.APIKeyID != "" }

// Authenticator checks credentials; internal/auth implements it. Both
// methods return ErrBadCredentials (or a wrapped form) when the credential
// is unknown, expired, revoked or malformed.
type Authenticator interface {
	AuthenticateJWT(ctx context.Context, token string) (Principal, error)
	AuthenticateAPIKey(ctx context.Context, key string) (Principal, error)
}

// ErrBadCredentials is what an Authenticator returns for a credential that
// does not grant access.
var ErrBadCredentials = errors.New("bad credentials")

// Auth error codes.
const (
	CodeMissingCredentials = "missing_credentials"
	CodeInvalidToken       = "invalid_token"
	CodeInvalidAPIKey      = "invalid_api_key"
	CodeAPIKeyNotAllowed   = "api_key_not_allowed"
)

// APIKeyPrefix starts every Peak Voice API key.
const APIKeyPrefix = "pv_"

// PrincipalFrom returns the authenticated principal of a request context.
// Operations that declare security always have one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// MustPrincipal is PrincipalFrom for handlers of secured operations, where a
// missing principal is a wiring bug.
func MustPrincipal(ctx context.Context) Principal {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		panic("httpapi: secured handler ran without a principal")
	}
	return p
}

// WithPrincipal returns ctx carrying p (for tests and internal callers).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// authenticate enforces each operation's declared security: operations with
// none are public; the rest need a JWT or, where allowed, an API key.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	allowKey := false
	for _, req := range op.Security {
		if _, ok := req[SchemeAPIKey]; ok {
			allowKey = true
		}
	}
	p, aerr := s.principalFor(ctx.Context(), ctx.Header("X-API-Key"), ctx.Header("Authorization"), allowKey)
	if aerr != nil {
		s.writeHumaError(ctx, aerr)
		return
	}
	release, refuse := s.limits.acquire(p.TeamID, !longLived(op), time.Now())
	if refuse != nil {
		s.writeHumaError(ctx, refuse)
		return
	}
	defer release()
	next(huma.WithValue(ctx, principalKey, p))
}

func (s *Server) principalFor(ctx context.Context, apiKey, authz string, allowKey bool) (Principal, *Error) {
	bearer := ""
	if hasPrefixFold(authz, "Bearer ") {
		bearer = strings.TrimSpace(authz[len("Bearer "):])
	}
	if apiKey == "" && strings.HasPrefix(bearer, APIKeyPrefix) {
		apiKey, bearer = bearer, ""
	}
	switch {
	case apiKey != "":
		if !allowKey {
			return Principal{}, NewError(http.StatusForbidden, CodeAPIKeyNotAllowed,
				"API keys cannot manage API keys; sign in and use a JWT access token")
		}
		p, err := s.cfg.Auth.AuthenticateAPIKey(ctx, apiKey)
		if err != nil {
			return Principal{}, s.authFailure(ctx, err, CodeInvalidAPIKey, "the API key is invalid or revoked")
		}
		return p, nil
	case bearer != "":
		p, err := s.cfg.Auth.AuthenticateJWT(ctx, bearer)
		if err != nil {
			return Principal{}, s.authFailure(ctx, err, CodeInvalidToken, "the access token is invalid or expired")
		}
		return p, nil
	case authz != "":
		return Principal{}, NewError(http.StatusUnauthorized, CodeInvalidToken,
			"the Authorization header must be 'Bearer <token>'")
	}
	return Principal{}, NewError(http.StatusUnauthorized, CodeMissingCredentials,
		"send 'Authorization: Bearer <jwt>' or 'X-API-Key: pv_…'")
}

func (s *Server) authFailure(ctx context.Context, err error, code, msg string) *Error {
	if !errors.Is(err, ErrBadCredentials) {
		s.logger.ErrorContext(ctx, "authenticate", "err", err)
		return Internal()
	}
	return NewError(http.StatusUnauthorized, code, msg)
}

// writeHumaError writes e from inside a huma middleware.
func (s *Server) writeHumaError(ctx huma.Context, e *Error) {
	for k, vs := range e.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	if e.status == http.StatusUnauthorized {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="peakvoice"`)
	}
	if err := huma.WriteErr(s.API, ctx, e.status, e.Body.Message, e); err != nil {
		s.logger.ErrorContext(ctx.Context(), "write error", "err", err)
	}
}
