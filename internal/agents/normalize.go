package agents

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// BriefInput is what a caller supplies for one call.
type BriefInput struct {
	Text      *string           `json:"call_brief_text,omitempty" doc:"Free text about the call. See the agent's call-brief schema for how it is used."`
	Variables map[string]string `json:"call_brief_variables,omitempty" doc:"Named values, all strings. Keys are variable names or aliases (matched ignoring case, spaces and hyphens)."`
}

// Sources of a normalized value.
const (
	SourceVariables = "variables" // given under its canonical name
	SourceAlias     = "alias"     // given under one of its aliases
	SourceText      = "text"      // read from a "label: value" line of the text
	SourceDefault   = "default"   // the contract's default
)

// BriefWarning is something a caller may want to fix; it does not stop a call.
type BriefWarning struct {
	Code    string `json:"code" enum:"unknown_variable,alias_shadowed,value_not_allowed,pattern_mismatch,empty_value,text_ignored,duplicate_key" doc:"Stable machine code."`
	Field   string `json:"field" doc:"The variable (or call_brief_text) concerned."`
	Message string `json:"message"`
}

// NormalizedBrief is the outcome of normalizing a call brief.
type NormalizedBrief struct {
	Variables               map[string]string `json:"variables" doc:"Canonical variable names and their values (contract variables and pass-through extras)."`
	Sources                 map[string]string `json:"sources" doc:"Where each value came from: variables, alias, text or default."`
	Warnings                []BriefWarning    `json:"warnings"`
	MissingRequiredFields   []string          `json:"missing_required_fields" doc:"Required variables (and call_brief_text, when required) that have no value."`
	EnforceRequired         bool              `json:"enforce_required" doc:"Whether missing required fields fail the request. Always false for the preview."`
	DynamicVariablesPreview map[string]string `json:"dynamic_variables_preview" doc:"The dynamic variables the voice runtime would receive: every contract variable (empty when unset, so no {{placeholder}} is left raw), extras, and call_brief_text."`
}

// Error codes of call-brief normalization.
const (
	CodeMissingBriefVariables = "missing_required_call_brief_variables"
	CodeInvalidBrief          = "invalid_call_brief"
)

var extraKeyPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// textLine matches a "label: value" (or "label = value") line of brief text.
var textLine = regexp.MustCompile(`^\s*(?:[-*•]\s*)?([A-Za-z][A-Za-z0-9 _.-]{0,63}?)\s*[:=]\s*(.+?)\s*$`)

// NormalizeBrief normalizes a call brief for an agent of the team. With
// enforceRequired, a brief missing a required field fails with 400
// missing_required_call_brief_variables (details list the fields); without
// it, they are only reported. Bad input (a key that cannot be a variable, a
// text longer than the contract allows) is a 422 invalid_call_brief. An
// unknown agent is ErrNotFound.
func (s *Service) NormalizeBrief(ctx context.Context, teamID, agentID string, in BriefInput, enforceRequired bool) (NormalizedBrief, error) {
	r, err := s.load(ctx, s.db.R, teamID, agentID)
	if err != nil {
		return NormalizedBrief{}, err
	}
	return Normalize(r.Settings.CallBriefContract, in, enforceRequired)
}

// Normalize applies a contract to a brief; see NormalizeBrief.
//
// Precedence for each contract variable: its canonical key, then an alias,
// then a "label: value" line of the text (first line wins), then the
// default. A value that breaks allowed_values or pattern is dropped with a
// warning, so a required variable with a bad value counts as missing.
// Keys the contract does not know pass through unchanged (after folding to
// the canonical key form) with a warning when the contract declares
// variables.
func Normalize(c CallBriefContract, in BriefInput, enforceRequired bool) (NormalizedBrief, error) {
	c, _ = normalizeContract(c)
	out := NormalizedBrief{Variables: map[string]string{}, Sources: map[string]string{}, Warnings: []BriefWarning{},
		MissingRequiredFields: []string{}, EnforceRequired: enforceRequired, DynamicVariablesPreview: map[string]string{}}
	warn := func(code, field, msg string, args ...any) {
		out.Warnings = append(out.Warnings, BriefWarning{Code: code, Field: field, Message: fmt.Sprintf(msg, args...)})
	}
	byName := map[string]BriefVariable{}
	owner := map[string]string{} // canonical name or alias -> variable name
	patterns := map[string]*regexp.Regexp{}
	for _, v := range c.Variables {
		byName[v.Name] = v
		owner[v.Name] = v.Name
		for _, a := range v.Aliases {
			owner[a] = v.Name
		}
		if v.Pattern != "" {
			patterns[v.Name], _ = regexp.Compile(v.Pattern)
		}
	}
	text := ""
	if in.Text != nil {
		text = strings.TrimSpace(*in.Text)
	}
	if n := utf8.RuneCountInString(text); n > c.Text.MaxLength {
		return out, invalidBrief(TextVariable, fmt.Sprintf("call_brief_text is %d characters; this agent accepts at most %d", n, c.Text.MaxLength))
	}

	// set records a candidate value unless a better source already gave one.
	set := func(name, value, source, field string) {
		if _, done := out.Variables[name]; done {
			return
		}
		value = strings.TrimSpace(value)
		if value == "" {
			warn("empty_value", field, "%s is empty and was ignored", field)
			return
		}
		if v, known := byName[name]; known {
			stored, ok := checkValue(v, patterns[name], value)
			if !ok {
				code, why := "pattern_mismatch", "does not match the pattern"
				if len(v.AllowedValues) > 0 {
					code, why = "value_not_allowed", "is not one of "+strings.Join(v.AllowedValues, ", ")
				}
				warn(code, name, "the value from %s %s and was ignored", field, why)
				return
			}
			value = stored
		}
		out.Variables[name] = value
		out.Sources[name] = source
	}

	keys := make([]string, 0, len(in.Variables))
	for k := range in.Variables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type given struct{ key, value string }
	direct, viaAlias := map[string]given{}, map[string][]given{}
	for _, k := range keys {
		ck := canonicalKey(k)
		if len(in.Variables[k]) > maxValueLength {
			return out, invalidBrief(k, fmt.Sprintf("call_brief_variables.%s is longer than %d characters", k, maxValueLength))
		}
		name, known := owner[ck]
		switch {
		case known && ck == name:
			if prev, dup := direct[name]; dup {
				warn("duplicate_key", name, "%q and %q both name %s; %q was used", prev.key, k, name, prev.key)
				continue
			}
			direct[name] = given{k, in.Variables[k]}
		case known:
			viaAlias[name] = append(viaAlias[name], given{k, in.Variables[k]})
		default:
			if !extraKeyPattern.MatchString(ck) || ck == TextVariable || strings.HasPrefix(ck, "telnyx_") {
				return out, invalidBrief(k, fmt.Sprintf("call_brief_variables key %q cannot be a variable name (letters, digits and _; not call_brief_text or telnyx_…)", k))
			}
			if _, dup := direct[ck]; dup {
				warn("duplicate_key", ck, "more than one key folds to %s; %q was used", ck, direct[ck].key)
				continue
			}
			direct[ck] = given{k, in.Variables[k]}
			if len(c.Variables) > 0 {
				warn("unknown_variable", ck, "%q is not in this agent's call-brief contract; it is passed through as {{%s}}", k, ck)
			}
		}
	}
	for _, name := range sortedKeys(direct) {
		g := direct[name]
		source := SourceVariables
		set(name, g.value, source, "call_brief_variables."+g.key)
	}
	for _, name := range sortedKeys(viaAlias) {
		for _, g := range viaAlias[name] {
			if _, done := out.Variables[name]; done {
				warn("alias_shadowed", name, "alias %q was ignored because %s already has a value", g.key, name)
				continue
			}
			set(name, g.value, SourceAlias, "call_brief_variables."+g.key)
		}
	}
	if text != "" && c.Text.Usage == TextIgnored {
		warn("text_ignored", TextVariable, "this agent ignores call_brief_text")
		text = ""
	}
	if text != "" {
		for _, line := range strings.Split(text, "\n") {
			m := textLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if name, known := owner[canonicalKey(m[1])]; known {
				if _, done := out.Variables[name]; !done {
					set(name, m[2], SourceText, "call_brief_text ("+strings.TrimSpace(m[1])+")")
				}
			}
		}
	}
	for _, v := range c.Variables {
		if _, done := out.Variables[v.Name]; !done && v.Default != nil && *v.Default != "" {
			out.Variables[v.Name] = *v.Default
			out.Sources[v.Name] = SourceDefault
		}
		if _, done := out.Variables[v.Name]; !done && v.Required {
			out.MissingRequiredFields = append(out.MissingRequiredFields, v.Name)
		}
	}
	if text == "" && c.Text.Usage == TextRequired {
		out.MissingRequiredFields = append(out.MissingRequiredFields, TextVariable)
	}
	for k, v := range out.Variables {
		out.DynamicVariablesPreview[k] = v
	}
	for _, v := range c.Variables {
		if _, ok := out.DynamicVariablesPreview[v.Name]; !ok {
			out.DynamicVariablesPreview[v.Name] = ""
		}
	}
	if c.Text.Usage != TextIgnored {
		out.DynamicVariablesPreview[TextVariable] = text
	}
	if enforceRequired && len(out.MissingRequiredFields) > 0 {
		return out, httpapi.NewError(http.StatusBadRequest, CodeMissingBriefVariables,
			"the call brief lacks required values: "+strings.Join(out.MissingRequiredFields, ", ")).
			WithDetails(map[string]any{"missing_required_fields": out.MissingRequiredFields, "warnings": out.Warnings})
	}
	return out, nil
}

func invalidBrief(field, msg string) error {
	return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidBrief, msg).
		WithDetails(map[string]any{"field": field})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
