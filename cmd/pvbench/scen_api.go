package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// smsRecipients is how many customers the SMS scenario writes to. Each
// (our number, their number) pair is one conversation, whose counters every
// send updates; on PostgreSQL sends within one conversation therefore
// queue on its row (a few hundred per second, far above what carriers
// allow one sender number), so the load spreads over many, as a business
// texting its customers does.
const smsRecipients = 1000

// scenSMS sends SMS through the public API, each with a fresh
// idempotency key, from the team's number to smsRecipients deliverable
// numbers in turn. The simulator then reports sent and delivered, so the
// server also handles those carrier webhooks while under load.
func scenSMS(ctx context.Context, o *options, t *target) *result {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	r := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, i int) int {
		to := fmt.Sprintf("+1415555%04d", 1000+i%smsRecipients)
		body := mustJSON(map[string]any{"to": to, "text": "Your table for two is ready at 7pm.",
			"phone_number_id": t.numberID, "idempotency_key": "bench-" + run + "-" + strconv.Itoa(i)})
		return t.cl.status(ctx, "POST", "/api/v1/sms/send", body, t.auth()...)
	})
	r.Name = "sms-send"
	r.note("%d recipients in turn (one conversation each)", smsRecipients)
	return r
}

// scenCallCreate creates outbound calls through the API; the simulator
// plays each one out (status callbacks, dynamic variables, results), so
// the server carries that traffic too.
func scenCallCreate(ctx context.Context, o *options, t *target) *result {
	r := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, i int) int {
		body := mustJSON(map[string]any{"agent_id": t.agentID, "phone_number_to": "+14155550142",
			"call_brief_variables": map[string]string{"customer_name": "Ada " + strconv.Itoa(i), "order_id": strconv.Itoa(4000 + i)}})
		return t.cl.status(ctx, "POST", "/api/v1/calls", body, t.auth()...)
	})
	r.Name = "call-create"
	return r
}

// templateCall creates one outbound call through the API and waits for the
// simulator to finish it, so its row is a finished call as the product
// writes one.
func (t *target) templateCall(ctx context.Context) (string, error) {
	var c struct{ Data struct{ ID string } }
	if _, err := t.cl.do(ctx, "POST", "/api/v1/calls", mustJSON(map[string]any{"agent_id": t.agentID,
		"phone_number_to": "+14155550142", "call_brief_variables": map[string]string{"customer_name": "Ada"}}), &c, t.auth()...); err != nil {
		return "", err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var d struct {
			Data struct {
				Call struct {
					Status       string `json:"status"`
					ResultStatus string `json:"result_status"`
				} `json:"call"`
			}
		}
		if _, err := t.cl.do(ctx, "GET", "/api/v1/calls/"+c.Data.ID, nil, &d, t.auth()...); err != nil {
			return "", err
		}
		if d.Data.Call.Status == "completed" && d.Data.Call.ResultStatus != "pending" {
			return c.Data.ID, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("template call %s did not finish within 60s", c.Data.ID)
}

// scenCallList stores o.listCalls finished calls for the team (copies of
// a real one, spread over the past days) and reads list pages: the first
// page most of the time, deeper pages some of the time, as a dashboard
// and an export would.
func scenCallList(ctx context.Context, o *options, t *target) (*result, error) {
	id, err := t.templateCall(ctx)
	if err != nil {
		return nil, err
	}
	tmpl, err := templateRow(ctx, t.db, "calls", id)
	if err != nil {
		return nil, err
	}
	cl := newCloner(t.db, "calls", tmpl)
	now := time.Now().UTC()
	start := time.Now()
	err = cl.insert(ctx, o.listCalls, func(i int) set {
		at := now.Add(-time.Duration(i+1) * 250 * time.Millisecond)
		return set{"id": uuid.Must(uuid.NewV7()).String(), "provider_call_id": nil, "idempotency_key": nil,
			"created_at": at, "updated_at": at, "to_number": callerNumber(i)}
	})
	if err != nil {
		return nil, err
	}
	seedTime := time.Since(start)
	r := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, i int) int {
		path := "/api/v1/calls?per_page=50"
		switch i % 10 {
		case 7:
			path += "&page=100"
		case 8:
			path += "&status=completed&direction=outbound"
		case 9:
			path += "&since=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339))
		}
		return t.cl.status(ctx, "GET", path, nil, t.auth()...)
	})
	r.Name = "calls-list"
	r.note("%d calls seeded by SQL in %s (%.0f rows/s); pages: 70%% first page, 10%% page 100 (offset 4950), 10%% status+direction filter, 10%% since 1h",
		o.listCalls, seedTime.Round(time.Millisecond), float64(o.listCalls)/seedTime.Seconds())
	return r, nil
}
