package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// agentChannels are the create form's channel choices.
var agentChannels = []string{"voice_outbound", "voice_inbound", "sms"}

// agents lists the team's agents (first 100) with a name by id.
func (s *session) agents() ([]agent, map[string]string, error) {
	var list []agent
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/agents?per_page=100"}, &list); err != nil {
		return nil, nil, err
	}
	by := map[string]string{}
	for _, a := range list {
		by[a.ID] = a.Name
	}
	return list, by, nil
}

// numbers lists the team's phone numbers (first 100).
func (s *session) numbers() ([]phoneNumber, error) {
	var list []phoneNumber
	_, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/phone-numbers?per_page=100"}, &list)
	return list, err
}

type agentsData struct {
	Agents   []agent
	Channels []string
}

func (c *Console) agentsPage(s *session) {
	list, _, err := s.agents()
	if err != nil {
		s.fail(err)
		return
	}
	s.page("agents", "Agents", "agents", agentsData{Agents: list, Channels: agentChannels})
}

// createAgent creates an agent through POST /api/v1/agents.
func (c *Console) createAgent(s *session) {
	f := s.r.PostForm
	body := map[string]any{"name": strings.TrimSpace(f.Get("name")), "instructions": f.Get("instructions"),
		"greeting": f.Get("greeting")}
	if ch := f["channels"]; len(ch) > 0 {
		body["channels"] = ch
	}
	var objs []map[string]string
	for _, line := range strings.Split(f.Get("objectives"), "\n") {
		name, desc, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name = strings.TrimSpace(name); name != "" {
			objs = append(objs, map[string]string{"name": name, "description": strings.TrimSpace(desc)})
		}
	}
	if len(objs) > 0 {
		body["objectives"] = objs
	}
	var vars []map[string]any
	for _, v := range strings.Split(f.Get("brief_variables"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			vars = append(vars, map[string]any{"name": v, "required": true})
		}
	}
	if len(vars) > 0 {
		body["call_brief_contract"] = map[string]any{"variables": vars}
	}
	var created agent
	if _, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/agents", body: body}, &created); err != nil {
		s.done(Prefix+"/agents", "", err)
		return
	}
	s.done(Prefix+"/agents/"+url.PathEscape(created.ID), fmt.Sprintf("Agent %q created.", created.Name), nil)
}

type agentData struct {
	Agent    agent
	Versions []agentVersion
	Numbers  []phoneNumber
}

func (c *Console) agentPage(s *session) {
	id := url.PathEscape(s.r.PathValue("id"))
	var d agentData
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/agents/" + id}, &d.Agent); err != nil {
		s.fail(err)
		return
	}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/agents/" + id + "/versions?per_page=50"}, &d.Versions); err != nil {
		s.fail(err)
		return
	}
	nums, err := s.numbers()
	if err != nil {
		s.fail(err)
		return
	}
	for _, n := range nums {
		if n.VoiceAgentID == d.Agent.ID {
			d.Numbers = append(d.Numbers, n)
		}
	}
	s.page("agent", "Agent "+d.Agent.Name, "agents", d)
}

// reconcileAgent pushes the agent to the carrier again.
func (c *Console) reconcileAgent(s *session) {
	id := s.r.PathValue("id")
	_, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/agents/" + url.PathEscape(id) + "/reconcile"}, nil)
	s.done(Prefix+"/agents/"+url.PathEscape(id), "Reconciled with the carrier.", err)
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// pageLinks builds previous and next page links from the list meta.
func pageLinks(u *url.URL, m pageMeta) (prev, next string) {
	link := func(p int) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		return u.Path + "?" + q.Encode()
	}
	if m.Page > 1 {
		prev = link(m.Page - 1)
	}
	if m.PerPage > 0 && m.Page*m.PerPage < m.Total {
		next = link(m.Page + 1)
	}
	return prev, next
}
