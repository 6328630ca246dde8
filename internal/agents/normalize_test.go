package agents

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

func sp(s string) *string { return &s }

func testContract(usage string) CallBriefContract {
	return CallBriefContract{
		Variables: []BriefVariable{
			{Name: "customer_name", Required: true, Aliases: []string{"Name", "customer"}},
			{Name: "order_id", Required: true, Pattern: `[0-9]{4}`, Aliases: []string{"order"}},
			{Name: "tier", Default: sp("basic"), AllowedValues: []string{"basic", "Gold"}},
			{Name: "note"},
		},
		Text: BriefText{Usage: usage, MaxLength: 200},
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type want struct {
		vars     map[string]string
		sources  map[string]string
		missing  []string
		warnings []string // codes, in order
	}
	cases := []struct {
		name  string
		usage string
		in    BriefInput
		want  want
	}{
		{"canonical keys", TextOptional,
			BriefInput{Variables: map[string]string{"customer_name": "Jane", "order_id": "4421"}},
			want{map[string]string{"customer_name": "Jane", "order_id": "4421", "tier": "basic"},
				map[string]string{"customer_name": "variables", "order_id": "variables", "tier": "default"}, nil, nil}},
		{"aliases fold case, spaces and hyphens", TextOptional,
			BriefInput{Variables: map[string]string{"NAME": " Jane ", "Order": "4421", "Customer-Name": ""}},
			want{map[string]string{"customer_name": "Jane", "order_id": "4421", "tier": "basic"},
				map[string]string{"customer_name": "alias", "order_id": "alias", "tier": "default"}, nil, []string{"empty_value"}}},
		{"canonical beats alias", TextOptional,
			BriefInput{Variables: map[string]string{"customer_name": "Jane", "customer": "Bob", "order_id": "4421"}},
			want{map[string]string{"customer_name": "Jane", "order_id": "4421", "tier": "basic"}, nil, nil, []string{"alias_shadowed"}}},
		{"text lines fill gaps", TextOptional,
			BriefInput{Text: sp("Customer: Jane Doe\n- order = 4421\ntier: GOLD\nCall after 5pm: please"), Variables: map[string]string{"order_id": "9999"}},
			want{map[string]string{"customer_name": "Jane Doe", "order_id": "9999", "tier": "Gold"},
				map[string]string{"customer_name": "text", "order_id": "variables", "tier": "text"}, nil, nil}},
		{"values outside the contract are dropped", TextOptional,
			BriefInput{Variables: map[string]string{"customer_name": "Jane", "order_id": "12", "tier": "platinum"}},
			want{map[string]string{"customer_name": "Jane", "tier": "basic"}, nil, []string{"order_id"},
				[]string{"pattern_mismatch", "value_not_allowed"}}},
		{"unknown keys pass through", TextOptional,
			BriefInput{Variables: map[string]string{"customer_name": "Jane", "order_id": "4421", "Favourite Colour": "blue"}},
			want{map[string]string{"customer_name": "Jane", "order_id": "4421", "tier": "basic", "favourite_colour": "blue"}, nil, nil,
				[]string{"unknown_variable"}}},
		{"nothing given", TextOptional, BriefInput{},
			want{map[string]string{"tier": "basic"}, nil, []string{"customer_name", "order_id"}, nil}},
		{"text required", TextRequired,
			BriefInput{Variables: map[string]string{"customer_name": "Jane", "order_id": "4421"}},
			want{nil, nil, []string{"call_brief_text"}, nil}},
		{"text ignored", TextIgnored,
			BriefInput{Text: sp("customer: Jane"), Variables: map[string]string{"order_id": "4421"}},
			want{map[string]string{"order_id": "4421", "tier": "basic"}, nil, []string{"customer_name"}, []string{"text_ignored"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(testContract(c.usage), c.in, false)
			if err != nil {
				t.Fatal(err)
			}
			if c.want.vars != nil && !reflect.DeepEqual(got.Variables, c.want.vars) {
				t.Errorf("variables %v, want %v", got.Variables, c.want.vars)
			}
			for k, v := range c.want.sources {
				if got.Sources[k] != v {
					t.Errorf("source of %s = %q, want %q", k, got.Sources[k], v)
				}
			}
			missing := c.want.missing
			if missing == nil {
				missing = []string{}
			}
			if !reflect.DeepEqual(got.MissingRequiredFields, missing) {
				t.Errorf("missing %v, want %v", got.MissingRequiredFields, missing)
			}
			var codes []string
			for _, w := range got.Warnings {
				codes = append(codes, w.Code)
			}
			if !reflect.DeepEqual(codes, c.want.warnings) {
				t.Errorf("warnings %v, want %v", got.Warnings, c.want.warnings)
			}
			for _, v := range testContract(c.usage).Variables {
				if _, ok := got.DynamicVariablesPreview[v.Name]; !ok {
					t.Errorf("preview lacks %s: %v", v.Name, got.DynamicVariablesPreview)
				}
			}
			_, hasText := got.DynamicVariablesPreview[TextVariable]
			if hasText == (c.usage == TextIgnored) {
				t.Errorf("preview call_brief_text presence %v with usage %s", hasText, c.usage)
			}
		})
	}
}

func TestNormalizeRejectsBadInput(t *testing.T) {
	t.Parallel()
	c := testContract(TextOptional)
	for name, in := range map[string]BriefInput{
		"text too long":   {Text: sp(strings.Repeat("é", 201))},
		"unusable key":    {Variables: map[string]string{"9lives": "x"}},
		"reserved key":    {Variables: map[string]string{"telnyx_agent_target": "x"}},
		"text as key":     {Variables: map[string]string{"call_brief_text": "x"}},
		"value too large": {Variables: map[string]string{"note": strings.Repeat("a", maxValueLength+1)}},
	} {
		_, err := Normalize(c, in, false)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.GetStatus() != http.StatusUnprocessableEntity || he.Code() != CodeInvalidBrief {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Normalize(c, BriefInput{Text: sp(strings.Repeat("é", 200))}, false); err != nil {
		t.Errorf("text at the limit (in characters) rejected: %v", err)
	}
}

func TestNormalizeEnforcesRequired(t *testing.T) {
	t.Parallel()
	c := testContract(TextOptional)
	out, err := Normalize(c, BriefInput{Variables: map[string]string{"customer": "Jane"}}, true)
	var he *httpapi.Error
	if !errors.As(err, &he) || he.GetStatus() != http.StatusBadRequest || he.Code() != CodeMissingBriefVariables {
		t.Fatalf("enforced: %v", err)
	}
	if m := he.Body.Details["missing_required_fields"].([]string); len(m) != 1 || m[0] != "order_id" || !out.EnforceRequired {
		t.Fatalf("details %v", he.Body.Details)
	}
	if _, err := Normalize(c, BriefInput{Variables: map[string]string{"customer": "Jane", "order": "0001"}}, true); err != nil {
		t.Fatalf("complete brief rejected: %v", err)
	}
}

func TestSchemaFor(t *testing.T) {
	t.Parallel()
	c, errs := normalizeContract(testContract(TextRequired))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := schemaFor("a1", c)
	if !reflect.DeepEqual(s.RequiredFields, []string{"call_brief_text", "customer_name", "order_id"}) {
		t.Fatalf("required fields %v", s.RequiredFields)
	}
	if !reflect.DeepEqual(s.VariablesSchema["required"], []string{"customer_name", "order_id"}) {
		t.Fatalf("schema required %v", s.VariablesSchema["required"])
	}
	props := s.VariablesSchema["properties"].(map[string]any)
	if props["order_id"].(map[string]any)["pattern"] != "[0-9]{4}" || props["tier"].(map[string]any)["default"] != "basic" {
		t.Fatalf("properties %v", props)
	}
	if s.Aliases["name"] != "customer_name" || s.Aliases["order"] != "order_id" || s.Text.Usage != TextRequired {
		t.Fatalf("aliases %v text %+v", s.Aliases, s.Text)
	}
}
