package inbound

import "testing"

func str(s string) *string { return &s }

func TestMatchCaller(t *testing.T) {
	t.Parallel()
	jane := Target{ID: "jane", ContactName: str("Jane Doe"), KnownPhoneNumbers: []string{"+18001234567"}, Aliases: []string{"order 4421"}}
	john := Target{ID: "john", ContactName: str("John Smith"), Aliases: []string{"the plumber"}, MatchHints: map[string]any{"account": "ACME-7"}}
	jonas := Target{ID: "jonas", ContactName: str("Jonas Weiß"), Priority: 5}
	straße := Target{ID: "strasse", ContactName: str("Anna Strasse")}
	cases := []struct {
		name, caller, phone string
		targets             []Target
		status, id, rule    string
	}{
		{"phone beats name", "John Smith", "+1 800 123 4567", []Target{jane, john}, MatchMatched, "jane", RulePhone},
		{"phone normalized", "", "(800) 123-4567", []Target{jane}, MatchNone, "", ""}, // no country code: not E.164
		{"name equality, case-folded", "JANE DOE", "", []Target{jane, john}, MatchMatched, "jane", RuleName},
		{"name token overlap", "it's Smith here", "", []Target{jane, john}, MatchMatched, "john", RuleName},
		{"unicode case folding", "jonas weiss", "", []Target{jonas, john}, MatchMatched, "jonas", RuleName},
		{"ß folds to ss", "anna straße", "", []Target{straße}, MatchMatched, "strasse", RuleName},
		{"alias substring", "calling about Order 4421 please", "", []Target{jane, john}, MatchMatched, "jane", RuleAlias},
		{"match hint", "acme-7", "", []Target{jane, john}, MatchMatched, "john", RuleMatchHint},
		{"nothing", "Someone Else", "+14155550100", []Target{jane, john}, MatchNone, "", ""},
		{"empty caller", "", "", []Target{jane, john}, MatchNone, "", ""},
	}
	for _, c := range cases {
		r := MatchCaller(c.targets, c.caller, c.phone)
		if r.Status != c.status || r.Rule != c.rule || (c.id != "" && (r.Target == nil || r.Target.ID != c.id)) {
			t.Errorf("%s: got %s/%s %+v, want %s/%s %s", c.name, r.Status, r.Rule, r.Target, c.status, c.rule, c.id)
		}
	}
}

func TestMatchPriorityAndTies(t *testing.T) {
	t.Parallel()
	a := Target{ID: "a", ContactName: str("Sam Lee"), Priority: 1}
	b := Target{ID: "b", ContactName: str("Sam Park"), Priority: 3}
	c := Target{ID: "c", ContactName: str("Sam Ortiz"), Priority: 3}
	if r := MatchCaller([]Target{a, b}, "Sam", ""); r.Status != MatchMatched || r.Target.ID != "b" {
		t.Fatalf("priority: %+v", r)
	}
	r := MatchCaller([]Target{a, b, c}, "Sam", "")
	if r.Status != MatchAmbiguous || len(r.Tied) != 2 {
		t.Fatalf("tie: %+v", r)
	}
	for _, tt := range r.Tied {
		if tt.ID == "a" {
			t.Fatal("lower priority target among the tied")
		}
	}
}
