package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"guidecall/protocol"
	"guidecall/queue"
)

// TestBrowserGuideHoldsTwoCalls drives the guide console of a guide of
// capacity 2 in headless Chromium with two shoppers (two tabs of another
// Chromium): the guide accepts a second shopper during the first call,
// both calls connect, the console lists both, keeps each call's payment
// links to itself when the guide switches, and ends one call from the list
// while the other goes on.
func TestBrowserGuideHoldsTwoCalls(t *testing.T) {
	tc := startTwoCalls(t, "two-calls@e2e.local")
	node, guide, first, second, firstID, secondID, acc := tc.node, tc.guide, tc.first, tc.second, tc.firstID, tc.secondID, tc.guideID
	ctx := context.Background()

	// A payment link in the second call stays with it.
	guide.do(t, "send a link in the second call", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#pay-amount"), "12.50"),
		chromedp.SendKeys(chromedp.CSS("#pay-description"), "Laces"),
		chromedp.Click(chromedp.CSS("#pay-send")),
	)
	guide.waitJS(t, "link listed", browserStepTimeout, `document.querySelectorAll("#payment-links li[data-link-id]").length === 1`)
	second.waitJS(t, "second shopper gets the link", browserStepTimeout, `!!guidecall.root.querySelector('.payment-card[data-link-id]')`)
	shot(t, guide, "guide-two-calls")
	guide.do(t, "switch to the first call", browserStepTimeout,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#calls li[data-call-id=%q] button[data-action="switch"]`, firstID))))
	guide.waitJS(t, "first call on screen without the second's link", browserStepTimeout,
		fmt.Sprintf(`window.guidecall.calls().find((c) => c.active).call_id === %q && document.querySelectorAll("#payment-links li").length === 0`, firstID))
	if ok, _ := first.check(`!!guidecall.root.querySelector('.payment-card[data-link-id]')`); ok {
		t.Error("the first shopper got the second call's payment link")
	}
	waitHeld(t, guide, secondID, firstID)
	first.waitJS(t, "first shopper's hold notice gone", browserStepTimeout, "!("+holdNoteShown+")")
	second.waitJS(t, "second shopper told it is on hold", browserStepTimeout, holdNoteShown)
	guide.do(t, "switch back", browserStepTimeout,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#calls li[data-call-id=%q] button[data-action="switch"]`, secondID))))
	guide.waitJS(t, "second call's link back", browserStepTimeout, `document.querySelectorAll("#payment-links li[data-link-id]").length === 1`)

	// Ending the first call from the list leaves the second one going.
	guide.do(t, "end the first call from the list", browserStepTimeout,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#calls li[data-call-id=%q] button[data-action="end"]`, firstID))))
	first.waitJS(t, "first shopper's call ended", browserStepTimeout, `window.guidecall.state() === "ended"`)
	guide.waitJS(t, "first ended, second still on", browserStepTimeout,
		fmt.Sprintf(`(() => { const c = window.guidecall.calls(); const a = c.find((x) => x.call_id === %q), b = c.find((x) => x.call_id === %q); return a.state === "ended" && b.state === "connected" && b.active; })()`, firstID, secondID))
	if st := second.evalString(t, `window.guidecall.state()`); st != "connected" {
		t.Errorf("second shopper's call is %q after the first call ended, want connected", st)
	}
	g, err := node.Queue.Guide(ctx, acc)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.CallIDs) != 1 || g.CallIDs[0] != secondID {
		t.Errorf("server says the guide holds %q, want [%s]", g.CallIDs, secondID)
	}
}

// twoCalls is a guide of capacity 2 in headless Chromium holding two
// connected calls with two shoppers (two tabs of another Chromium), the
// second on screen.
type twoCalls struct {
	node                 *node
	guide, first, second *chromeTab
	firstID, secondID    string
	guideID              string
}

// startTwoCalls signs the guide of email in, takes a first shopper's call
// and, during it, a second one, and checks the first is then on hold.
func startTwoCalls(t *testing.T, email string) twoCalls {
	t.Helper()
	chromium := findChromium(t)
	node := startNode(t, nodeOptions{})
	base := node.URL()
	ctx := context.Background()
	const password = "correct horse battery"
	acc, err := node.Auth.AddAccount(ctx, email, "Tess Two", password, protocol.RoleGuide)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Queue.SetProfile(ctx, acc.ID, queue.Profile{Queues: []string{"default"}, Capacity: 2}); err != nil {
		t.Fatal(err)
	}

	guide := launchChromium(t, "guide", chromium)
	shoppers := launchChromium(t, "shoppers", chromium)
	first := shoppers
	second := shoppers.newTab(t, "second")
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
			first.dump(t)
		}
	})

	guide.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(base+"/guide/"))
	guide.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	guide.waitJS(t, "console shown", browserStepTimeout, `!document.querySelector("#console-view").hidden`)
	guide.waitJS(t, "capacity shown", browserStepTimeout, `!document.querySelector("#capacity-note").hidden`)
	guide.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	guide.waitText(t, "#presence-status", "available", browserStepTimeout)
	waitAvailable(t, node, email)

	first.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR"))
	first.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	first.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))
	guide.waitJS(t, "first offer shown", browserStepTimeout, `window.guidecall.offers().length === 1 && !document.querySelector("#offer").hidden`)
	guide.do(t, "accept the first offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	waitBothTabs(t, "first call connected", browserConnectTimeout, guide, first,
		`window.guidecall.state() === "connected"`)
	firstID := guide.evalString(t, `window.guidecall.calls()[0].call_id`)

	// A second shopper while the guide is in the first call.
	second.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR"))
	second.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	second.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))
	guide.waitJS(t, "second offer shown during the call", browserStepTimeout,
		`window.guidecall.offers().length === 1 && !document.querySelector("#offer").hidden && `+
			`document.querySelector("#offer-title").textContent.includes("in a call")`)
	shot(t, guide, "guide-offer-during-call")
	guide.do(t, "accept the second offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	guide.waitJS(t, "two calls, the second on screen", browserConnectTimeout,
		`(() => { const c = window.guidecall.calls(); return c.length === 2 && c[1].active && c[1].state === "connected" && c[0].state === "connected"; })()`)
	second.waitJS(t, "second shopper connected", browserConnectTimeout, `window.guidecall.state() === "connected"`)
	secondID := guide.evalString(t, `window.guidecall.calls()[1].call_id`)
	guide.waitJS(t, "both calls listed", browserStepTimeout,
		`!document.querySelector("#calls-panel").hidden && document.querySelectorAll("#calls li").length === 2`)
	// The first call is on hold: its senders send nothing, its shopper's
	// media is not played, and its shopper is told.
	waitHeld(t, guide, firstID, secondID)
	first.waitJS(t, "first shopper told it is on hold", browserStepTimeout, holdNoteShown)
	if ok, _ := second.check(holdNoteShown); ok {
		t.Error("the shopper on screen is told it is on hold")
	}

	return twoCalls{node: node, guide: guide, first: first, second: second, firstID: firstID, secondID: secondID, guideID: acc.ID}
}

// holdNoteShown is true in a shopper's tab while its widget says the guide
// put the call on hold.
const holdNoteShown = `(() => { const n = guidecall.root.querySelector("#hold-note"); return !!n && !n.hidden && n.textContent.length > 0; })()`

// waitHeld waits until the guide's console holds call held and has call
// active on screen: the held call's senders carry no enabled track and its
// shopper's tracks are disabled, the active one sends audio and video.
func waitHeld(t *testing.T, guide *chromeTab, held, active string) {
	t.Helper()
	guide.waitJS(t, "call "+held+" on hold, "+active+" on screen", browserStepTimeout, fmt.Sprintf(`(() => {
		const c = window.guidecall.calls(), h = c.find((x) => x.call_id === %q), a = c.find((x) => x.call_id === %q);
		return h && a && h.on_hold && !h.active && h.sending.length === 0 && h.playing.length === 0 &&
			!a.on_hold && a.active && a.sending.join() === "audio,video" && a.playing.length > 0;
	})()`, held, active))
}

// shot saves the tab at desktop and phone sizes in the run's screenshot
// folder (screenshotDir), for a person to look at: the top of the page, or
// the element of the selector given scrolled into view.
func shot(t *testing.T, tab *chromeTab, name string, focus ...string) {
	t.Helper()
	dir := screenshotDir(t)
	if _, err := tab.check(`window.scrollTo(0, 0) || true`); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		label string
		w, h  int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		ctx, cancel := context.WithTimeout(tab.ctx, browserStepTimeout)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
			cancel()
			t.Fatalf("viewport: %v", err)
		}
		if len(focus) > 0 {
			if _, err := tab.check(`document.querySelector(` + strconv.Quote(focus[0]) + `).scrollIntoView({block: "center"}) || true`); err != nil {
				cancel()
				t.Fatal(err)
			}
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(tab.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
}

// waitAvailable waits until the server has the guide of that email
// available: the console shows the new presence before the server took it,
// and a shopper or colleague acting before then would see nobody.
func waitAvailable(t *testing.T, n *node, email string) {
	t.Helper()
	ctx := context.Background()
	acc, err := n.Auth.Account(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(browserStepTimeout)
	for {
		g, err := n.Queue.Guide(ctx, acc.ID)
		if err == nil && g.Presence() == queue.PresenceAvailable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("guide %s not available on the server after %v: %+v, %v", email, browserStepTimeout, g, err)
		}
		time.Sleep(browserPollEvery)
	}
}
