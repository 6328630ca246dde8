package telnyxsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// controlRoutes serves the /_sim/ control API. It needs no API key: it is
// a development tool bound to loopback.
func (s *Server) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sim/inbound-calls", s.handleInjectCall)
	mux.HandleFunc("POST /_sim/inbound-messages", s.handleInjectMessage)
	mux.HandleFunc("GET /_sim/calls", s.handleSimCalls)
	mux.HandleFunc("GET /_sim/calls/{id}", s.handleSimCall)
	mux.HandleFunc("GET /_sim/messages", s.handleSimMessages)
	mux.HandleFunc("GET /_sim/public-key", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"public_key": s.pub})
	})
	mux.HandleFunc("GET /_sim/faults", s.handleListFaults)
	mux.HandleFunc("POST /_sim/faults", s.handleAddFault)
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sim/scripts/{number}", s.handlePutScript)
	mux.HandleFunc("GET /_sim/webhook-deliveries", s.handleDeliveries)
	mux.HandleFunc("GET /_sim/recordings/{file}", s.handleRecordingMedia)
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "The requested simulator control URL")
	})
	return mux
}

func (s *Server) handleInjectCall(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From       string       `json:"from"`
		To         string       `json:"to"`
		CallerName string       `json:"caller_name"`
		Script     []ScriptStep `json:"script"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	c, e, status := s.injectCall(body.From, body.To, body.CallerName, body.Script)
	if c == nil {
		writeErr(w, status, e)
		return
	}
	writeJSON(w, status, map[string]any{"data": c})
}

func (s *Server) handleInjectMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From string `json:"from"`
		To   string `json:"to"`
		Text string `json:"text"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Text == "" {
		invalid(w, "10004", "Missing required parameter", "text is required.", "/text")
		return
	}
	m, snapshot, e, status := s.injectInbound(body.From, body.To, body.Text)
	if m == nil {
		writeErr(w, status, e)
		return
	}
	writeJSON(w, status, map[string]any{"data": json.RawMessage(snapshot)})
}

// Calls returns every call the simulator has seen, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, 0, len(s.st.calls))
	for _, c := range s.st.calls {
		out = append(out, c.snapshot())
	}
	return out
}

// Call returns one call by call_control_id.
func (s *Server) Call(id string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCall(id)
	if c == nil {
		return Call{}, false
	}
	return c.snapshot(), true
}

// Deliveries returns every webhook attempt made so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery{}, s.st.deliveries...)
}

// SetScript registers the scripted other party for calls to (outbound) or
// from (inbound) a number.
func (s *Server) SetScript(number string, script []ScriptStep) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.scripts[number] = append([]ScriptStep{}, script...)
}

func (s *Server) handleSimCalls(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Calls()})
}

func (s *Server) handleSimCall(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Call(r.PathValue("id"))
	if !ok {
		notFound(w, "Call")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}

// handleSimMessages lists messages, optionally by direction.
func (s *Server) handleSimMessages(w http.ResponseWriter, r *http.Request) {
	dir := r.URL.Query().Get("direction")
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []*message{}
	for _, m := range s.st.messages {
		if dir == "" || m.Direction == dir {
			data = append(data, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) handleListFaults(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []Fault{}
	for _, f := range s.st.faults {
		data = append(data, *f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) handleAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !decodeBody(w, r, &f) {
		return
	}
	out, err := s.AddFault(f)
	if err != nil {
		invalid(w, "10015", "Bad Request", strings.TrimPrefix(err.Error(), "telnyxsim: "), "")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": out})
}

func (s *Server) handlePutScript(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Script []ScriptStep `json:"script"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.SetScript(r.PathValue("number"), body.Script)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"number": r.PathValue("number"), "script": body.Script}})
}

func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Deliveries()})
}

// handleRecordingMedia serves a placeholder audio file for a recording.
func (s *Server) handleRecordingMedia(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	id, ext, _ := strings.Cut(file, ".")
	s.mu.Lock()
	found := false
	for _, rc := range s.st.recordings {
		found = found || rc.ID == id
	}
	s.mu.Unlock()
	if !found || (ext != "mp3" && ext != "wav") {
		notFound(w, "Recording")
		return
	}
	ct := "audio/mpeg"
	if ext == "wav" {
		ct = "audio/wav"
	}
	w.Header().Set("Content-Type", ct)
	w.Write([]byte("simulated recording " + id))
}
