package webhooks

import (
	"net/netip"
	"net/url"
	"testing"
)

// FuzzValidateURL: the validator never panics, and a URL it accepts in
// production mode is http(s) with a host and no credentials, and never a
// literal private address.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hook", "http://127.0.0.1:8080/x", "http://[::1]/", "ftp://x",
		"http://user:pw@host/", "http://0x7f000001/", "https://example.com:443/a?b=c#d", "http://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateURL(raw, false) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			t.Fatalf("accepted private address %q", raw)
		}
	})
}
