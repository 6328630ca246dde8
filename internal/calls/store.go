package calls

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Call is a voice call as the API shows it.
type Call struct {
	ID                 string            `json:"id"`
	AgentID            string            `json:"agent_id"`
	Direction          string            `json:"direction" enum:"outbound,inbound"`
	Status             string            `json:"status" enum:"queued,initiated,ringing,in_progress,completed,no_answer,busy,failed,canceled"`
	PhoneNumberFrom    string            `json:"phone_number_from" doc:"E.164 caller line."`
	PhoneNumberTo      string            `json:"phone_number_to" doc:"E.164 callee."`
	PhoneNumberID      *string           `json:"phone_number_id" doc:"The team's number the call uses."`
	CallBriefText      *string           `json:"call_brief_text"`
	CallBriefVariables map[string]string `json:"call_brief_variables" doc:"The variables as the request gave them."`
	DynamicVariables   map[string]string `json:"dynamic_variables" doc:"The normalized brief the assistant received."`
	Overrides          map[string]string `json:"compatibility_overrides" doc:"Legacy override fields the request carried (recorded only)."`
	WebhookURL         *string           `json:"webhook_url"`
	IdempotencyKey     *string           `json:"idempotency_key"`
	Provider           string            `json:"provider" enum:"telnyx" doc:"The carrier and voice runtime."`
	ProviderAgentID    string            `json:"provider_agent_id" doc:"The carrier assistant that ran the call."`
	ProviderCallID     *string           `json:"provider_call_id" doc:"The carrier's call id (call_control_id / CallSid)."`
	CallSessionID      *string           `json:"provider_call_session_id"`
	AnsweredBy         *string           `json:"answered_by" doc:"human, machine, fax or unknown, when answering-machine detection ran."`
	HangupCause        *string           `json:"hangup_cause" doc:"The carrier's hangup cause, e.g. normal_clearing, user_busy, timeout."`
	HangupSource       *string           `json:"hangup_source" doc:"caller, callee or unknown."`
	DurationSeconds    *int              `json:"duration_seconds"`
	ErrorCode          *string           `json:"error_code" doc:"Why the call failed: telephony_provider_error, voice_provider_error, outcome_unknown, or the carrier's code."`
	ErrorDetail        *string           `json:"error_detail"`
	ResultStatus       string            `json:"result_status" enum:"none,pending,ready,failed" doc:"Whether the call's result (transcript, recording, insights) is being assembled or ready."`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
	InitiatedAt        *time.Time        `json:"initiated_at"`
	RingingAt          *time.Time        `json:"ringing_at"`
	AnsweredAt         *time.Time        `json:"answered_at"`
	EndedAt            *time.Time        `json:"ended_at"`
	InboundSessionID   *string           `json:"inbound_session_id" doc:"For inbound calls, the callback session that routed the call."`

	teamID      string
	objectives  []Objective
	requestHash string
	dispatch    string
	replyStatus *int
	eventSeq    int
}

const callCols = `id, team_id, agent_id, direction, status, from_number, to_number, phone_number_id, provider,
	provider_agent_id, provider_call_id, call_session_id, brief_text, brief_variables, dynamic_variables, objectives,
	overrides, webhook_url, idempotency_key, request_hash, dispatch, reply_status, error_code, error_detail,
	hangup_cause, hangup_source, answered_by, duration_seconds, result_status, event_seq,
	created_at, updated_at, initiated_at, ringing_at, answered_at, ended_at, inbound_session_id`

func scanCall(row interface{ Scan(...any) error }) (Call, error) {
	var c Call
	var pn, pcid, sess, brief, hook, key, hash, code, detail, cause, source, by, inSess sql.NullString
	var reply, dur sql.NullInt64
	var vars, dyn, objs, over string
	var init, ring, ans, end sql.NullTime
	err := row.Scan(&c.ID, &c.teamID, &c.AgentID, &c.Direction, &c.Status, &c.PhoneNumberFrom, &c.PhoneNumberTo, &pn,
		&c.Provider, &c.ProviderAgentID, &pcid, &sess, &brief, &vars, &dyn, &objs, &over, &hook, &key, &hash,
		&c.dispatch, &reply, &code, &detail, &cause, &source, &by, &dur, &c.ResultStatus, &c.eventSeq,
		&c.CreatedAt, &c.UpdatedAt, &init, &ring, &ans, &end, &inSess)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errNotFound
	}
	if err != nil {
		return c, err
	}
	c.PhoneNumberID, c.ProviderCallID, c.CallSessionID, c.CallBriefText = strPtr(pn), strPtr(pcid), strPtr(sess), strPtr(brief)
	c.WebhookURL, c.IdempotencyKey, c.ErrorCode, c.ErrorDetail = strPtr(hook), strPtr(key), strPtr(code), strPtr(detail)
	c.HangupCause, c.HangupSource, c.AnsweredBy = strPtr(cause), strPtr(source), strPtr(by)
	c.requestHash = hash.String
	c.InboundSessionID = strPtr(inSess)
	if reply.Valid {
		r := int(reply.Int64)
		c.replyStatus = &r
	}
	if dur.Valid {
		d := int(dur.Int64)
		c.DurationSeconds = &d
	}
	c.CallBriefVariables, c.DynamicVariables, c.Overrides = map[string]string{}, map[string]string{}, map[string]string{}
	_ = json.Unmarshal([]byte(vars), &c.CallBriefVariables)
	_ = json.Unmarshal([]byte(dyn), &c.DynamicVariables)
	_ = json.Unmarshal([]byte(over), &c.Overrides)
	_ = json.Unmarshal([]byte(objs), &c.objectives)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.InitiatedAt, c.RingingAt, c.AnsweredAt, c.EndedAt = timePtr(init), timePtr(ring), timePtr(ans), timePtr(end)
	return c, nil
}

func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func insertCall(ctx context.Context, q db.Querier, c Call) error {
	var hash *string
	if c.requestHash != "" {
		hash = &c.requestHash
	}
	objs := c.objectives
	if objs == nil {
		objs = []Objective{}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO calls (`+callCols+`, status_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38)`,
		c.ID, c.teamID, c.AgentID, c.Direction, c.Status, c.PhoneNumberFrom, c.PhoneNumberTo, c.PhoneNumberID, c.Provider,
		c.ProviderAgentID, c.ProviderCallID, c.CallSessionID, c.CallBriefText, jsonText(c.CallBriefVariables),
		jsonText(c.DynamicVariables), jsonText(objs), jsonText(c.Overrides), c.WebhookURL, c.IdempotencyKey, hash,
		c.dispatch, c.replyStatus, c.ErrorCode, c.ErrorDetail, c.HangupCause, c.HangupSource, c.AnsweredBy,
		c.DurationSeconds, c.ResultStatus, c.eventSeq, c.CreatedAt, c.UpdatedAt, c.InitiatedAt, c.RingingAt,
		c.AnsweredAt, c.EndedAt, c.InboundSessionID, statusRank[c.Status])
	return err
}

// saveCall writes the mutable fields of a call back.
func saveCall(ctx context.Context, q db.Querier, c Call) error {
	_, err := q.ExecContext(ctx, `UPDATE calls SET status = $1, status_rank = $2, provider_call_id = $3,
		call_session_id = $4, dispatch = $5, reply_status = $6, error_code = $7, error_detail = $8, hangup_cause = $9,
		hangup_source = $10, answered_by = $11, duration_seconds = $12, result_status = $13, updated_at = $14,
		initiated_at = $15, ringing_at = $16, answered_at = $17, ended_at = $18 WHERE id = $19`,
		c.Status, statusRank[c.Status], c.ProviderCallID, c.CallSessionID, c.dispatch, c.replyStatus, c.ErrorCode,
		c.ErrorDetail, c.HangupCause, c.HangupSource, c.AnsweredBy, c.DurationSeconds, c.ResultStatus, c.UpdatedAt,
		c.InitiatedAt, c.RingingAt, c.AnsweredAt, c.EndedAt, c.ID)
	return err
}

// lockCall reads a call inside tx after taking its row lock (a no-op
// update: PostgreSQL locks the row; SQLite has one writer anyway), so
// concurrent changes to one call are serialized.
func lockCall(ctx context.Context, tx *sql.Tx, where string, arg any) (Call, error) {
	res, err := tx.ExecContext(ctx, `UPDATE calls SET event_seq = event_seq WHERE `+where, arg)
	if err != nil {
		return Call{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Call{}, errNotFound
	}
	return scanCall(tx.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE `+where, arg))
}

// claimDispatch moves a call's dial from pending to in flight; it reports
// false when another attempt got there first.
func claimDispatch(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE calls SET dispatch = 'in_flight', updated_at = $1
		WHERE id = $2 AND dispatch = 'pending'`, db.Now(), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func callByID(ctx context.Context, q db.Querier, teamID, id string) (Call, error) {
	return scanCall(q.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1 AND team_id = $2`, id, teamID))
}

func callByKey(ctx context.Context, q db.Querier, teamID, key string) (Call, error) {
	return scanCall(q.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE team_id = $1 AND idempotency_key = $2`, teamID, key))
}

func callByProviderID(ctx context.Context, q db.Querier, pid string) (Call, error) {
	return scanCall(q.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE provider_call_id = $1`, pid))
}

func countLive(ctx context.Context, q db.Querier, teamID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls WHERE team_id = $1 AND status_rank < $2`, teamID, terminalRank).Scan(&n)
	return n, err
}

// claimEvent records a carrier event id; it reports false when the event
// was applied before. The table is shared with the messaging domain.
func claimEvent(ctx context.Context, tx *sql.Tx, id, typ string) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO carrier_events (id, event_type, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, typ, db.Now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Filter narrows call listings.
type Filter struct {
	AgentID, Direction, Status string
	Since, Until               *time.Time
}

// listQueries builds the call list's count and page queries for a team
// and filter; the page query takes two more arguments, limit and offset.
// Both are served by the (team_id, [status | agent_id,] created_at, id)
// indexes of migration 0012: the page walks one backwards and stops after
// offset + limit entries, the count reads only index entries.
func listQueries(teamID string, f Filter) (countSQL, pageSQL string, args []any) {
	where := []string{"team_id = $1"}
	args = []any{teamID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	for _, c := range []struct{ col, v string }{{"agent_id", f.AgentID}, {"direction", f.Direction}, {"status", f.Status}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if f.Since != nil {
		add("created_at >= ?", f.Since.UTC())
	}
	if f.Until != nil {
		add("created_at < ?", f.Until.UTC())
	}
	cond := strings.Join(where, " AND ")
	countSQL = `SELECT COUNT(*) FROM calls WHERE ` + cond
	if len(args) == 1 {
		// Unfiltered: the team's counter (migration 0013) instead of
		// counting every call.
		countSQL = `SELECT COALESCE(SUM(calls), 0) FROM team_call_counts WHERE team_id = $1`
	}
	pageSQL = `SELECT ` + callCols + ` FROM calls WHERE ` + cond + ` ORDER BY created_at DESC, id DESC LIMIT $` +
		strconv.Itoa(len(args)+1) + ` OFFSET $` + strconv.Itoa(len(args)+2)
	return countSQL, pageSQL, args
}

func listCalls(ctx context.Context, q db.Querier, teamID string, f Filter, limit, offset int) ([]Call, int, error) {
	countSQL, pageSQL, args := listQueries(teamID, f)
	var total int
	if err := q.QueryRowContext(ctx, countSQL, args...).Scan(&total); err != nil {
		return nil, 0, err
	}

	rows, err := q.QueryContext(ctx, pageSQL, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Call{}
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	return out, total, rows.Err()
}
