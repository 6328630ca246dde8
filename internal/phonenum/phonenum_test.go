package phonenum

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, region string
		e164       string
		valid      bool
		reason     string // error reason, or info.Reason when it parses
		isErr      bool
	}{
		{"+1 415 555 2671", "", "+14155552671", true, "", false},
		{"(415) 555-2671", "US", "+14155552671", true, "", false},
		{"+44 20 7946 0958", "", "+442079460958", true, "", false},
		{"020 7946 0958", "gb", "+442079460958", true, "", false},
		{"415 555 2671", "", "", false, ReasonNeedsRegion, true},
		{"", "", "", false, ReasonEmpty, true},
		{"hello", "", "", false, ReasonNotANumber, true},
		{"+999 1234567", "", "", false, ReasonInvalidCountryCode, true},
		{"+1 2", "", "", false, ReasonNotANumber, true},
		{"+44 1", "", "", false, ReasonTooShort, true},
		{"+1 415", "", "+1415", false, ReasonTooShort, false},
		{"+1 415 555 26711234", "", "+1415555267112", false, ReasonTooLong, false},
		{"+1 123 555 2671", "", "+11235552671", false, ReasonNotAssigned, false},
	}
	for _, c := range cases {
		info, err := Parse(c.in, c.region)
		if c.isErr {
			if Reason(err) != c.reason {
				t.Errorf("%q: err %v (reason %q), want reason %q", c.in, err, Reason(err), c.reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if c.e164 != "" && info.E164 != c.e164 && c.valid {
			t.Errorf("%q: e164 %q, want %q", c.in, info.E164, c.e164)
		}
		if info.Valid != c.valid || info.Reason != c.reason {
			t.Errorf("%q: valid %v reason %q, want %v %q", c.in, info.Valid, info.Reason, c.valid, c.reason)
		}
	}
	info, _ := Parse("+14155552671", "")
	if info.Region != "US" || info.CountryCode != 1 || info.National != "(415) 555-2671" || info.RFC3966 != "tel:+1-415-555-2671" {
		t.Fatalf("forms: %+v", info)
	}
}

func TestE164RequiresValidInternationalForm(t *testing.T) {
	t.Parallel()
	if got, err := E164(" +1 (415) 555-2671 "); err != nil || got != "+14155552671" {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"4155552671", "+1 123 555 2671", "", "+1"} {
		if _, err := E164(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+14155552671", "(415) 555-2671", "+44 20 7946 0958", "", "++++", "+0", "tel:+1-415"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, in, region string) {
		info, err := Parse(in, region)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		if info.Valid {
			// A valid number's E.164 form parses back to itself.
			again, err := E164(info.E164)
			if err != nil || again != info.E164 {
				t.Fatalf("%q: E164 %q did not round-trip: %q %v", in, info.E164, again, err)
			}
		}
	})
}

func TestNormalizeAcceptsPossibleNumbers(t *testing.T) {
	t.Parallel()
	if got, err := Normalize("+1 800 123 4567"); err != nil || got != "+18001234567" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := E164("+1 800 123 4567"); err == nil {
		t.Fatal("E164 should still refuse an unassignable number")
	}
	for _, bad := range []string{"+1 2", "hello", "4155550123"} {
		if _, err := Normalize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestNormalizeCachedAnswersMatch: a remembered answer is the same as a
// fresh one, errors included, and a full cache starts over.
func TestNormalizeCachedAnswersMatch(t *testing.T) {
	for _, in := range []string{"+1 800 123 4567", "+14155550123", "12", "not a number", "+999 123"} {
		want, wantErr := normalize(in)
		for range 2 {
			got, err := Normalize(in)
			if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("%q: %q %v, want %q %v", in, got, err, want, wantErr)
			}
		}
	}
	c := &normalizeCache{m: map[string]normalizeResult{}, max: 4}
	for i := range 10 {
		c.put(fmt.Sprint(i), normalizeResult{e164: fmt.Sprint(i)})
		if len(c.m) > 4 {
			t.Fatalf("cache holds %d", len(c.m))
		}
	}
	if r, ok := c.get("9"); !ok || r.e164 != "9" {
		t.Fatal("latest entry missing")
	}
	c.put(strings.Repeat("1", 65), normalizeResult{})
	if _, ok := c.get(strings.Repeat("1", 65)); ok {
		t.Fatal("overlong key kept")
	}
}
