package app

import (
	"context"
	"net/http"
	"testing"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func TestPhoneNumbers(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada, bob := s.register(t, "ada@example.com"), s.register(t, "bob@example.com")
		ha, hb := bearer(ada.access), bearer(bob.access)

		avail := s.do("GET", "/api/v1/phone-numbers/available", nil, ha...).expect(t, 200).Body["data"].([]any)
		if len(avail) < 3 {
			t.Fatalf("available: %v", avail)
		}
		first := avail[0].(map[string]any)
		num := first["phone_number"].(string)

		claimed := s.do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": num, "label": " front desk "}, ha...).
			expect(t, http.StatusCreated).data(t)
		id := claimed["id"].(string)
		caps := claimed["capabilities"].(map[string]any)
		if claimed["status"] != "active" || caps["sms"] != true || caps["voice"] != true || claimed["label"] != "front desk" ||
			claimed["provider"] != "telnyx" || claimed["provider_number_id"] != first["provider_number_id"] || claimed["voice_agent_id"] != nil {
			t.Fatalf("claimed %v", claimed)
		}
		// Its messages now reach this server.
		nums, err := s.app.Carrier.ListAllPhoneNumbers(context.Background(), telnyx.PhoneNumberFilter{PhoneNumber: num[2:]})
		if err != nil || len(nums) != 1 || nums[0].MessagingProfileID == "" {
			t.Fatalf("carrier side: %+v %v", nums, err)
		}

		codes := []struct {
			body   map[string]any
			h      []string
			status int
			code   string
		}{
			{map[string]any{"phone_number": num}, hb, 409, "phone_number_taken"},
			{map[string]any{"phone_number": num}, ha, 409, "phone_number_already_claimed"},
			{map[string]any{"phone_number": "+14155550199"}, ha, 422, "phone_number_not_in_carrier_account"},
			{map[string]any{"phone_number": "12"}, ha, 422, "invalid_phone_number"},
			{map[string]any{}, ha, 422, "invalid_number_identifier"},
			{map[string]any{"phone_number": num, "provider_number_id": "x"}, ha, 422, "invalid_number_identifier"},
			{map[string]any{"phone_number": avail[1].(map[string]any)["phone_number"], "voice_agent_id": "nope"}, ha, 404, "agent_not_found"},
		}
		for _, c := range codes {
			r := s.do("POST", "/api/v1/phone-numbers", c.body, c.h...).expect(t, c.status)
			if got := r.errCode(t); got != c.code {
				t.Fatalf("%v: code %q, want %q", c.body, got, c.code)
			}
		}
		// By carrier id works too.
		second := s.do("POST", "/api/v1/phone-numbers", map[string]any{"provider_number_id": avail[1].(map[string]any)["provider_number_id"]}, hb...).
			expect(t, http.StatusCreated).data(t)

		// Another team sees none of Ada's numbers.
		s.do("GET", "/api/v1/phone-numbers/"+id, nil, hb...).expect(t, 404)
		s.do("PATCH", "/api/v1/phone-numbers/"+id, map[string]any{"label": "x"}, hb...).expect(t, 404)
		s.do("DELETE", "/api/v1/phone-numbers/"+id, nil, hb...).expect(t, 404)
		list := s.do("GET", "/api/v1/phone-numbers", nil, hb...).expect(t, 200)
		if d := list.Body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != second["id"] {
			t.Fatalf("bob's list: %s", list.Raw)
		}

		p := s.do("PATCH", "/api/v1/phone-numbers/"+id, map[string]any{"status": "inactive", "label": nil}, ha...).expect(t, 200).data(t)
		if p["status"] != "inactive" || p["label"] != nil {
			t.Fatalf("patch %v", p)
		}
		if n := len(s.do("GET", "/api/v1/phone-numbers?status=active", nil, ha...).Body["data"].([]any)); n != 0 {
			t.Fatalf("active filter: %d", n)
		}
		if n := len(s.do("GET", "/api/v1/phone-numbers?capability=sms&status=inactive", nil, ha...).Body["data"].([]any)); n != 1 {
			t.Fatalf("capability filter: %d", n)
		}
		s.do("PATCH", "/api/v1/phone-numbers/"+id, map[string]any{"voice_agent_id": "missing-agent"}, ha...).expect(t, 404)
		s.do("PATCH", "/api/v1/phone-numbers/"+id, map[string]any{"status": "gone"}, ha...).expect(t, 422)
		s.do("PATCH", "/api/v1/phone-numbers/"+id, map[string]any{"voice_agent_id": nil}, ha...).expect(t, 200)

		// Drift: the number is taken off Peak Voice's messaging profile on
		// the carrier side; sync puts it back and says so.
		empty := ""
		if _, err := s.app.Carrier.UpdateNumberMessaging(context.Background(), nums[0].ID, telnyx.NumberMessagingUpdate{MessagingProfileID: &empty}); err != nil {
			t.Fatal(err)
		}
		rep := s.do("POST", "/api/v1/phone-numbers/sync", nil, ha...).expect(t, 200).data(t)
		changes := rep["changes"].([]any)
		if rep["checked"].(float64) != 1 || len(changes) != 1 || changes[0].(map[string]any)["field"] != "messaging_routing" {
			t.Fatalf("sync %v", rep)
		}
		again := s.do("POST", "/api/v1/phone-numbers/sync", nil, ha...).expect(t, 200).data(t)
		if len(again["changes"].([]any)) != 0 {
			t.Fatalf("second sync not idempotent: %v", again)
		}

		// Carrier outage: a clear 502, nothing half-made.
		if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 10, PathPrefix: "/v2/phone_numbers"}); err != nil {
			t.Fatal(err)
		}
		out := s.do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": avail[2].(map[string]any)["phone_number"]}, ha...).expect(t, 502)
		if c := out.errCode(t); c != "telephony_provider_error" {
			t.Fatalf("outage code %q", c)
		}
		s.app.Sim.ClearFaults()
		if n := len(s.do("GET", "/api/v1/phone-numbers", nil, ha...).Body["data"].([]any)); n != 1 {
			t.Fatalf("outage left %d numbers", n)
		}

		s.do("DELETE", "/api/v1/phone-numbers/"+id, nil, ha...).expect(t, 204)
		s.do("GET", "/api/v1/phone-numbers/"+id, nil, ha...).expect(t, 404)
		back := s.do("GET", "/api/v1/phone-numbers/available", nil, ha...).expect(t, 200).Body["data"].([]any)
		found := false
		for _, a := range back {
			found = found || a.(map[string]any)["phone_number"] == num
		}
		if !found {
			t.Fatal("released number is not available again")
		}
	})
}
