// Package telnyx is Peak Voice's adapter for the Telnyx v2 HTTP API: a small
// REST client for the operations the product uses (AI assistants, messages,
// phone numbers, TeXML applications, outbound AI calls, conversations and
// recordings), typed errors, and the intake side of Telnyx webhooks
// (Ed25519 signature verification and parsing of JSON events, form-encoded
// TeXML requests and the assistant dynamic-variables request).
//
// It is the only package that knows Telnyx's wire format. Other packages use
// its exported Go types and never the JSON shapes.
package telnyx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the production Telnyx v2 API root.
const DefaultBaseURL = "https://api.telnyx.com/v2"

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 8 << 20

// Config configures a Client. Only APIKey is required.
type Config struct {
	// BaseURL is the API root including the version, e.g.
	// "https://api.telnyx.com/v2" (the default) or a simulator's
	// "http://127.0.0.1:4010/v2".
	BaseURL string
	// APIKey is the Telnyx API v2 key sent as a bearer token.
	APIKey string
	// HTTPClient performs requests. Its Timeout bounds every attempt.
	// Default: a client with a 30 second timeout.
	HTTPClient *http.Client
	// MaxRetries is how many times a retry-safe request (GET, DELETE, or a
	// command carrying an idempotency key) is repeated after a 429, a 5xx
	// or a connection error. Zero means the default of 2; negative disables
	// retries.
	MaxRetries int
	// RetryDelay is the first backoff delay; it doubles per attempt.
	// Default 250ms.
	RetryDelay time.Duration
	// MaxRetryDelay caps a single backoff. A 429 whose Retry-After exceeds
	// it is returned to the caller instead of being waited out.
	// Default 5s.
	MaxRetryDelay time.Duration
	// UserAgent is sent as the User-Agent header. Default "peakvoice-telnyx".
	UserAgent string
}

// Client calls the Telnyx v2 API. It is safe for concurrent use.
type Client struct {
	base       string
	apiKey     string
	http       *http.Client
	maxRetries int
	retryDelay time.Duration
	maxDelay   time.Duration
	userAgent  string
}

// PooledTransport is http.DefaultTransport keeping up to 64 idle
// connections per host instead of 2. Requests to the carrier run
// concurrently (every SMS send, dial and hang-up is one), and with only two
// idle connections kept most of them would open a new connection — a TLS
// handshake each against the real API.
func PooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}

// New returns a Client for cfg, filling in defaults.
func New(cfg Config) *Client {
	c := &Client{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:     cfg.APIKey,
		http:       cfg.HTTPClient,
		maxRetries: cfg.MaxRetries,
		retryDelay: cfg.RetryDelay,
		maxDelay:   cfg.MaxRetryDelay,
		userAgent:  cfg.UserAgent,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second, Transport: PooledTransport()}
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = 2
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.retryDelay <= 0 {
		c.retryDelay = 250 * time.Millisecond
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 5 * time.Second
	}
	if c.userAgent == "" {
		c.userAgent = "peakvoice-telnyx"
	}
	return c
}

// request describes one API call.
type request struct {
	method string
	path   string     // relative to the base URL, starting with "/"
	query  url.Values // optional
	body   any        // JSON-encoded when non-nil
	// retrySafe marks a request that may be repeated: GET, DELETE, or a
	// command made idempotent by a command_id.
	retrySafe bool
}

// do performs req, retrying when safe, and decodes a 2xx body into out
// (when out is non-nil and the body is non-empty).
func (c *Client) do(ctx context.Context, req request, out any) error {
	var payload []byte
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("telnyx: %s %s: encode body: %w", req.method, req.path, err)
		}
		payload = b
	}
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	attempts := 1
	if req.retrySafe {
		attempts += c.maxRetries
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt, lastErr)
			if wait < 0 {
				break // the server asked for a longer pause than we wait out
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("telnyx: %s %s: %w", req.method, req.path, ctx.Err())
			case <-t.C:
			}
		}
		err := c.once(ctx, req.method, u, payload, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("telnyx: %s %s: %w", req.method, req.path, ctx.Err())
		}
		lastErr = err
		if !retryable(err) {
			break
		}
	}
	return lastErr
}

// backoff returns how long to wait before the given retry attempt, or -1
// when the previous error's Retry-After is beyond the configured cap.
func (c *Client) backoff(attempt int, prev error) time.Duration {
	var te *Error
	if errors.As(prev, &te) && te.RetryAfter > 0 {
		if te.RetryAfter > c.maxDelay {
			return -1
		}
		return te.RetryAfter
	}
	d := c.retryDelay << (attempt - 1)
	if d > c.maxDelay || d <= 0 {
		d = c.maxDelay
	}
	return d
}

// retryable reports whether err is worth repeating for a retry-safe request.
func retryable(err error) bool {
	var te *Error
	if !errors.As(err, &te) {
		return false
	}
	return te.Kind == KindRateLimited || te.Kind == KindUnavailable
}

// once performs a single HTTP exchange.
func (c *Client) once(ctx context.Context, method, u string, payload []byte, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("telnyx: %s %s: %w", method, u, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	op := method + " " + strings.TrimPrefix(u, c.base)
	resp, err := c.http.Do(hreq)
	if err != nil {
		return &Error{Kind: KindUnavailable, Op: op, Title: "Transport error", Detail: err.Error(), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &Error{Kind: KindUnavailable, Op: op, Status: resp.StatusCode, Title: "Transport error", Detail: err.Error(), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(op, resp, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{Kind: KindUnknown, Op: op, Status: resp.StatusCode, Title: "Undecodable response", Detail: err.Error(), Err: err}
	}
	return nil
}

// dataEnvelope is the v2 single-object wrapper {"data": ...}.
type dataEnvelope[T any] struct {
	Data T `json:"data"`
}

// listEnvelope is the v2 list wrapper {"data": [...], "meta": {...}}.
type listEnvelope[T any] struct {
	Data []T      `json:"data"`
	Meta PageMeta `json:"meta"`
}

// PageMeta is the pagination block of a Telnyx list response.
type PageMeta struct {
	PageNumber   int `json:"page_number"`
	PageSize     int `json:"page_size"`
	TotalPages   int `json:"total_pages"`
	TotalResults int `json:"total_results"`
}

// pageQuery adds Telnyx's deepObject pagination parameters to q.
func pageQuery(q url.Values, number, size int) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if number > 0 {
		q.Set("page[number]", strconv.Itoa(number))
	}
	if size > 0 {
		q.Set("page[size]", strconv.Itoa(size))
	}
	return q
}

// escape escapes an id for use as one path segment.
func escape(id string) string { return url.PathEscape(id) }

// requireID guards against calls with an empty identifier, which would
// otherwise address a collection instead of a resource.
func requireID(op, name, v string) error {
	if strings.TrimSpace(v) == "" {
		return &Error{Kind: KindInvalidRequest, Op: op, Title: "Missing parameter", Detail: name + " is required"}
	}
	return nil
}
