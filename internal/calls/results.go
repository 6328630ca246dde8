package calls

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Result is what a finished call produced.
type Result struct {
	Transcript     []Turn            `json:"transcript" doc:"The conversation, oldest first."`
	RecordingURL   *string           `json:"recording_url" doc:"The recording, served through this API (authenticated); null when the call was not recorded."`
	Summary        *string           `json:"summary" doc:"The carrier's summary of the conversation."`
	StructuredData map[string]any    `json:"structured_data" doc:"Fields extracted from the call: the JSON-object insights merged, keys as the agent's structured_data_schema names them."`
	Insights       []Insight         `json:"insights" doc:"Every insight the carrier produced, normalized."`
	Objectives     []ObjectiveResult `json:"objectives" doc:"Each of the agent's objectives with its outcome."`
	ConversationID *string           `json:"provider_conversation_id"`
	CreatedAt      time.Time         `json:"created_at"`
}

// Insight is one normalized carrier insight: Value is the parsed JSON for
// schema insights and the text otherwise.
type Insight struct {
	ID    string `json:"insight_id"`
	Kind  string `json:"kind" enum:"text,structured"`
	Value any    `json:"value"`
}

// ObjectiveResult is an objective's outcome. An objective is met or
// not_met when the structured data holds a boolean under its name (the
// agent's structured_data_schema is expected to declare one per
// objective); otherwise it is unknown.
type ObjectiveResult struct {
	Name     string  `json:"name"`
	Status   string  `json:"status" enum:"met,not_met,unknown"`
	Evidence *string `json:"evidence" doc:"Where the status came from; null when unknown."`
}

// resultsArgs assembles a finished call's result.
type resultsArgs struct {
	CallID string `json:"call_id"`
}

func (resultsArgs) Kind() string { return "call_results" }

// resultsMaxAttempts bounds how long the carrier may take to prepare a
// conversation (with the 2 s linear backoff below, about 6 minutes).
const resultsMaxAttempts = 25

func resultsOpts() *river.InsertOpts { return &river.InsertOpts{MaxAttempts: resultsMaxAttempts} }

type resultsWorker struct {
	river.WorkerDefaults[resultsArgs]
	s *Service
}

// NextRetry waits a little longer after each attempt: the carrier is
// usually seconds away from ready.
func (w *resultsWorker) NextRetry(j *river.Job[resultsArgs]) time.Time {
	return time.Now().Add(time.Duration(j.Attempt) * time.Second)
}

func (w *resultsWorker) Work(ctx context.Context, j *river.Job[resultsArgs]) error {
	err := w.s.assemble(ctx, j.Args.CallID)
	if err == nil || j.Attempt < resultsMaxAttempts {
		return err
	}
	w.s.log.Error("call result could not be assembled", "call_id", j.Args.CallID, "err", err)
	return w.s.finishResult(ctx, j.Args.CallID, nil)
}

// assemble fetches a finished call's artifacts and stores its result.
func (s *Service) assemble(ctx context.Context, id string) error {
	c, err := scanCall(s.db.R.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil || c.ResultStatus != ResultPending || c.ProviderCallID == nil {
		return err
	}
	f := Finished{CallControlID: *c.ProviderCallID}
	if c.CallSessionID != nil {
		f.SessionID = *c.CallSessionID
	}
	a, err := s.cfg.Carrier.FetchResults(ctx, f)
	if err != nil {
		return err // ErrNotReady and carrier failures alike: the queue retries
	}
	r := buildResult(a, c.objectives)
	if a.RecordingID != "" && s.cfg.PublicURL != "" {
		u := strings.TrimRight(s.cfg.PublicURL, "/") + "/api/v1/calls/" + c.ID + "/recording"
		r.RecordingURL = &u
	}
	return s.finishResult(ctx, id, &stored{Result: r, recordingID: a.RecordingID, handoffs: a.Handoffs})
}

// stored is a result with what only the server needs.
type stored struct {
	Result
	recordingID string
	handoffs    []string
}

// buildResult normalizes the carrier's artifacts.
func buildResult(a Artifacts, objectives []Objective) Result {
	r := Result{Transcript: a.Transcript, StructuredData: map[string]any{}, Insights: []Insight{}, Objectives: []ObjectiveResult{}}
	if r.Transcript == nil {
		r.Transcript = []Turn{}
	}
	if a.ConversationID != "" {
		r.ConversationID = &a.ConversationID
	}
	for _, in := range a.Insights {
		var obj map[string]any
		text := strings.TrimSpace(in.Result)
		if strings.HasPrefix(text, "{") && json.Unmarshal([]byte(text), &obj) == nil {
			r.Insights = append(r.Insights, Insight{ID: in.ID, Kind: "structured", Value: obj})
			for k, v := range obj {
				r.StructuredData[k] = v
			}
			continue
		}
		r.Insights = append(r.Insights, Insight{ID: in.ID, Kind: "text", Value: in.Result})
		if r.Summary == nil && text != "" {
			r.Summary = &text
		}
	}
	for _, o := range objectives {
		res := ObjectiveResult{Name: o.Name, Status: "unknown"}
		if v, ok := r.StructuredData[o.Name].(bool); ok {
			res.Status = "not_met"
			if v {
				res.Status = "met"
			}
			ev := "structured_data." + o.Name + " is " + map[bool]string{true: "true", false: "false"}[v]
			res.Evidence = &ev
		}
		r.Objectives = append(r.Objectives, res)
	}
	return r
}

// finishResult stores a result (nil: assembly gave up), logs it on the
// call and tells the call's webhook.
func (s *Service) finishResult(ctx context.Context, id string, r *stored) error {
	return s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		c, err := lockCall(ctx, tx, "id = $1", id)
		if err != nil || c.ResultStatus != ResultPending {
			return err
		}
		typ := EventResultFailed
		c.ResultStatus = ResultFailed
		if r != nil {
			typ, c.ResultStatus = EventResultReady, ResultReady
			if err := insertResult(ctx, tx, id, *r); err != nil {
				return err
			}
		}
		c.UpdatedAt = db.Now()
		if err := saveCall(ctx, tx, c); err != nil {
			return err
		}
		touched(id)
		data := map[string]any{"result_status": c.ResultStatus}
		if r != nil {
			data["recording_url"], data["summary"] = r.RecordingURL, r.Summary
		}
		if err := appendEvent(ctx, tx, &c, typ, data); err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		// The carrier reports handoffs in the conversation: tell the call's
		// webhook (for inbound calls, the session's) that each happened.
		for _, h := range r.handoffs {
			data := webhookData(c)
			data["inbound_session_id"], data["handoff"] = c.InboundSessionID, h
			if err := s.emit(ctx, tx, c, "handoff.completed", data); err != nil {
				return err
			}
		}
		hook := webhookData(c)
		hook["result"] = r.Result
		return s.emit(ctx, tx, c, "call.result_ready", hook)
	})
}

func insertResult(ctx context.Context, tx *sql.Tx, callID string, r stored) error {
	var rec *string
	if r.recordingID != "" {
		rec = &r.recordingID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO call_results (call_id, conversation_id, transcript, summary, structured_data,
		insights, objectives, recording_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		callID, r.ConversationID, jsonText(r.Transcript), r.Summary, jsonText(r.StructuredData), jsonText(r.Insights),
		jsonText(r.Objectives), rec, db.Now())
	return err
}

// resultOf reads a call's stored result; nil when there is none.
func (s *Service) resultOf(ctx context.Context, c Call) (*Result, string, error) {
	var r Result
	var conv, summary, rec sql.NullString
	var transcript, structured, insights, objectives string
	err := s.db.R.QueryRowContext(ctx, `SELECT conversation_id, transcript, summary, structured_data, insights, objectives,
		recording_id, created_at FROM call_results WHERE call_id = $1`, c.ID).
		Scan(&conv, &transcript, &summary, &structured, &insights, &objectives, &rec, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	r.ConversationID, r.Summary, r.CreatedAt = strPtr(conv), strPtr(summary), r.CreatedAt.UTC()
	_ = json.Unmarshal([]byte(transcript), &r.Transcript)
	_ = json.Unmarshal([]byte(structured), &r.StructuredData)
	_ = json.Unmarshal([]byte(insights), &r.Insights)
	_ = json.Unmarshal([]byte(objectives), &r.Objectives)
	sort.SliceStable(r.Transcript, func(i, j int) bool { return r.Transcript[i].At.Before(r.Transcript[j].At) })
	if rec.Valid && s.cfg.PublicURL != "" {
		u := strings.TrimRight(s.cfg.PublicURL, "/") + "/api/v1/calls/" + c.ID + "/recording"
		r.RecordingURL = &u
	}
	return &r, rec.String, nil
}

// OpenRecording streams a call's recording from the carrier.
func (s *Service) OpenRecording(ctx context.Context, teamID, id string) (io.ReadCloser, string, error) {
	c, err := callByID(ctx, s.db.R, teamID, id)
	if err != nil {
		return nil, "", err
	}
	_, rec, err := s.resultOf(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if rec == "" {
		return nil, "", errNoRecording
	}
	return s.cfg.Carrier.OpenRecording(ctx, rec)
}

var errNoRecording = errors.New("no recording")
