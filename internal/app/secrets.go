package app

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// devSecrets are generated once per data directory so a development server
// keeps its tokens valid across restarts without any configuration. In
// production each is set through its flag or environment variable instead.
type devSecrets struct {
	JWTSecret            string `json:"jwt_secret"`
	WebhookSigningSecret string `json:"webhook_signing_secret"`
	// SimSigningKey is the embedded simulator's Ed25519 seed, so its
	// public key stays the same across restarts.
	SimSigningKey string `json:"sim_signing_key"`
}

const secretsFile = "secrets.json"

// loadDevSecrets reads the data directory's secrets, creating any that are
// missing. The file is private to the owner.
func loadDevSecrets(dataDir string) (devSecrets, error) {
	var s devSecrets
	path := filepath.Join(dataDir, secretsFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, fmt.Errorf("read %s: %w", path, err)
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	changed := false
	for _, f := range []*string{&s.JWTSecret, &s.WebhookSigningSecret, &s.SimSigningKey} {
		if *f == "" {
			*f = randomSecret()
			changed = true
		}
	}
	if !changed {
		return s, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return s, err
	}
	b, _ = json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return s, fmt.Errorf("write secrets: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return s, fmt.Errorf("write secrets: %w", err)
	}
	return s, nil
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
