package numbers

import (
	"context"
	"database/sql"
	"errors"

	"github.com/peakvoice/peakvoice/internal/db"
)

const numberCols = `id, team_id, phone_number, provider, provider_number_id, status, sms_capable, voice_capable,
	voice_agent_id, label, created_at, updated_at`

func scanNumber(row interface{ Scan(...any) error }) (Number, error) {
	var n Number
	var agent, label sql.NullString
	err := row.Scan(&n.ID, &n.teamID, &n.PhoneNumber, &n.Provider, &n.ProviderNumberID, &n.Status,
		&n.Capabilities.SMS, &n.Capabilities.Voice, &agent, &label, &n.CreatedAt, &n.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return n, errNotFound
	}
	if agent.Valid {
		n.VoiceAgentID = &agent.String
	}
	if label.Valid {
		n.Label = &label.String
	}
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	return n, err
}

func insertNumber(ctx context.Context, q db.Querier, n Number) error {
	_, err := q.ExecContext(ctx, `INSERT INTO phone_numbers (`+numberCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		n.ID, n.teamID, n.PhoneNumber, n.Provider, n.ProviderNumberID, n.Status, n.Capabilities.SMS, n.Capabilities.Voice,
		n.VoiceAgentID, n.Label, n.CreatedAt, n.UpdatedAt)
	return err
}

func updateNumber(ctx context.Context, q db.Querier, n Number) error {
	_, err := q.ExecContext(ctx, `UPDATE phone_numbers SET status = $1, sms_capable = $2, voice_capable = $3,
		voice_agent_id = $4, label = $5, updated_at = $6 WHERE id = $7 AND team_id = $8`,
		n.Status, n.Capabilities.SMS, n.Capabilities.Voice, n.VoiceAgentID, n.Label, n.UpdatedAt, n.ID, n.teamID)
	return err
}

func numberByID(ctx context.Context, q db.Querier, teamID, id string) (Number, error) {
	return scanNumber(q.QueryRowContext(ctx, `SELECT `+numberCols+` FROM phone_numbers WHERE id = $1 AND team_id = $2`, id, teamID))
}

func numberByE164(ctx context.Context, q db.Querier, e164 string) (Number, error) {
	return scanNumber(q.QueryRowContext(ctx, `SELECT `+numberCols+` FROM phone_numbers WHERE phone_number = $1`, e164))
}

func deleteNumber(ctx context.Context, q db.Querier, teamID, id string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM phone_numbers WHERE id = $1 AND team_id = $2`, id, teamID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Filter narrows a listing.
type Filter struct {
	VoiceAgentID string
	Status       string
	Capability   string // "sms" or "voice"
}

func listNumbers(ctx context.Context, q db.Querier, teamID string, f Filter, limit, offset int) ([]Number, int, error) {
	w := db.NewWhere("team_id = ?", teamID)
	w.AddIf("voice_agent_id = ?", f.VoiceAgentID)
	w.AddIf("status = ?", f.Status)
	switch f.Capability {
	case "sms":
		w.Raw("sms_capable")
	case "voice":
		w.Raw("voice_capable")
	}
	return db.Page(ctx, q, numberCols, "phone_numbers", w, "created_at DESC, id DESC", limit, offset,
		func(r db.Scanner) (Number, error) { return scanNumber(r) })
}

// heldNumbers maps every held E.164 number to its record, for sync and
// availability.
func heldNumbers(ctx context.Context, q db.Querier) (map[string]Number, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+numberCols+` FROM phone_numbers`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Number{}
	for rows.Next() {
		n, err := scanNumber(rows)
		if err != nil {
			return nil, err
		}
		out[n.PhoneNumber] = n
	}
	return out, rows.Err()
}

func carrierResource(ctx context.Context, q db.Querier, name string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT provider_id FROM carrier_resources WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNotFound
	}
	return id, err
}

func putCarrierResource(ctx context.Context, q db.Querier, name, id string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO carrier_resources (name, provider_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET provider_id = excluded.provider_id`, name, id, db.Now())
	return err
}
