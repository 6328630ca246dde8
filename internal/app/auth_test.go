package app

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestRegisterLoginRefreshAndMe(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := s.do("POST", "/api/v1/auth/register", map[string]string{
			"email": "  Ada@Example.com ", "password": "correct horse", "team_name": "Acme Dental"}).expect(t, http.StatusCreated)
		d := r.data(t)
		if d["token_type"] != "bearer" || d["expires_in"].(float64) != 900 {
			t.Fatalf("token fields: %v", d)
		}
		user := d["user"].(map[string]any)
		if user["email"] != "ada@example.com" || user["role"] != "owner" {
			t.Fatalf("user: %v", user)
		}
		if d["team"].(map[string]any)["name"] != "Acme Dental" || user["team_id"] != d["team"].(map[string]any)["id"] {
			t.Fatalf("team: %v", d["team"])
		}
		if _, leaked := user["password_hash"]; leaked {
			t.Fatal("password hash in response")
		}

		dup := s.do("POST", "/api/v1/auth/register", map[string]string{
			"email": "ada@example.com", "password": "another password", "team_name": "Other"}).expect(t, http.StatusConflict)
		if c := dup.errCode(t); c != "email_taken" {
			t.Fatalf("code %q", c)
		}

		bad := s.do("POST", "/api/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"}).
			expect(t, http.StatusUnauthorized)
		if c := bad.errCode(t); c != "invalid_credentials" {
			t.Fatalf("code %q", c)
		}
		unknown := s.do("POST", "/api/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "correct horse"}).
			expect(t, http.StatusUnauthorized)
		if c := unknown.errCode(t); c != "invalid_credentials" {
			t.Fatalf("unknown user code %q", c)
		}

		login := s.do("POST", "/api/v1/auth/login", map[string]string{"email": "ADA@example.com", "password": "correct horse"}).
			expect(t, http.StatusOK).data(t)
		me := s.do("GET", "/api/v1/auth/me", nil, bearer(login["access_token"].(string))...).expect(t, http.StatusOK).data(t)
		if me["user"].(map[string]any)["id"] != user["id"] || me["auth"].(map[string]any)["method"] != "jwt" {
			t.Fatalf("me: %v", me)
		}

		// Rotation: the first refresh works and yields a new pair.
		first := login["refresh_token"].(string)
		rot := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": first}).expect(t, http.StatusOK).data(t)
		second := rot["refresh_token"].(string)
		if second == first || rot["access_token"] == "" {
			t.Fatalf("refresh did not rotate: %v", rot)
		}
		s.do("GET", "/api/v1/auth/me", nil, bearer(rot["access_token"].(string))...).expect(t, http.StatusOK)

		// Reuse of the first token revokes the family, including the second.
		reuse := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": first}).expect(t, http.StatusUnauthorized)
		if c := reuse.errCode(t); c != "refresh_token_reused" {
			t.Fatalf("reuse code %q", c)
		}
		after := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": second}).expect(t, http.StatusUnauthorized)
		if c := after.errCode(t); c != "invalid_refresh_token" {
			t.Fatalf("descendant after reuse: code %q", c)
		}
		// Another sign-in's family is untouched.
		other := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": d["refresh_token"].(string)})
		other.expect(t, http.StatusOK)

		junk := s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": "pvr_nonsense"}).expect(t, http.StatusUnauthorized)
		if c := junk.errCode(t); c != "invalid_refresh_token" {
			t.Fatalf("junk code %q", c)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		bob := s.register(t, "bob@example.com")

		created := s.do("POST", "/api/v1/auth/api-keys", map[string]string{"name": "backend"}, bearer(ada.access)...).
			expect(t, http.StatusCreated).data(t)
		key := created["key"].(string)
		if !strings.HasPrefix(key, "pv_") || !strings.HasPrefix(key, created["prefix"].(string)) {
			t.Fatalf("key %q prefix %v", key, created["prefix"])
		}
		keyID := created["id"].(string)

		me := s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", key).expect(t, http.StatusOK).data(t)
		if me["team"].(map[string]any)["id"] != ada.teamID || me["auth"].(map[string]any)["method"] != "api_key" {
			t.Fatalf("me via key: %v", me)
		}
		// The same key as a bearer token works too.
		s.do("GET", "/api/v1/auth/me", nil, bearer(key)...).expect(t, http.StatusOK)

		list := s.do("GET", "/api/v1/auth/api-keys", nil, bearer(ada.access)...).expect(t, http.StatusOK)
		items := list.Body["data"].([]any)
		if len(items) != 1 {
			t.Fatalf("list: %s", list.Raw)
		}
		if strings.Contains(string(list.Raw), key) || items[0].(map[string]any)["key"] != nil {
			t.Fatal("list exposes the secret")
		}
		if items[0].(map[string]any)["last_used_at"] == nil {
			t.Fatal("last_used_at not recorded after use")
		}
		meta := list.Body["meta"].(map[string]any)
		if meta["total"].(float64) != 1 || meta["page"].(float64) != 1 || meta["per_page"].(float64) != 20 {
			t.Fatalf("meta %v", meta)
		}
		// Bob sees none of Ada's keys and cannot revoke them.
		bobList := s.do("GET", "/api/v1/auth/api-keys", nil, bearer(bob.access)...).expect(t, http.StatusOK)
		if n := len(bobList.Body["data"].([]any)); n != 0 {
			t.Fatalf("bob sees %d keys", n)
		}
		if c := s.do("DELETE", "/api/v1/auth/api-keys/"+keyID, nil, bearer(bob.access)...).expect(t, http.StatusNotFound).errCode(t); c != "not_found" {
			t.Fatalf("code %q", c)
		}

		// Key-management routes refuse API keys.
		for _, rq := range []struct{ method, path string }{
			{"POST", "/api/v1/auth/api-keys"}, {"GET", "/api/v1/auth/api-keys"}, {"DELETE", "/api/v1/auth/api-keys/" + keyID},
		} {
			var body any
			if rq.method == "POST" {
				body = map[string]string{"name": "minted"}
			}
			r := s.do(rq.method, rq.path, body, "X-API-Key", key).expect(t, http.StatusForbidden)
			if c := r.errCode(t); c != "api_key_not_allowed" {
				t.Fatalf("%s %s: code %q", rq.method, rq.path, c)
			}
		}

		s.do("DELETE", "/api/v1/auth/api-keys/"+keyID, nil, bearer(ada.access)...).expect(t, http.StatusNoContent)
		if c := s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", key).expect(t, http.StatusUnauthorized).errCode(t); c != "invalid_api_key" {
			t.Fatalf("revoked key code %q", c)
		}
		s.do("DELETE", "/api/v1/auth/api-keys/"+keyID, nil, bearer(ada.access)...).expect(t, http.StatusNotFound)

		// A key with a broken checksum or unknown id is refused.
		flip := byte('A')
		if key[len(key)-1] == 'A' {
			flip = 'B'
		}
		tampered := key[:len(key)-1] + string(flip)
		for _, k := range []string{tampered, "pv_short", "pv_" + strings.Repeat("A", 50)} {
			s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", k).expect(t, http.StatusUnauthorized)
		}
	})
}

func TestRegistrationCanBeSwitchedOff(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.AllowRegistration = false
	s := startServer(t, cfg)
	r := s.do("POST", "/api/v1/auth/register", map[string]string{"email": "a@example.com", "password": "long enough", "team_name": "x"}).
		expect(t, http.StatusForbidden)
	if c := r.errCode(t); c != "registration_disabled" {
		t.Fatalf("code %q", c)
	}
}

func TestLoginIsThrottled(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		acc := s.register(t, "ada@example.com")
		var last reply
		for i := range 20 {
			last = s.do("POST", "/api/v1/auth/login", map[string]string{"email": acc.email, "password": "guess " + strconv.Itoa(i)})
			if last.Status == http.StatusTooManyRequests {
				break
			}
			last.expect(t, http.StatusUnauthorized)
		}
		if last.Status != http.StatusTooManyRequests {
			t.Fatal("20 wrong passwords in a row were never throttled")
		}
		if c := last.errCode(t); c != "too_many_login_attempts" {
			t.Fatalf("code %q", c)
		}
		if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
		}
		// While throttled, even the right password is refused: the bucket, not
		// the answer, decides.
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": acc.email, "password": acc.password}).expect(t, http.StatusTooManyRequests)
	})
}
