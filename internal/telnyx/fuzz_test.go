package telnyx

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify: verification never panics, a genuine signature over any body
// verifies, and any change to the body breaks it.
func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	v, err := NewVerifier(base64.StdEncoding.EncodeToString(pub))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"data":{"id":"e1","event_type":"message.sent"}}`), "AAAA", "1700000000")
	f.Add([]byte{}, "", "")
	f.Add([]byte("\x00\xff"), "!!!", "-1")
	f.Fuzz(func(t *testing.T, body []byte, sigHeader, tsHeader string) {
		now := time.Now()
		h := http.Header{}
		h.Set(HeaderSignature, sigHeader)
		h.Set(HeaderTimestamp, tsHeader)
		_ = v.Verify(h, body, now) // arbitrary headers: must not panic

		ts := strconv.FormatInt(now.Unix(), 10)
		sig := ed25519.Sign(priv, append([]byte(ts+"|"), body...))
		h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		h.Set(HeaderTimestamp, ts)
		if err := v.Verify(h, body, now); err != nil {
			t.Fatalf("genuine signature refused: %v", err)
		}
		changed := append(append([]byte{}, body...), ' ')
		if v.Verify(h, changed, now) == nil {
			t.Fatal("a changed body verified")
		}
	})
}

// FuzzParsers: the parsers of carrier requests never panic on any input.
func FuzzParsers(f *testing.F) {
	f.Add([]byte(`{"data":{"id":"e","event_type":"message.received","payload":{"id":"m","to":[{"phone_number":"+1"}]}},"meta":{"attempt":1}}`))
	f.Add([]byte("CallSid=v3:x&From=%2B14155550123&To=%2B13126200100&CallStatus=completed&CallDuration=12&SequenceNumber=3"))
	f.Add([]byte(`{"data":{"event_type":"assistant.initialization","id":"i","payload":{"telnyx_call_control_id":"c"}}}`))
	f.Add([]byte("%%%&&&==="))
	f.Fuzz(func(t *testing.T, body []byte) {
		if ev, err := ParseEvent(body); err == nil {
			_, _ = ev.Message()
			_, _ = ev.Call()
			_, _ = ev.AssistantInitialization()
		}
		_, _ = ParseTeXMLRequest(body)
		if cb, err := ParseCallStatus(body); err == nil {
			_ = cb.Final()
		}
		_, _ = ParseToolRequest(http.Header{"X-Telnyx-Call-Control-Id": {"c"}}, body)
	})
}
