package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// callStatuses are the filter choices of the calls list.
var callStatuses = []string{"queued", "initiated", "ringing", "in_progress", "completed", "no_answer", "busy", "failed", "canceled"}

// maxLiveStreams caps the EventSources the calls list opens.
const maxLiveStreams = 20

type callsData struct {
	Calls    []call
	Meta     pageMeta
	Status   string
	AgentID  string
	Statuses []string
	Agents   []agent
	AgentBy  map[string]string
	Numbers  []phoneNumber
	Live     map[string]bool // calls the page follows live
	IdemKey  string
	Prev     string
	Next     string
}

func (c *Console) callsPage(s *session) {
	q := s.r.URL.Query()
	d := callsData{Status: q.Get("status"), AgentID: q.Get("agent_id"), Statuses: callStatuses,
		Live: map[string]bool{}, IdemKey: newToken()}
	page := atoiDefault(q.Get("page"), 1)
	v := url.Values{"per_page": {"25"}, "page": {fmt.Sprint(page)}}
	if d.Status != "" {
		v.Set("status", d.Status)
	}
	if d.AgentID != "" {
		v.Set("agent_id", d.AgentID)
	}
	meta, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/calls?" + v.Encode()}, &d.Calls)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
			s.fail(err)
			return
		}
		// A bad filter: show the page with the API's complaint.
		d.Calls = nil
		s.c.render(s.w, s.r, http.StatusUnprocessableEntity, "calls", view{Title: "Calls", Nav: "calls", User: s, Err: ae, Data: d})
		return
	}
	d.Meta = meta
	if d.Agents, d.AgentBy, err = s.agents(); err != nil {
		s.fail(err)
		return
	}
	if d.Numbers, err = s.numbers(); err != nil {
		s.fail(err)
		return
	}
	for _, cl := range d.Calls {
		if len(d.Live) < maxLiveStreams && (!terminal(cl.Status) || cl.ResultStatus == "pending") {
			d.Live[cl.ID] = true
		}
	}
	d.Prev, d.Next = pageLinks(s.r.URL, meta)
	s.page("calls", "Calls", "calls", d)
}

// placeCall places an outbound call through POST /api/v1/calls with the
// form's idempotency key, so a double submit places one call.
func (c *Console) placeCall(s *session) {
	f := s.r.PostForm
	body := map[string]any{"agent_id": f.Get("agent_id"), "phone_number_to": strings.TrimSpace(f.Get("to"))}
	if from := f.Get("from"); from != "" {
		body["phone_number_from"] = from
	}
	if t := strings.TrimSpace(f.Get("brief_text")); t != "" {
		body["call_brief_text"] = t
	}
	if raw := strings.TrimSpace(f.Get("brief")); raw != "" {
		vars := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &vars); err != nil {
			s.done(Prefix+"/calls", "", errors.New(`the brief must be a JSON object of text values, e.g. {"customer_name": "Ada"}`))
			return
		}
		body["call_brief_variables"] = vars
	}
	var created call
	_, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/calls", body: body,
		header: http.Header{"Idempotency-Key": {f.Get("idempotency_key")}}}, &created)
	if err != nil {
		s.done(Prefix+"/calls", "", err)
		return
	}
	s.done(Prefix+"/calls/"+url.PathEscape(created.ID), "Call placed.", nil)
}

type callPageData struct {
	callDetail
	AgentName string
	Events    []callEvent
	Live      bool
}

func (c *Console) callPage(s *session) {
	id := s.r.PathValue("id")
	var d callPageData
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/calls/" + url.PathEscape(id)}, &d.callDetail); err != nil {
		s.fail(err)
		return
	}
	var ag agent
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/agents/" + url.PathEscape(d.Call.AgentID)}, &ag); err == nil {
		d.AgentName = ag.Name
	}
	d.Live = !terminal(d.Call.Status) || d.Call.ResultStatus == "pending"
	if !d.Live {
		// The call's stream replays the whole log and ends at once.
		evs, err := s.callLog(id)
		if err != nil {
			s.fail(err)
			return
		}
		d.Events = evs
	}
	s.page("call", "Call "+short(d.Call.ID), "calls", d)
}

// callLog reads a finished call's event log from its stream.
func (s *session) callLog(id string) ([]callEvent, error) {
	ctx, cancel := context.WithTimeout(s.r.Context(), 10*time.Second)
	defer cancel()
	rec, err := s.c.serve(ctx, s.r, apiCall{method: http.MethodGet, path: "/api/v1/calls/" + url.PathEscape(id) + "/stream"}, s.access)
	if err != nil {
		return nil, err
	}
	if rec.Code != http.StatusOK {
		_, err := decode(rec, nil)
		if err == nil {
			err = fmt.Errorf("the event stream answered %d", rec.Code)
		}
		return nil, err
	}
	var evs []callEvent
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e callEvent
		if json.Unmarshal([]byte(line), &e) == nil {
			evs = append(evs, e)
		}
	}
	return evs, sc.Err()
}

// callEvents proxies the call's event stream for the page's EventSource,
// which cannot send an Authorization header. The API writes straight to
// the browser's connection, so events are flushed as they happen.
func (c *Console) callEvents(s *session) {
	s.proxy("/api/v1/calls/" + url.PathEscape(s.r.PathValue("id")) + "/stream")
}

// callRecording proxies the recording for the page's audio player.
func (c *Console) callRecording(s *session) {
	s.proxy("/api/v1/calls/" + url.PathEscape(s.r.PathValue("id")) + "/recording")
}

// proxy hands the request to the API at path, with the session's token,
// writing to the real response.
func (s *session) proxy(path string) {
	req := s.r.Clone(s.r.Context())
	req.URL = &url.URL{Path: path}
	req.RequestURI = ""
	req.Header = http.Header{"Authorization": {"Bearer " + s.access}}
	for _, h := range []string{"Last-Event-ID", "Range", "Accept"} {
		if v := s.r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	s.c.cfg.API.ServeHTTP(s.w, req)
}

// short is the end of an id: ids are UUIDv7, whose leading characters are
// a timestamp shared by ids made close together, so the tail tells them
// apart.
func short(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}
