package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/golang-jwt/jwt/v5"
)

// matrixEntry says how one operation is checked with another team's ids.
type matrixEntry struct {
	// body is sent with the request (nil: none).
	body any
	// crossTeam is the status a caller gets when the path or body names
	// another team's resources (404), or 200 for lists, whose bodies must
	// not contain any of the other team's ids. 0: public operation.
	crossTeam int
}

// authzMatrix covers every operation of the API. A new operation missing
// from it fails TestAuthorizationMatrix: a route is not done until its
// authorization is tested.
func authzMatrix(b map[string]string) map[string]matrixEntry {
	sessionBody := map[string]any{"phone_number_id": b["phone_id"], "agent_id": b["agent_id"]}
	return map[string]matrixEntry{
		"register": {}, "login": {}, "refresh": {},
		"me":                         {crossTeam: 200},
		"list-api-keys":              {crossTeam: 200},
		"create-api-key":             {body: map[string]any{"name": "x"}, crossTeam: 201},
		"revoke-api-key":             {crossTeam: 404},
		"list-agents":                {crossTeam: 200},
		"create-agent":               {body: map[string]any{"name": "handoff", "voice_config": map[string]any{"telnyx": map[string]any{"handoff": map[string]any{"enabled": true, "voice_mode": "unified", "targets": []map[string]any{{"name": "t", "agent_id": b["agent_id"]}}}}}}, crossTeam: 404},
		"get-agent":                  {crossTeam: 404},
		"update-agent":               {body: map[string]any{"name": "stolen"}, crossTeam: 404},
		"delete-agent":               {crossTeam: 404},
		"get-call-brief-schema":      {crossTeam: 404},
		"normalize-call-brief":       {body: map[string]any{}, crossTeam: 404},
		"reconcile-agent":            {crossTeam: 404},
		"list-agent-versions":        {crossTeam: 404},
		"get-agent-version":          {crossTeam: 404},
		"list-calls":                 {crossTeam: 200},
		"create-call":                {body: map[string]any{"agent_id": b["agent_id"], "phone_number_to": "+14155550142", "call_brief_variables": map[string]string{"customer_name": "x"}}, crossTeam: 404},
		"get-call":                   {crossTeam: 404},
		"hangup-call":                {crossTeam: 404},
		"get-call-recording":         {crossTeam: 404},
		"stream-call":                {crossTeam: 404},
		"list-conversations":         {crossTeam: 200},
		"get-conversation":           {crossTeam: 404},
		"list-conversation-messages": {crossTeam: 404},
		"list-inbound-sessions":      {crossTeam: 200},
		"create-inbound-session":     {body: sessionBody, crossTeam: 404},
		"get-inbound-session":        {crossTeam: 404},
		"update-inbound-session":     {body: map[string]any{"status": "released"}, crossTeam: 404},
		"delete-inbound-session":     {crossTeam: 404},
		"add-callback-target":        {body: map[string]any{"label": "x"}, crossTeam: 404},
		"update-callback-target":     {body: map[string]any{"label": "x"}, crossTeam: 404},
		"delete-callback-target":     {crossTeam: 404},
		"add-expected-caller":        {body: map[string]any{"phone_number": "+14155550111"}, crossTeam: 404},
		"update-expected-caller":     {body: map[string]any{"label": "x"}, crossTeam: 404},
		"delete-expected-caller":     {crossTeam: 404},
		"list-number-pool":           {crossTeam: 200},
		"add-to-number-pool":         {body: map[string]any{"phone_number_id": b["phone_id"]}, crossTeam: 404},
		"remove-from-number-pool":    {crossTeam: 404},
		"format-number":              {body: map[string]any{"number": "+14155550142", "format": "E164"}, crossTeam: 200},
		"parse-number":               {body: map[string]any{"number": "+14155550142"}, crossTeam: 200},
		"validate-number":            {body: map[string]any{"number": "+14155550142"}, crossTeam: 200},
		"list-phone-numbers":         {crossTeam: 200},
		"claim-phone-number":         {body: map[string]any{"phone_number": b["phone_e164"]}, crossTeam: 409},
		"available-phone-numbers":    {crossTeam: 200},
		"sync-phone-numbers":         {crossTeam: 200},
		"get-phone-number":           {crossTeam: 404},
		"update-phone-number":        {body: map[string]any{"label": "stolen"}, crossTeam: 404},
		"release-phone-number":       {crossTeam: 404},
		"list-sms":                   {crossTeam: 200},
		"list-inbound-sms":           {crossTeam: 200},
		"get-inbound-sms":            {crossTeam: 404},
		"send-sms":                   {body: map[string]any{"to": "+14155550142", "text": "x", "idempotency_key": "authz", "phone_number_id": b["phone_id"]}, crossTeam: 404},
		"get-sms":                    {crossTeam: 404},
		"list-webhook-deliveries":    {crossTeam: 200},
		"send-test-webhook":          {body: map[string]any{"url": "http://127.0.0.1:9/x"}, crossTeam: 202},
		"get-webhook-event":          {crossTeam: 404},
		"redeliver-webhook-event":    {crossTeam: 404},
	}
}

// seedVictim gives Bob's team one resource of every kind and returns
// their ids by path parameter name.
func seedVictim(t *testing.T, s *testServer) (account, map[string]string) {
	t.Helper()
	r := newCallRig(t, s)
	h := r.h
	ids := map[string]string{"agent_id": r.agent.ID, "phone_id": r.fromID, "phone_e164": r.from, "version_number": "1"}
	ids["key_id"] = s.do("POST", "/api/v1/auth/api-keys", map[string]any{"name": "bob"}, h...).expect(t, 201).data(t)["id"].(string)
	sess := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"phone_number_id": r.fromID, "agent_id": r.agent.ID}, h...).expect(t, 201).data(t)
	ids["id"] = sess["id"].(string)
	ids["target_id"] = s.do("POST", "/api/v1/inbound-sessions/"+ids["id"]+"/callback-targets", map[string]any{"contact_name": "Jane"}, h...).expect(t, 201).data(t)["id"].(string)
	ids["caller_id"] = s.do("POST", "/api/v1/inbound-sessions/"+ids["id"]+"/expected-callers", map[string]any{"phone_number": "+14155550123"}, h...).expect(t, 201).data(t)["id"].(string)
	msg := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550142", "text": "hi", "idempotency_key": "bob-1", "phone_number_id": r.fromID}, h...).expect(t, 201).data(t)
	ids["conversation_id"] = msg["conversation_id"].(string)
	body, _ := json.Marshal(map[string]string{"from": "+14155550142", "to": r.from, "text": "reply"})
	res, err := http.Post(s.app.SimInfo.URL+"/_sim/inbound-messages", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for deadline := time.Now().Add(20 * time.Second); ids["message_id"] == ""; time.Sleep(20 * time.Millisecond) {
		if in := s.do("GET", "/api/v1/sms/inbound", nil, h...).expect(t, 200).Body["data"].([]any); len(in) > 0 {
			ids["message_id"] = in[0].(map[string]any)["id"].(string)
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's inbound message never arrived")
		}
	}
	ids["call_id"] = r.place(t, map[string]any{"phone_number_to": "+14155550142",
		"call_brief_variables": map[string]string{"customer_name": "Bo"}}).expect(t, 201).data(t)["id"].(string)
	ids["event_id"] = s.do("POST", "/api/v1/webhook-events/test", map[string]any{"url": "http://127.0.0.1:9/bob"}, h...).expect(t, 202).data(t)["event_id"].(string)
	poolID, _ := s.claimNumber(t, r.acct)
	s.do("POST", "/api/v1/number-pool", map[string]any{"phone_number_id": poolID}, h...).expect(t, 201)
	ids["phone_number_id"] = poolID
	return r.acct, ids
}

// TestAuthorizationMatrix checks every operation of the API against every
// kind of bad credential, and against another team's resource ids.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	bob, victim := seedVictim(t, s)
	ada := s.register(t, "ada@example.com")
	adaKey := apiKey(t, s, ada)
	revoked := s.do("POST", "/api/v1/auth/api-keys", map[string]any{"name": "old"}, bearer(ada.access)...).expect(t, 201).data(t)
	s.do("DELETE", "/api/v1/auth/api-keys/"+revoked["id"].(string), nil, bearer(ada.access)...).expect(t, 204)
	secrets, err := loadDevSecrets(s.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	badTokens := forgedTokens(t, []byte(secrets.JWTSecret), ada)

	matrix := authzMatrix(victim)
	type routeOp struct {
		method, path string
		op           *huma.Operation
	}
	var ops []routeOp
	for path, item := range s.app.HTTP.API.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PATCH": item.Patch,
			"PUT": item.Put, "DELETE": item.Delete} {
			if op != nil {
				ops = append(ops, routeOp{method, path, op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	ran := 0
	for _, ro := range ops {
		method, path, op := ro.method, ro.path, ro.op
		opKey := method + " " + path
		entry, ok := matrix[op.OperationID]
		if !ok {
			t.Errorf("%s (%s) is missing from the authorization matrix", opKey, op.OperationID)
			continue
		}
		if len(op.Security) == 0 {
			continue // public: register, login, refresh
		}
		jwtOnly := len(op.Security) == 1
		url, missing := fillPath(path, victim)
		if missing != "" {
			t.Errorf("%s: no victim id for path parameter %s", opKey, missing)
			continue
		}
		check := func(what string, want int, hdr ...string) reply {
			t.Helper()
			r := s.do(method, url, entry.body, hdr...)
			if r.Status != want {
				t.Errorf("%s %s with %s: %d, want %d (%s)", method, url, what, r.Status, want, r.Raw)
			}
			return r
		}
		check("no credentials", 401)
		// On JWT-only routes every API key is refused the same way, valid or
		// not, so those routes cannot be used to test whether a key works.
		keyStatus := 401
		if jwtOnly {
			keyStatus = 403
		}
		check("a malformed key", keyStatus, "X-API-Key", "pv_malformed")
		check("a revoked key", keyStatus, "X-API-Key", revoked["key"].(string))
		for name, tok := range badTokens {
			check(name, 401, bearer(tok)...)
		}
		if jwtOnly {
			if r := check("an API key on a JWT-only route", 403, "X-API-Key", adaKey); r.Status == 403 && r.errCode(t) != "api_key_not_allowed" {
				t.Errorf("%s: code %q", opKey, r.errCode(t))
			}
		}
		if entry.crossTeam != 0 {
			r := check("another team's ids", entry.crossTeam, bearer(ada.access)...)
			if entry.crossTeam < 300 && method == "GET" {
				for name, id := range victim {
					if len(id) > 8 && bytes.Contains(r.Raw, []byte(id)) {
						t.Errorf("%s leaks the other team's %s", opKey, name)
					}
				}
			}
		}
		ran++
	}
	if ran < 50 {
		t.Fatalf("only %d secured operations checked", ran)
	}
	// Nothing Ada tried changed Bob's things.
	bh := bearer(bob.access)
	if a := s.do("GET", "/api/v1/agents/"+victim["agent_id"], nil, bh...).expect(t, 200).data(t); a["name"] == "stolen" {
		t.Fatal("another team renamed the agent")
	}
	if n := s.do("GET", "/api/v1/phone-numbers/"+victim["phone_id"], nil, bh...).expect(t, 200).data(t); n["label"] == "stolen" {
		t.Fatal("another team relabelled the number")
	}
	if sess := s.do("GET", "/api/v1/inbound-sessions/"+victim["id"], nil, bh...).expect(t, 200).data(t); sess["status"] != "ready" {
		t.Fatalf("another team changed the session: %v", sess["status"])
	}
	s.do("GET", "/api/v1/auth/me", nil, "X-API-Key", apiKeyOf(t, s, bob)).expect(t, 200)
}

func apiKeyOf(t *testing.T, s *testServer, a account) string { return apiKey(t, s, a) }

// fillPath puts the victim's ids into a path template; missing names the
// first parameter it has no id for.
func fillPath(path string, ids map[string]string) (string, string) {
	out := path
	for {
		i := strings.Index(out, "{")
		if i < 0 {
			return out, ""
		}
		j := strings.Index(out[i:], "}")
		name := out[i+1 : i+j]
		id, ok := ids[name]
		if !ok {
			return "", name
		}
		out = out[:i] + id + out[i+j+1:]
	}
}

// forgedTokens are access tokens that must all be refused: unsigned,
// signed with another key, expired, and tampered with.
func forgedTokens(t *testing.T, secret []byte, a account) map[string]string {
	t.Helper()
	now := time.Now()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": "peakvoice", "aud": []string{"peakvoice-api"}, "sub": a.userID, "tid": a.teamID,
			"iat": now.Add(-time.Hour).Unix(), "exp": exp.Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(a.access, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	return map[string]string{
		"an expired JWT":       sign(jwt.SigningMethodHS256, secret, claims(now.Add(-time.Minute))),
		"an alg:none JWT":      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(now.Add(time.Hour))),
		"a JWT with wrong key": sign(jwt.SigningMethodHS256, []byte(strings.Repeat("w", 32)), claims(now.Add(time.Hour))),
		"a tampered JWT":       tampered,
	}
}
