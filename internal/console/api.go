package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// apiError is an error answered by the API in its envelope, shown on the
// page as code and message.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errSignedOut means the session's tokens no longer work, even after a
// refresh: the user must sign in again.
var errSignedOut = errors.New("signed out")

// pageMeta is the pagination block of a list answer.
type pageMeta struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

// apiCall is one in-process request to the API.
type apiCall struct {
	method, path string
	body         any // marshalled as JSON when not nil
	header       http.Header
}

// serve sends req through the API handler and records the answer.
func (c *Console) serve(ctx context.Context, from *http.Request, call apiCall, token string) (*httptest.ResponseRecorder, error) {
	var rd io.Reader = http.NoBody
	if call.body != nil {
		b, err := json.Marshal(call.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", call.method, call.path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, call.method, call.path, rd)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", call.method, call.path, err)
	}
	req.RemoteAddr, req.Host = from.RemoteAddr, from.Host
	for k, v := range call.header {
		req.Header[k] = v
	}
	if call.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	c.cfg.API.ServeHTTP(rec, req)
	return rec, nil
}

// decode reads an API answer: data into out (when not nil) and the list
// meta, or the error envelope as an *apiError.
func decode(rec *httptest.ResponseRecorder, out any) (pageMeta, error) {
	var env struct {
		Data  json.RawMessage `json:"data"`
		Meta  pageMeta        `json:"meta"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details any    `json:"details"`
		} `json:"error"`
	}
	if rec.Code == http.StatusNoContent {
		return pageMeta{}, nil
	}
	ct := rec.Header().Get("Content-Type")
	if !strings.Contains(ct, "json") {
		if rec.Code >= 400 {
			return pageMeta{}, &apiError{Status: rec.Code, Code: "error", Message: http.StatusText(rec.Code)}
		}
		return pageMeta{}, fmt.Errorf("the API answered %s, not JSON", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		return pageMeta{}, fmt.Errorf("read the API's answer: %w", err)
	}
	if rec.Code >= 400 || env.Error != nil {
		e := &apiError{Status: rec.Code, Code: "error", Message: http.StatusText(rec.Code)}
		if env.Error != nil {
			e.Code, e.Message, e.Details = env.Error.Code, env.Error.Message, env.Error.Details
		}
		return env.Meta, e
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return env.Meta, fmt.Errorf("read the API's data: %w", err)
		}
	}
	return env.Meta, nil
}

// api calls the API as the session's user, refreshing the tokens once if
// the access token has expired, and decodes the answer into out.
func (s *session) api(call apiCall, out any) (pageMeta, error) {
	rec, err := s.send(call)
	if err != nil {
		return pageMeta{}, err
	}
	return decode(rec, out)
}

// send is api without the decoding, for answers that are not JSON.
func (s *session) send(call apiCall) (*httptest.ResponseRecorder, error) {
	rec, err := s.c.serve(s.r.Context(), s.r, call, s.access)
	if err != nil {
		return nil, err
	}
	if rec.Code != http.StatusUnauthorized {
		return rec, nil
	}
	if err := s.refreshTokens(); err != nil {
		return nil, err
	}
	rec, err = s.c.serve(s.r.Context(), s.r, call, s.access)
	if err != nil {
		return nil, err
	}
	if rec.Code == http.StatusUnauthorized {
		return nil, errSignedOut
	}
	return rec, nil
}

// refreshTokens trades the refresh token for new tokens and stores them in
// the cookies.
func (s *session) refreshTokens() error {
	if s.refresh == "" {
		return errSignedOut
	}
	tok, err := s.c.refresh.do(s.refresh, func() (tokens, error) {
		rec, err := s.c.serve(s.r.Context(), s.r, apiCall{method: http.MethodPost, path: "/api/v1/auth/refresh",
			body: map[string]string{"refresh_token": s.refresh}}, "")
		if err != nil {
			return tokens{}, err
		}
		var tok tokens
		if _, err := decode(rec, &tok); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return tokens{}, errSignedOut
			}
			return tokens{}, err
		}
		return tok, nil
	})
	if err != nil {
		return err
	}
	s.access, s.refresh = tok.AccessToken, tok.RefreshToken
	s.c.setTokens(s.w, s.r, tok)
	return nil
}

// tokens is the token part of the login, register and refresh answers.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}
