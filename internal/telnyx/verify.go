package telnyx

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook signature headers Telnyx sets on every webhook it sends.
const (
	HeaderSignature = "telnyx-signature-ed25519"
	HeaderTimestamp = "telnyx-timestamp"
)

// DefaultTolerance is how far a webhook's timestamp may be from now.
const DefaultTolerance = 5 * time.Minute

// Verification failures. Verify wraps exactly one of them.
var (
	// ErrMissingSignature: a signature or timestamp header is absent.
	ErrMissingSignature = errors.New("telnyx webhook: missing signature headers")
	// ErrMalformedSignature: a header is present but not decodable.
	ErrMalformedSignature = errors.New("telnyx webhook: malformed signature headers")
	// ErrBadSignature: the signature does not match the body and timestamp.
	ErrBadSignature = errors.New("telnyx webhook: signature does not verify")
	// ErrStaleTimestamp: the timestamp is outside the tolerance window.
	ErrStaleTimestamp = errors.New("telnyx webhook: timestamp outside tolerance")
)

// Verifier checks Telnyx webhook signatures: Ed25519 over
// "<telnyx-timestamp>|<raw body>".
type Verifier struct {
	key       ed25519.PublicKey
	tolerance time.Duration
}

// NewVerifier returns a Verifier for the account's public key, given as
// base64 of the 32 raw key bytes (as Telnyx's portal shows it).
func NewVerifier(publicKeyBase64 string) (*Verifier, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKeyBase64))
	if err != nil {
		return nil, fmt.Errorf("telnyx: public key is not base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("telnyx: public key has %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return &Verifier{key: ed25519.PublicKey(raw), tolerance: DefaultTolerance}, nil
}

// WithTolerance returns a copy of v accepting timestamps within d of now.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	cp := *v
	cp.tolerance = d
	return &cp
}

// Verify checks that body (the raw, unparsed request body) was signed by
// Telnyx at a time within the tolerance of now. It returns nil or an error
// wrapping one of the Err* sentinels.
func (v *Verifier) Verify(h http.Header, body []byte, now time.Time) error {
	sigHeader := strings.TrimSpace(h.Get(HeaderSignature))
	tsHeader := strings.TrimSpace(h.Get(HeaderTimestamp))
	if sigHeader == "" || tsHeader == "" {
		return ErrMissingSignature
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrMalformedSignature, tsHeader)
	}
	sig, err := base64.StdEncoding.DecodeString(sigHeader)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not base64 of %d bytes", ErrMalformedSignature, ed25519.SignatureSize)
	}
	signed := make([]byte, 0, len(tsHeader)+1+len(body))
	signed = append(signed, tsHeader...)
	signed = append(signed, '|')
	signed = append(signed, body...)
	if !ed25519.Verify(v.key, signed, sig) {
		return ErrBadSignature
	}
	// The timestamp is checked after the signature so that a forged
	// timestamp is reported as a bad signature, not as staleness.
	age := now.Sub(time.Unix(ts, 0))
	if age > v.tolerance || age < -v.tolerance {
		return fmt.Errorf("%w: %s", ErrStaleTimestamp, age.Round(time.Second))
	}
	return nil
}

// MaxWebhookBytes bounds the webhook bodies ReadVerified accepts.
const MaxWebhookBytes = 1 << 20

// ReadVerified reads r's body (up to MaxWebhookBytes) and verifies it. It
// returns the raw body only when the signature is good, so callers parse
// nothing unverified.
func (v *Verifier) ReadVerified(r *http.Request, now time.Time) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("telnyx webhook: read body: %w", err)
	}
	if len(body) > MaxWebhookBytes {
		return nil, fmt.Errorf("telnyx webhook: body exceeds %d bytes", MaxWebhookBytes)
	}
	if err := v.Verify(r.Header, body, now); err != nil {
		return nil, err
	}
	return body, nil
}
