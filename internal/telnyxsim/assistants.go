package telnyxsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// defaultModel is what the simulator reports when no model is given.
const defaultModel = "meta-llama/Meta-Llama-3.1-70B-Instruct"

// assistant keeps every version of an AI assistant as the JSON object the
// API returns, so fields the simulator does not interpret round-trip.
type assistant struct {
	versions []map[string]any
	main     int
}

func (a *assistant) current() map[string]any { return a.versions[a.main] }

// assistantView is the part of an assistant the call engine interprets.
type assistantView struct {
	ID                 string         `json:"id"`
	Name               string         `json:"name"`
	Instructions       string         `json:"instructions"`
	Greeting           string         `json:"greeting"`
	VersionID          string         `json:"version_id"`
	DynamicVariables   map[string]any `json:"dynamic_variables"`
	DVWebhookURL       string         `json:"dynamic_variables_webhook_url"`
	DVWebhookTimeoutMS int            `json:"dynamic_variables_webhook_timeout_ms"`
	Tools              []toolView     `json:"tools"`
	Telephony          struct {
		Recording struct {
			Enabled *bool `json:"enabled"`
		} `json:"recording_settings"`
		Voicemail struct {
			OnDetected struct {
				Action  string `json:"action"`
				Message struct {
					Message string `json:"message"`
				} `json:"voicemail_message"`
			} `json:"on_voicemail_detected"`
		} `json:"voicemail_detection"`
	} `json:"telephony_settings"`
}

type toolView struct {
	Type    string           `json:"type"`
	Webhook *webhookToolView `json:"webhook"`
	Handoff *struct {
		Assistants []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"ai_assistants"`
		VoiceMode string `json:"voice_mode"`
	} `json:"handoff"`
}

type webhookToolView struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Method  string `json:"method"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	TimeoutMS int `json:"timeout_ms"`
	Store     []struct {
		Name      string `json:"name"`
		ValuePath string `json:"value_path"`
	} `json:"store_fields_as_variables"`
}

// assistantView returns the engine's view of an assistant version ("" for
// main). Callers hold s.mu.
func (s *Server) assistantView(id, version string) (*assistantView, error) {
	a := s.st.assistants[id]
	if a == nil {
		return nil, fmt.Errorf("assistant %s not found", id)
	}
	obj := a.current()
	if version != "" {
		obj = nil
		for _, v := range a.versions {
			if v["version_id"] == version {
				obj = v
			}
		}
		if obj == nil {
			return nil, fmt.Errorf("assistant %s has no version %s", id, version)
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var v assistantView
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("assistant %s: %w", id, err)
	}
	return &v, nil
}

// validateAssistant checks an assistant body and returns FastAPI-style
// problems. create requires name and instructions.
func validateAssistant(body map[string]any, create bool) []validationItem {
	var out []validationItem
	for _, k := range []string{"name", "instructions"} {
		v, present := body[k]
		str, isStr := v.(string)
		switch {
		case !present && create:
			out = append(out, validationItem{Loc: []string{"body", k}, Msg: "Field required", Type: "missing"})
		case present && (!isStr || (create && strings.TrimSpace(str) == "")):
			out = append(out, validationItem{Loc: []string{"body", k}, Msg: "Input should be a non-empty string", Type: "string_type"})
		}
	}
	if v, ok := body["dynamic_variables_webhook_timeout_ms"]; ok {
		f, isNum := v.(float64)
		if !isNum || f < 1 || f > 10000 {
			out = append(out, validationItem{Loc: []string{"body", "dynamic_variables_webhook_timeout_ms"}, Msg: "Input should be between 1 and 10000", Type: "less_than_equal"})
		}
	}
	if raw, ok := body["tools"]; ok {
		tools, isList := raw.([]any)
		if !isList {
			return append(out, validationItem{Loc: []string{"body", "tools"}, Msg: "Input should be a valid list", Type: "list_type"})
		}
		for i, t := range tools {
			out = append(out, validateTool(i, t)...)
		}
	}
	return out
}

func validateTool(i int, t any) []validationItem {
	loc := func(parts ...string) []string { return append([]string{"body", "tools", fmt.Sprint(i)}, parts...) }
	m, ok := t.(map[string]any)
	if !ok {
		return []validationItem{{Loc: loc(), Msg: "Input should be a valid dictionary", Type: "dict_type"}}
	}
	typ, _ := m["type"].(string)
	inner, _ := m[typ].(map[string]any)
	if typ == "" || inner == nil {
		return []validationItem{{Loc: loc("type"), Msg: "Tool needs a type and a matching object", Type: "value_error"}}
	}
	var out []validationItem
	need := func(keys ...string) {
		for _, k := range keys {
			if s, _ := inner[k].(string); s == "" {
				out = append(out, validationItem{Loc: loc(typ, k), Msg: "Field required", Type: "missing"})
			}
		}
	}
	switch typ {
	case "webhook":
		need("name", "description", "url")
		if u, _ := inner["url"].(string); u != "" && !isHTTPURL(strings.NewReplacer("{", "", "}", "").Replace(u)) {
			out = append(out, validationItem{Loc: loc(typ, "url"), Msg: "Input should be a valid URL", Type: "url_parsing"})
		}
	case "handoff":
		list, _ := inner["ai_assistants"].([]any)
		if len(list) == 0 {
			out = append(out, validationItem{Loc: loc(typ, "ai_assistants"), Msg: "Field required", Type: "missing"})
		}
		for j, x := range list {
			e, _ := x.(map[string]any)
			for _, k := range []string{"id", "name"} {
				if s, _ := e[k].(string); s == "" {
					out = append(out, validationItem{Loc: loc(typ, "ai_assistants", fmt.Sprint(j), k), Msg: "Field required", Type: "missing"})
				}
			}
		}
	}
	return out
}

func (s *Server) handleCreateAssistant(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	if probs := validateAssistant(body, true); len(probs) > 0 {
		writeValidation(w, probs...)
		return
	}
	id := "assistant-" + uuid.NewString()
	name, _ := body["name"].(string)
	app := s.newApp(appFields{FriendlyName: ptr(name + " (assistant)")}, id)
	profile := s.createProfile(name+" (assistant)", "", "", []string{"US"})

	now := fmtUS(s.now())
	obj := maps.Clone(body)
	delete(obj, "promote_to_main")
	obj["id"] = id
	obj["created_at"] = now
	setDefault(obj, "model", defaultModel)
	setDefault(obj, "description", "")
	setDefault(obj, "greeting", "")
	setDefault(obj, "dynamic_variables", map[string]any{})
	setDefault(obj, "dynamic_variables_webhook_timeout_ms", 1500)
	setDefault(obj, "enabled_features", []any{"telephony"})
	setDefault(obj, "tools", []any{})
	setDefault(obj, "version_name", "New assistant")
	tel, _ := obj["telephony_settings"].(map[string]any)
	tel = maps.Clone(tel)
	if tel == nil {
		tel = map[string]any{}
	}
	tel["default_texml_app_id"] = app.ID
	obj["telephony_settings"] = tel
	msg, _ := obj["messaging_settings"].(map[string]any)
	msg = maps.Clone(msg)
	if msg == nil {
		msg = map[string]any{}
	}
	msg["default_messaging_profile_id"] = profile.ID
	obj["messaging_settings"] = msg
	obj["version_id"] = uuid.NewString()
	obj["version_created_at"] = now

	s.mu.Lock()
	s.st.assistants[id] = &assistant{versions: []map[string]any{obj}}
	s.st.asstOrder = append(s.st.asstOrder, id)
	b, _ := json.Marshal(obj)
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, b)
}

func ptr[T any](v T) *T { return &v }

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func assistantNotFound(w http.ResponseWriter) { notFound(w, "Assistant") }

func (s *Server) handleListAssistants(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	for _, id := range s.st.asstOrder {
		data = append(data, s.st.assistants[id].current())
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) handleGetAssistant(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.assistants[r.PathValue("id")]
	if a == nil {
		assistantNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, a.current())
}

func (s *Server) handleUpdateAssistant(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	if probs := validateAssistant(body, false); len(probs) > 0 {
		writeValidation(w, probs...)
		return
	}
	promote := true
	if v, ok := body["promote_to_main"].(bool); ok {
		promote = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.assistants[r.PathValue("id")]
	if a == nil {
		assistantNotFound(w)
		return
	}
	next := maps.Clone(a.current())
	for k, v := range body {
		switch k {
		case "id", "created_at", "version_id", "version_created_at", "promote_to_main":
			continue
		case "telephony_settings", "messaging_settings":
			// Keep the ids Telnyx created for the assistant.
			merged := maps.Clone(asMap(next[k]))
			if merged == nil {
				merged = map[string]any{}
			}
			maps.Copy(merged, asMap(v))
			next[k] = merged
		default:
			next[k] = v
		}
	}
	if _, named := body["version_name"]; !named {
		next["version_name"] = fmt.Sprintf("Version %d", len(a.versions)+1)
	}
	next["version_id"] = uuid.NewString()
	next["version_created_at"] = fmtUS(s.now())
	a.versions = append(a.versions, next)
	if promote {
		a.main = len(a.versions) - 1
	}
	writeJSON(w, http.StatusOK, next)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (s *Server) handleDeleteAssistant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.assistants[id] == nil {
		assistantNotFound(w)
		return
	}
	delete(s.st.assistants, id)
	for i, x := range s.st.asstOrder {
		if x == id {
			s.st.asstOrder = append(s.st.asstOrder[:i], s.st.asstOrder[i+1:]...)
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "assistant", "deleted": true})
}

func (s *Server) handleListVersions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.assistants[r.PathValue("id")]
	if a == nil {
		assistantNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a.versions})
}

func (s *Server) handleGetVersion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.assistants[r.PathValue("id")]
	if a == nil {
		assistantNotFound(w)
		return
	}
	for _, v := range a.versions {
		if v["version_id"] == r.PathValue("version") {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	notFound(w, "Assistant version")
}
