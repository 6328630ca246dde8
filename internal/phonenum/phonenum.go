// Package phonenum parses, validates and formats phone numbers with
// github.com/nyaruka/phonenumbers (a port of Google's libphonenumber), and
// serves the /api/v1/numbers helpers. Everything else in Peak Voice that
// takes a phone number normalizes it here, to E.164.
package phonenum

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Info describes a parsed number.
type Info struct {
	Input         string `json:"input" doc:"The number as given."`
	E164          string `json:"e164" example:"+14155550123"`
	National      string `json:"national" example:"(415) 555-0123"`
	International string `json:"international" example:"+1 415-555-0123"`
	RFC3966       string `json:"rfc3966" example:"tel:+1-415-555-0123"`
	CountryCode   int    `json:"country_code" example:"1"`
	Region        string `json:"region" doc:"ISO 3166-1 alpha-2 region, or empty when the number is not valid." example:"US"`
	Type          string `json:"type" enum:"fixed_line,mobile,fixed_line_or_mobile,toll_free,premium_rate,shared_cost,voip,personal_number,pager,uan,voicemail,unknown"`
	Valid         bool   `json:"valid" doc:"The number is assigned-looking: right length and pattern for its region."`
	Possible      bool   `json:"possible" doc:"The length is possible for the region (weaker than valid)."`
	Reason        string `json:"reason,omitempty" doc:"Why the number is not valid, when it is not."`
}

// Reasons a number is not valid: stable strings for clients to branch on.
const (
	ReasonEmpty              = "empty"
	ReasonNotANumber         = "not_a_number"
	ReasonInvalidCountryCode = "invalid_country_code"
	ReasonTooShort           = "too_short"
	ReasonTooLong            = "too_long"
	ReasonInvalidLength      = "invalid_length"
	ReasonNeedsRegion        = "missing_country_code"
	ReasonNotAssigned        = "not_a_valid_number_for_region"
)

// Error is a number that cannot be used, with a stable reason.
type Error struct {
	Reason string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

var reasonText = map[string]string{
	ReasonEmpty:              "no number was given",
	ReasonNotANumber:         "it is not a phone number",
	ReasonInvalidCountryCode: "its country code is not valid",
	ReasonTooShort:           "it is too short",
	ReasonTooLong:            "it is too long",
	ReasonInvalidLength:      "its length is not valid for its region",
	ReasonNeedsRegion:        "it has no country code; write it as +<country code><number> or give a default region",
	ReasonNotAssigned:        "it does not match any number pattern of its region",
}

func fail(reason string) *Error {
	return &Error{Reason: reason, Detail: reasonText[reason]}
}

// Parse parses a number written in any common form. defaultRegion (like
// "US") is used only when the number has no leading +country code.
func Parse(input, defaultRegion string) (Info, error) {
	in := strings.TrimSpace(input)
	info := Info{Input: input}
	if in == "" {
		return info, fail(ReasonEmpty)
	}
	if len(in) > 64 {
		return info, fail(ReasonTooLong)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	n, err := phonenumbers.Parse(in, region)
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			if region == "" && !strings.HasPrefix(in, "+") {
				return info, fail(ReasonNeedsRegion)
			}
			return info, fail(ReasonInvalidCountryCode)
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			return info, fail(ReasonTooShort)
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return info, fail(ReasonTooLong)
		}
		return info, fail(ReasonNotANumber)
	}
	info.E164 = phonenumbers.Format(n, phonenumbers.E164)
	info.National = phonenumbers.Format(n, phonenumbers.NATIONAL)
	info.International = phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	info.RFC3966 = phonenumbers.Format(n, phonenumbers.RFC3966)
	info.CountryCode = int(n.GetCountryCode())
	info.Region = phonenumbers.GetRegionCodeForNumber(n)
	info.Type = typeName(phonenumbers.GetNumberType(n))
	info.Valid = phonenumbers.IsValidNumber(n)
	possible := phonenumbers.IsPossibleNumberWithReason(n)
	info.Possible = possible == phonenumbers.IS_POSSIBLE || possible == phonenumbers.IS_POSSIBLE_LOCAL_ONLY
	if !info.Valid {
		switch possible {
		case phonenumbers.INVALID_COUNTRY_CODE:
			info.Reason = ReasonInvalidCountryCode
		case phonenumbers.TOO_SHORT:
			info.Reason = ReasonTooShort
		case phonenumbers.TOO_LONG:
			info.Reason = ReasonTooLong
		case phonenumbers.INVALID_LENGTH:
			info.Reason = ReasonInvalidLength
		default:
			info.Reason = ReasonNotAssigned
		}
	}
	return info, nil
}

// E164 normalizes a number that must be valid, written with a +country
// code (no region is assumed). It is what every API field that takes a
// phone number uses.
func E164(input string) (string, error) {
	info, err := Parse(input, "")
	if err != nil {
		return "", err
	}
	if !info.Valid {
		return "", fail(info.Reason)
	}
	return info.E164, nil
}

// Describe turns a number error into a sentence about a named field.
func Describe(field string, err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s is not a valid phone number: %s", field, pe.Detail)
	}
	return field + " is not a valid phone number"
}

// Reason returns the stable reason of a number error, or "".
func Reason(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ""
}

func typeName(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.FIXED_LINE:
		return "fixed_line"
	case phonenumbers.MOBILE:
		return "mobile"
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return "fixed_line_or_mobile"
	case phonenumbers.TOLL_FREE:
		return "toll_free"
	case phonenumbers.PREMIUM_RATE:
		return "premium_rate"
	case phonenumbers.SHARED_COST:
		return "shared_cost"
	case phonenumbers.VOIP:
		return "voip"
	case phonenumbers.PERSONAL_NUMBER:
		return "personal_number"
	case phonenumbers.PAGER:
		return "pager"
	case phonenumbers.UAN:
		return "uan"
	case phonenumbers.VOICEMAIL:
		return "voicemail"
	}
	return "unknown"
}

// Formats accepted by Format.
var Formats = []string{"E164", "NATIONAL", "INTERNATIONAL", "RFC3966"}

// Format renders a parsed number in one of Formats.
func (i Info) Format(format string) (string, bool) {
	switch strings.ToUpper(format) {
	case "E164":
		return i.E164, true
	case "NATIONAL":
		return i.National, true
	case "INTERNATIONAL":
		return i.International, true
	case "RFC3966":
		return i.RFC3966, true
	}
	return "", false
}

// Normalize is E164 for numbers that only need a stable form to compare,
// such as callers to recognise: it accepts any number whose length is
// possible for its country, even if no carrier could assign it (test
// numbers like +1 800 123 4567 included).
func Normalize(input string) (string, error) {
	if r, ok := normalized.get(input); ok {
		if e, ok := r.err.(*Error); ok {
			cp := *e // each caller gets its own error value
			return "", &cp
		}
		return r.e164, r.err
	}
	e164, err := normalize(input)
	normalized.put(input, normalizeResult{e164, err})
	return e164, err
}

func normalize(input string) (string, error) {
	info, err := Parse(input, "")
	if err != nil {
		return "", err
	}
	if !info.Valid && !info.Possible {
		return "", fail(info.Reason)
	}
	return info.E164, nil
}

// normalized remembers recent Normalize answers: parsing takes a good
// part of a millisecond, and the same callers' numbers are normalized on
// every call they make (the carrier's dynamic-variables and lookup
// requests). The answer depends on the input alone.
var normalized = &normalizeCache{m: map[string]normalizeResult{}, max: 16384}

type normalizeResult struct {
	e164 string
	err  error
}

// normalizeCache is a bounded map, emptied when full: simple, and a busy
// working set refills it at once.
type normalizeCache struct {
	mu  sync.Mutex
	m   map[string]normalizeResult
	max int
}

func (c *normalizeCache) get(k string) (normalizeResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[k]
	return r, ok
}

func (c *normalizeCache) put(k string, r normalizeResult) {
	if len(k) > 64 {
		return // not worth keeping; Parse refuses such input anyway
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = r
}
