package console

import (
	"crypto/sha256"
	"sync"
	"time"
)

// refreshGrace is how long the outcome of a token refresh is remembered.
// A page and its live streams may all find the access token expired at
// once; each would spend the same refresh token, and the API takes a
// second use of one as theft and revokes the session. Within the grace
// window, later requests with the same old refresh token get the tokens
// the first one obtained instead.
const refreshGrace = 30 * time.Second

// refresher serializes refreshes and remembers their outcomes briefly.
type refresher struct {
	mu   sync.Mutex
	done map[[32]byte]refreshed
}

type refreshed struct {
	tok tokens
	at  time.Time
}

// do returns the tokens that replace old, calling fresh at most once per
// old token within the grace window.
func (f *refresher) do(old string, fresh func() (tokens, error)) (tokens, error) {
	key := sha256.Sum256([]byte(old))
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for k, r := range f.done {
		if now.Sub(r.at) > refreshGrace {
			delete(f.done, k)
		}
	}
	if r, ok := f.done[key]; ok {
		return r.tok, nil
	}
	tok, err := fresh()
	if err != nil {
		return tok, err
	}
	if f.done == nil {
		f.done = map[[32]byte]refreshed{}
	}
	f.done[key] = refreshed{tok: tok, at: now}
	return tok, nil
}
