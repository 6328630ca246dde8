package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// Delivery is the API view of one event's delivery to one URL.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	URL            string     `json:"url"`
	Status         string     `json:"status" enum:"pending,retrying,succeeded,failed"`
	Round          int        `json:"round" doc:"1 for the original delivery; each redelivery starts a new round."`
	AttemptCount   int        `json:"attempt_count" doc:"Attempts made across all rounds."`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at" doc:"When the next attempt is due, while retrying."`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	CompletedAt    *time.Time `json:"completed_at"`
	Attempts       []Attempt  `json:"attempts,omitempty" doc:"Every attempt, oldest first (event detail only)."`
}

func (d delivery) view() Delivery {
	return Delivery{ID: d.ID, EventID: d.EventID, EventType: d.EventType, URL: d.URL, Status: d.Status, Round: d.Round,
		AttemptCount: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, NextAttemptAt: d.NextAttemptAt,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, CompletedAt: d.CompletedAt}
}

// EventDetail is an event with its deliveries and their attempts.
type EventDetail struct {
	ID         string          `json:"event_id"`
	Type       string          `json:"event"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
	Deliveries []Delivery      `json:"deliveries"`
}

// EventDetail loads an event of the team with every delivery and attempt.
func (s *Service) EventDetail(ctx context.Context, teamID, eventID string) (EventDetail, error) {
	e, err := eventByID(ctx, s.db.R, teamID, eventID)
	if err != nil {
		return EventDetail{}, err
	}
	var env envelope
	if err := json.Unmarshal([]byte(e.Body), &env); err != nil {
		return EventDetail{}, err
	}
	ds, err := deliveriesForEvent(ctx, s.db.R, teamID, eventID)
	if err != nil {
		return EventDetail{}, err
	}
	out := EventDetail{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt, Data: env.Data, Deliveries: []Delivery{}}
	for _, d := range ds {
		v := d.view()
		if v.Attempts, err = attemptsForDelivery(ctx, s.db.R, d.ID); err != nil {
			return EventDetail{}, err
		}
		if v.Attempts == nil {
			v.Attempts = []Attempt{}
		}
		out.Deliveries = append(out.Deliveries, v)
	}
	return out, nil
}

// Error codes of this domain.
const (
	CodeInvalidWebhookURL = "invalid_webhook_url"
)

// InvalidURL is the error for a webhook_url that fails ValidateURL.
func InvalidURL(field string, err error) *httpapi.Error {
	return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidWebhookURL, field+" "+err.Error()).
		WithDetails(map[string]any{"field": field})
}

// CheckURL validates a webhook URL given on a create request with this
// server's policy.
func (s *Service) CheckURL(field, raw string) error {
	if err := ValidateURL(raw, s.cfg.AllowPrivate); err != nil {
		return InvalidURL(field, err)
	}
	return nil
}

type listDeliveriesInput struct {
	httpapi.PageParams
	EventID   string `query:"event_id" doc:"Only deliveries of this event."`
	EventType string `query:"event_type" doc:"Only deliveries of this event type."`
	Status    string `query:"status" enum:"pending,retrying,succeeded,failed" doc:"Only deliveries in this status."`
	URL       string `query:"url" doc:"Only deliveries to exactly this URL."`
}

type eventIDInput struct {
	EventID string `path:"event_id"`
}

type testEventInput struct {
	Body struct {
		URL string `json:"url" minLength:"1" maxLength:"2048" doc:"Where to send a webhook.test event."`
	}
}

// Routes mounts the delivery log and redelivery operations.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/api/v1/webhook-deliveries", Tags: tags,
		Summary: "List webhook deliveries", Description: "Newest first. Each delivery is one event sent to one URL, with up to three attempts a round.",
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *listDeliveriesInput) (*httpapi.List[Delivery], error) {
		p := httpapi.MustPrincipal(ctx)
		ds, total, err := listDeliveries(ctx, s.db.R, p.TeamID,
			DeliveryFilter{EventID: in.EventID, EventType: in.EventType, Status: in.Status, URL: in.URL}, in.Limit(), in.Offset())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		views := make([]Delivery, 0, len(ds))
		for _, d := range ds {
			views = append(views, d.view())
		}
		return httpapi.NewList(views, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-webhook-event", Method: http.MethodGet, Path: "/api/v1/webhook-events/{event_id}", Tags: tags,
		Summary:  "Get a webhook event with every delivery attempt",
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *eventIDInput) (*httpapi.Response[EventDetail], error) {
		d, err := s.EventDetail(ctx, httpapi.MustPrincipal(ctx).TeamID, in.EventID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(d), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "redeliver-webhook-event", Method: http.MethodPost, Path: "/api/v1/webhook-events/{event_id}/redeliver", Tags: tags,
		Summary:       "Redeliver a webhook event",
		Description:   "Starts a new round of up to three attempts for each of the event's deliveries, with the same event_id and body. Answers 202 with the event as it stands.",
		Security:      httpapi.Authed,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *eventIDInput) (*httpapi.Created[EventDetail], error) {
		team := httpapi.MustPrincipal(ctx).TeamID
		found, err := s.Redeliver(ctx, team, in.EventID)
		if err == nil && !found {
			err = errNotFound
		}
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		d, err := s.EventDetail(ctx, team, in.EventID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &httpapi.Created[EventDetail]{Status: http.StatusAccepted, Body: httpapi.Data[EventDetail]{Data: d}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "send-test-webhook", Method: http.MethodPost, Path: "/api/v1/webhook-events/test", Tags: tags,
		Summary:       "Send a test webhook",
		Description:   "Emits a `webhook.test` event to the given URL through the normal signed, retried delivery path, so a receiver can be checked before real traffic. Answers 202 with the event.",
		Security:      httpapi.Authed,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *testEventInput) (*httpapi.Created[EventDetail], error) {
		if err := s.CheckURL("url", in.Body.URL); err != nil {
			return nil, err
		}
		team := httpapi.MustPrincipal(ctx).TeamID
		var ev Event
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			ev, err = s.Emit(ctx, tx, NewEvent{TeamID: team, Type: "webhook.test", URL: in.Body.URL,
				Data: map[string]any{"message": "This is a test event from Peak Voice."}})
			return err
		})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		d, err := s.EventDetail(ctx, team, ev.ID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &httpapi.Created[EventDetail]{Status: http.StatusAccepted, Body: httpapi.Data[EventDetail]{Data: d}}, nil
	})
}

func (s *Service) fail(ctx context.Context, err error) error {
	return httpapi.Fail(ctx, s.log, err, errNotFound, httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such webhook event"))
}
