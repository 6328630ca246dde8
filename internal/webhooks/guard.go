package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// blockedError is a connection the guard refused.
type blockedError struct{ err error }

func (e *blockedError) Error() string { return "destination not allowed: " + e.err.Error() }
func (e *blockedError) Unwrap() error { return e.err }

// dialGuard checks the address actually being connected to — after DNS, in
// the dialer's Control hook — so a name that resolves to a private address,
// or re-resolves to one later (DNS rebinding), is refused before any packet
// leaves. In production only public addresses on ports 80 and 443 pass; in
// development loopback on any port passes too, for local receivers.
func dialGuard(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	if allowPrivate {
		return nil
	}
	g := ssrf.New()
	return func(network, address string, c syscall.RawConn) error {
		if err := g.Safe(network, address, c); err != nil {
			return &blockedError{err}
		}
		return nil
	}
}

// newClient is the HTTP client deliveries use: guarded dialer, no proxy
// (a proxy would make the guard check the proxy instead of the target), no
// redirects, bounded headers and time.
func newClient(timeout time.Duration, allowPrivate bool, override http.RoundTripper) *http.Client {
	transport := override
	if transport == nil {
		dialer := &net.Dialer{Timeout: 5 * time.Second, Control: dialGuard(allowPrivate)}
		transport = &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConnsPerHost:    DefaultWorkers, // keep a connection per concurrent delivery to one receiver
			IdleConnTimeout:        60 * time.Second,
			ForceAttemptHTTP2:      true,
		}
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// MaxURLLength bounds webhook URLs.
const MaxURLLength = 2048

// ValidateURL checks a webhook URL when it is given, so a bad one is a clear
// 4xx on the create request rather than a failed delivery later: http or
// https, a host, no credentials, no fragment, bounded length. In production
// it also refuses hosts that are plainly private (localhost, literal private
// addresses); names are checked again at every send by the dial guard.
func ValidateURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return errors.New("is empty")
	}
	if len(raw) > MaxURLLength {
		return fmt.Errorf("is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must use http or https")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("must have a host")
	}
	if u.User != nil {
		return errors.New("must not contain credentials")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment")
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".local") {
		return errors.New("must point at a public host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := ssrf.New(ssrf.WithAnyPort()).SafeAddr(ip.Unmap()); err != nil || ip.Is4In6() {
			return errors.New("must point at a public address")
		}
	} else if looksNumeric(host) {
		// Forms like 2130706433 or 0x7f000001 that some resolvers read as
		// addresses: refuse rather than guess how they will be read.
		return errors.New("must point at a public host")
	}
	if p := u.Port(); p != "" && p != "80" && p != "443" {
		return errors.New("must use port 80 or 443")
	}
	return nil
}

func looksNumeric(host string) bool {
	// No top-level domain is all digits, so such a last label means an
	// address in some notation.
	last := host[strings.LastIndex(host, ".")+1:]
	return strings.HasPrefix(last, "0x") || (last != "" && strings.Trim(last, "0123456789") == "")
}
