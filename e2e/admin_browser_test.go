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
// the other screenshots (screenshotDir).
func (b *chromeTab) pageScreenshots(t *testing.T, state string) {
	t.Helper()
	dir := screenshotDir(t)
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

// TestBrowserAdminManagesQueuesAndGuides: an admin creates a queue with
// opening hours and a guide with languages from the dashboard; a refusal
// (a bad time zone, hours that close before they open, a taken email) is
// shown beside the field the API named.
func TestBrowserAdminManagesQueuesAndGuides(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	n := startNode(t, nodeOptions{})
	const adminEmail, adminPassword = "admin@e2e.local", "correct horse battery"
	if _, err := n.Auth.AddAccount(context.Background(), adminEmail, "E2E Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	pair, err := n.Auth.Login(context.Background(), adminEmail, adminPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	tab := launchChromium(t, "admin", chromium, chromedp.Flag("lang", "en-US"))
	tab.do(t, "open the queues", browserStepTimeout,
		chromedp.Navigate(n.URL()+"/admin/#queues"), chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	adminSignIn(t, tab, adminEmail, adminPassword)
	tab.waitJS(t, "queues listed", browserStepTimeout, `!!document.querySelector('#queues-table tr[data-queue="default"]')`)

	fill := func(sel, value string) {
		t.Helper()
		tab.evalString(t, fmt.Sprintf(`document.getElementById(%q).value = ""; "ok"`, sel))
		tab.do(t, "type "+sel, browserStepTimeout, chromedp.SendKeys(chromedp.JSPath(fmt.Sprintf(`document.getElementById(%q)`, sel)), value))
	}
	fieldError := func(id string) string {
		return tab.evalString(t, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e && !e.hidden ? e.textContent : ""; })()`, id))
	}
	fill("q-name", "shoes")
	fill("q-display_name", "Shoe advice")
	fill("q-time_zone", "Mars/Olympus")
	fill("q-hours.mon", "09:00-12:00, 13:00-18:00")
	fill("q-hours.sat", "10:00-14:00")
	fill("q-wrap_up_seconds", "45")
	tab.do(t, "save the queue", browserStepTimeout, chromedp.Click(chromedp.CSS("#queue-save")))
	tab.waitJS(t, "time zone refused beside its field", browserStepTimeout, `!document.getElementById("q-time_zone-error").hidden`)
	if msg := fieldError("q-time_zone-error"); msg != `"Mars/Olympus" is not an IANA time zone` {
		t.Errorf("time zone error %q", msg)
	}
	if ok, _ := tab.check(`document.getElementById("q-time_zone").getAttribute("aria-invalid") === "true"`); !ok {
		t.Error("the time zone input is not marked invalid")
	}
	tab.audit(t, axe, "queue form with an error")
	tab.pageScreenshots(t, "queue-refused")

	fill("q-time_zone", "Europe/Berlin")
	tab.do(t, "save the queue", browserStepTimeout, chromedp.Click(chromedp.CSS("#queue-save")))
	tab.waitJS(t, "queue listed", browserStepTimeout, `!!document.querySelector('#queues-table tr[data-queue="shoes"]')`)
	var q struct {
		TimeZone string                         `json:"time_zone"`
		Hours    map[string][]map[string]string `json:"hours"`
		WrapUp   int                            `json:"wrap_up_seconds"`
	}
	api(t, "GET", n.URL()+"/api/v1/admin/queues/shoes", pair.AccessToken, nil, &q, 200)
	wantHours := map[string][]map[string]string{
		"mon": {{"open": "09:00", "close": "12:00"}, {"open": "13:00", "close": "18:00"}},
		"sat": {{"open": "10:00", "close": "14:00"}},
	}
	if q.TimeZone != "Europe/Berlin" || q.WrapUp != 45 || !reflect.DeepEqual(q.Hours, wantHours) {
		t.Fatalf("queue stored as %+v", q)
	}

	// Hours that close before they open: the API names hours.mon.
	fill("q-hours.mon", "18:00-09:00")
	tab.do(t, "save bad hours", browserStepTimeout, chromedp.Click(chromedp.CSS("#queue-save")))
	tab.waitJS(t, "Monday refused beside its field", browserStepTimeout, `!document.getElementById("q-hours.mon-error").hidden`)
	fill("q-hours.mon", "09:00-18:00")
	tab.do(t, "save good hours", browserStepTimeout, chromedp.Click(chromedp.CSS("#queue-save")))
	tab.waitJS(t, "saved", browserStepTimeout, `document.getElementById("queue-form-status").textContent.includes("shoes")`)
	tab.pageScreenshots(t, "queues")

	// A guide who speaks German and English, in the new queue.
	tab.do(t, "open the guides", browserStepTimeout, chromedp.Navigate(n.URL()+"/admin/#guides"))
	tab.waitJS(t, "guides listed", browserStepTimeout, `!!document.querySelector('#guides-table tr[data-guide="`+n.guideEmail+`"]') && !!document.querySelector('#g-queues input[value="shoes"]')`)
	fill("g-name", "Greta")
	fill("g-email", "greta@e2e.local")
	fill("g-password", "a long enough password")
	tab.do(t, "serve shoes", browserStepTimeout, chromedp.Click(chromedp.CSS(`#g-queues input[value="shoes"]`)))
	fill("g-languages", "de, en")
	fill("g-capacity", "2")
	tab.do(t, "save the guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#guide-save")))
	tab.waitJS(t, "guide listed", browserStepTimeout, `!!document.querySelector('#guides-table tr[data-guide="greta@e2e.local"]')`)
	greta, err := n.Auth.Login(context.Background(), "greta@e2e.local", "a long enough password", "192.0.2.1")
	if err != nil {
		t.Fatalf("the new guide cannot log in: %v", err)
	}
	var g struct {
		Guide struct {
			Queues    []string `json:"queues"`
			Languages []string `json:"languages"`
			Capacity  int      `json:"capacity"`
		} `json:"guide"`
	}
	api(t, "GET", n.URL()+"/api/v1/admin/guides/"+greta.Account.ID, pair.AccessToken, nil, &g, 200)
	if !reflect.DeepEqual(g.Guide.Queues, []string{"shoes"}) || !reflect.DeepEqual(g.Guide.Languages, []string{"de", "en"}) || g.Guide.Capacity != 2 {
		t.Fatalf("guide profile %+v", g.Guide)
	}
	if row := tab.text(t, `#guides-table tr[data-guide="greta@e2e.local"]`); !strings.Contains(row, "de, en") || !strings.Contains(row, "shoes") {
		t.Errorf("guide row %q", row)
	}

	// The same email again: refused beside the email field.
	tab.do(t, "a new guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#guide-new")))
	fill("g-name", "Greta Two")
	fill("g-email", "greta@e2e.local")
	fill("g-password", "a long enough password")
	tab.do(t, "serve shoes", browserStepTimeout, chromedp.Click(chromedp.CSS(`#g-queues input[value="shoes"]`)))
	tab.do(t, "save the duplicate", browserStepTimeout, chromedp.Click(chromedp.CSS("#guide-save")))
	tab.waitJS(t, "email refused beside its field", browserStepTimeout, `!document.getElementById("g-email-error").hidden`)
	if msg := fieldError("g-email-error"); msg != "an account with this email exists" {
		t.Errorf("duplicate email error %q", msg)
	}
	tab.audit(t, axe, "guide form with an error")
	tab.pageScreenshots(t, "guides")

	// The product feed: a bad row is named and the feed stays; a good one replaces it.
	tab.do(t, "open the products", browserStepTimeout, chromedp.Navigate(n.URL()+"/admin/#products"))
	tab.waitJS(t, "feed read", browserStepTimeout, `document.getElementById("products-count").textContent.includes("0")`)
	setFeed := func(text string) {
		t.Helper()
		b, _ := json.Marshal(text)
		tab.evalString(t, `document.getElementById("p-text").value = `+string(b)+`; "ok"`)
		tab.do(t, "replace the feed", browserStepTimeout, chromedp.Click(chromedp.CSS("#feed-save")))
	}
	const header = "product_id,name,variant,image_url,url,price,currency\n"
	setFeed(header + "sneaker,Merino wool sneaker,EU 42,,,12.99,EUR\n")
	tab.waitJS(t, "bad row named", browserStepTimeout, `!document.getElementById("p-feed-error").hidden`)
	if msg := fieldError("p-feed-error"); !strings.Contains(msg, "row 1") || !strings.Contains(msg, "price") {
		t.Errorf("feed error %q", msg)
	}
	setFeed(header + "sneaker,Merino wool sneaker,EU 42,,https://shop.example/p/sneaker,12900,EUR\nboot,Trail boot,,,,21900,EUR\n")
	tab.waitJS(t, "feed listed", browserStepTimeout, `!!document.querySelector('#products-table tr[data-product="boot"]')`)
	if row := tab.text(t, `#products-table tr[data-product="sneaker"]`); row != "sneakerMerino wool sneakerEU 42€129.00" {
		t.Errorf("product row %q", row)
	}
	var feed struct {
		Products []map[string]any `json:"products"`
	}
	api(t, "GET", n.URL()+"/api/v1/admin/products", pair.AccessToken, nil, &feed, 200)
	if len(feed.Products) != 2 {
		t.Fatalf("feed holds %v", feed.Products)
	}
	tab.audit(t, axe, "product feed")
	tab.pageScreenshots(t, "products")
}
