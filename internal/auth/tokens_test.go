package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testSigner(t *testing.T) *jwtSigner {
	t.Helper()
	s, err := newJWTSigner([]byte(strings.Repeat("k", 32)), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testUser = User{ID: "user-1", TeamID: "team-1", Role: "owner"}

func TestJWTRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	tok, err := s.issue(testUser, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "user-1" || c.TeamID != "team-1" || c.Issuer != jwtIssuer {
		t.Fatalf("claims %+v", c)
	}
}

// TestJWTAttacks: every forged, expired or altered token is refused.
func TestJWTAttacks(t *testing.T) {
	t.Parallel()
	s := testSigner(t)
	now := time.Now()
	valid, _ := s.issue(testUser, now)
	claims := func(mut func(*accessClaims)) accessClaims {
		c := accessClaims{TeamID: "team-1", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: jwtIssuer, Subject: "user-1", Audience: jwt.ClaimStrings{jwtAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}}
		mut(&c)
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c accessClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(valid, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), "team-1", "team-2", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]

	cases := map[string]string{
		"alg none":       sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(func(*accessClaims) {})),
		"wrong key":      sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), claims(func(*accessClaims) {})),
		"HS512":          sign(jwt.SigningMethodHS512, s.secret, claims(func(*accessClaims) {})),
		"expired":        sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) })),
		"no expiry":      sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) { c.ExpiresAt = nil })),
		"wrong issuer":   sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) { c.Issuer = "someone-else" })),
		"wrong audience": sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"issued in the future": sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(2 * time.Hour))
		})),
		"no team":          sign(jwt.SigningMethodHS256, s.secret, claims(func(c *accessClaims) { c.TeamID = "" })),
		"tampered payload": tampered,
		"truncated":        valid[:len(valid)-3],
		"empty":            "",
	}
	for name, tok := range cases {
		if _, err := s.verify(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAPIKeyFormat(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		key, lookup := newAPIKey()
		if seen[key] {
			t.Fatal("duplicate key")
		}
		seen[key] = true
		got, ok := parseAPIKey(key)
		if !ok || got != lookup {
			t.Fatalf("parse %q: %q %v", key, got, ok)
		}
		// Any single-character change breaks the checksum or the shape.
		for _, i := range []int{3, 10, 16, 30, len(key) - 1} {
			b := []byte(key)
			if b[i] == 'z' {
				b[i] = 'y'
			} else {
				b[i] = 'z'
			}
			if _, ok := parseAPIKey(string(b)); ok {
				t.Fatalf("altered key %q accepted (position %d)", b, i)
			}
		}
	}
	for _, bad := range []string{"", "pv_", "sk_" + strings.Repeat("a", 51), "pv_abc_def"} {
		if _, ok := parseAPIKey(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	p := PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	h, err := hashPassword("hunter22", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("encoding %q", h)
	}
	h2, _ := hashPassword("hunter22", p)
	if h == h2 {
		t.Fatal("no salt")
	}
	if ok, err := checkPassword("hunter22", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := checkPassword("hunter23", h); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := checkPassword("x", "$bcrypt$whatever"); err == nil {
		t.Fatal("malformed hash accepted")
	}
}

// TestDummyPasswordHash: the hash checked for unknown emails has the
// configured costs, decodes like a real one, and matches no password.
func TestDummyPasswordHash(t *testing.T) {
	t.Parallel()
	p := PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	h, err := dummyPasswordHash(p)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := hashPassword("x", p)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") || len(h) != len(real) {
		t.Fatalf("encoding %q (a real one: %q)", h, real)
	}
	for _, pw := range []string{"", "not a real password", "hunter22"} {
		if ok, err := checkPassword(pw, h); ok || err != nil {
			t.Fatalf("%q against the dummy: %v %v", pw, ok, err)
		}
	}
	if h2, _ := dummyPasswordHash(p); h2 == h {
		t.Fatal("dummy hashes repeat")
	}
}
