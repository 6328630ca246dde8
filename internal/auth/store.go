package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Team is a tenant: every resource belongs to exactly one.
type Team struct {
	ID        string    `json:"id" doc:"Team id (UUID)."`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who signs in to a team.
type User struct {
	ID        string    `json:"id" doc:"User id (UUID)."`
	TeamID    string    `json:"team_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role" enum:"owner,member" doc:"The user's role in the team."`
	CreatedAt time.Time `json:"created_at"`

	passwordHash string
}

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID         string     `json:"id" doc:"Key id (UUID), used to revoke it."`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" doc:"The start of the key, pv_ and its lookup id, to recognise it by."`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" doc:"When the key last authenticated a request (updated at most once a minute); null if never."`

	teamID, userID string
}

var errNotFound = errors.New("not found")

const userCols = `id, team_id, email, role, created_at, password_hash`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TeamID, &u.Email, &u.Role, &u.CreatedAt, &u.passwordHash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNotFound
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

func insertTeam(ctx context.Context, q db.Querier, t Team) error {
	_, err := q.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`, t.ID, t.Name, t.CreatedAt)
	return err
}

func insertUser(ctx context.Context, q db.Querier, u User) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (id, team_id, email, role, created_at, password_hash)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.TeamID, u.Email, u.Role, u.CreatedAt, u.passwordHash)
	return err
}

func userByEmail(ctx context.Context, q db.Querier, email string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
}

func userByID(ctx context.Context, q db.Querier, id string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
}

func teamByID(ctx context.Context, q db.Querier, id string) (Team, error) {
	var t Team
	err := q.QueryRowContext(ctx, `SELECT id, name, created_at FROM teams WHERE id = $1`, id).Scan(&t.ID, &t.Name, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return t, errNotFound
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// refreshRow is a stored refresh token.
type refreshRow struct {
	id, userID, familyID string
	expiresAt            time.Time
	usedAt, revokedAt    sql.NullTime
}

func insertRefresh(ctx context.Context, q db.Querier, id, userID, family, hash string, now, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, userID, family, hash, now, expires)
	return err
}

func refreshByHash(ctx context.Context, q db.Querier, hash string) (refreshRow, error) {
	var r refreshRow
	err := q.QueryRowContext(ctx, `SELECT id, user_id, family_id, expires_at, used_at, revoked_at
		FROM refresh_tokens WHERE token_hash = $1`, hash).
		Scan(&r.id, &r.userID, &r.familyID, &r.expiresAt, &r.usedAt, &r.revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNotFound
	}
	return r, err
}

// markRefreshUsed claims a token for one rotation; it reports false when
// another request used it first.
func markRefreshUsed(ctx context.Context, q db.Querier, id string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL`, now, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func revokeRefreshFamily(ctx context.Context, q db.Querier, family string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL`, now, family)
	return err
}

const keyCols = `id, team_id, user_id, name, lookup_id, created_at, last_used_at`

func scanKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var lookup string
	var last sql.NullTime
	err := row.Scan(&k.ID, &k.teamID, &k.userID, &k.Name, &lookup, &k.CreatedAt, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return k, errNotFound
	}
	k.Prefix = keyPrefix(lookup)
	k.CreatedAt = k.CreatedAt.UTC()
	if last.Valid {
		t := last.Time.UTC()
		k.LastUsedAt = &t
	}
	return k, err
}

func insertKey(ctx context.Context, q db.Querier, k APIKey, lookup, hash string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO api_keys (id, team_id, user_id, name, lookup_id, secret_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.teamID, k.userID, k.Name, lookup, hash, k.CreatedAt)
	return err
}

// activeKeyByLookup returns a live key, its secret hash and its user's
// role, in one read (it runs on every API-key request).
func activeKeyByLookup(ctx context.Context, q db.Querier, lookup string) (k APIKey, hash, role string, err error) {
	var lk string
	var last sql.NullTime
	err = q.QueryRowContext(ctx, `SELECT k.id, k.team_id, k.user_id, k.name, k.lookup_id, k.created_at, k.last_used_at,
			k.secret_hash, u.role
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.lookup_id = $1 AND k.revoked_at IS NULL`, lookup).
		Scan(&k.ID, &k.teamID, &k.userID, &k.Name, &lk, &k.CreatedAt, &last, &hash, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return k, "", "", errNotFound
	}
	if last.Valid {
		t := last.Time
		k.LastUsedAt = &t
	}
	return k, hash, role, err
}

func listKeys(ctx context.Context, q db.Querier, teamID string, limit, offset int) ([]APIKey, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.Raw("revoked_at IS NULL")
	return db.Page(ctx, q, keyCols, "api_keys", w, "created_at DESC, id DESC", limit, offset,
		func(r db.Scanner) (APIKey, error) { return scanKey(r) })
}

func revokeKey(ctx context.Context, q db.Querier, teamID, id string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND team_id = $3 AND revoked_at IS NULL`, now, id, teamID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// touchKey records use at most once a minute, so authenticating a burst of
// requests does not turn into a burst of writes.
func touchKey(ctx context.Context, q db.Querier, id string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`, now, id, now.Add(-time.Minute))
	return err
}
