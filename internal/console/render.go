package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// pageSet holds one template per page, each parsed with the layout.
type pageSet struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"when":     when,
	"pretty":   pretty,
	"terminal": terminal,
	"join":     strings.Join,
	"list":     func(a ...string) []string { return a },
	"short":    short,
}

func loadPages() (*pageSet, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", f, err)
		}
		ps.byName[name] = t
	}
	return ps, nil
}

// view is what every page template receives.
type view struct {
	Title    string
	Nav      string // the nav entry to mark current
	User     *session
	CSRF     string
	Flash    string
	FlashErr string
	Err      *apiError // an API error to show above the content
	Sim      bool      // the simulator panel is available
	Register bool
	Data     any
}

// render writes a page. A failed render is logged and answered with a
// plain error: nothing half-written reaches the browser.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := c.pages.byName[name]
	if !ok {
		http.Error(w, "unknown page "+name, http.StatusInternalServerError)
		return
	}
	if v.User != nil {
		v.CSRF = v.User.csrf
	} else if v.CSRF == "" {
		v.CSRF = c.csrfToken(w, r)
	}
	if v.Flash == "" && v.FlashErr == "" {
		v.Flash, v.FlashErr = c.takeFlash(w, r)
	}
	v.Sim = c.cfg.SimURL != ""
	v.Register = c.cfg.AllowRegistration
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "page", name, "err", err)
		http.Error(w, "This page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a plain error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "error", view{Title: http.StatusText(status), Data: msg})
}

// fail shows what went wrong with an API call: a signed-out session goes
// to the sign-in page, an API 404 becomes a not-found page, anything else
// an error page with the API's code and message.
func (s *session) fail(err error) {
	var ae *apiError
	switch {
	case errors.Is(err, errSignedOut):
		s.c.clearSession(s.w, s.r)
		s.c.toLogin(s.w, s.r)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		s.c.render(s.w, s.r, http.StatusNotFound, "error", view{Title: "Not found", User: s, Err: ae,
			Data: "There is nothing here for your team."})
	case errors.As(err, &ae):
		s.c.render(s.w, s.r, ae.Status, "error", view{Title: "Error", User: s, Err: ae, Data: "The request was refused."})
	default:
		s.c.log.ErrorContext(s.r.Context(), "console: request failed", "path", s.r.URL.Path, "err", err)
		s.c.render(s.w, s.r, http.StatusInternalServerError, "error", view{Title: "Error", User: s,
			Data: "Something went wrong on the server: " + err.Error()})
	}
}

// page renders a page for the signed-in user.
func (s *session) page(name, title, nav string, data any) {
	s.c.render(s.w, s.r, http.StatusOK, name, view{Title: title, Nav: nav, User: s, Data: data})
}

// done ends a POST: a signed-out session goes to sign-in; otherwise the
// browser is redirected to target with a flash message (err's message when
// it failed, ok otherwise).
func (s *session) done(target, ok string, err error) {
	if errors.Is(err, errSignedOut) {
		s.fail(err)
		return
	}
	if err != nil {
		s.c.setFlash(s.w, s.r, "", describe(err))
	} else {
		s.c.setFlash(s.w, s.r, ok, "")
	}
	http.Redirect(s.w, s.r, target, http.StatusSeeOther)
}

// describe puts an error in plain words for a flash message.
func describe(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Message + " (" + ae.Code + ")"
	}
	return err.Error()
}

// setFlash keeps a one-time message for the next page.
func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, ok, bad string) {
	v := url.Values{}
	if ok != "" {
		v.Set("ok", ok)
	}
	if bad != "" {
		v.Set("err", bad)
	}
	http.SetCookie(w, c.cookie(r, cookieFlash, v.Encode(), 60))
}

// takeFlash reads and clears the flash message.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) (ok, bad string) {
	raw := cookieValue(r, cookieFlash)
	if raw == "" {
		return "", ""
	}
	http.SetCookie(w, c.cookie(r, cookieFlash, "", -1))
	v, err := url.ParseQuery(raw)
	if err != nil {
		return "", ""
	}
	return v.Get("ok"), v.Get("err")
}

// when formats an API timestamp for people.
func when(s string) string {
	if s == "" {
		return "—"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// pretty shows a JSON value indented.
func pretty(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// terminal reports whether a call status is final.
func terminal(status string) bool {
	switch status {
	case "completed", "no_answer", "busy", "failed", "canceled":
		return true
	}
	return false
}
