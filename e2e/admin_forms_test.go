package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/protocol"
)

// The dashboard's admin in the browser tests.
const adminEmail, adminPassword = "admin@e2e.local", "correct horse battery"

// addAdmin gives n an admin account and returns its API token.
func addAdmin(t *testing.T, n *node) string {
	t.Helper()
	if _, err := n.Auth.AddAccount(context.Background(), adminEmail, "E2E Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	pair, err := n.Auth.Login(context.Background(), adminEmail, adminPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return pair.AccessToken
}

// openAdmin adds the admin to n, opens the dashboard's section (#queues,
// #payments, ...) in a new Chromium and signs in; it returns the tab and
// the admin's API token.
func openAdmin(t *testing.T, chromium string, n *node, section string) (*chromeTab, string) {
	t.Helper()
	token := addAdmin(t, n)
	tab := launchChromium(t, "admin", chromium, chromedp.Flag("lang", "en-US"))
	tab.do(t, "open the dashboard at "+section, browserStepTimeout,
		chromedp.Navigate(n.URL()+"/admin/"+section), chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	adminSignIn(t, tab, adminEmail, adminPassword)
	return tab, token
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

// fill empties the input with id and types value into it.
func (b *chromeTab) fill(t *testing.T, id, value string) {
	t.Helper()
	b.evalString(t, fmt.Sprintf(`document.getElementById(%q).value = ""; "ok"`, id))
	b.do(t, "type "+id, browserStepTimeout, chromedp.SendKeys(chromedp.JSPath(fmt.Sprintf(`document.getElementById(%q)`, id)), value))
}

// choose sets the select with id to value.
func (b *chromeTab) choose(t *testing.T, id, value string) {
	t.Helper()
	b.evalString(t, fmt.Sprintf(`document.getElementById(%q).value = %q; "ok"`, id, value))
}

// fieldError is the text of the error shown beside a field (its id
// ends in -error), or "" while it is hidden.
func (b *chromeTab) fieldError(t *testing.T, id string) string {
	t.Helper()
	return b.evalString(t, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e && !e.hidden ? e.textContent : ""; })()`, id))
}

// submit clicks the form's button (a CSS selector) and waits until expr
// holds, what naming the outcome.
func (b *chromeTab) submit(t *testing.T, button, what, expr string) {
	t.Helper()
	b.do(t, "click "+button, browserStepTimeout, chromedp.Click(chromedp.CSS(button)))
	b.waitJS(t, what, browserStepTimeout, expr)
}

// refused clicks the form's button and waits for the error beside the
// field with id; it returns that error's text.
func (b *chromeTab) refused(t *testing.T, button, id string) string {
	t.Helper()
	b.submit(t, button, id+" refused beside its field", fmt.Sprintf(`!document.getElementById(%q).hidden`, id+"-error"))
	return b.fieldError(t, id+"-error")
}

// phoneFitJS lists what is wider than a phone's screen: the page itself
// (a sideways scroll) and each visible table, and the body cells whose
// data-label (the column name a stacked row shows) is not their header.
const phoneFitJS = `(() => {
	const bad = [];
	const page = document.documentElement;
	if (page.scrollWidth > innerWidth + 0.5) bad.push("page " + page.scrollWidth + "px wide");
	for (const table of document.querySelectorAll("table")) {
		if (!table.checkVisibility()) continue;
		const r = table.getBoundingClientRect();
		if (r.left < -0.5 || r.right > innerWidth + 0.5 || table.scrollWidth > table.clientWidth + 0.5) {
			bad.push("#" + table.id + " spans " + Math.round(r.left) + ".." + Math.round(r.right) + "px, scrolls " + table.scrollWidth + "px");
		}
		const heads = [...(table.tHead?.rows[0]?.cells ?? [])].map((th) => th.textContent.trim());
		for (const body of table.tBodies) for (const tr of body.rows) [...tr.cells].forEach((td, i) => {
			if (td.colSpan === 1 && td.dataset.label !== heads[i]) bad.push("#" + table.id + " cell " + i + " labelled " + JSON.stringify(td.dataset.label ?? null));
		});
	}
	return bad.join("; ");
})()`

// fitsPhone checks at phone size (390x844) that the page does not scroll
// sideways and every table stands within the screen with its rows
// stacked under their column names; it ends at desktop size.
func (b *chromeTab) fitsPhone(t *testing.T, state string) {
	t.Helper()
	b.do(t, "phone size", browserStepTimeout, chromedp.EmulateViewport(390, 844))
	if bad := b.evalString(t, phoneFitJS); bad != "" {
		t.Errorf("%s at phone size: %s", state, bad)
	}
	b.do(t, "back to desktop size", browserStepTimeout, chromedp.EmulateViewport(1280, 800))
}

// reviewPage is what every state of the dashboard gets: axe-core at both
// sizes, the phone fit, full-page screenshots at both sizes.
func (b *chromeTab) reviewPage(t *testing.T, axe, state string) {
	t.Helper()
	b.auditSizes(t, axe, state)
	b.fitsPhone(t, state)
	b.pageScreenshots(t, state)
}
