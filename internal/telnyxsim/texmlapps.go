package telnyxsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// texmlApp is the wire shape of TexmlApplication.
type texmlApp struct {
	ID                      string         `json:"id"`
	RecordType              string         `json:"record_type"`
	FriendlyName            string         `json:"friendly_name"`
	Active                  bool           `json:"active"`
	AnchorsiteOverride      string         `json:"anchorsite_override"`
	DTMFType                string         `json:"dtmf_type"`
	FirstCommandTimeout     bool           `json:"first_command_timeout"`
	FirstCommandTimeoutSecs int            `json:"first_command_timeout_secs"`
	VoiceURL                string         `json:"voice_url"`
	VoiceMethod             string         `json:"voice_method"`
	VoiceFallbackURL        string         `json:"voice_fallback_url"`
	StatusCallback          string         `json:"status_callback"`
	StatusCallbackMethod    string         `json:"status_callback_method"`
	CallCostInWebhooks      bool           `json:"call_cost_in_webhooks"`
	Inbound                 map[string]any `json:"inbound"`
	Outbound                map[string]any `json:"outbound"`
	Tags                    []string       `json:"tags"`
	CreatedAt               string         `json:"created_at"`
	UpdatedAt               string         `json:"updated_at"`
	// assistantID marks an assistant's default app: calls to its numbers
	// connect straight to the assistant without fetching voice_url.
	assistantID string
}

// appFields are the writable fields of a TeXML application.
type appFields struct {
	FriendlyName         *string  `json:"friendly_name"`
	Active               *bool    `json:"active"`
	VoiceURL             *string  `json:"voice_url"`
	VoiceMethod          *string  `json:"voice_method"`
	VoiceFallbackURL     *string  `json:"voice_fallback_url"`
	StatusCallback       *string  `json:"status_callback"`
	StatusCallbackMethod *string  `json:"status_callback_method"`
	Tags                 []string `json:"tags"`
}

// check validates fields; it returns a JSON pointer and message on failure.
func (f *appFields) check() (string, string) {
	for ptr, v := range map[string]*string{"/voice_url": f.VoiceURL, "/voice_fallback_url": f.VoiceFallbackURL, "/status_callback": f.StatusCallback} {
		if v != nil && *v != "" && !isHTTPURL(*v) {
			return ptr, "must be an http or https URL"
		}
	}
	for ptr, v := range map[string]*string{"/voice_method": f.VoiceMethod, "/status_callback_method": f.StatusCallbackMethod} {
		if v != nil && *v != "get" && *v != "post" {
			return ptr, "must be get or post"
		}
	}
	return "", ""
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (a *texmlApp) apply(f appFields) {
	if f.FriendlyName != nil {
		a.FriendlyName = *f.FriendlyName
	}
	if f.Active != nil {
		a.Active = *f.Active
	}
	if f.VoiceURL != nil {
		a.VoiceURL = *f.VoiceURL
	}
	if f.VoiceMethod != nil {
		a.VoiceMethod = *f.VoiceMethod
	}
	if f.VoiceFallbackURL != nil {
		a.VoiceFallbackURL = *f.VoiceFallbackURL
	}
	if f.StatusCallback != nil {
		a.StatusCallback = *f.StatusCallback
	}
	if f.StatusCallbackMethod != nil {
		a.StatusCallbackMethod = *f.StatusCallbackMethod
	}
	if f.Tags != nil {
		a.Tags = f.Tags
	}
}

// newApp stores a TeXML application with Telnyx's defaults.
func (s *Server) newApp(f appFields, assistantID string) *texmlApp {
	now := fmtMS(s.now())
	a := &texmlApp{
		ID: numericID(), RecordType: "texml_application", Active: true, AnchorsiteOverride: "Latency",
		DTMFType: "RFC 2833", FirstCommandTimeoutSecs: 30, VoiceMethod: "post", StatusCallbackMethod: "post",
		Inbound:  map[string]any{"channel_limit": nil, "shaken_stir_enabled": false, "sip_subdomain": nil},
		Outbound: map[string]any{"channel_limit": nil, "outbound_voice_profile_id": nil},
		Tags:     []string{}, CreatedAt: now, UpdatedAt: now, assistantID: assistantID,
	}
	a.apply(f)
	s.mu.Lock()
	s.st.apps[a.ID] = a
	s.st.appOrder = append(s.st.appOrder, a.ID)
	s.mu.Unlock()
	return a
}

func (s *Server) handleCreateApp(w http.ResponseWriter, r *http.Request) {
	var f appFields
	if !decodeBody(w, r, &f) {
		return
	}
	if f.FriendlyName == nil || strings.TrimSpace(*f.FriendlyName) == "" {
		invalid(w, "10004", "Missing required parameter", "friendly_name is required.", "/friendly_name")
		return
	}
	if f.VoiceURL == nil || *f.VoiceURL == "" {
		invalid(w, "10004", "Missing required parameter", "voice_url is required.", "/voice_url")
		return
	}
	if ptr, msg := f.check(); ptr != "" {
		invalid(w, "10003", "Invalid URL", strings.TrimPrefix(ptr, "/")+" "+msg+".", ptr)
		return
	}
	a := s.newApp(f, "")
	s.mu.Lock()
	b, _ := json.Marshal(map[string]any{"data": a})
	s.mu.Unlock()
	writeRaw(w, http.StatusCreated, b)
}

func (s *Server) handleListApps(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 250, 250)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []texmlApp
	for _, id := range s.st.appOrder {
		all = append(all, *s.st.apps[id])
	}
	data, meta := paginate(all, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func (s *Server) handleGetApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.apps[r.PathValue("id")]
	if a == nil {
		notFound(w, "TeXML application")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a})
}

func (s *Server) handleUpdateApp(w http.ResponseWriter, r *http.Request) {
	var f appFields
	if !decodeBody(w, r, &f) {
		return
	}
	if ptr, msg := f.check(); ptr != "" {
		invalid(w, "10003", "Invalid URL", strings.TrimPrefix(ptr, "/")+" "+msg+".", ptr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.apps[r.PathValue("id")]
	if a == nil {
		notFound(w, "TeXML application")
		return
	}
	a.apply(f)
	a.UpdatedAt = fmtMS(s.now())
	writeJSON(w, http.StatusOK, map[string]any{"data": a})
}
