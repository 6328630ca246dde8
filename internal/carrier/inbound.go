package carrier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/inbound"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// InboundGate decides inbound calls.
type InboundGate interface {
	Gate(ctx context.Context, callSID, from, to string) (inbound.GateAnswer, error)
}

// GateWebhook is the voice URL of Peak Voice's TeXML application: Telnyx
// asks it, signed and form-encoded, what to do with each inbound call, and
// it answers TeXML — <Connect><AIAssistant> or <Reject>.
func GateWebhook(v *telnyx.Verifier, gate InboundGate, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.ReadVerified(r, time.Now())
		if err != nil {
			log.WarnContext(r.Context(), "rejected TeXML request", "err", err)
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the webhook signature is missing, invalid or stale"))
			return
		}
		req, err := telnyx.ParseTeXMLRequest(body)
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the body is not a TeXML call request"))
			return
		}
		ans, err := gate.Gate(r.Context(), req.CallSID, req.From, req.To)
		if err != nil {
			// Never leave a caller hanging on our error: turn the call away
			// politely, and let the log tell why.
			log.ErrorContext(r.Context(), "inbound gate", "call_sid", req.CallSID, "err", err)
			ans.Reject, ans.Reason = true, "temporarily unavailable"
		}
		w.Header().Set("Content-Type", telnyx.TeXMLContentType)
		if ans.Reject {
			_, _ = w.Write(telnyx.TeXMLReject("rejected"))
			return
		}
		_, _ = w.Write(telnyx.TeXMLConnectAssistant(ans.AssistantID))
	})
}

// ToolTokenHeader carries the per-agent token on webhook-tool requests:
// Telnyx does not sign tool calls, so the assistant is given a header only
// it knows.
const ToolTokenHeader = "X-Peak-Voice-Tool-Token"

// ToolToken is the token of an agent's tool calls: an HMAC of the agent id
// under the server's secret, so nothing needs storing and rotating the
// secret rotates every token.
func ToolToken(secret []byte, agentID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("lookup-tool:" + agentID))
	return hex.EncodeToString(m.Sum(nil))
}

// CallerLookup answers the lookup tool.
type CallerLookup interface {
	// LookupCall answers for a call the handler has already found (and
	// authenticated the tool call against).
	LookupCall(ctx context.Context, call inbound.CallRef, callerName, callerPhone string) (inbound.LookupResult, bool, error)
}

// CallAgents tells which agent a live call belongs to.
type CallAgents interface {
	ByProviderID(ctx context.Context, providerCallID string) (inbound.CallRef, bool, error)
}

// LookupToolWebhook is the lookup_inbound_caller_context tool endpoint.
// The request must carry the call's id (x-telnyx-call-control-id) and the
// token of the agent on that call; anything else is 401.
func LookupToolWebhook(secret []byte, calls CallAgents, lookup CallerLookup, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "unreadable body"))
			return
		}
		req, err := telnyx.ParseToolRequest(r.Header, body)
		if err != nil || req.CallControlID == "" {
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the tool call does not name its call"))
			return
		}
		ref, ok, err := calls.ByProviderID(r.Context(), req.CallControlID)
		if err != nil {
			failRequest(w, r, log, err, "lookup tool")
			return
		}
		want := ""
		if ok {
			want = ToolToken(secret, ref.AgentID)
		}
		if !ok || !hmac.Equal([]byte(r.Header.Get(ToolTokenHeader)), []byte(want)) {
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the tool call is not authenticated"))
			return
		}
		var args struct {
			CallerName        string `json:"caller_name"`
			CallerPhoneNumber string `json:"caller_phone_number"`
		}
		if len(req.Arguments) > 0 && json.Unmarshal(req.Arguments, &args) != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "arguments must be a JSON object"))
			return
		}
		res, found, err := lookup.LookupCall(r.Context(), ref, args.CallerName, args.CallerPhoneNumber)
		if err != nil {
			failRequest(w, r, log, err, "lookup tool")
			return
		}
		if !found {
			res = inbound.LookupResult{MatchStatus: inbound.MatchNone, Message: "This call has no expected callers."}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}
