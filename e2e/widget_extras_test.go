package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/config"
	"guidecall/protocol"
)

// TestBrowserWidgetForwardsShopperContext: the shop widget forwards what
// its host page says about the shopper: the skill from the page address,
// the second language and a merchant-signed customer token from the page's
// config. The guide's offer carries the skill and the token's priority,
// and the entry the second language.
func TestBrowserWidgetForwardsShopperContext(t *testing.T) {
	chromium := findChromium(t)
	const secret = "merchant identity secret for the widget e2e"
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.CustomerTokenSecret = secret }})
	base := node.URL()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "cust-7", "tier": "gold", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}

	guide := dialWS(t, "guide", wsURLOf(endpoint{url: base}), login(t, base, node.guideEmail, node.guidePassword))
	if err := guide.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"}); err != nil {
		t.Fatal(err)
	}
	guide.Await(protocol.TypePresence, "")

	shopper := launchChromium(t, "shopper", chromium)
	shopper.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR&skill=running"))
	if _, err := shopper.check(`(window.guidecallConfig = {secondLanguage: "de", customerToken: "` + token + `"}, true)`); err != nil {
		t.Fatal(err)
	}
	shopper.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))

	var o protocol.Offer
	guide.AwaitInto(protocol.TypeOffer, "", &o)
	if o.Shopper.Skill != "running" || o.Shopper.Priority != 20 {
		t.Errorf("offer: skill %q, priority %d; want running, 20 (gold)", o.Shopper.Skill, o.Shopper.Priority)
	}
	e, err := node.Queue.Entry(context.Background(), o.EntryID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Language2 != "de" || e.CustomerID != "cust-7" || e.Skill != "running" {
		t.Errorf("entry: second language %q, customer %q, skill %q; want de, cust-7, running", e.Language2, e.CustomerID, e.Skill)
	}
}
