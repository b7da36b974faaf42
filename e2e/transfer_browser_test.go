package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/protocol"
)

// TestBrowserTransferToColleague: guide A, in a call in the console, picks
// guide B from the transfer picker (filled from the server, not typed) and
// writes a note; the shopper's page says it is connecting to a colleague;
// B's console is offered the shopper with A's note, accepts, and B and the
// shopper connect.
func TestBrowserTransferToColleague(t *testing.T) {
	chromium := findChromium(t)
	node := startNode(t, nodeOptions{})
	base := node.URL()
	const emailB, passwordB = "bea@e2e.local", "correct horse battery"
	accB, err := node.Auth.AddAccount(context.Background(), emailB, "Bea Colleague", passwordB, protocol.RoleGuide)
	if err != nil {
		t.Fatal(err)
	}

	guides := launchChromium(t, "guides", chromium)
	a := guides
	b := guides.newTab(t, "b")
	shopper := launchChromium(t, "shopper", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			a.dump(t)
			shopper.dump(t)
		}
	})
	signIn := func(tab *chromeTab, email, password string) {
		tab.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(base+"/guide/"))
		tab.do(t, "sign in", browserStepTimeout,
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#login-submit")),
		)
		tab.waitJS(t, "console shown", browserStepTimeout, `!document.querySelector("#console-view").hidden`)
		tab.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
		tab.waitText(t, "#presence-status", "available", browserStepTimeout)
		waitAvailable(t, node, email)
	}

	signIn(a, node.guideEmail, node.guidePassword)
	shopper.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR"))
	shopper.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	a.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	a.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "A and the shopper connected", browserConnectTimeout, a, shopper,
		`document.querySelector("#call-state").textContent === "connected"`)

	// B comes online during A's call, and shows up in A's picker.
	signIn(b, emailB, passwordB)
	a.do(t, "open the transfer form", browserStepTimeout, chromedp.Click(chromedp.CSS("#transfer-details summary")))
	option := `guide:` + accB.ID
	a.do(t, "refresh the picker", browserStepTimeout, chromedp.Click(chromedp.CSS("#transfer-refresh")))
	a.waitJS(t, "B in the picker", browserStepTimeout,
		`[...document.querySelectorAll("#transfer-target option")].some((o) => o.value === "`+option+`" && o.textContent.includes("Bea Colleague"))`)
	shot(t, a, "guide-transfer-picker", "#transfer-form")
	const note = "Wants the trail runner in 38"
	a.do(t, "transfer to B", browserStepTimeout,
		chromedp.SetValue(chromedp.CSS("#transfer-target"), option),
		chromedp.SendKeys(chromedp.CSS("#transfer-note"), note),
		chromedp.Click(chromedp.CSS("#transfer-send")),
	)
	a.waitJS(t, "A's call ended as transferred", browserStepTimeout,
		`document.querySelector("#call-state").textContent === "ended" && document.querySelector("#ended-message").textContent.includes("transferred")`)
	shopper.waitJS(t, "shopper told of the colleague", browserStepTimeout,
		`(document.querySelector("#queue-position")?.textContent || "").includes("Connecting you to a colleague")`)

	b.waitJS(t, "B offered the shopper", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	if ctx := b.text(t, "#offer-context"); !strings.Contains(ctx, note) {
		t.Errorf("B's offer %q does not carry A's note %q", ctx, note)
	}
	b.do(t, "B accepts", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "B and the shopper connected", browserConnectTimeout, b, shopper,
		`document.querySelector("#call-state").textContent === "connected"`)
	if got, err := node.Queue.Guide(context.Background(), accB.ID); err != nil || len(got.CallIDs) != 1 {
		t.Errorf("B holds %q (%v), want one call", got.CallIDs, err)
	}
}
