package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"guidecall/internal/config"
)

// focusedJS is the element that has the keyboard focus, inside the
// widget's shadow root when the focus is there, with whether the focus is
// visible on it (its outline, or its label's for the rating's radios).
const focusedJS = `(() => {
	let el = document.activeElement;
	if (window.guidecall && guidecall.root && guidecall.root.activeElement) el = guidecall.root.activeElement;
	if (!el || el === document.body) return "body:";
	const shown = (x) => { const s = getComputedStyle(x); return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0; };
	const visible = shown(el) || (el.type === "radio" && el.nextElementSibling && shown(el.nextElementSibling));
	return (el.id || el.tagName) + ":" + (visible ? "visible" : "hidden");
})()`

// keyboardTab drives the page with the keyboard alone.
type keyboardTab struct {
	*chromeTab
	presses int
}

func (k *keyboardTab) press(t *testing.T, key string) {
	t.Helper()
	k.presses++
	k.do(t, fmt.Sprintf("press %q", key), browserStepTimeout, chromedp.KeyEvent(key))
}

func (k *keyboardTab) focused(t *testing.T) (id string, visible bool) {
	t.Helper()
	id, state, _ := strings.Cut(k.evalString(t, focusedJS), ":")
	return id, state == "visible"
}

// tabTo presses Tab until the element with id has the focus, each stop
// with a visible focus, in at most max presses.
func (k *keyboardTab) tabTo(t *testing.T, id string, max int) {
	t.Helper()
	if got, _ := k.focused(t); got == id {
		return
	}
	var path []string
	for range max {
		k.press(t, kb.Tab)
		got, visible := k.focused(t)
		path = append(path, got)
		if !visible {
			t.Errorf("Tab stopped on %s with no visible focus (path %s)", got, strings.Join(path, " → "))
		}
		if got == id {
			return
		}
	}
	t.Fatalf("no #%s after %d presses of Tab: %s", id, max, strings.Join(path, " → "))
}

func (k *keyboardTab) wantFocus(t *testing.T, what string, ids ...string) {
	t.Helper()
	got, visible := k.focused(t)
	for _, id := range ids {
		if got == id {
			if !visible {
				t.Errorf("%s: focus on %s is not visible", what, got)
			}
			return
		}
	}
	t.Errorf("%s: focus is on %s, want one of %v", what, got, ids)
}

// TestWidgetKeyboardOnly walks the widget on a merchant page with the
// keyboard alone: Tab to the launcher, Enter to open, Escape to close
// (focus back on the launcher), Tab and Enter through the pre-call choice,
// the wait, a chat message, Escape to minimise and Enter to restore, the
// hang-up, the rating (its radio group with the arrow keys, as radio
// groups are), and Continue shopping, which gives the focus back. Every
// stop of Tab shows where the focus is. The panel is a non-modal dialog
// (the page stays usable beside it), so Tab may leave it for the page;
// what must not happen is the focus falling to the page's body when a view
// of the panel changes under it.
func TestWidgetKeyboardOnly(t *testing.T) {
	chromium := findChromium(t)
	hostLn, hostOrigin := listenHost(t)
	n := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.AllowedOrigins = hostOrigin }})
	serveHost(t, hostLn, n.URL()+"/widget.js")
	guide := launchChromium(t, "guide", chromium)
	shopper := &keyboardTab{chromeTab: launchChromium(t, "shopper", chromium)}
	guideAvailable(t, guide, n)

	shopper.do(t, "open the merchant page", browserStepTimeout, chromedp.Navigate(hostOrigin+"/"))
	shopper.widgetVisible(t, "launcher shown", "#launcher")
	shopper.tabTo(t, "launcher", 4)
	shopper.press(t, kb.Enter)
	shopper.widgetVisible(t, "pre-call choices", "#join-audio")
	shopper.wantFocus(t, "panel opened", "shopper-name", "preview-toggle", "join-video")
	shopper.press(t, kb.Escape)
	shopper.waitJS(t, "panel closed by Escape", browserStepTimeout, `guidecall.root.querySelector("#call-widget").hidden`)
	shopper.wantFocus(t, "panel closed", "launcher")

	shopper.press(t, kb.Enter)
	shopper.widgetVisible(t, "pre-call choices again", "#join-audio")
	shopper.tabTo(t, "join-audio", 12)
	shopper.press(t, kb.Enter)
	shopper.widgetVisible(t, "waiting in line", "#queue-view")
	shopper.wantFocus(t, "waiting", "cancel-queue", "minimise", "close-widget", "call-widget", "widget-title")

	guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	guide.do(t, "accept the offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "connected", browserConnectTimeout, guide, shopper.chromeTab, `window.guidecall.state() === "connected"`)
	shopper.wantFocus(t, "call started", "mute", "camera", "end-call", "minimise")
	callID := shopper.evalString(t, `JSON.parse(sessionStorage.getItem("guidecall:default")).callId`)

	shopper.tabTo(t, "chat-input", 12)
	shopper.do(t, "type a message", browserStepTimeout, chromedp.KeyEvent("Hello by keyboard"))
	shopper.press(t, kb.Enter)
	guide.waitJS(t, "the message at the guide", browserStepTimeout,
		`document.querySelector("#guide-chat-log").textContent.includes("Hello by keyboard")`)

	shopper.press(t, kb.Escape)
	shopper.waitJS(t, "minimised by Escape", browserStepTimeout, `guidecall.root.querySelector("#gc").classList.contains("minimised")`)
	shopper.wantFocus(t, "minimised", "restore")
	shopper.press(t, kb.Enter)
	shopper.waitJS(t, "restored by Enter", browserStepTimeout, `!guidecall.root.querySelector("#gc").classList.contains("minimised")`)
	shopper.wantFocus(t, "restored", "mute", "camera", "end-call", "chat-input", "minimise")

	shopper.tabTo(t, "end-call", 12)
	shopper.press(t, kb.Enter)
	waitBothTabs(t, "ended", browserStepTimeout, guide, shopper.chromeTab, `window.guidecall.state() === "ended"`)
	shopper.widgetVisible(t, "rating offered", "#rating-form")
	shopper.wantFocus(t, "call ended", "rate-1", "rating-comment", "call-again", "ended-message")

	shopper.tabTo(t, "rate-1", 6)
	for range 3 {
		shopper.press(t, kb.ArrowRight)
	}
	shopper.wantFocus(t, "rating picked", "rate-4")
	shopper.tabTo(t, "rating-comment", 3)
	shopper.do(t, "type a comment", browserStepTimeout, chromedp.KeyEvent("Easy by keyboard"))
	shopper.tabTo(t, "rating-submit", 3)
	shopper.press(t, kb.Enter)
	shopper.widgetVisible(t, "thanks for the rating", "#rating-done")
	shopper.wantFocus(t, "rating sent", "rating-done", "call-again", "continue-shopping")
	if c, err := n.Queue.CallRecord(t.Context(), callID); err != nil || c.Rating != 4 || c.RatingComment != "Easy by keyboard" {
		t.Errorf("stored rating %d %q, %v; want 4 and the comment", c.Rating, c.RatingComment, err)
	}

	shopper.tabTo(t, "continue-shopping", 4)
	shopper.press(t, kb.Enter)
	shopper.waitJS(t, "panel closed", browserStepTimeout, `guidecall.root.querySelector("#call-widget").hidden`)
	shopper.wantFocus(t, "panel closed after the call", "launcher")
	t.Logf("the whole walk took %d key presses (Tab, Enter, Escape, arrows in the rating; typing not counted)", shopper.presses)
}
