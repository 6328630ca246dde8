package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

type simData struct {
	Numbers []phoneNumber
}

// simPage is the development simulator panel: it injects inbound calls
// and texts into the embedded carrier simulator, to the team's numbers.
func (c *Console) simPage(s *session) {
	if c.cfg.SimURL == "" {
		c.render(s.w, s.r, http.StatusNotFound, "error", view{Title: "Not found", User: s,
			Data: "The simulator panel is only available in development mode with the embedded carrier simulator."})
		return
	}
	nums, err := s.numbers()
	if err != nil {
		s.fail(err)
		return
	}
	s.page("simulator", "Simulator", "simulator", simData{Numbers: nums})
}

// simCall places a simulated inbound call from a chosen number and caller
// name to one of the team's numbers.
func (c *Console) simCall(s *session) {
	f := s.r.PostForm
	to, err := s.ownNumber(f.Get("to"))
	if err == nil {
		err = c.simPost(s.r.Context(), "/_sim/inbound-calls", map[string]any{
			"from": strings.TrimSpace(f.Get("from")), "to": to, "caller_name": strings.TrimSpace(f.Get("caller_name"))})
	}
	s.done(Prefix+"/simulator", "Simulated call placed to "+to+". It shows in the calls list once the server takes it.", err)
}

// simSMS sends a simulated inbound text to one of the team's numbers.
func (c *Console) simSMS(s *session) {
	f := s.r.PostForm
	to, err := s.ownNumber(f.Get("to"))
	if err == nil {
		err = c.simPost(s.r.Context(), "/_sim/inbound-messages", map[string]any{
			"from": strings.TrimSpace(f.Get("from")), "to": to, "text": f.Get("text")})
	}
	s.done(Prefix+"/simulator", "Simulated text sent to "+to+".", err)
}

// ownNumber checks that number is the team's: the panel only reaches the
// signed-in team's lines.
func (s *session) ownNumber(number string) (string, error) {
	if s.c.cfg.SimURL == "" {
		return "", errors.New("the simulator is not running")
	}
	nums, err := s.numbers()
	if err != nil {
		return "", err
	}
	for _, n := range nums {
		if n.PhoneNumber == number {
			return number, nil
		}
	}
	return "", errors.New("choose one of your team's numbers")
}

// simPost calls the simulator's control API and turns its error answer
// into plain words.
func (c *Console) simPost(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode the simulator request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.SimURL+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("build the simulator request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.sim.Do(req)
	if err != nil {
		return fmt.Errorf("the simulator did not answer: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 300 {
		return nil
	}
	var e struct {
		Errors []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
		msg := e.Errors[0].Detail
		if msg == "" {
			msg = e.Errors[0].Title
		}
		return fmt.Errorf("the simulator refused: %s", msg)
	}
	return fmt.Errorf("the simulator answered %d", res.StatusCode)
}
