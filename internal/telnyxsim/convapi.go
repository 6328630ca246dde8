package telnyxsim

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// conversation is an AI conversation with its transcript and insights.
type conversation struct {
	ID       string
	Name     string
	Metadata map[string]string
	Messages []convMessage
	Insights []insightRun
	start    time.Time
}

// wire renders the Conversation schema. Callers hold s.mu.
func (c *conversation) wire() map[string]any {
	last := c.start
	if n := len(c.Messages); n > 0 {
		last = c.start.Add(time.Duration(n-1) * turnLength)
	}
	meta := make(map[string]string, len(c.Metadata))
	for k, v := range c.Metadata {
		meta[k] = v
	}
	return map[string]any{
		"id": c.ID, "name": c.Name, "created_at": fmtUS(c.start), "last_message_at": fmtUS(last), "metadata": meta,
	}
}

type convMessage struct {
	Role      string         `json:"role"`
	Text      *string        `json:"text"`
	CreatedAt string         `json:"created_at"`
	SentAt    string         `json:"sent_at"`
	ToolCalls []convToolCall `json:"tool_calls,omitempty"`
}

type convToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type insightRun struct {
	ID        string          `json:"id"`
	CreatedAt string          `json:"created_at"`
	Status    string          `json:"status"`
	Results   []insightResult `json:"conversation_insights"`
}

type insightResult struct {
	InsightID string `json:"insight_id"`
	Result    string `json:"result"`
}

// recording is the wire shape of a call recording.
type recording struct {
	ID            string  `json:"id"`
	CallControlID string  `json:"call_control_id"`
	CallLegID     string  `json:"call_leg_id"`
	CallSessionID string  `json:"call_session_id"`
	Channels      string  `json:"channels"`
	ConferenceID  *string `json:"conference_id"`
	CreatedAt     string  `json:"created_at"`
	DownloadURLs  struct {
		MP3 string `json:"mp3"`
		WAV string `json:"wav"`
	} `json:"download_urls"`
	DurationMillis     int64  `json:"duration_millis"`
	RecordType         string `json:"record_type"`
	RecordingStartedAt string `json:"recording_started_at"`
	RecordingEndedAt   string `json:"recording_ended_at"`
	Source             string `json:"source"`
	Status             string `json:"status"`
	UpdatedAt          string `json:"updated_at"`
	connectionID       string
	from, to           string
}

// withURLs returns a copy whose download links point at this simulator,
// as reached by the request (so the simulator need not know its address).
func (rc recording) withURLs(r *http.Request) recording {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + "/_sim/recordings/" + rc.ID
	rc.DownloadURLs.MP3, rc.DownloadURLs.WAV = base+".mp3", base+".wav"
	return rc
}

// handleListConversations supports the PostgREST-style filters Peak Voice
// uses: id=eq.X, metadata->KEY=eq.VALUE, order=created_at.asc|desc, limit.
func (s *Server) handleListConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeValidation(w, validationItem{Loc: []string{"query", "limit"}, Msg: "Input should be greater than or equal to 1", Type: "greater_than_equal"})
			return
		}
		limit = n
	}
	type cond struct{ key, value string }
	var conds []cond
	for k, vs := range q {
		if k != "id" && !strings.HasPrefix(k, "metadata->") {
			continue
		}
		for _, v := range vs {
			val, ok := strings.CutPrefix(v, "eq.")
			if !ok {
				writeValidation(w, validationItem{Loc: []string{"query", k}, Msg: "Only eq. filters are supported by the simulator", Type: "value_error"})
				return
			}
			conds = append(conds, cond{k, val})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*conversation
	for _, c := range s.st.conversations {
		ok := true
		for _, cd := range conds {
			if cd.key == "id" {
				ok = ok && c.ID == cd.value
			} else {
				ok = ok && c.Metadata[strings.TrimPrefix(cd.key, "metadata->")] == cd.value
			}
		}
		if ok {
			matched = append(matched, c)
		}
	}
	if strings.HasSuffix(q.Get("order"), ".desc") {
		sort.SliceStable(matched, func(i, j int) bool { return matched[i].start.After(matched[j].start) })
	}
	if limit > 0 && len(matched) > limit {
		matched = matched[:limit]
	}
	data := []map[string]any{}
	for _, c := range matched {
		data = append(data, c.wire())
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// conversation returns a conversation by id. Callers hold s.mu.
func (s *Server) conversation(id string) *conversation {
	for _, c := range s.st.conversations {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conversation(r.PathValue("id"))
	if c == nil {
		notFound(w, "Conversation")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c.wire()})
}

func (s *Server) handleConversationMessages(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 20, 100)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conversation(r.PathValue("id"))
	if c == nil {
		notFound(w, "Conversation")
		return
	}
	data, meta := paginate(c.Messages, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func (s *Server) handleConversationInsights(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 20, 100)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conversation(r.PathValue("id"))
	if c == nil {
		notFound(w, "Conversation")
		return
	}
	data, meta := paginate(c.Insights, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func (s *Server) handleListRecordings(w http.ResponseWriter, r *http.Request) {
	page, size, ok := pageParams(w, r, 20, 250)
	if !ok {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []recording
	for _, rc := range s.st.recordings {
		if !matchFilter(q.Get("filter[call_session_id]"), rc.CallSessionID) ||
			!matchFilter(q.Get("filter[call_leg_id]"), rc.CallLegID) ||
			!matchFilter(q.Get("filter[connection_id]"), rc.connectionID) ||
			!matchFilter(q.Get("filter[from]"), rc.from) ||
			!matchFilter(q.Get("filter[to]"), rc.to) {
			continue
		}
		matched = append(matched, rc.withURLs(r))
	}
	data, meta := paginate(matched, page, size)
	if data == nil {
		data = []recording{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func matchFilter(want, have string) bool { return want == "" || want == have }

func (s *Server) handleGetRecording(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rc := range s.st.recordings {
		if rc.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, map[string]any{"data": rc.withURLs(r)})
			return
		}
	}
	notFound(w, "Recording")
}
