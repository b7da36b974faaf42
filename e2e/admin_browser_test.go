package e2e

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"guidecall/app"
	"guidecall/callflow/statstest"
)

// seededDashboard starts a node on the seeded day (statstest) with the
// admin, and opens the dashboard's login on that day in a Chromium with
// the given options, its days cut in Berlin as the seed's are.
func seededDashboard(t *testing.T, opts ...chromedp.ExecAllocatorOption) (*node, *chromeTab) {
	t.Helper()
	chromium := findChromium(t)
	stores := app.MemoryStores()
	statstest.Seed(t, stores.Queue, stores.Payments)
	n := startNode(t, nodeOptions{stores: &stores})
	addAdmin(t, n)
	tab := launchChromium(t, "admin", chromium, opts...)
	tab.do(t, "days cut in Berlin", browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: statstest.TimeZone})
		return err
	}))
	tab.do(t, "open the dashboard", browserStepTimeout,
		chromedp.Navigate(n.URL()+"/admin/?from="+statstest.Day+"&to="+statstest.Day),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	return n, tab
}

// TestBrowserAdminDashboard opens the dashboard on the seeded day: a
// guide's login is refused, an admin's shows the day's figures, which must
// be the numbers worked out by hand (statstest), in the tiles, the tables
// and the CSV export; axe-core finds nothing serious on it.
func TestBrowserAdminDashboard(t *testing.T) {
	axe := findAxe(t)
	n, tab := seededDashboard(t, chromedp.Flag("lang", "en-US"))
	tab.auditSizes(t, axe, "admin login")
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

	tab.reviewPage(t, axe, "dashboard")

	// The 30 days: the seeded day is one bar among empty days.
	tab.do(t, "30 days", browserStepTimeout, chromedp.Click(chromedp.CSS(`[data-days="30"]`)))
	tab.waitJS(t, "30 days loaded", browserStepTimeout, `window.guidecallAdmin.stats().days.length === 30`)
	tab.reviewPage(t, axe, "dashboard-30-days")
}

// TestBrowserAdminManagesQueuesAndGuides: an admin creates a queue with
// opening hours and a guide with languages from the dashboard; a refusal
// (a bad time zone, hours that close before they open, a taken email) is
// shown beside the field the API named.
func TestBrowserAdminManagesQueuesAndGuides(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	n := startNode(t, nodeOptions{})
	tab, token := openAdmin(t, chromium, n, "#queues")
	tab.waitJS(t, "queues listed", browserStepTimeout, `!!document.querySelector('#queues-table tr[data-queue="default"]')`)

	tab.fill(t, "q-name", "shoes")
	tab.fill(t, "q-display_name", "Shoe advice")
	tab.fill(t, "q-time_zone", "Mars/Olympus")
	tab.fill(t, "q-hours.mon", "09:00-12:00, 13:00-18:00")
	tab.fill(t, "q-hours.sat", "10:00-14:00")
	tab.fill(t, "q-wrap_up_seconds", "45")
	if msg := tab.refused(t, "#queue-save", "q-time_zone"); msg != `"Mars/Olympus" is not an IANA time zone` {
		t.Errorf("time zone error %q", msg)
	}
	if ok, _ := tab.check(`document.getElementById("q-time_zone").getAttribute("aria-invalid") === "true"`); !ok {
		t.Error("the time zone input is not marked invalid")
	}
	tab.reviewPage(t, axe, "queue-refused")

	tab.fill(t, "q-time_zone", "Europe/Berlin")
	tab.submit(t, "#queue-save", "queue listed", `!!document.querySelector('#queues-table tr[data-queue="shoes"]')`)
	var q struct {
		TimeZone string                         `json:"time_zone"`
		Hours    map[string][]map[string]string `json:"hours"`
		WrapUp   int                            `json:"wrap_up_seconds"`
	}
	api(t, "GET", n.URL()+"/api/v1/admin/queues/shoes", token, nil, &q, 200)
	wantHours := map[string][]map[string]string{
		"mon": {{"open": "09:00", "close": "12:00"}, {"open": "13:00", "close": "18:00"}},
		"sat": {{"open": "10:00", "close": "14:00"}},
	}
	if q.TimeZone != "Europe/Berlin" || q.WrapUp != 45 || !reflect.DeepEqual(q.Hours, wantHours) {
		t.Fatalf("queue stored as %+v", q)
	}

	// Hours that close before they open: the API names hours.mon.
	tab.fill(t, "q-hours.mon", "18:00-09:00")
	tab.refused(t, "#queue-save", "q-hours.mon")
	tab.fill(t, "q-hours.mon", "09:00-18:00")
	tab.submit(t, "#queue-save", "saved", `document.getElementById("queue-form-status").textContent.includes("shoes")`)
	tab.reviewPage(t, axe, "queues")

	// A guide who speaks German and English, in the new queue.
	tab.do(t, "open the guides", browserStepTimeout, chromedp.Navigate(n.URL()+"/admin/#guides"))
	tab.waitJS(t, "guides listed", browserStepTimeout, `!!document.querySelector('#guides-table tr[data-guide="`+n.guideEmail+`"]') && !!document.querySelector('#g-queues input[value="shoes"]')`)
	tab.fill(t, "g-name", "Greta")
	tab.fill(t, "g-email", "greta@e2e.local")
	tab.fill(t, "g-password", "a long enough password")
	tab.do(t, "serve shoes", browserStepTimeout, chromedp.Click(chromedp.CSS(`#g-queues input[value="shoes"]`)))
	tab.fill(t, "g-languages", "de, en")
	tab.fill(t, "g-capacity", "2")
	tab.submit(t, "#guide-save", "guide listed", `!!document.querySelector('#guides-table tr[data-guide="greta@e2e.local"]')`)
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
	api(t, "GET", n.URL()+"/api/v1/admin/guides/"+greta.Account.ID, token, nil, &g, 200)
	if !reflect.DeepEqual(g.Guide.Queues, []string{"shoes"}) || !reflect.DeepEqual(g.Guide.Languages, []string{"de", "en"}) || g.Guide.Capacity != 2 {
		t.Fatalf("guide profile %+v", g.Guide)
	}
	if row := tab.text(t, `#guides-table tr[data-guide="greta@e2e.local"]`); !strings.Contains(row, "de, en") || !strings.Contains(row, "shoes") {
		t.Errorf("guide row %q", row)
	}

	// The same email again: refused beside the email field.
	tab.do(t, "a new guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#guide-new")))
	tab.fill(t, "g-name", "Greta Two")
	tab.fill(t, "g-email", "greta@e2e.local")
	tab.fill(t, "g-password", "a long enough password")
	tab.do(t, "serve shoes", browserStepTimeout, chromedp.Click(chromedp.CSS(`#g-queues input[value="shoes"]`)))
	if msg := tab.refused(t, "#guide-save", "g-email"); msg != "an account with this email exists" {
		t.Errorf("duplicate email error %q", msg)
	}
	tab.reviewPage(t, axe, "guides")

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
	if msg := tab.fieldError(t, "p-feed-error"); !strings.Contains(msg, "row 1") || !strings.Contains(msg, "price") {
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
	api(t, "GET", n.URL()+"/api/v1/admin/products", token, nil, &feed, 200)
	if len(feed.Products) != 2 {
		t.Fatalf("feed holds %v", feed.Products)
	}
	tab.reviewPage(t, axe, "products")
}

// TestBrowserAdminArabicPhone opens the dashboard in Arabic (right to
// left) on the seeded day and the guides and payments sections: at phone
// size nothing scrolls sideways and the stacked rows carry their Arabic
// column names; axe-core finds nothing serious at either size.
func TestBrowserAdminArabicPhone(t *testing.T) {
	axe := findAxe(t)
	n, tab := seededDashboard(t, chromedp.Flag("accept-lang", "ar"))
	adminSignIn(t, tab, adminEmail, adminPassword)
	tab.waitJS(t, "figures loaded, right to left", browserStepTimeout,
		`window.guidecallAdmin.loads() > 0 && document.documentElement.dir === "rtl" && !!document.querySelector('#providers-table tr[data-provider="sandbox"]')`)
	label := tab.evalString(t, `document.querySelector('#providers-table tr[data-provider="sandbox"] td').dataset.label`)
	if want := strings.TrimSpace(tab.text(t, "#providers-table thead th")); label != want || label == "Provider" {
		t.Errorf("stacked provider cell labelled %q, want the Arabic header %q", label, want)
	}
	tab.reviewPage(t, axe, "dashboard-ar")
	for _, section := range []struct{ hash, ready string }{
		{"#guides", `!!document.querySelector('#guides-table tr[data-guide="` + n.guideEmail + `"]')`},
		{"#payments", `!!document.querySelector('#pay-providers tr[data-provider="sandbox"]')`},
	} {
		tab.do(t, "open "+section.hash, browserStepTimeout, chromedp.Navigate(n.URL()+"/admin/"+section.hash))
		tab.waitJS(t, section.hash+" listed", browserStepTimeout, section.ready)
		if section.hash == "#guides" {
			// Name and <address> each isolated, so right to left keeps
			// the brackets around the address.
			cell := `document.querySelectorAll('#guides-table tr[data-guide="` + n.guideEmail + `"] td:first-child > bdi')`
			if got, want := tab.evalString(t, `Array.from(`+cell+`, (b) => b.textContent).join("|")`), "|<"+n.guideEmail+">"; !strings.HasSuffix(got, want) || strings.Count(got, "|") != 1 || strings.HasPrefix(got, "|") {
				t.Errorf("guide cell's <bdi> parts %q, want the name and %q", got, want[1:])
			}
			// And as drawn: '>' right of the address's last letter.
			order := tab.evalString(t, `(() => { const tn = `+cell+`[1].firstChild; const x = (i) => { const r = document.createRange(); r.setStart(tn, i); r.setEnd(tn, i + 1); return r.getBoundingClientRect().left; }; const n = tn.data.length; return x(0) < x(1) && x(n - 2) < x(n - 1) ? "ltr" : "reordered"; })()`)
			if order != "ltr" {
				t.Errorf("the guide's <address> is drawn %s in Arabic", order)
			}
		}
		tab.reviewPage(t, axe, section.hash[1:]+"-ar")
	}
}
