package console

import (
	"net/http"
	"net/url"
)

type numbersData struct {
	Numbers   []phoneNumber
	Available []phoneNumber
	Agents    []agent
	AgentBy   map[string]string
}

func (c *Console) numbersPage(s *session) {
	var d numbersData
	var err error
	if d.Numbers, err = s.numbers(); err != nil {
		s.fail(err)
		return
	}
	if d.Agents, d.AgentBy, err = s.agents(); err != nil {
		s.fail(err)
		return
	}
	// The carrier's unclaimed numbers; a carrier error leaves the list empty.
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/phone-numbers/available"}, &d.Available); err != nil {
		s.c.log.WarnContext(s.r.Context(), "console: available numbers", "err", err)
		d.Available = nil
	}
	s.page("numbers", "Phone numbers", "numbers", d)
}

// claimNumber takes a carrier number for the team.
func (c *Console) claimNumber(s *session) {
	num := s.r.PostForm.Get("phone_number")
	_, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/phone-numbers", body: map[string]any{"phone_number": num}}, nil)
	s.done(Prefix+"/numbers", "Number "+num+" claimed.", err)
}

// bindNumber binds the number to an agent, or unbinds it when the form
// names no agent.
func (c *Console) bindNumber(s *session) {
	id := s.r.PathValue("id")
	agentID := s.r.PostForm.Get("agent_id")
	var v any = agentID
	msg := "Number bound."
	if agentID == "" || s.r.PostForm.Get("unbind") != "" {
		v, msg = nil, "Number unbound."
	}
	_, err := s.api(apiCall{method: http.MethodPatch, path: "/api/v1/phone-numbers/" + url.PathEscape(id),
		body: map[string]any{"voice_agent_id": v}}, nil)
	back := Prefix + "/numbers"
	if next := s.r.PostForm.Get("next"); next != "" {
		back = safeNext(next)
	}
	s.done(back, msg, err)
}
