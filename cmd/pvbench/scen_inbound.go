package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/carrier"
)

// inboundData is the seeded callback data: sessions, their targets, and
// one recorded inbound call per session.
type inboundData struct {
	calls []string // provider call ids, one per session
	names []string // contact name the caller of call i would give
}

// Which seeded sessions have a webhook_url, and which callers match a
// target: alternating, so every run mixes the four combinations.
func sessionHasHook(i int) bool { return i%2 == 0 }
func callerMatches(i int) bool  { return (i/2)%2 == 0 }

// signCarrier signs body the way the carrier (and the simulator) does:
// Ed25519 over "<unix seconds>|<body>".
func (t *target) signCarrier(body []byte) []string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := ed25519.Sign(t.simKey, append([]byte(ts+"|"), body...))
	return []string{"telnyx-timestamp", ts, "telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(sig)}
}

// seedInbound creates one session, target and inbound call through the
// API and the carrier's gate, then copies them by SQL up to o.sessions
// sessions with o.targetsPer targets each.
func seedInbound(ctx context.Context, o *options, t *target, hookURL string) (*inboundData, error) {
	var sess struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/inbound-sessions", mustJSON(map[string]any{
		"phone_number_id": t.numberID, "agent_id": t.agentID, "callback_window_seconds": 86400,
		"context_variables": map[string]any{"campaign": "pos-callback", "store": "Downtown"}, "webhook_url": hookURL,
	}), &sess, t.auth()...); err != nil {
		return nil, err
	}
	var tg struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/inbound-sessions/"+sess.Data.ID+"/callback-targets", mustJSON(map[string]any{
		"label": "Order #1", "contact_name": "Template Caller", "known_phone_numbers": []string{callerNumber(9_999_999)},
		"context_variables": map[string]any{"order_id": "1", "items_count": 3},
	}), &tg, t.auth()...); err != nil {
		return nil, err
	}
	// The carrier asks the gate about a call to our number: it records the
	// inbound call for the session.
	sid := "v3:bench-template-" + uuid.NewString()
	form := []byte(url.Values{"CallSid": {sid}, "From": {callerNumber(9_999_999)}, "To": {t.number},
		"CallStatus": {"ringing"}, "Direction": {"inbound"}, "AccountSid": {"bench"}}.Encode())
	headers := append(t.signCarrier(form), "Content-Type", "application/x-www-form-urlencoded")
	if st, err := t.cl.do(ctx, "POST", "/webhooks/telnyx/texml/inbound", form, nil, headers...); err != nil || st != 200 {
		return nil, fmt.Errorf("gate: status %d: %v", st, err)
	}
	var callID string
	if err := t.db.W.QueryRowContext(ctx, `SELECT id FROM calls WHERE provider_call_id = $1`, sid).Scan(&callID); err != nil {
		return nil, fmt.Errorf("the gate recorded no call: %w", err)
	}

	sessRow, err := templateRow(ctx, t.db, "inbound_sessions", sess.Data.ID)
	if err != nil {
		return nil, err
	}
	tgRow, err := templateRow(ctx, t.db, "callback_targets", tg.Data.ID)
	if err != nil {
		return nil, err
	}
	callRow, err := templateRow(ctx, t.db, "calls", callID)
	if err != nil {
		return nil, err
	}
	n, per := o.sessions, o.targetsPer
	now := time.Now().UTC()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	if err := newCloner(t.db, "inbound_sessions", sessRow).insert(ctx, n, func(i int) set {
		var hook any
		if sessionHasHook(i) {
			hook = hookURL
		}
		at := now.Add(-time.Duration(n-i) * time.Millisecond)
		return set{"id": ids[i], "webhook_url": hook, "created_at": at, "updated_at": at}
	}); err != nil {
		return nil, err
	}
	if err := newCloner(t.db, "callback_targets", tgRow).insert(ctx, n*per, func(j int) set {
		at := now.Add(-time.Duration(n*per-j) * time.Microsecond)
		return set{"id": uuid.Must(uuid.NewV7()).String(), "session_id": ids[j/per], "created_at": at, "updated_at": at,
			"contact_name": contactName(j), "label": "Order #" + strconv.Itoa(10000+j),
			"known_phone_numbers": `["` + callerNumber(j) + `"]`,
			"context_variables":   `{"order_id":"` + strconv.Itoa(10000+j) + `","items_count":` + strconv.Itoa(1+j%5) + `}`}
	}); err != nil {
		return nil, err
	}
	data := &inboundData{calls: make([]string, n), names: make([]string, n)}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := newCloner(t.db, "calls", callRow).insert(ctx, n, func(i int) set {
		from := "+1646555" + fmt.Sprintf("%04d", i%10000) // nobody's number
		target := i*per + i%per                           // one of this session's targets
		data.names[i] = "Unknown Person"
		if callerMatches(i) {
			from = callerNumber(target)
			data.names[i] = contactName(target)
		}
		data.calls[i] = "v3:bench-in-" + run + "-" + strconv.Itoa(i)
		at := now.Add(-time.Duration(n-i) * time.Millisecond)
		return set{"id": uuid.Must(uuid.NewV7()).String(), "provider_call_id": data.calls[i], "inbound_session_id": ids[i],
			"from_number": from, "created_at": at, "updated_at": at}
	}); err != nil {
		return nil, err
	}
	// No ANALYZE: the product never runs it, so the planner works as it
	// does in production.
	return data, nil
}

func contactName(j int) string { return "Customer " + strconv.Itoa(j) }

// pick spreads requests over the seeded calls; want filters by whether
// the session has a webhook (nil: any).
func (d *inboundData) pick(i int, want *bool) int {
	n := len(d.calls)
	k := (i * 7919) % n
	if want != nil && sessionHasHook(k) != *want {
		k = (k + 1) % n
	}
	return k
}

// dvRequest is the signed assistant.initialization request for call k.
func (t *target) dvRequest(d *inboundData, k int) ([]byte, []string) {
	payload := map[string]any{"telnyx_conversation_channel": "phone_call", "telnyx_agent_target": t.number,
		"telnyx_end_user_target": "+13125550100", "telnyx_end_user_target_verified": false,
		"call_control_id": d.calls[k], "assistant_id": "assistant-bench"}
	body := mustJSON(map[string]any{"data": map[string]any{"event_type": "assistant.initialization",
		"id": uuid.NewString(), "occurred_at": time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
		"payload": payload, "record_type": "event"}})
	return body, append(t.signCarrier(body), "Content-Type", "application/json")
}

const dvPath = "/webhooks/telnyx/dynamic-variables"

// scenDynamicVariables runs the carrier's dynamic-variables webhook
// closed-loop, once on sessions without a webhook_url and once on
// sessions with one (each request then emits callback.* events), and
// then open-loop at o.dvRate on sessions without one and on the mix.
func scenDynamicVariables(ctx context.Context, o *options, t *target, d *inboundData) []*result {
	var out []*result
	for _, hook := range []bool{false, true} {
		r := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, i int) int {
			body, h := t.dvRequest(d, d.pick(i, &hook))
			return t.cl.status(ctx, "POST", dvPath, body, h...)
		})
		r.Name = "dv-webhook"
		if hook {
			r.Name = "dv-webhook+session-events"
		}
		r.note("%d sessions, %d callback targets, %d recorded inbound calls; half the callers match a target", len(d.calls), len(d.calls)*o.targetsPer, len(d.calls))
		out = append(out, r)
		t.settle(ctx, r)
	}
	// Open loop at the planned rate: first on sessions without a
	// webhook_url (reads only), then on the mix, where half the requests
	// commit callback events.
	for _, mix := range []bool{false, true} {
		noHook := false
		want := &noHook
		if mix {
			want = nil
		}
		r := runRate(ctx, o.duration, o.dvRate, 64, t.pid, func(ctx context.Context, _, i int) int {
			body, h := t.dvRequest(d, d.pick(i, want))
			return t.cl.status(ctx, "POST", dvPath, body, h...)
		})
		r.Name = fmt.Sprintf("dv-webhook@%.0f/s", o.dvRate)
		if mix {
			r.Name = fmt.Sprintf("dv-webhook(mix)@%.0f/s", o.dvRate)
			r.note("mix: half the sessions have a webhook_url")
		} else {
			r.note("sessions without a webhook_url")
		}
		t.settle(ctx, r)
		out = append(out, r)
	}
	return out
}

// scenLookup runs the lookup tool as the assistant calls it mid-call,
// with the agent's tool token, on the same data.
func scenLookup(ctx context.Context, o *options, t *target, d *inboundData) *result {
	token := carrier.ToolToken(t.toolKey, t.agentID)
	r := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, i int) int {
		k := d.pick(i, nil)
		body := mustJSON(map[string]string{"caller_name": strings.ToLower(d.names[k])})
		return t.cl.status(ctx, "POST", "/webhooks/telnyx/tools/lookup-inbound-caller-context", body,
			"x-telnyx-call-control-id", d.calls[k], carrier.ToolTokenHeader, token)
	})
	r.Name = "lookup-tool"
	r.note("half the callers give a target's name; half the sessions have a webhook_url")
	t.settle(ctx, r)
	return r
}
