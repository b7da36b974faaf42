package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
)

// TestWidgetCheckoutReturn pays twice from a call on a merchant page of
// another origin. On a phone-sized screen the Pay button takes the same
// tab to the sandbox checkout, whose "Back to the shop" returns to the
// merchant's page with the outcome, where the widget resumes the call with
// the card paid. On a desktop screen the checkout opens in a new tab,
// whose way back also leads to the merchant's page, while the call goes
// on in the first tab and its card turns paid live.
func TestWidgetCheckoutReturn(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	hostLn, hostOrigin := listenHost(t)
	n := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.AllowedOrigins = hostOrigin }})
	serveHost(t, hostLn, n.URL()+"/widget.js")

	guide := launchChromium(t, "guide", chromium)
	shopper := launchChromium(t, "shopper", chromium)
	guideAvailable(t, guide, n)

	shopper.do(t, "phone-sized screen", browserStepTimeout, chromedp.EmulateViewport(390, 844))
	shopper.do(t, "open the merchant page", browserStepTimeout, chromedp.Navigate(hostOrigin+"/?p=scarf"))
	shopper.widgetVisible(t, "launcher shown", "#launcher")
	shopper.do(t, "open the widget", browserStepTimeout, chromedp.Click(widgetEl("#launcher")))
	shopper.do(t, "join audio only", browserStepTimeout, chromedp.Click(widgetEl("#join-audio")))
	guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	guide.do(t, "accept the offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "connected", browserConnectTimeout, guide, shopper, `window.guidecall.state() === "connected"`)
	callID := shopper.evalString(t, `JSON.parse(sessionStorage.getItem("guidecall:default")).callId`)

	sendLink := func(amount string) {
		t.Helper()
		guide.evalString(t, `for (const id of ["#pay-amount", "#pay-description"]) document.querySelector(id).value = ""; "cleared"`)
		guide.do(t, "send a payment link of "+amount, browserStepTimeout,
			chromedp.SendKeys(chromedp.CSS("#pay-amount"), amount),
			chromedp.SendKeys(chromedp.CSS("#pay-description"), "Silk scarf"),
			chromedp.Click(chromedp.CSS("#pay-send")))
		shopper.waitJS(t, "open payment card", browserStepTimeout,
			`!!guidecall.root.querySelector('.payment-card[data-status="open"] a.pay-button')`)
	}
	// backLink checks the checkout's way back: the merchant's page the
	// shopper joined from, with the link and the outcome.
	backLink := func(tab *chromeTab, outcome string) string {
		t.Helper()
		tab.waitJS(t, "way back shown", browserStepTimeout, `!!document.querySelector("#back")`)
		href := tab.evalString(t, `document.querySelector("#back").href`)
		u, err := url.Parse(href)
		if err != nil || hostOrigin != u.Scheme+"://"+u.Host || u.Path != "/" || u.Query().Get("p") != "scarf" ||
			u.Query().Get("payment") != outcome || !strings.HasPrefix(u.Query().Get("payment_link"), "pl_") {
			t.Fatalf("%s: way back %q: want the merchant's page %s/?p=scarf with payment=%s and the link", tab.name, href, hostOrigin, outcome)
		}
		return href
	}

	// Phone: the same tab goes to the checkout and comes back.
	sendLink("19.90")
	if target := shopper.evalString(t, `guidecall.root.querySelector('.payment-card[data-status="open"] a.pay-button').target`); target != "" {
		t.Fatalf("on a phone the pay button opens target %q, want this tab", target)
	}
	// A script's click: the page leaves under chromedp's own click, which
	// then waits for a node that is gone.
	shopper.evalString(t, `guidecall.root.querySelector('.payment-card[data-status="open"] a.pay-button').click(); "clicked"`)
	shopper.waitJS(t, "checkout in the same tab", browserStepTimeout,
		`location.pathname.startsWith("/pay/sandbox/") && !!document.querySelector("#pay")`)
	guide.waitJS(t, "the guide sees the shopper away", browserStepTimeout,
		`document.querySelector("#connection-status").textContent.includes("disconnected")`)
	backLink(shopper, "canceled")
	shopper.do(t, "pay", browserStepTimeout, chromedp.Click(chromedp.CSS("#pay")))
	shopper.waitJS(t, "paid page", browserStepTimeout, `(document.querySelector("#message")?.textContent || "").includes("payment received")`)
	backLink(shopper, "success")
	shopper.audit(t, axe, "checkout-paid-phone")
	returned := time.Now()
	shopper.evalString(t, `document.querySelector("#back").click(); "clicked"`)
	shopper.waitJS(t, "the call resumed on the merchant's page", browserConnectTimeout,
		`location.origin === "`+hostOrigin+`" && !!window.guidecall && window.guidecall.state() === "connected"`)
	t.Logf("back from the checkout to a connected call: %d ms", time.Since(returned).Milliseconds())
	if got := shopper.evalString(t, `JSON.parse(sessionStorage.getItem("guidecall:default")).callId`); got != callID {
		t.Fatalf("after the checkout the widget is in call %q, want the same %q", got, callID)
	}
	shopper.waitJS(t, "card paid after the return", browserStepTimeout,
		`!!guidecall.root.querySelector('.payment-card[data-status="paid"]')`)
	guide.waitJS(t, "guide connected again", browserConnectTimeout, `window.guidecall.state() === "connected"`)

	// Desktop: a new tab, the call stays in this one.
	shopper.do(t, "desktop-sized screen", browserStepTimeout, chromedp.EmulateViewport(1280, 800))
	sendLink("35.00")
	opened := chromedp.WaitNewTarget(shopper.ctx, func(info *target.Info) bool {
		return info.Type == "page" && strings.HasPrefix(info.URL, n.URL()+"/pay/sandbox/")
	})
	shopper.do(t, "pay from the card", browserStepTimeout, chromedp.Click(widgetEl(`.payment-card[data-status="open"] a.pay-button`)))
	var payTab *chromeTab
	select {
	case id, ok := <-opened:
		if !ok {
			t.Fatal("shopper: no checkout tab opened")
		}
		payTab = shopper.newTab(t, "checkout", chromedp.WithTargetID(id))
	case <-time.After(browserStepTimeout):
		t.Fatalf("shopper: the pay button opened no checkout tab within %v", browserStepTimeout)
	}
	payTab.waitJS(t, "checkout shown", browserStepTimeout, `!!document.querySelector("#pay")`)
	payTab.do(t, "pay", browserStepTimeout, chromedp.Click(chromedp.CSS("#pay")))
	payTab.waitJS(t, "paid page", browserStepTimeout, `(document.querySelector("#message")?.textContent || "").includes("payment received")`)
	backLink(payTab, "success")
	payTab.screenshots(t, "checkout-paid")
	payTab.audit(t, axe, "checkout-paid-desktop")
	shopper.waitJS(t, "both cards paid in the call's tab", browserStepTimeout,
		`guidecall.root.querySelectorAll('.payment-card[data-status="paid"]').length === 2 && guidecall.state() === "connected"`)
	// The shopper closes the checkout tab and is back in the call.
	shopper.do(t, "back to the call's tab", browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.BringToFront, cdp.Empty{})
		return err
	}))
	shopper.screenshots(t, "call-after-checkout")
}
