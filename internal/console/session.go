package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Cookie names. Every cookie is HttpOnly, SameSite=Strict, Path=/console.
const (
	cookieAccess  = "pv_console_access"
	cookieRefresh = "pv_console_refresh"
	cookieCSRF    = "pv_console_csrf"
	cookieFlash   = "pv_console_flash"
	csrfField     = "csrf_token"
)

// session is one request of a signed-in user.
type session struct {
	c               *Console
	w               http.ResponseWriter
	r               *http.Request
	access, refresh string
	csrf            string
	Email, TeamName string
}

// newToken returns a random URL-safe token.
func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Console) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || c.cfg.Production}
}

func (c *Console) setTokens(w http.ResponseWriter, r *http.Request, t tokens) {
	http.SetCookie(w, c.cookie(r, cookieAccess, t.AccessToken, 0))
	http.SetCookie(w, c.cookie(r, cookieRefresh, t.RefreshToken, 0))
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	for _, n := range []string{cookieAccess, cookieRefresh} {
		http.SetCookie(w, c.cookie(r, n, "", -1))
	}
}

func cookieValue(r *http.Request, name string) string {
	if ck, err := r.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

// csrfToken returns the browser's CSRF token, issuing one if it has none.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if t := cookieValue(r, cookieCSRF); len(t) >= 16 {
		return t
	}
	t := newToken()
	http.SetCookie(w, c.cookie(r, cookieCSRF, t, 0))
	// Later reads in this request see it too.
	r.AddCookie(&http.Cookie{Name: cookieCSRF, Value: t})
	return t
}

// csrfOK checks the double-submitted token of a POST form.
func csrfOK(r *http.Request) bool {
	ck := cookieValue(r, cookieCSRF)
	form := r.PostFormValue(csrfField)
	return len(ck) >= 16 && subtle.ConstantTimeCompare([]byte(ck), []byte(form)) == 1
}

// sameOrigin refuses cross-site POSTs: an Origin header, when present,
// must name this host.
func (c *Console) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// authed wraps a page that needs a signed-in user: it reads the tokens,
// checks them (refreshing once if needed) and, for POSTs, the CSRF token.
// Signed-out visitors are sent to the sign-in page.
func (c *Console) authed(fn func(s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := &session{c: c, w: w, r: r, access: cookieValue(r, cookieAccess), refresh: cookieValue(r, cookieRefresh)}
		if s.access == "" && s.refresh == "" {
			c.toLogin(w, r)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !csrfOK(r) {
				c.renderError(w, r, http.StatusForbidden, "This form has expired or did not come from this console. Reload the page and try again.")
				return
			}
		}
		var me struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
			Team struct {
				Name string `json:"name"`
			} `json:"team"`
		}
		if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/auth/me"}, &me); err != nil {
			if errors.Is(err, errSignedOut) || isStatus(err, http.StatusUnauthorized) {
				if !isRelay(r) {
					// A relayed stream leaves the cookies to the page.
					c.clearSession(w, r)
				}
				c.toLogin(w, r)
				return
			}
			c.renderError(w, r, http.StatusBadGateway, "Could not check who you are: "+err.Error())
			return
		}
		s.Email, s.TeamName = me.User.Email, me.Team.Name
		s.csrf = c.csrfToken(w, r)
		fn(s)
	}
}

// toLogin sends the browser to the sign-in page, remembering where it was
// going (GET pages only).
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if isRelay(r) {
		http.Error(w, "sign in again", http.StatusUnauthorized)
		return
	}
	target := Prefix + "/login"
	if r.Method == http.MethodGet {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// isRelay reports whether r is for a relayed API stream (events, audio),
// which a browser fetches in the background rather than as a page.
func isRelay(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/events") || strings.HasSuffix(r.URL.Path, "/recording")
}

// isStatus reports whether err is an API error with the given status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix + "/calls"
	}
	return next
}
