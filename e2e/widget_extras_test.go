package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/queue"
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

// TestBrowserAvailabilityForTheShopper: the widget's status check carries
// the skill and second language the join would, so what it shows before a
// call is about the guides who could take this shopper. The only guide
// online speaks German and knows running; the default queue accepts a
// second language after 30 s. An English-speaking shopper (the browser's
// locale) is told nobody can help, unless its page says it also speaks
// German: then it gets a wait of at least 30 s. A skill the guide lacks
// is nobody again.
func TestBrowserAvailabilityForTheShopper(t *testing.T) {
	chromium := findChromium(t)
	node := startNode(t, nodeOptions{})
	ctx := context.Background()
	base := node.URL()
	if _, err := node.Queue.UpdateQueue(ctx, queue.DefaultQueue, func(q *queue.Queue) error {
		q.Relax = []queue.RelaxStep{{AfterSeconds: 30, Action: queue.RelaxSecondLanguage}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	acc, err := node.Auth.Account(ctx, node.guideEmail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Queue.SetProfile(ctx, acc.ID, queue.Profile{Queues: []string{queue.DefaultQueue}, Languages: []string{"de"}, Skills: []string{"running"}}); err != nil {
		t.Fatal(err)
	}
	guide := dialWS(t, "guide", wsURLOf(endpoint{url: base}), login(t, base, node.guideEmail, node.guidePassword))
	if err := guide.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"}); err != nil {
		t.Fatal(err)
	}
	guide.Await(protocol.TypePresence, "")
	waitAvailable(t, node, node.guideEmail)

	shopper := launchChromium(t, "shopper", chromium)
	for _, tc := range []struct {
		query   string
		minETA  int // -1: no estimate
		noGuide bool
	}{
		{"skill=running", -1, true},
		{"skill=running&second_language=de", 30, false},
		{"skill=hiking&second_language=de", -1, true},
	} {
		shopper.do(t, "open the shop page with "+tc.query, browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR&"+tc.query))
		shopper.waitJS(t, "status read for "+tc.query, browserStepTimeout,
			`(() => { const n = window.guidecall?.root?.querySelector("#availability"); return !!n && !!n.dataset.eta; })()`)
		eta := shopper.evalString(t, `guidecall.root.querySelector("#availability").dataset.eta`)
		shown, _ := shopper.check(`!guidecall.root.querySelector("#availability").hidden`)
		switch n, err := strconv.Atoi(eta); {
		case tc.minETA < 0 && eta != "none":
			t.Errorf("%s: estimate %q, want none", tc.query, eta)
		case tc.minETA >= 0 && (err != nil || n < tc.minETA):
			t.Errorf("%s: estimate %q, want at least %d s", tc.query, eta, tc.minETA)
		case shown != tc.noGuide:
			t.Errorf("%s: the no-guide note shown %v, want %v", tc.query, shown, tc.noGuide)
		}
	}
}
