package telnyx

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PhoneNumber is a number on the Telnyx account.
type PhoneNumber struct {
	ID          string `json:"id"`
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status"`
	// ConnectionID routes voice: a TeXML or Call Control application id.
	ConnectionID         string    `json:"connection_id"`
	ConnectionName       string    `json:"connection_name"`
	MessagingProfileID   string    `json:"messaging_profile_id"`
	MessagingProfileName string    `json:"messaging_profile_name"`
	Tags                 []string  `json:"tags"`
	CountryISOAlpha2     string    `json:"country_iso_alpha2"`
	PhoneNumberType      string    `json:"phone_number_type"`
	CustomerReference    string    `json:"customer_reference"`
	PurchasedAt          time.Time `json:"purchased_at"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
}

// PhoneNumberFilter narrows ListPhoneNumbers. Zero fields are ignored.
type PhoneNumberFilter struct {
	// PhoneNumber matches numbers containing these digits (at least 3).
	PhoneNumber  string
	ConnectionID string
	Tag          string
	Status       string
	PageNumber   int
	PageSize     int
}

// PhoneNumberPage is one page of phone numbers.
type PhoneNumberPage struct {
	Numbers []PhoneNumber
	Meta    PageMeta
}

// ListPhoneNumbers returns one page of the account's numbers.
func (c *Client) ListPhoneNumbers(ctx context.Context, f PhoneNumberFilter) (*PhoneNumberPage, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter[phone_number]", f.PhoneNumber)
	set("filter[connection_id]", f.ConnectionID)
	set("filter[tag]", f.Tag)
	set("filter[status]", f.Status)
	q = pageQuery(q, f.PageNumber, f.PageSize)
	var env listEnvelope[PhoneNumber]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/phone_numbers", query: q, retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &PhoneNumberPage{Numbers: env.Data, Meta: env.Meta}, nil
}

// ListAllPhoneNumbers walks every page of ListPhoneNumbers.
func (c *Client) ListAllPhoneNumbers(ctx context.Context, f PhoneNumberFilter) ([]PhoneNumber, error) {
	if f.PageSize == 0 {
		f.PageSize = 250
	}
	var all []PhoneNumber
	for page := 1; ; page++ {
		f.PageNumber = page
		p, err := c.ListPhoneNumbers(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Numbers...)
		if len(p.Numbers) == 0 || page >= p.Meta.TotalPages {
			return all, nil
		}
	}
}

// GetPhoneNumber fetches a number by its numeric id.
func (c *Client) GetPhoneNumber(ctx context.Context, id string) (*PhoneNumber, error) {
	if err := requireID("GET /phone_numbers/{id}", "phone number id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[PhoneNumber]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/phone_numbers/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// PhoneNumberUpdate changes a number's routing and labels. Nil fields are
// left unchanged.
type PhoneNumberUpdate struct {
	// ConnectionID routes the number's calls; "" detaches it.
	ConnectionID      *string  `json:"connection_id,omitempty"`
	CustomerReference *string  `json:"customer_reference,omitempty"`
	Tags              []string `json:"tags,omitempty"`
}

// UpdatePhoneNumber patches a number (e.g. to point it at a TeXML app).
func (c *Client) UpdatePhoneNumber(ctx context.Context, id string, u PhoneNumberUpdate) (*PhoneNumber, error) {
	if err := requireID("PATCH /phone_numbers/{id}", "phone number id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[PhoneNumber]
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/phone_numbers/" + escape(id), body: u}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// NumberMessaging is a number's messaging settings.
type NumberMessaging struct {
	ID                 string    `json:"id"`
	PhoneNumber        string    `json:"phone_number"`
	MessagingProfileID string    `json:"messaging_profile_id"`
	MessagingProduct   string    `json:"messaging_product"`
	Type               string    `json:"type"`
	CountryCode        string    `json:"country_code"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// NumberMessagingUpdate changes a number's messaging settings. Nil fields
// are left unchanged.
type NumberMessagingUpdate struct {
	// MessagingProfileID assigns a profile; "" unassigns.
	MessagingProfileID *string `json:"messaging_profile_id,omitempty"`
	MessagingProduct   string  `json:"messaging_product,omitempty"`
}

// GetNumberMessaging fetches a number's messaging settings.
func (c *Client) GetNumberMessaging(ctx context.Context, id string) (*NumberMessaging, error) {
	if err := requireID("GET /phone_numbers/{id}/messaging", "phone number id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[NumberMessaging]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/phone_numbers/" + escape(id) + "/messaging", retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// UpdateNumberMessaging patches a number's messaging settings, e.g. to
// attach the messaging profile whose webhook receives inbound SMS.
func (c *Client) UpdateNumberMessaging(ctx context.Context, id string, u NumberMessagingUpdate) (*NumberMessaging, error) {
	if err := requireID("PATCH /phone_numbers/{id}/messaging", "phone number id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[NumberMessaging]
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/phone_numbers/" + escape(id) + "/messaging", body: u}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// MessagingProfile groups numbers and says where their SMS webhooks go.
type MessagingProfile struct {
	ID                      string    `json:"id"`
	Name                    string    `json:"name"`
	Enabled                 bool      `json:"enabled"`
	WebhookURL              string    `json:"webhook_url"`
	WebhookFailoverURL      string    `json:"webhook_failover_url"`
	WhitelistedDestinations []string  `json:"whitelisted_destinations"`
	AIAssistantID           string    `json:"ai_assistant_id"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// MessagingProfileParams creates or updates a messaging profile. On create,
// Name is required and WhitelistedDestinations defaults to ["US"].
type MessagingProfileParams struct {
	Name                    string   `json:"name,omitempty"`
	Enabled                 *bool    `json:"enabled,omitempty"`
	WebhookURL              *string  `json:"webhook_url,omitempty"`
	WebhookFailoverURL      *string  `json:"webhook_failover_url,omitempty"`
	WhitelistedDestinations []string `json:"whitelisted_destinations,omitempty"`
}

// CreateMessagingProfile creates a messaging profile.
func (c *Client) CreateMessagingProfile(ctx context.Context, p MessagingProfileParams) (*MessagingProfile, error) {
	if p.WhitelistedDestinations == nil {
		p.WhitelistedDestinations = []string{"US"}
	}
	var env dataEnvelope[MessagingProfile]
	if err := c.do(ctx, request{method: http.MethodPost, path: "/messaging_profiles", body: p}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// GetMessagingProfile fetches a messaging profile.
func (c *Client) GetMessagingProfile(ctx context.Context, id string) (*MessagingProfile, error) {
	if err := requireID("GET /messaging_profiles/{id}", "messaging profile id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[MessagingProfile]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/messaging_profiles/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// UpdateMessagingProfile patches a messaging profile.
func (c *Client) UpdateMessagingProfile(ctx context.Context, id string, p MessagingProfileParams) (*MessagingProfile, error) {
	if err := requireID("PATCH /messaging_profiles/{id}", "messaging profile id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[MessagingProfile]
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/messaging_profiles/" + escape(id), body: p}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}
