package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/protocol"
)

// offerTimeoutWait bounds the wait for a re-offer after a decline: the
// next matcher pass, well within a step.
const offerTimeoutWait = browserStepTimeout

// TestBrowserTransferToColleague: guide A, in a call in the console, picks
// guide B from the transfer picker (filled from the server, not typed) and
// writes a note; the shopper's page says it is connecting to a colleague;
// B's console is offered the shopper with A's note, declines it once with
// a reason (which the admin's read of B shows), is offered it again,
// accepts, and B and the shopper connect.
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
	shopper.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))
	a.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	a.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "A and the shopper connected", browserConnectTimeout, a, shopper,
		`window.guidecall.state() === "connected"`)

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
		`(guidecall.root.querySelector("#queue-position")?.textContent || "").includes("Connecting you to a colleague")`)

	b.waitJS(t, "B offered the shopper", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	if ctx := b.text(t, "#offer-context"); !strings.Contains(ctx, note) {
		t.Errorf("B's offer %q does not carry A's note %q", ctx, note)
	}
	// B first declines with a reason: the shopper, handed to B alone, is
	// offered to B again, and the reason is on the admin's read of B.
	firstOffer := b.evalString(t, `window.guidecall.offers()[0]`)
	b.do(t, "B declines with a reason", browserStepTimeout,
		chromedp.SetValue(chromedp.CSS("#decline-reason"), "not my product area"),
		chromedp.Click(chromedp.CSS("#decline-offer")),
	)
	b.waitJS(t, "B offered the shopper again", offerTimeoutWait,
		`window.guidecall.offers().length === 1 && window.guidecall.offers()[0] !== "`+firstOffer+`" && !document.querySelector("#offer").hidden`)
	const adminEmail, adminPassword = "admin-transfer@e2e.local", "transfer admin secret 7"
	if _, err := node.Auth.AddAccount(context.Background(), adminEmail, "Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	var read struct {
		Declines []struct {
			CallID string `json:"call_id"`
			Reason string `json:"reason"`
		} `json:"declines"`
	}
	api(t, http.MethodGet, base+"/api/v1/admin/guides/"+accB.ID, login(t, base, adminEmail, adminPassword), nil, &read, http.StatusOK)
	if len(read.Declines) != 1 || read.Declines[0].CallID != firstOffer || read.Declines[0].Reason != "not my product area" {
		t.Errorf("admin read of B: declines %+v, want %s with reason %q", read.Declines, firstOffer, "not my product area")
	}
	b.do(t, "B accepts", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "B and the shopper connected", browserConnectTimeout, b, shopper,
		`window.guidecall.state() === "connected"`)
	b.waitJS(t, "A's note in B's context panel", browserStepTimeout,
		`document.querySelector("#call-context").textContent.includes("`+note+`")`)
	if got, err := node.Queue.Guide(context.Background(), accB.ID); err != nil || len(got.CallIDs) != 1 {
		t.Errorf("B holds %q (%v), want one call", got.CallIDs, err)
	}
}
