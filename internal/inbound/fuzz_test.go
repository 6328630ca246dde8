package inbound

import "testing"

// FuzzMatchCaller: matching never panics, and a match is always one of the
// given targets.
func FuzzMatchCaller(f *testing.F) {
	f.Add("Jane Doe", "+14155550123", "jane", "order 4421")
	f.Add("", "", "", "")
	f.Add("WEIß", "not a number", "weiss", "ß")
	f.Fuzz(func(t *testing.T, name, phone, contact, alias string) {
		targets := []Target{
			{ID: "a", ContactName: &contact, Aliases: []string{alias}, KnownPhoneNumbers: []string{"+14155550123"}},
			{ID: "b", ContactName: &alias, MatchHints: map[string]any{"k": contact, "n": 3}},
		}
		r := MatchCaller(targets, name, phone)
		switch r.Status {
		case MatchMatched:
			if r.Target == nil || (r.Target.ID != "a" && r.Target.ID != "b") {
				t.Fatalf("matched an unknown target: %+v", r)
			}
		case MatchAmbiguous:
			if len(r.Tied) < 2 {
				t.Fatalf("ambiguous with %d candidates", len(r.Tied))
			}
		case MatchNone:
		default:
			t.Fatalf("status %q", r.Status)
		}
	})
}
