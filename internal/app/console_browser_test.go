package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// chromiumPath is Debian's Chromium, which CI installs with apt.
const chromiumPath = "/usr/bin/chromium"

// ScreenshotsEnv names a folder: when set, the browser test saves PNGs of
// the console's main pages there (docs/console in the repository).
const ScreenshotsEnv = "PEAKVOICE_CONSOLE_SCREENSHOTS"

// headless starts Chromium for the test: headless, sandbox off (CI runs as
// root), and every background service off, since this machine has no
// internet and Chromium stalls trying to reach its vendor otherwise.
func headless(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("no chromium at %s: %v", chromiumPath, err)
	}
	dir, err := os.MkdirTemp("", "peakvoice-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTime := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
		// Chromium's helpers may still write for a moment after it exits.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Start the browser now, so a launch failure is reported as such.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab drives one browser tab against a test server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot folder, or empty
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) open(path string) { b.t.Helper(); b.do("open "+path, chromedp.Navigate(b.base+path)) }

// submit clicks a button and waits until a new page has loaded in place
// of this one (the old page's marker is gone).
func (b *tab) submit(button string) {
	b.t.Helper()
	b.do("click "+button, chromedp.Evaluate[chromedp.Void](`window.__pvOldPage = true`),
		chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
	b.wait("the page after "+button, `window.__pvOldPage === undefined && document.readyState === "complete"`, 30*time.Second)
}

func (b *tab) set(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeReady))
}

// wait polls a JavaScript condition on the page until it holds. An
// evaluation that fails because a page is loading is tried again.
func (b *tab) wait(what, cond string, timeout time.Duration) {
	b.t.Helper()
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		last = err
	}
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
	b.t.Fatalf("waiting for %s: not true after %s (last error: %v)\npage: %s", what, timeout, last, text)
}

func (b *tab) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// reloadUntil opens path again until cond holds: for changes that a page
// shows only when loaded (a new row in a list).
func (b *tab) reloadUntil(what, path, cond string) {
	b.t.Helper()
	for deadline := time.Now().Add(45 * time.Second); ; {
		b.open(path)
		if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: never true on %s", what, path)
		}
		time.Sleep(150 * time.Millisecond) // between reloads; not an assertion
	}
}

// screenshot saves the page as name.png when screenshots are asked for.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestConsoleBrowser drives the console in headless Chromium: sign in,
// claim a number, create an agent, bind the number, place a call and watch
// its status change live, read the transcript, inject an inbound call from
// the simulator panel and find it in the calls list, send a text.
func TestConsoleBrowser(t *testing.T) {
	t.Parallel()
	ctx := headless(t)
	cfg := testConfig(t, db.Options{})
	// Slow the simulated carrier a little, and have the callee stay silent
	// for a while once connected, so the call is still live when its page
	// has loaded, even on a busy machine.
	cfg.simStepDelay = 250 * time.Millisecond
	s := startServer(t, cfg)
	s.app.Sim.SetScript("+14155550123", []telnyxsim.ScriptStep{
		{Say: "Hello, who is this?", PauseMS: 5000},
		{Say: "Thanks, that is all. Goodbye.", Hangup: true},
	})
	acct := s.register(t, "browser@example.com")
	b := &tab{t: t, ctx: ctx, base: s.base, shot: os.Getenv(ScreenshotsEnv)}
	if b.shot != "" {
		if err := os.MkdirAll(b.shot, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in.
	b.open("/console/calls")
	b.do("sign-in form", chromedp.WaitVisible(chromedp.ID("email")))
	b.screenshot("sign-in")
	b.set("#email", acct.email)
	b.set("#password", acct.password)
	b.submit(`form[action="/console/login"] button[type=submit]`)
	b.wait("the calls page", `location.pathname === "/console/calls" && document.body.innerText.includes("browser@example.com")`, 30*time.Second)

	// Claim a number.
	b.open("/console/numbers")
	number := b.eval(`document.querySelector("#claim-number").value`)
	b.submit(`form[action="/console/numbers"] button[type=submit]`)
	b.wait("the claimed number", fmt.Sprintf(`!!document.querySelector('tr[data-number="%s"]')`, number), 30*time.Second)

	// Create an agent.
	b.open("/console/agents")
	b.set("#ag-name", "Front desk")
	b.set("#ag-instructions", "Greet the caller and confirm the booking.")
	b.set("#ag-objectives", "confirm: The caller confirms the booking.")
	b.submit(`form[action="/console/agents"] button[type=submit]`)
	b.wait("the agent page", `location.pathname.startsWith("/console/agents/") && document.querySelector("h1").textContent.includes("Front desk")`, 30*time.Second)
	agentPath := b.eval(`location.pathname`)
	b.reloadUntil("agent synced", agentPath, `document.querySelector("#sync-status").textContent === "synced"`)
	b.screenshot("agent")

	// Bind the number to it.
	b.open("/console/numbers")
	b.submit(fmt.Sprintf(`tr[data-number="%s"] form button[type=submit]`, number))
	b.wait("the binding", fmt.Sprintf(`document.querySelector('tr[data-number="%s"] [data-bound]').textContent.includes("Front desk")`, number), 30*time.Second)
	b.screenshot("numbers")

	// Place a call from the calls page and follow it live on its page.
	b.open("/console/calls")
	b.set("#pc-to", "+14155550123")
	b.set("#pc-brief", `{"customer_name": "Ada"}`)
	b.submit(`#place-call button[type=submit]`)
	b.wait("the call page", `location.pathname.startsWith("/console/calls/") && !!document.querySelector("[data-status-for]")`, 30*time.Second)
	if live := b.eval(`document.querySelector("[data-status-for]").hasAttribute("data-live-call") ? "live" : document.querySelector("[data-status-for]").textContent`); live != "live" {
		t.Fatalf("the call had ended (%s) before its page loaded; nothing to watch live", live)
	}
	first := b.eval(`window.__notReloaded = true; document.querySelector("[data-status-for]").textContent`)
	b.wait("a live status change", fmt.Sprintf(`document.querySelector("[data-status-for]").textContent !== %q`, first), 30*time.Second)
	b.wait("the call to complete", `document.querySelector("[data-status-for]").textContent === "completed"`, 60*time.Second)
	b.wait("the transcript, swapped in without a reload", `window.__notReloaded === true && document.querySelectorAll("#transcript li.turn").length > 0`, 60*time.Second)
	b.wait("the timeline", `document.querySelectorAll("#timeline li").length >= 3`, 30*time.Second)
	b.wait("the call's facts, swapped in with the result", `document.querySelector("dl.facts [data-live-call]") === null && window.__notReloaded === true`, 30*time.Second)
	if got := b.eval(`document.querySelector("audio") ? document.querySelector("audio").getAttribute("src") : ""`); !strings.HasSuffix(got, "/recording") {
		t.Errorf("no recording player: %q", got)
	}
	b.screenshot("call")

	// Open the finished call again: the transcript is served with the page.
	callPath := b.eval(`location.pathname`)
	b.open(callPath)
	b.do("transcript", chromedp.WaitVisible(chromedp.CSS("#transcript li.turn")))

	// Inject an inbound call from the simulator panel.
	b.open("/console/simulator")
	b.set("#sc-to", number)
	b.set("#sc-from", "+14155550177")
	b.set("#sc-name", "Grace Hopper")
	b.screenshot("simulator")
	b.submit(`form[action="/console/simulator/call"] button[type=submit]`)
	b.wait("the simulator's answer", `document.querySelector(".flash.ok") !== null`, 30*time.Second)
	b.reloadUntil("the inbound call in the list", "/console/calls",
		`[...document.querySelectorAll("#calls tbody tr")].some(r => r.cells.length > 3 && r.cells[2].textContent.trim() === "inbound" && r.cells[3].textContent.includes("+14155550177"))`)
	b.screenshot("calls")

	// A call placed elsewhere (here through the API) appears in the open
	// list without a reload.
	b.eval(`window.__listNotReloaded = true; ""`)
	placed := s.do("POST", "/api/v1/calls", map[string]any{"agent_id": agentIDOf(t, s, acct),
		"phone_number_to": "+14155550199"}, bearer(acct.access)...).expect(t, http.StatusCreated).data(t)["id"].(string)
	b.wait("the new call in the open list", fmt.Sprintf(`window.__listNotReloaded === true && !!document.querySelector('#calls tr[data-call-row="%s"]')`, placed), 30*time.Second)

	// Send a text, clicking twice: one message goes out.
	b.open("/console/sms")
	b.set("#sms-to", "+14155550188")
	b.set("#sms-text", "Your table is ready.")
	b.do("double click", chromedp.Evaluate[chromedp.Void](`window.__pvOldPage = true`),
		chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector("#send-sms button"); b.click(); b.click(); })()`))
	b.wait("the thread", `location.pathname.startsWith("/console/sms/") && document.body.innerText.includes("Your table is ready.")`, 30*time.Second)
	b.screenshot("sms-thread")
	sent := s.do("GET", "/api/v1/sms?direction=outbound", nil, bearer(acct.access)...).expect(t, http.StatusOK)
	if n := len(sent.Body["data"].([]any)); n != 1 {
		t.Fatalf("%d messages after a double click, want 1", n)
	}

	if b.shot != "" {
		screenshotExtras(t, s, b, acct)
	}
}

// agentIDOf returns the id of the account's first agent.
func agentIDOf(t *testing.T, s *testServer, acct account) string {
	t.Helper()
	agents := s.do("GET", "/api/v1/agents", nil, bearer(acct.access)...).expect(t, 200).Body["data"].([]any)
	return agents[0].(map[string]any)["id"].(string)
}

// screenshotExtras fills and photographs the remaining pages, only when
// screenshots are asked for.
func screenshotExtras(t *testing.T, s *testServer, b *tab, acct account) {
	h := bearer(acct.access)
	agents := s.do("GET", "/api/v1/agents", nil, h...).expect(t, 200).Body["data"].([]any)
	agentID := agents[0].(map[string]any)["id"].(string)
	numbers := s.do("GET", "/api/v1/phone-numbers", nil, h...).expect(t, 200).Body["data"].([]any)
	numberID := numbers[0].(map[string]any)["id"].(string)
	sess := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"phone_number_id": numberID, "agent_id": agentID,
		"callback_window_seconds": 3600, "external_session_id": "order-4421"}, h...).expect(t, 201).data(t)["id"].(string)
	s.do("POST", "/api/v1/inbound-sessions/"+sess+"/callback-targets", map[string]any{"label": "Order #4421",
		"contact_name": "Jane Doe", "known_phone_numbers": []string{"+14155550123"}}, h...).expect(t, 201)
	s.do("POST", "/api/v1/inbound-sessions/"+sess+"/expected-callers", map[string]any{"phone_number": "+14155550124",
		"contact_name": "John Doe"}, h...).expect(t, 201)
	b.open("/console/inbound")
	b.screenshot("inbound")

	sink := newEventSink(t)
	s.do("POST", "/api/v1/webhook-events/test", map[string]any{"url": sink.srv.URL}, h...).expect(t, 202)
	b.reloadUntil("a delivered test webhook", "/console/webhooks", `document.querySelector("#deliveries .w-succeeded") !== null`)
	b.screenshot("webhooks")

	b.open("/console/agents")
	b.screenshot("agents")
	b.open("/console/keys")
	b.set("#key-name", "billing-sync")
	b.submit(`form[action="/console/keys"] button[type=submit]`)
	b.screenshot("api-keys")

	b.open("/console/calls")
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	b.screenshot("calls-phone")
	b.do("desktop size", chromedp.EmulateReset())
}
