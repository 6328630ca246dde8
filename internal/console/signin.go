package console

import (
	"errors"
	"net/http"
	"strings"
)

type signinForm struct {
	Email, TeamName, Next string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", view{Title: "Sign in",
		Data: signinForm{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login signs in through POST /api/v1/auth/login and keeps the tokens in
// cookies.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	form := signinForm{Email: strings.TrimSpace(r.PostFormValue("email")), Next: safeNext(r.PostFormValue("next"))}
	if !csrfOK(r) {
		c.render(w, r, http.StatusForbidden, "login", view{Title: "Sign in", Data: form,
			FlashErr: "The sign-in form expired. Please try again."})
		return
	}
	c.signIn(w, r, "login", "/api/v1/auth/login",
		map[string]string{"email": form.Email, "password": r.PostFormValue("password")}, form, http.StatusOK)
}

func (c *Console) registerPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "register", view{Title: "Create an account", Data: signinForm{}})
}

// register creates a user and team through POST /api/v1/auth/register;
// the API refuses when registration is closed, and the page says so.
func (c *Console) register(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	form := signinForm{Email: strings.TrimSpace(r.PostFormValue("email")), TeamName: strings.TrimSpace(r.PostFormValue("team_name"))}
	if !csrfOK(r) {
		c.render(w, r, http.StatusForbidden, "register", view{Title: "Create an account", Data: form,
			FlashErr: "The form expired. Please try again."})
		return
	}
	c.signIn(w, r, "register", "/api/v1/auth/register", map[string]string{"email": form.Email,
		"password": r.PostFormValue("password"), "team_name": form.TeamName}, form, http.StatusCreated)
}

// signIn posts credentials to the API; on success it stores the tokens
// and redirects, otherwise it shows the form again with the API's error.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, page, path string, body any, form signinForm, want int) {
	title := "Sign in"
	if page == "register" {
		title = "Create an account"
	}
	rec, err := c.serve(r.Context(), r, apiCall{method: http.MethodPost, path: path, body: body}, "")
	var tok tokens
	if err == nil {
		_, err = decode(rec, &tok)
	}
	if err == nil && rec.Code != want {
		err = errors.New("unexpected answer from the API")
	}
	if err != nil {
		var ae *apiError
		status := http.StatusInternalServerError
		if errors.As(err, &ae) {
			status = ae.Status
		}
		c.render(w, r, status, page, view{Title: title, Data: form, FlashErr: describe(err)})
		return
	}
	c.setTokens(w, r, tok)
	// A fresh CSRF token for the new session.
	http.SetCookie(w, c.cookie(r, cookieCSRF, newToken(), 0))
	target := form.Next
	if target == "" {
		target = Prefix + "/calls"
	}
	http.Redirect(w, r, safeNext(target), http.StatusSeeOther)
}

// logout forgets the tokens. The form must carry the CSRF token, so other
// sites cannot sign the user out.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !csrfOK(r) {
		c.renderError(w, r, http.StatusForbidden, "This form has expired. Reload the page and try again.")
		return
	}
	c.clearSession(w, r)
	c.setFlash(w, r, "You are signed out.", "")
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
