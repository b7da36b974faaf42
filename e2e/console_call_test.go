package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleInCall: the guide console in a call, as the guide sees
// it. The shopper's context panel (page, what it looks at, device) comes
// from the server; the shopper mutes and turns the camera off and the
// guide's tile says so in words; then the console is reloaded mid-call and
// comes back with the panel, the chat, the payment link and the media
// state all there. axe-core audits the console in the call.
func TestBrowserConsoleInCall(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	node := startNode(t, nodeOptions{})
	base := node.URL()
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
	// The shopper puts the shoe in its bag first: the page's setContext
	// cart, added up by the widget at join, is its value in the lobby.
	shopper.waitJS(t, "the widget loaded", browserStepTimeout, `!!window.guidecall && !!document.querySelector("#price").dataset.amount`)
	shopper.do(t, "add to bag", browserStepTimeout, chromedp.Click(chromedp.CSS("#add-to-bag")))
	shopper.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))
	guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	if offer := guide.text(t, "#offer-context"); !strings.Contains(offer, "desktop") {
		t.Errorf("offer %q does not name the shopper's device", offer)
	}
	guide.waitJS(t, "the cart value in the queue overview", browserStepTimeout,
		`(() => { const c = document.querySelector('#overview-queues tr[data-state="offered"] .overview-cart');
			return !!c && c.dataset.cartValue === "12900" && c.textContent === "€129.00"; })()`)
	shot(t, guide, "console-offer-queue-cart", "#overview-panel")
	guide.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "connected", browserConnectTimeout, guide, shopper, `window.guidecall.state() === "connected"`)

	// The context panel, from the server, with what the shop page shares.
	contextHas := func(what string, parts ...string) {
		t.Helper()
		var checks []string
		for _, p := range parts {
			checks = append(checks, `t.includes(`+jsString(p)+`)`)
		}
		guide.waitJS(t, what, browserStepTimeout, `(() => { const el = document.querySelector("#call-context");
			const t = el.textContent; return el.dataset.loaded === "true" && `+strings.Join(checks, " && ")+`; })()`)
	}
	contextHas("context panel filled", "Desktop", base+"/shop/", "Looking at", "Merino", "EUR")
	shot(t, guide, "guide-in-call-context", "#call-context")

	// The shopper mutes, then turns the camera off: the tile says so.
	shopper.do(t, "mute", browserStepTimeout, chromedp.Click(widgetEl("#mute")))
	guide.waitJS(t, "tile says muted", browserStepTimeout,
		`!document.querySelector("#peer-media").hidden && document.querySelector("#peer-media").textContent.trim() === "Shopper muted"`)
	shopper.do(t, "camera off", browserStepTimeout, chromedp.Click(widgetEl("#camera")))
	guide.waitJS(t, "tile says muted and camera off", browserStepTimeout,
		`document.querySelector("#peer-media").textContent.includes("Camera off") && document.querySelector("#peer-media").dataset.video === "false"`)
	shot(t, guide, "guide-shopper-muted-camera-off", "#peer-media")

	// Chat and a payment link, before the reload.
	shopper.do(t, "shopper chats", browserStepTimeout,
		chromedp.SendKeys(widgetEl("#chat-input"), "Does it run small?\n"))
	guide.waitJS(t, "chat reached the guide", browserStepTimeout,
		`document.querySelector("#guide-chat-log").textContent.includes("Does it run small?")`)
	guide.do(t, "send a payment link", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#pay-amount"), "49.99"),
		chromedp.SendKeys(chromedp.CSS("#pay-description"), "Merino sneaker"),
		chromedp.Click(chromedp.CSS("#pay-send")),
	)
	const openLink = `#payment-links li[data-link-id][data-status="open"]`
	guide.waitJS(t, "link listed", browserStepTimeout, `!!document.querySelector('`+openLink+`')`)
	// The link's amount is written in the console's language (after a
	// switch below, in that one), not in the browser's.
	linkAmountIn := func(lang string) string {
		return `document.querySelector('` + openLink + ` > strong').textContent === new Intl.NumberFormat(` + jsString(lang) + `, { style: "currency", currency: "EUR" }).format("49.99")`
	}
	guide.waitJS(t, "link amount in English", browserStepTimeout, linkAmountIn("en"))
	guide.auditSizes(t, axe, "console in a call")

	// On a phone (390x844) the payment form is reachable with the video
	// still in view: scrolled to the send button, the video is on screen
	// and covers neither the amount nor the button.
	guide.do(t, "phone size", browserStepTimeout, chromedp.EmulateViewport(390, 844))
	guide.waitJS(t, "payment form reachable beside the video", browserStepTimeout, `(() => {
		document.querySelector("#pay-send").scrollIntoView({ block: "end" });
		const v = document.querySelector("#remote-video").getBoundingClientRect();
		const inView = (r) => r.top >= -1 && r.bottom <= innerHeight + 1 && r.height > 0;
		const on = (sel) => { const r = document.querySelector(sel).getBoundingClientRect();
			return inView(r) && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)?.closest(sel); };
		return inView(v) && v.height >= 150 && !!on("#pay-send") && !!on("#pay-amount");
	})()`)
	shot(t, guide, "guide-phone-in-call", "#pay-amount")
	guide.do(t, "desktop size", browserStepTimeout, chromedp.EmulateViewport(1280, 800))
	callID := guide.evalString(t, `window.guidecall.callId()`)

	// The reload: everything of the call in progress comes back.
	guide.do(t, "reload the console", browserStepTimeout, chromedp.Reload())
	guide.waitJS(t, "back in the call", browserConnectTimeout,
		`window.guidecall && window.guidecall.callId() === `+jsString(callID)+` && window.guidecall.state() === "connected"`)
	contextHas("context panel back", "Desktop", base+"/shop/", "Looking at", "Merino", "EUR")
	guide.waitJS(t, "chat back", browserStepTimeout,
		`document.querySelector("#guide-chat-log").textContent.includes("Does it run small?")`)
	guide.waitJS(t, "link back", browserStepTimeout,
		`!!document.querySelector('`+openLink+`') && document.querySelector('`+openLink+`').textContent.includes("Merino sneaker")`)
	guide.waitJS(t, "media state back", browserStepTimeout,
		`document.querySelector("#peer-media").textContent.includes("Shopper muted") && document.querySelector("#peer-media").textContent.includes("Camera off")`)
	if cur := guide.value(t, "#pay-currency"); cur != "EUR" {
		t.Errorf("after the reload #pay-currency is %q, want the shopper's EUR", cur)
	}
	shot(t, guide, "guide-reloaded-mid-call", "#call-context")
	guide.auditSizes(t, axe, "console reloaded in a call")

	// The shopper turns the microphone back on: the tile follows.
	shopper.do(t, "unmute", browserStepTimeout, chromedp.Click(widgetEl("#mute")))
	guide.waitJS(t, "tile says camera off only", browserStepTimeout,
		`document.querySelector("#peer-media").textContent.trim() === "Camera off"`)

	// Mid-call the guide mutes and switches the console to German: what
	// code drew in English (the Mute label, the cart line, the chat
	// speaker, the link's status and refund form, the system line the
	// reload left in the chat, the transfer picker) follows at once.
	guide.do(t, "guide mutes", browserStepTimeout, chromedp.Click(chromedp.CSS("#mute")))
	guide.waitJS(t, "mute button says Unmute", browserStepTimeout, `document.querySelector("#mute").textContent === "Unmute"`)
	const backLine = `document.querySelector('#guide-chat-log li.chat-system[data-key="chat.sys.back"]')`
	guide.waitJS(t, "the reload's system line in English", browserStepTimeout,
		backLine+`?.textContent === "You are back in the call after a reload."`)
	guide.do(t, "open the transfer picker", browserStepTimeout, chromedp.Click(chromedp.CSS("#transfer-details summary")))
	guide.waitJS(t, "transfer targets listed in English", browserStepTimeout, `(() => { const s = document.querySelector("#transfer-target");
		return s.options[0]?.textContent === "Choose a colleague or a queue" && [...s.querySelectorAll("optgroup")].some((g) => g.label === "Queues"); })()`)
	guide.do(t, "choose German", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "de"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "in-call text in German", browserStepTimeout, `document.documentElement.lang === "de" &&
		document.querySelector("#mute").textContent === "Ton an" && document.querySelector("#camera").textContent === "Kamera aus" &&
		document.querySelector("#shopper-cart").textContent.includes("Warenkorb") &&
		document.querySelector("#guide-chat-log .from-shopper strong").textContent === "Kunde:" &&
		document.querySelector('`+openLink+` .badge').textContent === "offen" &&
		`+linkAmountIn("de")+` && document.querySelector('`+openLink+` > strong').textContent.startsWith("49,99") &&
		`+backLine+`.textContent === "Sie sind nach dem Neuladen wieder im Anruf." &&
		document.querySelector("#transfer-target").options[0].textContent === "Kollegen oder Warteschlange wählen" &&
		[...document.querySelectorAll("#transfer-target optgroup")].some((g) => g.label === "Warteschlangen") &&
		document.querySelector("#transfer-details summary").textContent === "Kunden übergeben" &&
		(document.querySelector("#notify-hint").hidden || !document.querySelector("#notify-hint").textContent.startsWith("Desktop notifications"))`)
	shot(t, guide, "guide-in-call-de", "#call-view")
	shot(t, guide, "guide-in-call-de-chat", "#guide-chat-log")
	guide.auditSizes(t, axe, "console in a call, in German")

	// And in Arabic, right to left: the same system line and the picker.
	guide.do(t, "choose Arabic", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "ar"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "in-call text in Arabic", browserStepTimeout, `document.documentElement.dir === "rtl" &&
		`+backLine+`.textContent === "عدت إلى المكالمة بعد إعادة التحميل." && `+linkAmountIn("ar")+` &&
		[...document.querySelectorAll("#transfer-target optgroup")].some((g) => g.label !== "Queues" && g.label !== "Warteschlangen" && g.label !== "")`)
	shot(t, guide, "guide-in-call-ar", "#call-view")
	shot(t, guide, "guide-in-call-ar-chat", "#guide-chat-log")
	guide.auditSizes(t, axe, "console in a call, in Arabic")
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
