package agents

import (
	"errors"
	"testing"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// FuzzNormalizeBrief: normalization never panics, fails only with a client
// error, and whatever it returns for a required variable is non-empty.
func FuzzNormalizeBrief(f *testing.F) {
	def := "Friend"
	contract := CallBriefContract{
		Variables: []BriefVariable{
			{Name: "customer_name", Required: true, Aliases: []string{"customer", "name"}, Default: nil},
			{Name: "party_size", Pattern: `^[0-9]{1,2}$`},
			{Name: "tone", AllowedValues: []string{"warm", "formal"}, Default: &def},
		},
		Text: BriefText{Usage: TextOptional, MaxLength: DefaultTextMaxLength},
	}
	f.Add("Customer: Ada\nparty size = 4", "customer_name", "Ada")
	f.Add("", "Customer", "")
	f.Add("tone: WARM", "x-y z", "\x00")
	f.Fuzz(func(t *testing.T, text, key, value string) {
		in := BriefInput{Text: &text, Variables: map[string]string{key: value}}
		for _, enforce := range []bool{false, true} {
			nb, err := Normalize(contract, in, enforce)
			if err != nil {
				var he *httpapi.Error
				if !errors.As(err, &he) || he.GetStatus() >= 500 {
					t.Fatalf("not a client error: %v", err)
				}
				continue
			}
			if enforce {
				if v := nb.Variables["customer_name"]; v == "" {
					t.Fatalf("required customer_name empty without an error: %+v", nb)
				}
			}
		}
	})
}
