package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/catalog"
	"guidecall/protocol"
)

// TestBrowserConsoleProductFeed: an admin imports the product feed through
// the admin API; the guide, in a call, searches it in the console and
// shows a result with one click, and the shopper's widget gets the card
// with the feed's name, variant and price; the payment form fills from it
// and its link reaches the shopper. The card form is then filled
// from the demo product page's Open Graph tags, fetched by the node, and
// the shop's saved reply (added by the admin) is inserted and sent.
func TestBrowserConsoleProductFeed(t *testing.T) {
	chromium := findChromium(t)
	node := startNode(t, nodeOptions{})
	base := node.URL()
	const adminEmail, adminPassword = "feed-admin@e2e.local", "feed admin secret 12"
	if _, err := node.Auth.AddAccount(context.Background(), adminEmail, "Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	feed := []catalog.Product{
		{ProductID: "trail-1", Name: "Trail runner", Variant: "Blue, EU 43", Price: 15900, Currency: "EUR", URL: base + "/shop/"},
		{ProductID: "socks", Name: "Wool socks", Price: 1500, Currency: "EUR"},
	}
	var imported struct {
		Products int `json:"products"`
	}
	adminToken := login(t, base, adminEmail, adminPassword)
	api(t, http.MethodPut, base+"/api/v1/admin/products", adminToken, feed, &imported, http.StatusOK)
	const sizing = "This model runs small: take one size up."
	api(t, http.MethodPost, base+"/api/v1/admin/replies", adminToken, map[string]string{"title": "Sizing", "text": sizing}, nil, http.StatusCreated)
	if imported.Products != 2 {
		t.Fatalf("imported %d products, want 2", imported.Products)
	}

	guide := launchChromium(t, "guide", chromium)
	shopper := launchChromium(t, "shopper", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
			shopper.dump(t)
		}
	})
	guideAvailable(t, guide, node)
	waitAvailable(t, node, node.guideEmail)
	shopper.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR"))
	shopper.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))
	guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	guide.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "connected", browserConnectTimeout, guide, shopper, `window.guidecall.state() === "connected"`)

	guide.do(t, "search the feed", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#product-search"), "trail"),
		chromedp.Click(chromedp.CSS("#product-search-send")),
	)
	const result = `#product-results li[data-product-id="trail-1"] button`
	guide.waitJS(t, "the feed's product found", browserStepTimeout, `!!document.querySelector('`+result+`')`)
	if n := guide.evalString(t, `String(document.querySelectorAll("#product-results li").length)`); n != "1" {
		t.Errorf("%s results for trail, want 1", n)
	}
	shot(t, guide, "guide-product-search", "#product-results")
	guide.do(t, "show it", browserStepTimeout, chromedp.Click(chromedp.CSS(result)))
	shopper.waitJS(t, "the card reached the shopper", browserStepTimeout,
		`[...guidecall.root.querySelectorAll(".product-card")].some((c) => c.textContent.includes("Trail runner") && c.textContent.includes("Blue, EU 43") && c.textContent.includes("159.00"))`)
	guide.waitJS(t, "listed as shown", browserStepTimeout,
		`document.querySelector("#shared-products").textContent.includes("Trail runner")`)
	guide.waitJS(t, "a system line in the chat says so", browserStepTimeout,
		`document.querySelector('#guide-chat-log li.chat-system[data-key="chat.sys.product"]')?.textContent === "You showed Trail runner (Blue, EU 43), €159.00."`)
	shot(t, guide, "guide-product-pushed", "#guide-chat-log")

	// The payment form fills from the product shown (the cart is empty).
	guide.do(t, "fill the payment form", browserStepTimeout, chromedp.Click(chromedp.CSS("#pay-prefill")))
	if amount, desc := guide.value(t, "#pay-amount"), guide.value(t, "#pay-description"); amount != "159.00" || desc != "Trail runner (Blue, EU 43)" {
		t.Fatalf("prefilled %q, %q; want 159.00 and the product", amount, desc)
	}
	guide.do(t, "send the link", browserStepTimeout, chromedp.Click(chromedp.CSS("#pay-send")))
	shopper.waitJS(t, "the link reached the shopper", browserStepTimeout,
		`[...guidecall.root.querySelectorAll('.payment-card[data-status="open"]')].some((c) => c.textContent.includes("159.00") && c.textContent.includes("Trail runner"))`)

	// The shop's saved reply, picked and sent.
	guide.waitJS(t, "saved replies loaded", browserStepTimeout,
		`[...document.querySelectorAll("#reply-picker option")].some((o) => o.textContent === "Sizing")`)
	if ok, err := guide.check(`(() => { const s = document.querySelector("#reply-picker"); s.value = [...s.options].find((o) => o.textContent === "Sizing").value; return s.value !== ""; })()`); !ok || err != nil {
		t.Fatalf("pick the saved reply: %v, %v", ok, err)
	}
	guide.do(t, "insert the saved reply", browserStepTimeout, chromedp.Click(chromedp.CSS("#reply-insert")))
	if got := guide.value(t, "#guide-chat-input"); got != sizing {
		t.Fatalf("message box %q after Insert, want the reply", got)
	}
	// The form's Send button, as the guide does (chromedp.Submit would call
	// form.submit(), which skips the page's submit handler and navigates).
	guide.do(t, "send it", browserStepTimeout, chromedp.Click(chromedp.CSS("#guide-chat-form button[type=submit]")))
	shopper.waitJS(t, "the reply reached the shopper", browserStepTimeout,
		`guidecall.root.querySelector("#chat-log").textContent.includes(`+jsString(sizing)+`)`)

	// A product page's Open Graph data fills the card form.
	guide.do(t, "fill from the demo page", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#product-preview-url"), base+"/shop/"),
		chromedp.Click(chromedp.CSS("#product-preview")),
	)
	guide.waitJS(t, "form filled from Open Graph", browserStepTimeout,
		`document.querySelector("#product-name").value === "Merino wool sneaker" && document.querySelector("#product-price").value === "129.00"`)
	if id := guide.value(t, "#product-id"); !strings.Contains(id, "merino-sneaker") {
		t.Errorf("product id %q, want the page's merino-sneaker", id)
	}
}
