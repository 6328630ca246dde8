package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// Limits every replica is started with. The burst is spent within a
// second and refills at one call a minute, so per-process buckets would
// admit three times as many creations as one shared bucket.
const (
	replicaMaxLive    = 3
	replicaCallBurst  = 12
	replicaCallsPerMn = 1
)

// TestReplicas runs three processes of the real binary on one PostgreSQL
// schema behind no proxy: each on its own loopback port, each telling the
// carrier (one in-test simulator) to call it back at its own address. A
// mixed workload goes round-robin across them, one is SIGKILLed mid-run,
// and the test checks what must hold for any number of replicas: jobs
// run once, live events cross replicas, per-team limits and idempotency
// hold across replicas, and no webhook is sent twice because two replicas
// saw its event.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three replicas")
	}
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		t.Skip("needs PostgreSQL: set " + dbtest.PostgresURLEnv)
	}
	t0 := time.Now()
	bin := filepath.Join(t.TempDir(), "peakvoice")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tBuilt := time.Now()
	databaseURL := dbtest.FreshSchema(t, base)

	// Deploy step: migrate once, before any replica starts.
	if out, err := exec.Command(bin, "migrate", "--database-url", databaseURL).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "migrations applied") {
		t.Fatalf("peakvoice migrate: %v\n%s", err, out)
	}

	sim, err := telnyxsim.New(telnyxsim.Config{
		StepDelay: 100 * time.Millisecond, WebhookAttempts: 20, WebhookRetryDelay: 300 * time.Millisecond,
		WebhookTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	t.Cleanup(func() { sim.Close() })
	hooks := newReplicaHooks(t)

	// Shorter recovery timings, when this build has the flags for them, so
	// that work the killed replica held is picked up within the test.
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	var recovery []string
	if strings.Contains(string(help), "job-rescue-after") {
		recovery = []string{"--job-timeout", "10s", "--job-rescue-after", "12s", "--sms-stale-after", "17s",
			"--call-stale-after", "10s", "--call-reconcile-every", "2s"}
	}

	reps := make([]*procServer, 3)
	for i := range reps {
		addr := freeLoopbackAddr(t)
		args := []string{"serve", "--addr", addr, "--database-url", databaseURL, "--data-dir", t.TempDir(),
			"--telnyx-api-key", sim.APIKey(), "--telnyx-public-key", sim.PublicKey(),
			"--telnyx-api-base", simSrv.URL + "/v2", "--public-url", "http://" + addr,
			"--jwt-secret", restartJWTSecret, "--webhook-signing-secret", restartWebhookSecret,
			"--max-live-calls", fmt.Sprint(replicaMaxLive), "--call-burst", fmt.Sprint(replicaCallBurst),
			"--calls-per-minute", fmt.Sprint(replicaCallsPerMn), "--shutdown-timeout", "10s"}
		reps[i] = &procServer{t: t, bin: bin, args: append(args, recovery...), base: "http://" + addr,
			client: &http.Client{Timeout: 20 * time.Second}}
		t.Cleanup(reps[i].cleanup)
	}
	for _, r := range reps {
		r.start()
	}
	var wg sync.WaitGroup
	tUp := time.Now()

	// Two teams: T carries the workload, R only tests the shared limits.
	teamT := replicaTeam(t, reps, sim, "ops@example.com", 0)
	teamR := replicaTeam(t, reps, sim, "rates@example.com", 1)

	// 1. Limits across replicas. Team R fires 24 creations at once, eight
	// at each replica, each to a callee that stays on the line.
	hold := []telnyxsim.ScriptStep{{Say: "Hello?"}, {PauseMS: 10 * 60 * 1000}}
	type attempt struct {
		status int
		code   string
		id     string
		rep    int
	}
	attempts := make([]attempt, 24)
	for i := range attempts {
		sim.SetScript(fmt.Sprintf("+1415555%04d", 1100+i), hold)
	}
	tBurst := time.Now()
	for i := range attempts {
		wg.Go(func() {
			rep := i % 3
			res, err := replicaDo(reps[rep], "POST", "/api/v1/calls", teamR.callBody(fmt.Sprintf("+1415555%04d", 1100+i), ""),
				"X-API-Key", teamR.key, "Idempotency-Key", fmt.Sprintf("burst-%d", i))
			if err != nil {
				t.Errorf("burst creation %d: %v", i, err)
				return
			}
			a := attempt{status: res.Status, rep: rep}
			if res.Status == http.StatusCreated {
				a.id = str(dataOf(res), "id")
			} else if e, ok := res.Body["error"].(map[string]any); ok {
				a.code = str(e, "code")
			}
			attempts[i] = a
		})
	}
	wg.Wait()
	burstTook := time.Since(tBurst)
	created, capped, limited := 0, 0, 0
	createdOn := [3]int{}
	var liveIDs []string
	for _, a := range attempts {
		switch {
		case a.status == http.StatusCreated:
			created++
			createdOn[a.rep]++
			liveIDs = append(liveIDs, a.id)
		case a.status == http.StatusTooManyRequests && a.code == "concurrent_call_limit":
			capped++
		case a.status == http.StatusTooManyRequests && a.code == "rate_limited":
			limited++
		default:
			t.Errorf("burst creation answered %d %q", a.status, a.code)
		}
	}
	liveNow := replicaLiveCalls(t, databaseURL, teamR.teamID)
	t.Logf("limits: 24 concurrent creations over 3 replicas in %v: %d created (per replica %v), %d over the live cap (%d), %d over the rate (burst %d); live in the database: %d",
		burstTook.Round(time.Millisecond), created, createdOn, capped, replicaMaxLive, limited, replicaCallBurst, liveNow)
	if created > replicaMaxLive || liveNow > replicaMaxLive {
		t.Errorf("live-call cap broken across replicas: %d created, %d live, cap %d", created, liveNow, replicaMaxLive)
	}
	// A token refills every minute; the burst took a moment.
	if passed := created + capped; passed > replicaCallBurst+int(burstTook/time.Minute) {
		t.Errorf("rate broken across replicas: %d creations passed the rate, burst %d", passed, replicaCallBurst)
	}
	if created != replicaMaxLive {
		t.Errorf("%d calls created, want exactly the cap (%d)", created, replicaMaxLive)
	}
	// End the held calls at the carrier; every replica is alive to hear it.
	for _, id := range liveIDs {
		c := reps[0].replicaCall(teamR, id)
		if ccid := str(c, "provider_call_id"); ccid != "" {
			hangupAtCarrier(t, simSrv.URL, sim.APIKey(), ccid)
		}
	}
	for _, id := range liveIDs {
		reps[1].replicaWaitCall(teamR, id, 30*time.Second, func(c map[string]any) bool { return isTerminal(str(c, "status")) })
	}

	// 2. The mixed workload of team T, round-robin, with replica 2 killed
	// once a third of the SMS have gone out.
	const nSMS, nDupSMS = 36, 6
	type smsResult struct {
		ids  []string // message ids answered (all attempts of the key)
		reps []int
		errs []string
	}
	var mu sync.Mutex
	smsRes := map[string]*smsResult{}
	alive := func(i int) bool { return i != 2 || !reps[2].killed() }
	sendSMS := func(key, to string, rep int) {
		body := map[string]any{"to": to, "text": "replicas " + key, "from_number": teamT.from,
			"idempotency_key": key, "webhook_url": hooks.srv.URL + "/hooks"}
		// Like a load balancer, move on to the next replica when one does
		// not answer; the same key makes the retry safe.
		for try := 0; try < 3; try++ {
			r := (rep + try) % 3
			res, err := replicaDo(reps[r], "POST", "/api/v1/sms/send", body, "X-API-Key", teamT.key)
			mu.Lock()
			sr := smsRes[key]
			if sr == nil {
				sr = &smsResult{}
				smsRes[key] = sr
			}
			if err != nil {
				sr.errs = append(sr.errs, fmt.Sprintf("replica %d: %v", r, err))
				mu.Unlock()
				continue
			}
			sr.reps = append(sr.reps, r)
			if res.Status < 300 {
				sr.ids = append(sr.ids, str(dataOf(res), "id"))
				mu.Unlock()
				return
			}
			sr.errs = append(sr.errs, fmt.Sprintf("replica %d: %d %s", r, res.Status, res.Raw))
			mu.Unlock()
			if res.Status != http.StatusConflict { // 409: the twin is still sending; try again
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Calls: created on replicas 0 and 1 (whose callbacks keep landing),
	// each followed by an SSE stream on the other one.
	type followed struct {
		id, key  string
		created  int
		streamed int
		stream   *sseLog
		local    *sseLog
	}
	var calls []*followed
	// Two of them, plus the duplicate below: the team's live cap is three.
	for i, rep := range []int{0, 1} {
		key := fmt.Sprintf("work-call-%d", i)
		res, err := replicaDo(reps[rep], "POST", "/api/v1/calls", teamT.callBody(fmt.Sprintf("+1415555%04d", 1200+i), hooks.srv.URL+"/hooks"),
			"X-API-Key", teamT.key, "Idempotency-Key", key)
		if err != nil || res.Status != http.StatusCreated {
			t.Fatalf("workload call %d on replica %d: %v %d %s", i, rep, err, res.Status, res.Raw)
		}
		f := &followed{id: str(res.data(t), "id"), key: key, created: rep, streamed: 1 - rep}
		f.stream = openSSE(t, reps[f.streamed], teamT.key, f.id)
		// For comparison, a stream on the replica that created the call.
		f.local = openSSE(t, reps[rep], teamT.key, f.id)
		calls = append(calls, f)
	}
	// One call key sent to replicas 0, 1 and 2 at once.
	dupCall := make([]httpReply, 3)
	for r := range 3 {
		wg.Go(func() {
			res, err := replicaDo(reps[r], "POST", "/api/v1/calls", teamT.callBody("+14155551299", hooks.srv.URL+"/hooks"),
				"X-API-Key", teamT.key, "Idempotency-Key", "work-call-dup")
			if err != nil {
				// Replica 2 is killed while the workload runs; on a slow
				// machine this request can reach it only after the kill.
				if !alive(r) {
					return
				}
				t.Errorf("duplicate call key on replica %d: %v", r, err)
				return
			}
			dupCall[r] = res
		})
	}

	jobs := make(chan func())
	var workers sync.WaitGroup
	for range 6 {
		workers.Go(func() {
			for j := range jobs {
				j()
			}
		})
	}
	var tKilled time.Time
	for i := range nSMS {
		if i == nSMS/3 {
			reps[2].kill()
			tKilled = time.Now()
		}
		key := fmt.Sprintf("sms-%d", i)
		jobs <- func() { sendSMS(key, fmt.Sprintf("+1415555%04d", 2000+i), i%3) }
		if i%(nSMS/nDupSMS) == 0 {
			dk := fmt.Sprintf("sms-dup-%d", i)
			for r := range 3 {
				jobs <- func() { sendSMS(dk, fmt.Sprintf("+1415555%04d", 2100+i), r) }
			}
		}
	}
	close(jobs)
	workers.Wait()
	wg.Wait()

	// The duplicate call key: one call, whichever replicas answered.
	dupIDs := map[string]bool{}
	for r, res := range dupCall {
		switch {
		case res.Status == http.StatusCreated:
			dupIDs[str(res.data(t), "id")] = true
		case res.Status == http.StatusConflict: // in_progress on the twin: fine
		case res.Status == 0 && !alive(r): // asked the killed replica
		default:
			t.Errorf("duplicate call key on replica %d: %d %s", r, res.Status, res.Raw)
		}
	}
	if len(dupIDs) > 1 {
		t.Errorf("one Idempotency-Key made %d calls across replicas: %v", len(dupIDs), dupIDs)
	}

	// Every followed call completes, and its stream on the other replica
	// saw it all.
	for _, f := range calls {
		reps[f.created].replicaWaitCall(teamT, f.id, 60*time.Second, func(c map[string]any) bool {
			return str(c, "status") == "completed" && str(c, "result_status") != "pending"
		})
		if err := f.stream.wait(60 * time.Second); err != nil {
			t.Errorf("stream of %s on replica %d: %v; saw %v", f.id, f.streamed, err, f.stream.types())
		}
		if !slices.Contains(f.stream.statuses(), "completed") {
			t.Errorf("stream of %s on replica %d never saw completed: %v", f.id, f.streamed, f.stream.statuses())
		}
	}

	// SMS: every answered key reaches a final status (or, if its replica
	// died mid-send, outcome_unknown once the sweeper runs).
	pending := func() []string {
		var out []string
		for key, sr := range smsRes {
			for _, id := range slices.Compact(slices.Sorted(slices.Values(sr.ids))) {
				for _, r := range []int{0, 1} {
					res, err := replicaDo(reps[r], "GET", "/api/v1/sms/"+id, nil, "X-API-Key", teamT.key)
					if err == nil && res.Status == http.StatusOK {
						if st := str(res.data(t), "status"); st == "queued" || st == "sending" {
							out = append(out, key+"="+st)
						}
						break
					}
				}
			}
		}
		return out
	}
	// The sweeper runs every 30 s and waits --sms-stale-after.
	smsDeadline := time.Now().Add(90 * time.Second)
	var smsSettled time.Duration
	for p := pending(); len(p) > 0; p = pending() {
		if time.Now().After(smsDeadline) {
			t.Logf("note: SMS still in flight at the deadline (their replica was killed mid-send): %v", p)
			break
		}
		time.Sleep(250 * time.Millisecond)
		smsSettled = time.Since(tKilled)
	}

	// Let webhooks settle, then stop the survivors cleanly.
	time.Sleep(2 * time.Second)
	notifications := [3]float64{}
	for _, r := range []int{0, 1} {
		notifications[r] = scrapeMetric(t, reps[r], "peakvoice_call_events_notifications_total")
		if up := scrapeMetric(t, reps[r], "peakvoice_call_events_listener_up"); up != 1 {
			t.Errorf("replica %d: call-event listener up = %v", r, up)
		}
	}
	reps[0].stop()
	reps[1].stop()

	// --- Checks against the carrier and the database. ---
	pg, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	// Each SMS key reached the carrier at most once, and had one message.
	carrierByText := map[string]int{}
	for _, m := range simMessages(t, simSrv.URL) {
		carrierByText[m]++
	}
	smsReached, smsKeys, retried, splitIDs := 0, 0, 0, 0
	for key, sr := range smsRes {
		smsKeys++
		n := carrierByText["replicas "+key]
		if n > 1 {
			t.Errorf("SMS %s reached the carrier %d times", key, n)
		}
		smsReached += n
		if len(sr.errs) > 0 {
			retried++
		}
		if ids := slices.Compact(slices.Sorted(slices.Values(sr.ids))); len(ids) > 1 {
			splitIDs++
			t.Errorf("SMS key %s answered with %d different messages: %v", key, len(ids), ids)
		}
		var rows int
		if err := pg.QueryRow(`SELECT COUNT(*) FROM messages WHERE idempotency_key = $1`, key).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows > 1 {
			t.Errorf("SMS key %s has %d messages", key, rows)
		}
		if len(sr.ids) > 0 && rows == 0 {
			t.Errorf("SMS key %s was answered but has no message", key)
		}
	}

	// Each call was dialed once: one carrier call per callee, and each
	// recorded dial matches exactly one carrier call.
	perCallee := map[string]int{}
	byCCID := map[string]int{}
	for _, c := range sim.Calls() {
		perCallee[c.To]++
		byCCID[c.CallControlID]++
	}
	for to, n := range perCallee {
		if n > 1 {
			t.Errorf("callee %s was dialed %d times", to, n)
		}
	}
	rows, err := pg.Query(`SELECT id, provider_call_id FROM calls WHERE provider_call_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	dialed := 0
	for rows.Next() {
		var id, ccid string
		if err := rows.Scan(&id, &ccid); err != nil {
			t.Fatal(err)
		}
		dialed++
		if byCCID[ccid] != 1 {
			t.Errorf("call %s: %d carrier calls with its id %s", id, byCCID[ccid], ccid)
		}
	}
	rows.Close()

	// Webhooks: one delivery row per event (one URL each), at most one
	// successful attempt per delivery, and the receiver got each event once
	// unless its delivery job was rescued from the killed replica.
	var events, deliveries, multiDelivery, multiSuccess int
	if err := pg.QueryRow(`SELECT COUNT(*) FROM webhook_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries`).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(`SELECT COUNT(*) FROM (SELECT event_id FROM webhook_deliveries GROUP BY event_id HAVING COUNT(*) > 1) x`).Scan(&multiDelivery); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(`SELECT COUNT(*) FROM (SELECT delivery_id FROM webhook_attempts WHERE succeeded GROUP BY delivery_id HAVING COUNT(*) > 1) x`).Scan(&multiSuccess); err != nil {
		t.Fatal(err)
	}
	if multiDelivery > 0 || multiSuccess > 0 {
		t.Errorf("webhooks: %d events with more than one delivery row, %d deliveries that succeeded more than once", multiDelivery, multiSuccess)
	}
	rescued := map[string]bool{} // event ids whose delivery job ran more than once
	rr, err := pg.Query(`SELECT d.event_id FROM river_job j JOIN webhook_deliveries d ON d.id = j.args->>'delivery_id'
		WHERE j.kind = 'webhook_deliver' AND j.attempt > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rr.Next() {
		var id string
		if err := rr.Scan(&id); err != nil {
			t.Fatal(err)
		}
		rescued[id] = true
	}
	rr.Close()
	received, twice := hooks.counts()
	for id, n := range twice {
		if !rescued[id] {
			t.Errorf("webhook event %s received %d times, and its delivery job never ran twice", id, n)
		}
	}

	// Jobs: none failed for good; what was left running belongs to the
	// killed replica (River rescues it after --job-rescue-after).
	jobStates := map[string]int{}
	jr, err := pg.Query(`SELECT kind || '/' || state, COUNT(*) FROM river_job GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for jr.Next() {
		var k string
		var n int
		if err := jr.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		jobStates[k] = n
	}
	jr.Close()
	for k := range jobStates {
		if strings.HasSuffix(k, "/discarded") {
			t.Errorf("jobs discarded: %s×%d", k, jobStates[k])
		}
	}

	// Live events across replicas: latency from the commit on the replica
	// that caused the event to its arrival on another replica's stream.
	var lats, localLats []time.Duration
	var perEvent []string
	for _, f := range calls {
		lats = append(lats, f.stream.liveLatencies()...)
		localLats = append(localLats, f.local.liveLatencies()...)
		perEvent = append(perEvent, f.stream.describe())
	}
	slices.Sort(lats)
	slices.Sort(localLats)
	localMax := time.Duration(0)
	if len(localLats) > 0 {
		localMax = localLats[len(localLats)-1]
	}
	if len(lats) == 0 {
		t.Error("no live events reached a stream on another replica")
	}
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))].Round(time.Microsecond)
	}
	if notifications[0] == 0 || notifications[1] == 0 {
		t.Errorf("replicas received no call-event notifications: %v", notifications[:2])
	}

	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("build %v; 3 replicas up one after another in %v (recovery flags: %v); replica 2 SIGKILLed %v after they were up",
		ms(tBuilt.Sub(t0)), ms(tUp.Sub(tBuilt)), recovery != nil, ms(tKilled.Sub(tUp)))
	t.Logf("SSE across replicas: %d live events, latency p50 %v, p90 %v, max %v (poll safety net 10s); notifications taken: replica 0 %v, replica 1 %v",
		len(lats), pct(0.5), pct(0.9), pct(1), notifications[0], notifications[1])
	t.Logf("SSE on the creating replica, for comparison: %d live events, max %v; per event on the other replica (status: commit→arrival): %v",
		len(localLats), localMax.Round(time.Microsecond), perEvent)
	t.Logf("SMS: %d keys (%d sent to all three replicas at once), %d reached the carrier, %d needed a retry on another replica, %d keys answered with two ids; sends cut by the kill settled %v after it; final statuses %v",
		smsKeys, nDupSMS, smsReached, retried, splitIDs, ms(smsSettled), smsStatuses(t, pg))
	t.Logf("calls: %d dialed, %d carrier calls, duplicate key answered as %v", dialed, len(sim.Calls()), replicaStatuses(dupCall))
	t.Logf("webhooks: %d events, %d delivery rows, receiver got %d deliveries of %d distinct events (%d more than once, rescued jobs: %d)",
		events, deliveries, hooks.total(), received, len(twice), len(rescued))
	t.Logf("jobs by kind/state: %v; whole run %v", jobStates, ms(time.Since(t0)))
}

// replicaTeamInfo is a team set up for the test: its API key, a number
// bound to a voice agent, on replica home.
type replicaTeamInfo struct {
	teamID, key, agentID, from string
}

func (tm replicaTeamInfo) callBody(to, webhook string) map[string]any {
	b := map[string]any{"agent_id": tm.agentID, "phone_number_to": to,
		"call_brief_variables": map[string]string{"customer_name": "Ada"}}
	if webhook != "" {
		b["webhook_url"] = webhook
	}
	return b
}

// replicaTeam registers a team, an API key, an agent and a number, each
// on a different replica.
func replicaTeam(t *testing.T, reps []*procServer, sim *telnyxsim.Server, email string, home int) replicaTeamInfo {
	t.Helper()
	r := func(i int) *procServer { return reps[(home+i)%len(reps)] }
	reg := r(0).expect(r(0).do("POST", "/api/v1/auth/register", map[string]string{
		"email": email, "password": "correct horse battery staple", "team_name": email,
	}), http.StatusCreated).data(t)
	// The access token signed by one replica works on another: one secret.
	key := r(1).expect(r(1).do("POST", "/api/v1/auth/api-keys", map[string]string{"name": "replicas"},
		"Authorization", "Bearer "+str(reg, "access_token")), http.StatusCreated).data(t)
	tm := replicaTeamInfo{key: str(key, "key")}
	me := r(2).expect(r(2).do("GET", "/api/v1/auth/me", nil, "X-API-Key", tm.key), http.StatusOK).data(t)
	if team, ok := me["team"].(map[string]any); ok {
		tm.teamID = str(team, "id")
	}
	agent := r(0).expect(r(0).do("POST", "/api/v1/agents", map[string]any{
		"name": "Reminders", "instructions": "Remind {{customer_name}} of their 7pm table.",
		"channels":            []string{"voice_outbound"},
		"call_brief_contract": map[string]any{"variables": []map[string]any{{"name": "customer_name", "required": true}}},
	}, "X-API-Key", tm.key), http.StatusCreated).data(t)
	tm.agentID = str(agent, "id")
	// The number is claimed on the home replica: the carrier reports its
	// messages there.
	avail := r(0).expect(r(0).do("GET", "/api/v1/phone-numbers/available", nil, "X-API-Key", tm.key), http.StatusOK)
	list, _ := avail.Body["data"].([]any)
	if len(list) == 0 {
		t.Fatalf("no numbers available: %s", avail.Raw)
	}
	tm.from = str(list[0].(map[string]any), "phone_number")
	r(0).expect(r(0).do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": tm.from, "voice_agent_id": tm.agentID},
		"X-API-Key", tm.key), http.StatusCreated)
	return tm
}

// killed reports whether the server's last run has exited.
func (p *procServer) killed() bool {
	select {
	case <-p.cur().exited:
		return true
	default:
		return false
	}
}

func (p *procServer) replicaCall(tm replicaTeamInfo, id string) map[string]any {
	p.t.Helper()
	d := p.expect(p.do("GET", "/api/v1/calls/"+id, nil, "X-API-Key", tm.key), http.StatusOK).data(p.t)
	return d["call"].(map[string]any)
}

func (p *procServer) replicaWaitCall(tm replicaTeamInfo, id string, within time.Duration, ok func(map[string]any) bool) {
	p.t.Helper()
	var c map[string]any
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c = p.replicaCall(tm, id); ok(c) {
			return
		}
	}
	p.t.Fatalf("call %s did not get there: %v", id, c)
}

// replicaDo is procServer.do that reports a transport error instead of
// failing the test (the replica may have been killed).
func replicaDo(p *procServer, method, path string, body any, headers ...string) (httpReply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return httpReply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		return httpReply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := p.client.Do(req)
	if err != nil {
		return httpReply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return httpReply{}, err
	}
	r := httpReply{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return r, fmt.Errorf("not JSON: %v: %s", err, raw)
		}
	}
	return r, nil
}

// smsStatuses counts outgoing messages by status and error code.
func smsStatuses(t *testing.T, pg *sql.DB) map[string]int {
	t.Helper()
	rows, err := pg.Query(`SELECT status || COALESCE('/' || error_code, ''), COUNT(*) FROM messages GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// dataOf is httpReply.data without failing the test (for goroutines).
func dataOf(r httpReply) map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

func replicaStatuses(rs []httpReply) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

// replicaLiveCalls counts a team's calls that have not ended.
func replicaLiveCalls(t *testing.T, databaseURL, teamID string) int {
	t.Helper()
	pg, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var n int
	if err := pg.QueryRow(`SELECT COUNT(*) FROM calls WHERE team_id = $1 AND ended_at IS NULL`, teamID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// simMessages returns the texts of the messages sent through the carrier.
func simMessages(t *testing.T, simURL string) []string {
	t.Helper()
	res, err := http.Get(simURL + "/_sim/messages?direction=outbound")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Data []struct {
			Text string `json:"text"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(page.Data))
	for i, m := range page.Data {
		out[i] = m.Text
	}
	return out
}

// scrapeMetric reads one unlabelled sample from a replica's /metrics.
func scrapeMetric(t *testing.T, p *procServer, name string) float64 {
	t.Helper()
	res, err := replicaDo(p, "GET", "/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(res.Raw), "\n") {
		var v float64
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	t.Fatalf("%s not found in /metrics (%d)", name, res.Status)
	return 0
}

// sseLog follows one call's stream and records when each event arrived.
type sseLog struct {
	mu     sync.Mutex
	opened time.Time
	evs    []sseEvent
	done   chan struct{}
	err    error
}

type sseEvent struct {
	Seq    int       `json:"seq"`
	Type   string    `json:"type"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	got    time.Time
}

func openSSE(t *testing.T, p *procServer, key, callID string) *sseLog {
	t.Helper()
	l := &sseLog{opened: time.Now(), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/api/v1/calls/"+callID+"/stream", nil)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("open stream of %s: %v %v", callID, err, res)
	}
	go func() {
		defer close(l.done)
		defer cancel()
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e sseEvent
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
				return
			}
			e.got = time.Now()
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.err = sc.Err()
		l.mu.Unlock()
	}()
	return l
}

// wait waits for the stream to end (the server closes it once the call
// is finished).
func (l *sseLog) wait(within time.Duration) error {
	select {
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.err
	case <-time.After(within):
		return fmt.Errorf("still open after %v", within)
	}
}

func (l *sseLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, fmt.Sprintf("%d:%s/%s", e.Seq, e.Type, e.Status))
	}
	return out
}

func (l *sseLog) statuses() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.Status)
	}
	return out
}

// describe lists the live events as status: latency.
func (l *sseLog) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		if e.At.After(l.opened) {
			out = append(out, fmt.Sprintf("%s/%s: %v", e.Type, e.Status, e.got.Sub(e.At).Round(time.Microsecond)))
		}
	}
	return strings.Join(out, ", ")
}

// liveLatencies are arrival minus commit for the events committed after
// the stream opened (the rest were replayed from the log). Both clocks are
// this machine's.
func (l *sseLog) liveLatencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, e := range l.evs {
		if e.At.After(l.opened) {
			out = append(out, e.got.Sub(e.At))
		}
	}
	return out
}

// replicaHooks is the customer's webhook receiver, counting deliveries per
// event_id.
type replicaHooks struct {
	srv  *httptest.Server
	mu   sync.Mutex
	byID map[string]int
	n    int
}

func newReplicaHooks(t *testing.T) *replicaHooks {
	h := &replicaHooks{byID: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			EventID string `json:"event_id"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev)
		h.mu.Lock()
		h.byID[ev.EventID]++
		h.n++
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// counts returns the number of distinct events and those received more
// than once.
func (h *replicaHooks) counts() (distinct int, twice map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	twice = map[string]int{}
	for id, n := range h.byID {
		if n > 1 {
			twice[id] = n
		}
	}
	return len(h.byID), twice
}

func (h *replicaHooks) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}
