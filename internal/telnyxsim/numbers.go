package telnyxsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// phoneNumber is the wire shape of PhoneNumberDetailed.
type phoneNumber struct {
	ID                    string   `json:"id"`
	RecordType            string   `json:"record_type"`
	PhoneNumber           string   `json:"phone_number"`
	Status                string   `json:"status"`
	Tags                  []string `json:"tags"`
	CountryISOAlpha2      string   `json:"country_iso_alpha2"`
	PhoneNumberType       string   `json:"phone_number_type"`
	PurchasedAt           string   `json:"purchased_at"`
	CreatedAt             string   `json:"created_at"`
	UpdatedAt             string   `json:"updated_at"`
	ExternalPin           *string  `json:"external_pin"`
	DeletionLockEnabled   bool     `json:"deletion_lock_enabled"`
	ConnectionID          *string  `json:"connection_id"`
	ConnectionName        *string  `json:"connection_name"`
	MessagingProfileID    *string  `json:"messaging_profile_id"`
	MessagingProfileName  *string  `json:"messaging_profile_name"`
	BillingGroupID        *string  `json:"billing_group_id"`
	CustomerReference     *string  `json:"customer_reference"`
	EmergencyEnabled      bool     `json:"emergency_enabled"`
	CallForwardingEnabled bool     `json:"call_forwarding_enabled"`
	CallRecordingEnabled  bool     `json:"call_recording_enabled"`
	CallerIDNameEnabled   bool     `json:"caller_id_name_enabled"`
	CNAMListingEnabled    bool     `json:"cnam_listing_enabled"`
	T38FaxGatewayEnabled  bool     `json:"t38_fax_gateway_enabled"`
	HDVoiceEnabled        bool     `json:"hd_voice_enabled"`
	InboundCallScreening  string   `json:"inbound_call_screening"`
	SourceType            string   `json:"source_type"`
	MessagingProduct      string   `json:"-"`
}

// messagingProfile is the wire shape of MessagingProfile.
type messagingProfile struct {
	ID                      string   `json:"id"`
	RecordType              string   `json:"record_type"`
	Name                    string   `json:"name"`
	Enabled                 bool     `json:"enabled"`
	WebhookURL              string   `json:"webhook_url"`
	WebhookFailoverURL      string   `json:"webhook_failover_url"`
	WebhookAPIVersion       string   `json:"webhook_api_version"`
	WhitelistedDestinations []string `json:"whitelisted_destinations"`
	AIAssistantID           *string  `json:"ai_assistant_id"`
	OrganizationID          string   `json:"organization_id"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
}

func (s *Server) addNumber(e164 string) error {
	if !validE164(e164) {
		return fmt.Errorf("telnyxsim: %q is not a valid E.164 number", e164)
	}
	now := fmtMS(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.st.numbers {
		if n.PhoneNumber == e164 {
			return fmt.Errorf("telnyxsim: number %s listed twice", e164)
		}
	}
	country := "US"
	if !strings.HasPrefix(e164, "+1") {
		country = ""
	}
	s.st.numbers = append(s.st.numbers, &phoneNumber{
		ID: numericID(), RecordType: "phone_number", PhoneNumber: e164, Status: "active",
		Tags: []string{}, CountryISOAlpha2: country, PhoneNumberType: "local",
		PurchasedAt: now, CreatedAt: now, UpdatedAt: now, SourceType: "number_order",
		InboundCallScreening: "disabled", MessagingProduct: "P2P",
	})
	return nil
}

// numberByID finds a number by numeric id or, as Telnyx also allows, by
// its E.164 value. Callers hold s.mu.
func (s *Server) numberByID(id string) *phoneNumber {
	for _, n := range s.st.numbers {
		if n.ID == id || n.PhoneNumber == id {
			return n
		}
	}
	return nil
}

// numberByE164 finds an account number. Callers hold s.mu.
func (s *Server) numberByE164(e164 string) *phoneNumber {
	for _, n := range s.st.numbers {
		if n.PhoneNumber == e164 {
			return n
		}
	}
	return nil
}

func (s *Server) handleListNumbers(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 20, 250)
	if !ok {
		return
	}
	q := r.URL.Query()
	digits := strings.TrimPrefix(q.Get("filter[phone_number]"), "+")
	if digits != "" && len(digits) < 3 {
		badParam(w, "filter[phone_number]", "filter[phone_number] needs at least 3 digits.")
		return
	}
	s.mu.Lock()
	var matched []phoneNumber
	for _, n := range s.st.numbers {
		if digits != "" && !strings.Contains(n.PhoneNumber, digits) {
			continue
		}
		if v := q.Get("filter[connection_id]"); v != "" && (n.ConnectionID == nil || *n.ConnectionID != v) {
			continue
		}
		if v := q.Get("filter[status]"); v != "" && n.Status != v {
			continue
		}
		if v := q.Get("filter[tag]"); v != "" && !contains(n.Tags, v) {
			continue
		}
		matched = append(matched, *n)
	}
	data, meta := paginate(matched, page, size)
	b, _ := json.Marshal(map[string]any{"data": data, "meta": meta})
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, b)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) handleGetNumber(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.numberByID(r.PathValue("id"))
	var b []byte
	if n != nil {
		b, _ = json.Marshal(map[string]any{"data": n})
	}
	s.mu.Unlock()
	if n == nil {
		notFound(w, "Phone number")
		return
	}
	writeRaw(w, http.StatusOK, b)
}

func (s *Server) handleUpdateNumber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ConnectionID      *string  `json:"connection_id"`
		Tags              []string `json:"tags"`
		CustomerReference *string  `json:"customer_reference"`
		MessagingProfile  *string  `json:"messaging_profile_id"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.MessagingProfile != nil {
		invalid(w, "10015", "Bad Request", "messaging_profile_id cannot be set here; use /phone_numbers/{id}/messaging.", "/messaging_profile_id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByID(r.PathValue("id"))
	if n == nil {
		notFound(w, "Phone number")
		return
	}
	if body.ConnectionID != nil {
		if *body.ConnectionID == "" {
			n.ConnectionID, n.ConnectionName = nil, nil
		} else {
			app := s.st.apps[*body.ConnectionID]
			if app == nil {
				invalid(w, "10015", "Bad Request", "connection_id does not name a connection on this account.", "/connection_id")
				return
			}
			id, name := app.ID, app.FriendlyName
			n.ConnectionID, n.ConnectionName = &id, &name
		}
	}
	if body.Tags != nil {
		n.Tags = body.Tags
	}
	if body.CustomerReference != nil {
		ref := *body.CustomerReference
		n.CustomerReference = &ref
	}
	n.UpdatedAt = fmtMS(s.now())
	writeJSON(w, http.StatusOK, map[string]any{"data": n})
}

// messagingSettings renders the PhoneNumberWithMessagingSettings shape.
// Callers hold s.mu.
func (s *Server) messagingSettings(n *phoneNumber) map[string]any {
	return map[string]any{
		"id":                          n.ID,
		"record_type":                 "messaging_settings",
		"phone_number":                n.PhoneNumber,
		"messaging_profile_id":        n.MessagingProfileID,
		"messaging_product":           n.MessagingProduct,
		"eligible_messaging_products": []string{"A2P", "P2P"},
		"traffic_type":                n.MessagingProduct,
		"type":                        "long-code",
		"country_code":                n.CountryISOAlpha2,
		"features": map[string]any{
			"sms": map[string]bool{"domestic_two_way": true, "international_inbound": true, "international_outbound": true},
			"mms": nil,
		},
		"organization_id": s.accountID,
		"tags":            n.Tags,
		"created_at":      n.CreatedAt,
		"updated_at":      n.UpdatedAt,
	}
}

func (s *Server) handleGetNumberMessaging(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByID(r.PathValue("id"))
	if n == nil {
		notFound(w, "Phone number")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.messagingSettings(n)})
}

func (s *Server) handleUpdateNumberMessaging(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MessagingProfileID *string  `json:"messaging_profile_id"`
		MessagingProduct   *string  `json:"messaging_product"`
		Tags               []string `json:"tags"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByID(r.PathValue("id"))
	if n == nil {
		notFound(w, "Phone number")
		return
	}
	if body.MessagingProfileID != nil {
		if *body.MessagingProfileID == "" {
			n.MessagingProfileID, n.MessagingProfileName = nil, nil
		} else {
			p := s.st.profiles[*body.MessagingProfileID]
			if p == nil {
				invalid(w, "10015", "Bad Request", "messaging_profile_id does not name a messaging profile on this account.", "/messaging_profile_id")
				return
			}
			id, name := p.ID, p.Name
			n.MessagingProfileID, n.MessagingProfileName = &id, &name
		}
	}
	if body.MessagingProduct != nil {
		n.MessagingProduct = *body.MessagingProduct
	}
	if body.Tags != nil {
		n.Tags = body.Tags
	}
	n.UpdatedAt = fmtMS(s.now())
	writeJSON(w, http.StatusOK, map[string]any{"data": s.messagingSettings(n)})
}

func (s *Server) handleCreateProfile(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name                    string   `json:"name"`
		Enabled                 *bool    `json:"enabled"`
		WebhookURL              string   `json:"webhook_url"`
		WebhookFailoverURL      string   `json:"webhook_failover_url"`
		WhitelistedDestinations []string `json:"whitelisted_destinations"`
		AIAssistantID           *string  `json:"ai_assistant_id"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Name == "" {
		invalid(w, "10004", "Missing required parameter", "name is required.", "/name")
		return
	}
	if body.WhitelistedDestinations == nil {
		invalid(w, "10004", "Missing required parameter", "whitelisted_destinations is required.", "/whitelisted_destinations")
		return
	}
	p := s.createProfile(body.Name, body.WebhookURL, body.WebhookFailoverURL, body.WhitelistedDestinations)
	s.mu.Lock()
	defer s.mu.Unlock()
	if body.Enabled != nil {
		p.Enabled = *body.Enabled
	}
	p.AIAssistantID = body.AIAssistantID
	writeJSON(w, http.StatusOK, map[string]any{"data": p})
}

// createProfile stores a new messaging profile.
func (s *Server) createProfile(name, hook, failover string, dest []string) *messagingProfile {
	now := fmtMS(s.now())
	p := &messagingProfile{
		ID: uuid.NewString(), RecordType: "messaging_profile", Name: name, Enabled: true,
		WebhookURL: hook, WebhookFailoverURL: failover, WebhookAPIVersion: "2",
		WhitelistedDestinations: dest, OrganizationID: s.accountID, CreatedAt: now, UpdatedAt: now,
	}
	s.mu.Lock()
	s.st.profiles[p.ID] = p
	s.st.profileOrder = append(s.st.profileOrder, p.ID)
	s.mu.Unlock()
	return p
}

func (s *Server) handleListProfiles(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 20, 250)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []messagingProfile
	for _, id := range s.st.profileOrder {
		all = append(all, *s.st.profiles[id])
	}
	data, meta := paginate(all, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.profiles[r.PathValue("id")]
	if p == nil {
		notFound(w, "Messaging profile")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": p})
}

func (s *Server) handleUpdateProfile(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name                    *string  `json:"name"`
		Enabled                 *bool    `json:"enabled"`
		WebhookURL              *string  `json:"webhook_url"`
		WebhookFailoverURL      *string  `json:"webhook_failover_url"`
		WhitelistedDestinations []string `json:"whitelisted_destinations"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.profiles[r.PathValue("id")]
	if p == nil {
		notFound(w, "Messaging profile")
		return
	}
	if body.Name != nil {
		p.Name = *body.Name
	}
	if body.Enabled != nil {
		p.Enabled = *body.Enabled
	}
	if body.WebhookURL != nil {
		p.WebhookURL = *body.WebhookURL
	}
	if body.WebhookFailoverURL != nil {
		p.WebhookFailoverURL = *body.WebhookFailoverURL
	}
	if body.WhitelistedDestinations != nil {
		p.WhitelistedDestinations = body.WhitelistedDestinations
	}
	p.UpdatedAt = fmtMS(s.now())
	writeJSON(w, http.StatusOK, map[string]any{"data": p})
}
