package agents

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
)

// deleteArgs is the job that removes a deleted agent's assistant from the
// runtime.
type deleteArgs struct {
	AgentID     string `json:"agent_id"`
	AssistantID string `json:"assistant_id"`
}

// Kind is the job's stable name in the queue.
func (deleteArgs) Kind() string { return "agent_assistant_delete" }

// deleteMaxAttempts keeps trying for days with the capped backoff below: an
// assistant left on the carrier keeps costing money and can still answer.
const deleteMaxAttempts = 1000

func deleteInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: deleteMaxAttempts}
}

type deleteWorker struct {
	river.WorkerDefaults[deleteArgs]
	s *Service
}

// NextRetry backs off exponentially from one second up to DeleteRetryCap.
func (w *deleteWorker) NextRetry(j *river.Job[deleteArgs]) time.Time {
	d := time.Second << min(j.Attempt, 20)
	return time.Now().Add(min(d, w.s.cfg.DeleteRetryCap))
}

// Timeout bounds one attempt.
func (w *deleteWorker) Timeout(*river.Job[deleteArgs]) time.Duration {
	return w.s.cfg.RuntimeTimeout + 10*time.Second
}

// Work deletes the assistant. The runtime saying it has no such assistant
// means the work is already done.
func (w *deleteWorker) Work(ctx context.Context, j *river.Job[deleteArgs]) error {
	s := w.s
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RuntimeTimeout)
	err := s.rt.DeleteAssistant(rctx, j.Args.AssistantID)
	cancel()
	if err != nil && runtimeKind(err) != RuntimeNotFound {
		s.log.WarnContext(ctx, "delete assistant failed; will retry", "agent_id", j.Args.AgentID,
			"assistant_id", j.Args.AssistantID, "attempt", j.Attempt, "err", err)
		return err
	}
	return setDeleted(ctx, s.db.W, j.Args.AgentID, db.Now())
}
