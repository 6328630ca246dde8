// Package auth owns teams, users and credentials: registration, login with
// throttling, JWT access tokens, rotating refresh tokens with reuse
// detection, and API keys stored as hashes. It implements the
// httpapi.Authenticator that guards every /api/v1 route.
package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// Config configures the service.
type Config struct {
	DB                *db.DB
	JWTSecret         []byte
	AccessTTL         time.Duration // default 15 min
	RefreshTTL        time.Duration // default 30 days
	AllowRegistration bool
	Password          PasswordParams // zero: DefaultPasswordParams
	Logger            *slog.Logger
	// LoginRate and LoginBurst bound login attempts per email and per client
	// address (defaults: 10 a minute, bursts of 10).
	LoginRate  float64
	LoginBurst int
}

// Service is the auth domain.
type Service struct {
	cfg       Config
	db        *db.DB
	jwt       *jwtSigner
	throttle  *throttle
	dummyHash string
	log       *slog.Logger
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = DefaultPasswordParams
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = 10.0 / 60
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = 10
	}
	signer, err := newJWTSigner(cfg.JWTSecret, cfg.AccessTTL)
	if err != nil {
		return nil, err
	}
	// A hash to verify against when the email is unknown, so a login for a
	// missing user costs as much as one for a real user. It is made of
	// random bytes, not by hashing: hashing at 19 MiB took most of the
	// server's start-up and left the memory in its RSS.
	dummy, err := dummyPasswordHash(cfg.Password)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, db: cfg.DB, jwt: signer, throttle: newThrottle(cfg.LoginRate, cfg.LoginBurst).sharedIn(cfg.DB),
		dummyHash: dummy, log: cfg.Logger}, nil
}

// Error codes of this domain.
const (
	CodeEmailTaken           = "email_taken"
	CodeRegistrationDisabled = "registration_disabled"
	CodeInvalidCredentials   = "invalid_credentials"
	CodeTooManyLogins        = "too_many_login_attempts"
	CodeInvalidRefreshToken  = "invalid_refresh_token"
	CodeRefreshTokenReused   = "refresh_token_reused"
)

// Tokens is what a successful sign-in returns.
type Tokens struct {
	AccessToken  string `json:"access_token" doc:"JWT for Authorization: Bearer."`
	RefreshToken string `json:"refresh_token" doc:"Opaque token for /api/v1/auth/refresh; each one works once."`
	TokenType    string `json:"token_type" enum:"bearer"`
	ExpiresIn    int    `json:"expires_in" doc:"Seconds until the access token expires."`
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Register creates a team and its owner and signs the owner in.
func (s *Service) Register(ctx context.Context, email, password, teamName string) (User, Team, Tokens, error) {
	if !s.cfg.AllowRegistration {
		return User{}, Team{}, Tokens{}, httpapi.NewError(http.StatusForbidden, CodeRegistrationDisabled,
			"self-service registration is switched off on this server")
	}
	hash, err := hashPassword(password, s.cfg.Password)
	if err != nil {
		return User{}, Team{}, Tokens{}, fmt.Errorf("hash password: %w", err)
	}
	now := db.Now()
	team := Team{ID: newID(), Name: strings.TrimSpace(teamName), CreatedAt: now}
	user := User{ID: newID(), TeamID: team.ID, Email: normalizeEmail(email), Role: "owner", CreatedAt: now, passwordHash: hash}
	var toks Tokens
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertTeam(ctx, tx, team); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, user); err != nil {
			if db.IsUniqueViolation(err) {
				return httpapi.NewError(http.StatusConflict, CodeEmailTaken, "an account with this email already exists")
			}
			return err
		}
		var err error
		toks, err = s.issue(ctx, tx, user, newID(), now)
		return err
	})
	if err != nil {
		return User{}, Team{}, Tokens{}, err
	}
	return user, team, toks, nil
}

// Login checks a password and signs the user in. Attempts are throttled per
// email and per client address; on PostgreSQL the buckets live in the
// database, so every replica spends from the same ones.
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (Tokens, error) {
	email = normalizeEmail(email)
	wait, ok, err := s.throttle.allowCtx(ctx, email, clientAddr)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign-in throttle: %w", err)
	}
	if !ok {
		secs := int(wait.Seconds() + 0.999)
		return Tokens{}, httpapi.NewError(http.StatusTooManyRequests, CodeTooManyLogins,
			"too many sign-in attempts; wait and try again").WithHeader("Retry-After", fmt.Sprint(max(secs, 1)))
	}
	u, err := userByEmail(ctx, s.db.R, email)
	hash := u.passwordHash
	if errors.Is(err, errNotFound) {
		hash = s.dummyHash
	} else if err != nil {
		return Tokens{}, err
	}
	ok, herr := checkPassword(password, hash)
	if herr != nil {
		return Tokens{}, herr
	}
	if !ok || err != nil {
		return Tokens{}, httpapi.NewError(http.StatusUnauthorized, CodeInvalidCredentials, "wrong email or password")
	}
	var toks Tokens
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		toks, err = s.issue(ctx, tx, u, newID(), db.Now())
		return err
	})
	return toks, err
}

// issue stores a new refresh token in the family and signs an access token.
func (s *Service) issue(ctx context.Context, tx *sql.Tx, u User, family string, now time.Time) (Tokens, error) {
	access, err := s.jwt.issue(u, now)
	if err != nil {
		return Tokens{}, err
	}
	refresh := newRefreshToken()
	if err := insertRefresh(ctx, tx, newID(), u.ID, family, hashSecret(refresh), now, now.Add(s.cfg.RefreshTTL)); err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds())}, nil
}

// Refresh rotates a refresh token. A token works once: presenting a used
// one again means it leaked, so the whole family is revoked and the holder
// of the newest token must sign in again too.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	invalid := httpapi.NewError(http.StatusUnauthorized, CodeInvalidRefreshToken, "the refresh token is invalid, expired or revoked")
	var toks Tokens
	reused := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := db.Now()
		row, err := refreshByHash(ctx, tx, hashSecret(token))
		if errors.Is(err, errNotFound) {
			return invalid
		}
		if err != nil {
			return err
		}
		if row.revokedAt.Valid || !row.expiresAt.After(now) {
			return invalid
		}
		claimed := false
		if !row.usedAt.Valid {
			if claimed, err = markRefreshUsed(ctx, tx, row.id, now); err != nil {
				return err
			}
		}
		if !claimed {
			reused = true
			return revokeRefreshFamily(ctx, tx, row.familyID, now) // commit the revocation
		}
		u, err := userByID(ctx, tx, row.userID)
		if err != nil {
			return err
		}
		toks, err = s.issue(ctx, tx, u, row.familyID, now)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		s.log.WarnContext(ctx, "refresh token reused; family revoked")
		return Tokens{}, httpapi.NewError(http.StatusUnauthorized, CodeRefreshTokenReused,
			"this refresh token was already used; every session from it is revoked, sign in again")
	}
	return toks, nil
}

// Me returns the principal's user and team.
func (s *Service) Me(ctx context.Context, p httpapi.Principal) (User, Team, error) {
	u, err := userByID(ctx, s.db.R, p.UserID)
	if err != nil {
		return User{}, Team{}, err
	}
	t, err := teamByID(ctx, s.db.R, p.TeamID)
	return u, t, err
}

// CreateAPIKey makes a key for the principal's user; the returned secret is
// never retrievable again.
func (s *Service) CreateAPIKey(ctx context.Context, p httpapi.Principal, name string) (APIKey, string, error) {
	secret, lookup := newAPIKey()
	k := APIKey{ID: newID(), Name: strings.TrimSpace(name), Prefix: keyPrefix(lookup), CreatedAt: db.Now(),
		teamID: p.TeamID, userID: p.UserID}
	if err := insertKey(ctx, s.db.W, k, lookup, hashSecret(secret)); err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

// ListAPIKeys lists the team's live keys, newest first.
func (s *Service) ListAPIKeys(ctx context.Context, p httpapi.Principal, pg httpapi.PageParams) ([]APIKey, int, error) {
	return listKeys(ctx, s.db.R, p.TeamID, pg.Limit(), pg.Offset())
}

// RevokeAPIKey stops a key of the principal's team from working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, p httpapi.Principal, id string) error {
	ok, err := revokeKey(ctx, s.db.W, p.TeamID, id, db.Now())
	if err != nil {
		return err
	}
	if !ok {
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such API key")
	}
	return nil
}

// AuthenticateJWT implements httpapi.Authenticator.
func (s *Service) AuthenticateJWT(ctx context.Context, token string) (httpapi.Principal, error) {
	c, err := s.jwt.verify(token)
	if err != nil {
		return httpapi.Principal{}, fmt.Errorf("%w: %v", httpapi.ErrBadCredentials, err)
	}
	return httpapi.Principal{TeamID: c.TeamID, UserID: c.Subject, Role: c.Role}, nil
}

// AuthenticateAPIKey implements httpapi.Authenticator. Revocation takes
// effect on the next request: keys are looked up every time.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (httpapi.Principal, error) {
	lookup, ok := parseAPIKey(key)
	if !ok {
		return httpapi.Principal{}, fmt.Errorf("%w: malformed api key", httpapi.ErrBadCredentials)
	}
	k, hash, role, err := activeKeyByLookup(ctx, s.db.R, lookup)
	if errors.Is(err, errNotFound) {
		return httpapi.Principal{}, fmt.Errorf("%w: unknown api key", httpapi.ErrBadCredentials)
	}
	if err != nil {
		return httpapi.Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(key)), []byte(hash)) != 1 {
		return httpapi.Principal{}, fmt.Errorf("%w: api key secret mismatch", httpapi.ErrBadCredentials)
	}
	now := db.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		if err := touchKey(ctx, s.db.W, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "record api key use", "err", err)
		}
	}
	return httpapi.Principal{TeamID: k.teamID, UserID: k.userID, Role: role, APIKeyID: k.ID}, nil
}
