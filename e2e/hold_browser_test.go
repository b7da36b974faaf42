package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserHoldChatAcrossCalls: a guide holding two calls chats in each;
// every shopper sees its own chat only, the shopper in the background is
// told it is on hold (and can still write, which the guide reads on
// switching), and the notice moves with the guide's switch. axe-core
// audits the held widget; screenshots of it and of the console.
func TestBrowserHoldChatAcrossCalls(t *testing.T) {
	axe := findAxe(t)
	tc := startTwoCalls(t, "hold-chat@e2e.local")
	guide, first, second := tc.guide, tc.first, tc.second
	const (
		toSecond  = "Blue laces are in stock"
		fromSec   = "Great, two pairs please"
		fromFirst = "Are you still there?"
		toFirst   = "Back with you now, sorry"
	)
	guideLog := func(text string) string {
		return fmt.Sprintf(`document.querySelector("#guide-chat-log").textContent.includes(%q)`, text)
	}
	shopperLog := func(text string) string {
		return fmt.Sprintf(`guidecall.root.querySelector("#chat-log").textContent.includes(%q)`, text)
	}
	// The text goes in by script and the form is submitted as Enter would:
	// typing key by key takes longer than a step on a loaded machine.
	say := func(tab *chromeTab, what, form, text string) {
		if got := tab.evalString(t, fmt.Sprintf(`(() => {
			const f = %s, input = f.querySelector("input[type=text]");
			input.value = %q;
			f.requestSubmit();
			return "sent";
		})()`, form, text)); got != "sent" {
			t.Fatalf("%s: %s", what, got)
		}
	}
	guideSays := func(what, text string) { say(guide, what, `document.querySelector("#guide-chat-form")`, text) }
	shopperSays := func(tab *chromeTab, what, text string) {
		say(tab, what, `guidecall.root.querySelector("#chat-form")`, text)
	}

	// The second call is on screen: its chat goes to its shopper only.
	guideSays("chat in the second call", toSecond)
	second.waitJS(t, "second shopper reads the guide", browserStepTimeout, shopperLog(toSecond))
	shopperSays(second, "second shopper answers", fromSec)
	guide.waitJS(t, "guide reads the second shopper", browserStepTimeout, guideLog(fromSec))
	// The held shopper writes meanwhile; the console shows the call on screen only.
	shopperSays(first, "held shopper writes", fromFirst)
	first.waitJS(t, "held shopper's own message acknowledged", browserStepTimeout, shopperLog(fromFirst))
	first.waitJS(t, "held shopper still told it is on hold", browserStepTimeout, holdNoteShown)
	if ok, _ := guide.check(guideLog(fromFirst)); ok {
		t.Error("the held call's chat shows in the call on screen")
	}
	if ok, _ := first.check(shopperLog(toSecond)); ok {
		t.Error("the held shopper read the other call's chat")
	}
	first.widgetVisible(t, "hold notice visible", "#hold-note")
	shot(t, first, "hold-held-shopper")
	first.audit(t, axe, "held-shopper")
	shot(t, guide, "hold-guide-second-on-screen")

	// Switching: the first call comes back with what its shopper wrote,
	// its notice goes, and the second shopper is told instead.
	guide.do(t, "switch to the first call", browserStepTimeout,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#calls li[data-call-id=%q] button[data-action="switch"]`, tc.firstID))))
	waitHeld(t, guide, tc.secondID, tc.firstID)
	guide.waitJS(t, "the first call's chat on screen", browserStepTimeout, guideLog(fromFirst)+" && !"+guideLog(fromSec))
	// Its system lines came back with it, in order: joined, put on hold
	// when the second call came, off hold now.
	guide.waitJS(t, "the first call's system lines", browserStepTimeout,
		`[...document.querySelectorAll("#guide-chat-log li.chat-system")].map((li) => li.textContent).join(" | ") ===
			"The shopper joined the call. | You put the shopper on hold. | The shopper is off hold."`)
	first.waitJS(t, "first shopper's hold notice gone", browserStepTimeout, "!("+holdNoteShown+")")
	second.waitJS(t, "second shopper told it is on hold", browserStepTimeout, holdNoteShown)
	guideSays("chat in the first call", toFirst)
	first.waitJS(t, "first shopper reads the guide", browserStepTimeout, shopperLog(toFirst))
	guide.waitJS(t, "guide's own line acknowledged", browserStepTimeout, guideLog(toFirst))
	for _, c := range []struct {
		tab  *chromeTab
		name string
		not  []string
	}{{first, "first", []string{toSecond, fromSec}}, {second, "second", []string{fromFirst, toFirst}}} {
		for _, text := range c.not {
			if ok, _ := c.tab.check(shopperLog(text)); ok {
				t.Errorf("the %s shopper read %q of the other call", c.name, text)
			}
		}
	}
	shot(t, second, "hold-held-second-shopper")
	shot(t, guide, "hold-guide-first-on-screen", "#guide-chat-log")
}
