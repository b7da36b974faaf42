package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"guidecall/app"
	"guidecall/callflow/statstest"
	"guidecall/protocol"
)

// pageScreenshots saves the whole page (not only the viewport: the
// dashboard is taller than a screen) at desktop and phone size, beside
// the other screenshots (GUIDECALL_SCREENSHOTS).
func (b *chromeTab) pageScreenshots(t *testing.T, state string) {
	t.Helper()
	dir := os.Getenv("GUIDECALL_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "guidecall-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot %s: %v", b.name, state, err)
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.png", t.Name(), state, size.name))
		if err := os.WriteFile(name, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do(t, "back to desktop size", browserStepTimeout, chromedp.EmulateViewport(1280, 800))
	t.Logf("screenshots of %q in %s", state, dir)
}

// adminSignIn fills the dashboard's login form.
func adminSignIn(t *testing.T, tab *chromeTab, email, password string) {
	t.Helper()
	tab.evalString(t, `document.querySelector("#email").value = ""`)
	tab.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
}

// TestBrowserAdminDashboard opens the dashboard on the seeded day: a
// guide's login is refused, an admin's shows the day's figures, which must
// be the numbers worked out by hand (statstest), in the tiles, the tables
// and the CSV export; axe-core finds nothing serious on it.
func TestBrowserAdminDashboard(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	stores := app.MemoryStores()
	statstest.Seed(t, stores.Queue, stores.Payments)
	n := startNode(t, nodeOptions{stores: &stores})
	const adminEmail, adminPassword = "admin@e2e.local", "correct horse battery"
	if _, err := n.Auth.AddAccount(context.Background(), adminEmail, "E2E Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tab := launchChromium(t, "admin", chromium, chromedp.Flag("lang", "en-US"))
	tab.do(t, "days cut in Berlin", browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: statstest.TimeZone})
		return err
	}))
	tab.do(t, "open the dashboard", browserStepTimeout,
		chromedp.Navigate(n.URL()+"/admin/?from="+statstest.Day+"&to="+statstest.Day),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	tab.audit(t, axe, "admin login")
	tab.screenshots(t, "login")

	// A guide's login is ended at once, with the way to the console.
	adminSignIn(t, tab, n.guideEmail, n.guidePassword)
	tab.waitJS(t, "guide refused", browserStepTimeout, `document.querySelector("#login-error").textContent.includes("admin accounts")`)
	if ok, _ := tab.check(`document.querySelector("#dashboard-view").hidden`); !ok {
		t.Fatal("the dashboard is shown to a guide")
	}
	tab.screenshots(t, "guide-refused")

	adminSignIn(t, tab, adminEmail, adminPassword)
	tab.waitJS(t, "figures loaded", browserStepTimeout, `window.guidecallAdmin.loads() > 0`)

	// The figures the page holds are the API's, and those are the hand-worked ones.
	var totals map[string]any
	if err := json.Unmarshal([]byte(tab.evalString(t, `JSON.stringify(window.guidecallAdmin.stats().totals)`)), &totals); err != nil {
		t.Fatal(err)
	}
	at := func(path string) any {
		var v any = totals
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		return v
	}
	for path, want := range statstest.Want {
		if got := at(path); !reflect.DeepEqual(got, want) {
			t.Errorf("page's %s = %v, want %v", path, got, want)
		}
	}
	if got := totals["revenue"]; !reflect.DeepEqual(got, statstest.Revenue) {
		t.Errorf("page's revenue %v, want %v", got, statstest.Revenue)
	}
	if got := totals["providers"]; !reflect.DeepEqual(got, statstest.Providers) {
		t.Errorf("page's providers %v, want %v", got, statstest.Providers)
	}

	// What a person reads: the tiles, the tables.
	shown := map[string]string{
		"offered": "8", "answered": "5", "abandoned": "2", "wait": "27 s", "handle": "8 min 24 s",
		"conversion": "60%", "rating": "4.25 / 5", "quality": "62.5 ms",
	}
	for figure, want := range shown {
		if got := strings.TrimSpace(tab.text(t, `[data-figure="`+figure+`"]`)); got != want {
			t.Errorf("tile %s reads %q, want %q", figure, got, want)
		}
	}
	for sel, want := range map[string]string{
		`#revenue-table tr[data-currency="EUR"]`:       "EUR€80.00€10.00€70.00",
		`#revenue-table tr[data-currency="JPY"]`:       "JPY¥1,500¥0¥1,500",
		`#providers-table tr[data-provider="sandbox"]`: "sandbox42 / 366.7%",
		`#providers-table tr[data-provider="stripe"]`:  "stripe11 / 1100%",
		`#providers-table tr[data-provider="adyen"]`:   "adyen10 / 10%",
	} {
		if got := strings.TrimSpace(tab.text(t, sel)); got != want {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}
	if got := tab.evalString(t, `String(document.querySelectorAll("#charts figure svg[role=img]").length)`); got != "5" {
		t.Errorf("%s charts, want 5 (shoppers, wait, conversion, revenue, rating)", got)
	}

	// The CSV export: a row for the day and one for the window.
	ctx, cancel := context.WithTimeout(tab.ctx, browserStepTimeout)
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import("/admin/csv.js").then((m) => m.toCSV(window.guidecallAdmin.stats()))`, chromedp.EvalAwaitPromise))
	cancel()
	if err != nil {
		t.Fatalf("CSV export: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], statstest.Day+",8,5,2,1,75,120,27,60,504,1200,5,3,0.6,4,4.25,2,62.5,100,37,4,") ||
		!strings.HasPrefix(lines[2], "total,8,5,2,1,") || !strings.Contains(lines[0], "net_EUR") {
		t.Errorf("CSV export:\n%s", csv)
	}

	tab.audit(t, axe, "admin dashboard")
	tab.pageScreenshots(t, "dashboard")

	// The 30 days: the seeded day is one bar among empty days.
	tab.do(t, "30 days", browserStepTimeout, chromedp.Click(chromedp.CSS(`[data-days="30"]`)))
	tab.waitJS(t, "30 days loaded", browserStepTimeout, `window.guidecallAdmin.stats().days.length === 30`)
	tab.audit(t, axe, "admin dashboard, 30 days")
	tab.pageScreenshots(t, "dashboard-30-days")
}
