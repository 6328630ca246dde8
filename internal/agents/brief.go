package agents

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// CallBriefContract declares what a caller of POST /api/v1/calls supplies
// for this agent: named string variables and an optional free-text brief.
type CallBriefContract struct {
	Variables []BriefVariable `json:"variables" required:"false" doc:"The variables callers supply in call_brief_variables."`
	Text      BriefText       `json:"text" required:"false"`
}

// BriefVariable is one expected call-brief variable. Its value reaches the
// assistant as the dynamic variable {{name}}.
type BriefVariable struct {
	Name          string   `json:"name" doc:"Canonical name: lower-case letters, digits and _, starting with a letter, up to 64. Not call_brief_text, not starting with telnyx_."`
	Type          string   `json:"type" required:"false" enum:"string" doc:"Always string: every value is text."`
	Required      bool     `json:"required" required:"false" doc:"Dispatch fails with missing_required_call_brief_variables when no value (or default) is found."`
	Description   string   `json:"description,omitempty" maxLength:"1000"`
	Aliases       []string `json:"aliases" required:"false" doc:"Other keys (or text labels) accepted for this variable, e.g. customer for customer_name."`
	Default       *string  `json:"default,omitempty" doc:"Used when no value is supplied."`
	AllowedValues []string `json:"allowed_values" required:"false" doc:"When not empty, the only accepted values (matched ignoring case, stored as spelled here)."`
	Pattern       string   `json:"pattern,omitempty" maxLength:"500" doc:"A regular expression (RE2 syntax) the whole value must match."`
}

// BriefText says how free text in call_brief_text is used.
type BriefText struct {
	Usage       string `json:"usage" required:"false" enum:"optional,required,ignored" doc:"optional (default): used when given; required: must be given; ignored: dropped with a warning."`
	MaxLength   int    `json:"max_length" required:"false" doc:"Longest accepted text, in characters (default 4000, at most 20000)."`
	Description string `json:"description,omitempty" maxLength:"2000" doc:"What callers should write, shown in the call-brief schema."`
}

// Text usages.
const (
	TextOptional = "optional"
	TextRequired = "required"
	TextIgnored  = "ignored"
)

// Limits of a contract.
const (
	DefaultTextMaxLength = 4000
	MaxTextMaxLength     = 20000
	maxBriefVariables    = 100
	maxAliases           = 20
	maxAllowedValues     = 200
	maxValueLength       = 4000
)

// TextVariable is the dynamic variable that carries call_brief_text.
const TextVariable = "call_brief_text"

var varNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (c CallBriefContract) withEmptyCollections() CallBriefContract {
	if c.Variables == nil {
		c.Variables = []BriefVariable{}
	}
	for i := range c.Variables {
		v := &c.Variables[i]
		if v.Aliases == nil {
			v.Aliases = []string{}
		}
		if v.AllowedValues == nil {
			v.AllowedValues = []string{}
		}
	}
	return c
}

// canonicalKey folds a variable key or text label to the canonical form:
// trimmed, lower-case, with runs of spaces, hyphens and dots as one _.
func canonicalKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	var b strings.Builder
	sep := false
	for _, r := range k {
		if r == ' ' || r == '-' || r == '.' || r == '\t' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// normalizeContract fills defaults and checks a contract. Problems are
// field errors under "call_brief_contract".
func normalizeContract(c CallBriefContract) (CallBriefContract, []fieldError) {
	var errs []fieldError
	bad := func(field, msg string, args ...any) {
		errs = append(errs, fieldError{Field: "call_brief_contract." + field, Message: fmt.Sprintf(msg, args...)})
	}
	if len(c.Variables) > maxBriefVariables {
		bad("variables", "has more than %d variables", maxBriefVariables)
		return c, errs
	}
	seen := map[string]string{} // canonical key -> variable that owns it
	out := CallBriefContract{Text: c.Text, Variables: make([]BriefVariable, 0, len(c.Variables))}
	for i, v := range c.Variables {
		f := fmt.Sprintf("variables[%d]", i)
		v.Name = strings.TrimSpace(v.Name)
		switch {
		case !varNamePattern.MatchString(v.Name):
			bad(f+".name", "must be lower-case letters, digits and _, start with a letter, and be at most 64 long")
		case v.Name == TextVariable || strings.HasPrefix(v.Name, "telnyx_"):
			bad(f+".name", "%q is reserved", v.Name)
		}
		if v.Type == "" {
			v.Type = "string"
		}
		if v.Type != "string" {
			bad(f+".type", "must be string")
		}
		if owner, dup := seen[v.Name]; dup {
			bad(f+".name", "%q is already used by %s", v.Name, owner)
		}
		seen[v.Name] = v.Name
		if len(v.Aliases) > maxAliases {
			bad(f+".aliases", "has more than %d aliases", maxAliases)
		}
		aliases := make([]string, 0, len(v.Aliases))
		for j, a := range v.Aliases {
			k := canonicalKey(a)
			if k == "" || len(k) > 64 {
				bad(fmt.Sprintf("%s.aliases[%d]", f, j), "must be 1 to 64 characters")
				continue
			}
			if owner, dup := seen[k]; dup {
				bad(fmt.Sprintf("%s.aliases[%d]", f, j), "%q is already used by %s", a, owner)
				continue
			}
			seen[k] = v.Name
			aliases = append(aliases, k)
		}
		v.Aliases = aliases
		if len(v.AllowedValues) > maxAllowedValues {
			bad(f+".allowed_values", "has more than %d values", maxAllowedValues)
		}
		var re *regexp.Regexp
		if v.Pattern != "" {
			var err error
			if re, err = regexp.Compile(v.Pattern); err != nil {
				bad(f+".pattern", "is not a valid regular expression: %v", err)
			}
		}
		if v.Default != nil {
			if _, ok := checkValue(v, re, *v.Default); !ok {
				bad(f+".default", "is not one of allowed_values or does not match pattern")
			}
		}
		out.Variables = append(out.Variables, v)
	}
	switch out.Text.Usage {
	case "":
		out.Text.Usage = TextOptional
	case TextOptional, TextRequired, TextIgnored:
	default:
		bad("text.usage", "must be optional, required or ignored")
	}
	switch {
	case out.Text.MaxLength == 0:
		out.Text.MaxLength = DefaultTextMaxLength
	case out.Text.MaxLength < 1 || out.Text.MaxLength > MaxTextMaxLength:
		bad("text.max_length", "must be between 1 and %d", MaxTextMaxLength)
	}
	return out.withEmptyCollections(), errs
}

// checkValue returns the value as stored (an allowed value keeps the
// contract's spelling) and whether it is acceptable.
func checkValue(v BriefVariable, re *regexp.Regexp, value string) (string, bool) {
	if len(v.AllowedValues) > 0 {
		for _, a := range v.AllowedValues {
			if strings.EqualFold(a, value) {
				return a, true
			}
		}
		return value, false
	}
	if re != nil {
		loc := re.FindStringIndex(value)
		if loc == nil || loc[0] != 0 || loc[1] != len(value) {
			return value, false
		}
	}
	return value, true
}

// BriefSchema is the product-neutral projection of an agent's contract.
type BriefSchema struct {
	AgentID string `json:"agent_id" format:"uuid"`
	// VariablesSchema is a JSON Schema for call_brief_variables.
	VariablesSchema map[string]any    `json:"call_brief_variables_schema" doc:"JSON Schema (draft 2020-12) for call_brief_variables: an object whose values are strings."`
	RequiredFields  []string          `json:"required_fields" doc:"Variables that must end up with a value (from the variables, an alias, the text or a default). Includes call_brief_text when the text is required."`
	Aliases         map[string]string `json:"aliases" doc:"Alternative keys accepted in call_brief_variables and as text labels, mapped to the canonical name."`
	Text            BriefTextGuidance `json:"call_brief_text"`
	Contract        CallBriefContract `json:"call_brief_contract" doc:"The contract as configured on the agent."`
}

// BriefTextGuidance tells callers how call_brief_text is used.
type BriefTextGuidance struct {
	Usage       string `json:"usage" enum:"optional,required,ignored"`
	MaxLength   int    `json:"max_length"`
	Description string `json:"description,omitempty"`
	Guidance    string `json:"guidance" doc:"How the text is read, in plain words."`
}

// schemaFor projects a contract into a BriefSchema.
func schemaFor(agentID string, c CallBriefContract) BriefSchema {
	c = c.withEmptyCollections()
	props := map[string]any{}
	required := []string{}
	aliases := map[string]string{}
	for _, v := range c.Variables {
		p := map[string]any{"type": "string", "maxLength": maxValueLength}
		if v.Description != "" {
			p["description"] = v.Description
		}
		if len(v.AllowedValues) > 0 {
			p["enum"] = append([]string(nil), v.AllowedValues...)
		}
		if v.Pattern != "" {
			p["pattern"] = v.Pattern
		}
		if v.Default != nil {
			p["default"] = *v.Default
		}
		if len(v.Aliases) > 0 {
			p["x-aliases"] = append([]string(nil), v.Aliases...)
		}
		props[v.Name] = p
		if v.Required {
			required = append(required, v.Name)
		}
		for _, a := range v.Aliases {
			aliases[a] = v.Name
		}
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"type":                 "object",
		"properties":           props,
		"additionalProperties": map[string]any{"type": "string", "maxLength": maxValueLength},
	}
	if len(required) > 0 {
		schema["required"] = append([]string(nil), required...)
	}
	fields := append([]string(nil), required...)
	if c.Text.Usage == TextRequired {
		fields = append(fields, TextVariable)
	}
	sort.Strings(fields)
	return BriefSchema{AgentID: agentID, VariablesSchema: schema, RequiredFields: fields, Aliases: aliases,
		Text: BriefTextGuidance{Usage: c.Text.Usage, MaxLength: c.Text.MaxLength, Description: c.Text.Description,
			Guidance: textGuidance(c.Text.Usage)}, Contract: c}
}

func textGuidance(usage string) string {
	switch usage {
	case TextIgnored:
		return "This agent does not use call_brief_text; put everything in call_brief_variables."
	case TextRequired:
		return "call_brief_text is required. The whole text reaches the agent as {{call_brief_text}}. " +
			"Lines of the form 'label: value' whose label is a variable name or alias also fill that variable when call_brief_variables does not."
	}
	return "call_brief_text is optional. The whole text reaches the agent as {{call_brief_text}}. " +
		"Lines of the form 'label: value' whose label is a variable name or alias also fill that variable when call_brief_variables does not."
}
