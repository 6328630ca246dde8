package inbound

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/cases"

	"github.com/peakvoice/peakvoice/internal/phonenum"
)

// How a caller matched a target, strongest first. The lookup tool tries
// each rule in this order and stops at the first that matches anything.
const (
	RulePhone     = "known_phone_numbers"
	RuleName      = "contact_name"
	RuleAlias     = "aliases"
	RuleMatchHint = "match_hints"
)

// Match outcomes.
const (
	MatchMatched   = "matched"
	MatchAmbiguous = "ambiguous"
	MatchNone      = "unmatched"
)

// MatchResult is the outcome of matching a caller against targets.
type MatchResult struct {
	Status string
	Rule   string   // the rule that decided, when something matched
	Target *Target  // the match, when Status is matched
	Tied   []Target // the tied candidates, when Status is ambiguous
}

var folder = cases.Fold()

// fold is Unicode case folding (ß and ss compare equal), not just lower case.
func fold(s string) string { return folder.String(strings.TrimSpace(s)) }

func tokens(s string) []string {
	return strings.FieldsFunc(fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// MatchCaller finds the callback target a caller is, from what the caller
// said their name is and the number they call from:
//  1. known_phone_numbers: exact match after E.164 normalization;
//  2. contact_name: case-folded equality, or a shared word with the name;
//  3. aliases: an alias appears, case-folded, within what the caller said;
//  4. match_hints: a hint's text value equals the caller's name or number.
//
// Within the first rule that matches, the highest priority wins; targets
// tied on priority make the answer ambiguous.
func MatchCaller(targets []Target, callerName, callerPhone string) MatchResult {
	phone := ""
	if callerPhone != "" {
		if e, err := phonenum.Normalize(callerPhone); err == nil {
			phone = e
		}
	}
	name := fold(callerName)
	nameTokens := map[string]bool{}
	for _, t := range tokens(callerName) {
		nameTokens[t] = true
	}
	rules := []struct {
		rule string
		hit  func(Target) bool
	}{
		{RulePhone, func(t Target) bool {
			if phone == "" {
				return false
			}
			for _, n := range t.KnownPhoneNumbers {
				if n == phone {
					return true
				}
			}
			return false
		}},
		{RuleName, func(t Target) bool {
			if name == "" || t.ContactName == nil || fold(*t.ContactName) == "" {
				return false
			}
			if fold(*t.ContactName) == name {
				return true
			}
			for _, tok := range tokens(*t.ContactName) {
				if nameTokens[tok] {
					return true
				}
			}
			return false
		}},
		{RuleAlias, func(t Target) bool {
			if name == "" {
				return false
			}
			for _, a := range t.Aliases {
				if fa := fold(a); fa != "" && strings.Contains(name, fa) {
					return true
				}
			}
			return false
		}},
		{RuleMatchHint, func(t Target) bool {
			for _, v := range t.MatchHints {
				s, ok := v.(string)
				if !ok || fold(s) == "" {
					continue
				}
				if (name != "" && fold(s) == name) || (phone != "" && s == phone) {
					return true
				}
			}
			return false
		}},
	}
	for _, r := range rules {
		var hits []Target
		for _, t := range targets {
			if r.hit(t) {
				hits = append(hits, t)
			}
		}
		if len(hits) == 0 {
			continue
		}
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].Priority > hits[j].Priority })
		if len(hits) > 1 && hits[0].Priority == hits[1].Priority {
			top := []Target{}
			for _, h := range hits {
				if h.Priority == hits[0].Priority {
					top = append(top, h)
				}
			}
			return MatchResult{Status: MatchAmbiguous, Rule: r.rule, Tied: top}
		}
		best := hits[0]
		return MatchResult{Status: MatchMatched, Rule: r.rule, Target: &best}
	}
	return MatchResult{Status: MatchNone}
}
