package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWT settings. The algorithm is pinned: a token signed any other way,
// including "none", is refused.
const (
	jwtIssuer   = "peakvoice"
	jwtAudience = "peakvoice-api"
	jwtLeeway   = 30 * time.Second
)

// accessClaims are the claims of an access token. The team comes from the
// verified token only.
type accessClaims struct {
	TeamID string `json:"tid"`
	Role   string `json:"role"`
	jwt.RegisteredClaims
}

type jwtSigner struct {
	secret []byte
	ttl    time.Duration
	parser *jwt.Parser
}

func newJWTSigner(secret []byte, ttl time.Duration) (*jwtSigner, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwt secret must be at least 32 bytes")
	}
	return &jwtSigner{
		secret: secret,
		ttl:    ttl,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(jwtIssuer),
			jwt.WithAudience(jwtAudience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(jwtLeeway),
		),
	}, nil
}

func (s *jwtSigner) issue(u User, now time.Time) (string, error) {
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	claims := accessClaims{
		TeamID: u.TeamID,
		Role:   u.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    jwtIssuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{jwtAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
			ID:        hex.EncodeToString(id),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
}

func (s *jwtSigner) verify(token string) (*accessClaims, error) {
	var c accessClaims
	_, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return nil, err
	}
	if c.Subject == "" || c.TeamID == "" {
		return nil, errors.New("token lacks subject or team")
	}
	return &c, nil
}

// API keys look like pv_<lookup>_<secret><check>: a 12-character lookup id
// stored in clear, a 32-character secret of which only a hash is stored, and
// a 6-character CRC32 checksum that lets us (and secret scanners) reject
// mistyped or invented keys without touching the database.
const (
	keyLookupLen = 12
	keySecretLen = 32
	keyCheckLen  = 6
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

func randomBase62(n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(base62)))
	for range n {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b.WriteByte(base62[v.Int64()])
	}
	return b.String()
}

func checksum62(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, keyCheckLen)
	for i := keyCheckLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// newAPIKey returns a fresh key and its lookup id.
func newAPIKey() (key, lookup string) {
	lookup = randomBase62(keyLookupLen)
	secret := randomBase62(keySecretLen)
	body := lookup + "_" + secret
	return "pv_" + body + checksum62(body), lookup
}

// parseAPIKey checks a key's shape and checksum and returns its lookup id.
func parseAPIKey(key string) (lookup string, ok bool) {
	rest, found := strings.CutPrefix(key, "pv_")
	if !found || len(rest) != keyLookupLen+1+keySecretLen+keyCheckLen || rest[keyLookupLen] != '_' {
		return "", false
	}
	body, check := rest[:len(rest)-keyCheckLen], rest[len(rest)-keyCheckLen:]
	for _, c := range body[:keyLookupLen] + body[keyLookupLen+1:] + check {
		if !strings.ContainsRune(base62, c) {
			return "", false
		}
	}
	if checksum62(body) != check {
		return "", false
	}
	return body[:keyLookupLen], true
}

// keyPrefix is the part of a key shown in listings.
func keyPrefix(lookup string) string { return "pv_" + lookup }

// hashSecret hashes a high-entropy secret (API key or refresh token) for
// storage. SHA-256 suffices: the input is random, not a password.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newRefreshToken returns an opaque refresh token.
func newRefreshToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return "pvr_" + base64.RawURLEncoding.EncodeToString(b)
}
