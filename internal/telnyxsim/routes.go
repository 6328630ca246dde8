package telnyxsim

import (
	"net/http"
	"strings"
)

// routes builds the handler: the Telnyx API under /v2 (behind faults and
// auth) and the control API under /_sim.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v2/messages", s.handleSendMessage)
	api.HandleFunc("GET /v2/messages/{id}", s.handleGetMessage)

	api.HandleFunc("GET /v2/phone_numbers", s.handleListNumbers)
	api.HandleFunc("GET /v2/phone_numbers/{id}", s.handleGetNumber)
	api.HandleFunc("PATCH /v2/phone_numbers/{id}", s.handleUpdateNumber)
	api.HandleFunc("GET /v2/phone_numbers/{id}/messaging", s.handleGetNumberMessaging)
	api.HandleFunc("PATCH /v2/phone_numbers/{id}/messaging", s.handleUpdateNumberMessaging)

	api.HandleFunc("POST /v2/messaging_profiles", s.handleCreateProfile)
	api.HandleFunc("GET /v2/messaging_profiles", s.handleListProfiles)
	api.HandleFunc("GET /v2/messaging_profiles/{id}", s.handleGetProfile)
	api.HandleFunc("PATCH /v2/messaging_profiles/{id}", s.handleUpdateProfile)

	api.HandleFunc("POST /v2/texml_applications", s.handleCreateApp)
	api.HandleFunc("GET /v2/texml_applications", s.handleListApps)
	api.HandleFunc("GET /v2/texml_applications/{id}", s.handleGetApp)
	api.HandleFunc("PATCH /v2/texml_applications/{id}", s.handleUpdateApp)

	api.HandleFunc("POST /v2/ai/assistants", s.handleCreateAssistant)
	api.HandleFunc("GET /v2/ai/assistants", s.handleListAssistants)
	api.HandleFunc("GET /v2/ai/assistants/{id}", s.handleGetAssistant)
	api.HandleFunc("POST /v2/ai/assistants/{id}", s.handleUpdateAssistant)
	api.HandleFunc("DELETE /v2/ai/assistants/{id}", s.handleDeleteAssistant)
	api.HandleFunc("GET /v2/ai/assistants/{id}/versions", s.handleListVersions)
	api.HandleFunc("GET /v2/ai/assistants/{id}/versions/{version}", s.handleGetVersion)

	api.HandleFunc("POST /v2/texml/ai_calls/{connection_id}", s.handleStartAICall)
	api.HandleFunc("POST /v2/calls/{id}/actions/hangup", s.handleHangup)
	api.HandleFunc("GET /v2/calls/{id}", s.handleGetCallStatus)

	api.HandleFunc("GET /v2/ai/conversations", s.handleListConversations)
	api.HandleFunc("GET /v2/ai/conversations/{id}", s.handleGetConversation)
	api.HandleFunc("GET /v2/ai/conversations/{id}/messages", s.handleConversationMessages)
	api.HandleFunc("GET /v2/ai/conversations/{id}/conversations-insights", s.handleConversationInsights)

	api.HandleFunc("GET /v2/recordings", s.handleListRecordings)
	api.HandleFunc("GET /v2/recordings/{id}", s.handleGetRecording)

	api.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "The requested resource or URL")
	})

	ctl := s.controlRoutes()
	guarded := s.withFaults(s.withAuth(api))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_sim/"):
			ctl.ServeHTTP(w, r)
		default:
			guarded.ServeHTTP(w, r)
		}
	})
}

// withAuth rejects API requests without the configured bearer key.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.st.requests++
		s.mu.Unlock()
		if !s.authorized(r) {
			unauthorized(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
