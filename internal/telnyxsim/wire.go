package telnyxsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// state is everything the simulator remembers; guarded by Server.mu.
type state struct {
	numbers       []*phoneNumber
	profiles      map[string]*messagingProfile
	profileOrder  []string
	apps          map[string]*texmlApp
	appOrder      []string
	assistants    map[string]*assistant
	asstOrder     []string
	messages      []*message
	calls         []*call
	conversations []*conversation
	recordings    []*recording
	faults        []*Fault
	scripts       map[string][]ScriptStep
	deliveries    []Delivery
	requests      int
}

func newState() state {
	return state{
		profiles:   map[string]*messagingProfile{},
		apps:       map[string]*texmlApp{},
		assistants: map[string]*assistant{},
		scripts:    map[string][]ScriptStep{},
	}
}

// forget drops what the simulator remembers beyond Config.History, the
// oldest finished entries first, so a long-running development server does
// not grow without bound. It runs after each append; trimming starts only
// a quarter past the limit, so its cost is spread over many appends.
// Callers hold s.mu.
func (s *Server) forget() {
	n := s.cfg.History
	if n < 0 {
		return
	}
	s.st.messages = trimOldest(s.st.messages, n, func(m *message) bool {
		return m.Direction == "inbound" || m.CompletedAt != nil
	})
	s.st.calls = trimOldest(s.st.calls, n, func(c *call) bool { return finalStatus(c.Status) })
	s.st.conversations = trimOldest(s.st.conversations, n, func(*conversation) bool { return true })
	s.st.recordings = trimOldest(s.st.recordings, n, func(*recording) bool { return true })
	s.st.deliveries = trimOldest(s.st.deliveries, 4*n, func(Delivery) bool { return true })
}

// trimOldest returns xs without its oldest done entries beyond limit, in
// order, once xs has grown a quarter past limit; entries not done stay.
func trimOldest[T any](xs []T, limit int, done func(T) bool) []T {
	if len(xs) <= limit+limit/4 {
		return xs
	}
	drop := len(xs) - limit
	out := make([]T, 0, limit+limit/4+1) // a new array, so the old one is freed
	for _, x := range xs {
		if drop > 0 && done(x) {
			drop--
			continue
		}
		out = append(out, x)
	}
	return out
}

// Timestamp formats: messaging uses milliseconds, voice microseconds.
const (
	msTime = "2006-01-02T15:04:05.000Z"
	usTime = "2006-01-02T15:04:05.000000Z"
)

func fmtMS(t time.Time) string { return t.UTC().Format(msTime) }
func fmtUS(t time.Time) string { return t.UTC().Format(usTime) }

// numericID returns a 19-digit numeric string like Telnyx's resource ids.
func numericID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(8e17))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strconv.FormatInt(1e18+n.Int64(), 10)
}

// opaqueID returns a call-control style id: a version prefix and url-safe
// base64 of random bytes.
func opaqueID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// apiError is one entry of Telnyx's {"errors": [...]} body.
type apiError struct {
	Code   string     `json:"code"`
	Title  string     `json:"title"`
	Detail string     `json:"detail,omitempty"`
	Source *errSource `json:"source,omitempty"`
	Meta   *errMeta   `json:"meta,omitempty"`
}

type errSource struct {
	Pointer   string `json:"pointer,omitempty"`
	Parameter string `json:"parameter,omitempty"`
}

type errMeta struct {
	URL string `json:"url"`
}

func newAPIError(code, title, detail string) apiError {
	return apiError{Code: code, Title: title, Detail: detail,
		Meta: &errMeta{URL: "https://developers.telnyx.com/docs/overview/errors/" + code}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeErr(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, map[string]any{"errors": []apiError{e}})
}

func notFound(w http.ResponseWriter, what string) {
	writeErr(w, http.StatusNotFound, newAPIError("10005", "Resource not found", what+" could not be found."))
}

func invalid(w http.ResponseWriter, code, title, detail, pointer string) {
	e := newAPIError(code, title, detail)
	if pointer != "" {
		e.Source = &errSource{Pointer: pointer}
	}
	writeErr(w, http.StatusUnprocessableEntity, e)
}

func badParam(w http.ResponseWriter, param, detail string) {
	e := newAPIError("10015", "Bad Request", detail)
	e.Source = &errSource{Parameter: param}
	writeErr(w, http.StatusBadRequest, e)
}

// validationItem is the FastAPI-style 422 entry used by /ai/* endpoints.
type validationItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func writeValidation(w http.ResponseWriter, items ...validationItem) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": items})
}

// decodeBody reads a JSON object body; on failure it answers 400 and
// returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(w, http.StatusBadRequest, newAPIError("10015", "Bad Request", "Could not read the request body."))
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeErr(w, http.StatusBadRequest, newAPIError("10023", "Invalid JSON", "The request body is not valid JSON: "+err.Error()))
		return false
	}
	return true
}

// authorized checks the bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.cfg.APIKey)) == 1
}

func unauthorized(w http.ResponseWriter) {
	writeErr(w, http.StatusUnauthorized, newAPIError("10009", "Authentication failed",
		"The required authentication headers were either invalid or not included in the request."))
}

// validE164 reports whether s is a valid +E.164 phone number.
func validE164(s string) bool {
	if !strings.HasPrefix(s, "+") {
		return false
	}
	p, err := phonenumbers.Parse(s, "")
	if err != nil {
		return false
	}
	return phonenumbers.IsValidNumber(p) && phonenumbers.Format(p, phonenumbers.E164) == s
}

// pageParams reads page[number] and page[size]; on a bad value it answers
// 400 and returns ok=false.
func pageParams(w http.ResponseWriter, r *http.Request, defSize, maxSize int) (number, size int, ok bool) {
	number, size = 1, defSize
	q := r.URL.Query()
	if v := q.Get("page[number]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			badParam(w, "page[number]", "page[number] must be an integer of at least 1.")
			return 0, 0, false
		}
		number = n
	}
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSize {
			badParam(w, "page[size]", "page[size] must be an integer between 1 and "+strconv.Itoa(maxSize)+".")
			return 0, 0, false
		}
		size = n
	}
	return number, size, true
}

// pageMeta is Telnyx's pagination block.
type pageMeta struct {
	PageNumber   int `json:"page_number"`
	PageSize     int `json:"page_size"`
	TotalPages   int `json:"total_pages"`
	TotalResults int `json:"total_results"`
}

// paginate slices items for the page and returns the meta block.
func paginate[T any](items []T, number, size int) ([]T, pageMeta) {
	total := len(items)
	pages := (total + size - 1) / size
	start := (number - 1) * size
	if start > total {
		start = total
	}
	end := min(start+size, total)
	out := make([]T, end-start)
	copy(out, items[start:end])
	return out, pageMeta{PageNumber: number, PageSize: size, TotalPages: pages, TotalResults: total}
}

// last4 returns the last four characters of a number (the magic suffix).
func last4(n string) string {
	if len(n) < 4 {
		return n
	}
	return n[len(n)-4:]
}

// Magic destination suffixes.
const (
	magicBusy      = "0001"
	magicNoAnswer  = "0002"
	magicVoicemail = "0003"
	magicFailure   = "0004"
)
