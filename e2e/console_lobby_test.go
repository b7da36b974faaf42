package e2e

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"guidecall/queue"
)

// observeAlerts records, without changing them, the notifications the page
// shows and the tones it starts (the AudioContext's state with each, since a
// suspended context plays nothing).
const observeAlerts = `(() => {
  const seen = { notifications: [], tones: [] };
  window.alertsSeen = seen;
  const Real = window.Notification;
  if (Real) {
    window.Notification = class extends Real {
      constructor(title, opts) {
        super(title, opts);
        seen.notifications.push({ title, body: (opts && opts.body) || "", hidden: document.visibilityState === "hidden" });
      }
    };
  }
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    seen.tones.push({ state: this.context.state, freq: this.frequency.value });
    return start.apply(this, args);
  };
})();`

// setWindow minimizes the tab's window (the page becomes hidden, as
// behind a shop's till) or brings it back.
func (b *chromeTab) setWindow(t *testing.T, state browser.WindowState) {
	t.Helper()
	b.do(t, "window "+string(state), browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		w, err := cdp.Call(ctx, tg, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tg, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}})
		return err
	}))
}

// TestBrowserOfferAlertsAndPresence drives the console outside a call: with
// notifications granted and the tab behind another, an offer shows a desktop
// notification and plays its chime; offers left unanswered set the guide
// away, and the console says why with one click back; a call shows the
// guide busy, its end a wrap-up counting down, and an offer after the guide
// ends the wrap-up early takes the screen from the notes, which come back
// once the offer is gone. The sound setting outlives a reload.
func TestBrowserOfferAlertsAndPresence(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	node := startNode(t, nodeOptions{})
	base := node.URL()
	ctx := context.Background()
	// Short offers, so that two misses come quickly.
	if _, err := node.Queue.UpdateQueue(ctx, queue.DefaultQueue, func(q *queue.Queue) error {
		q.OfferTimeoutSeconds = 2
		q.WrapUpSeconds = 90
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	guide := launchChromium(t, "guide", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
		}
	})
	guide.do(t, "grant notifications and observe alerts", browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: string(browser.PermissionTypeNotifications)}, Setting: browser.PermissionSettingGranted, Origin: base,
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: observeAlerts})
		return err
	}))
	guide.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(base+"/guide/"))
	guide.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), node.guideEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), node.guidePassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	guide.waitJS(t, "console shown", browserStepTimeout, `!document.querySelector("#console-view").hidden`)
	if ok, _ := guide.check(`Notification.permission === "granted" && document.querySelector("#notify-hint").hidden`); !ok {
		t.Fatalf("notification permission %q, hint %q", guide.evalString(t, `Notification.permission`), guide.text(t, "#notify-hint"))
	}
	guide.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	guide.waitText(t, "#presence-status", "available", browserStepTimeout)
	waitAvailable(t, node, node.guideEmail)

	guide.setWindow(t, browser.WindowStateMinimized)
	guide.waitJS(t, "console tab hidden", browserStepTimeout, `document.visibilityState === "hidden"`)

	j := joinQueue(t, base)
	shopWS := dialWS(t, "shopper", j.WSURL, j.Token)
	_ = shopWS
	guide.waitJS(t, "a notification shown for the offer", browserStepTimeout, `window.alertsSeen.notifications.length >= 1`)
	if got := guide.evalString(t, `JSON.stringify(window.alertsSeen.notifications[0])`); got != `{"title":"Incoming shopper","body":"Sam · default · de-DE","hidden":true}` {
		t.Errorf("notification %s", got)
	}
	guide.waitJS(t, "the chime played on a running audio context", browserStepTimeout,
		`window.alertsSeen.tones.some((x) => x.state === "running")`)

	// Two offers time out unanswered: the server sets the guide away.
	guide.waitJS(t, "set away after missed offers, with the way back", browserConnectTimeout,
		`document.querySelector("#presence-status").dataset.status === "away" && !document.querySelector("#presence-alert").hidden`)
	if n, _ := strconv.Atoi(guide.evalString(t, `String(window.alertsSeen.notifications.length)`)); n < 2 {
		t.Errorf("%d notifications for two offers", n)
	}
	if ok, _ := guide.check(`window.guidecall.offers().length === 0 && document.querySelector("#offer").hidden`); !ok {
		t.Error("an expired offer is still on screen")
	}
	guide.setWindow(t, browser.WindowStateNormal)
	guide.waitJS(t, "console in front", browserStepTimeout, `document.visibilityState === "visible"`)
	shot(t, guide, "console-missed-offers")
	guide.audit(t, axe, "console set away after missed offers")

	// Long enough offers from here on.
	if _, err := node.Queue.UpdateQueue(ctx, queue.DefaultQueue, func(q *queue.Queue) error {
		q.OfferTimeoutSeconds = 60
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	guide.do(t, "back to available in one click", browserStepTimeout, chromedp.Click(chromedp.CSS("#back-available")))
	guide.waitJS(t, "offer shown again", browserConnectTimeout, `window.guidecall.offers().length === 1 && !document.querySelector("#offer").hidden`)
	if ok, _ := guide.check(`document.querySelector("#presence-alert").hidden`); !ok {
		t.Error("the missed-offers alert stays after the guide went available")
	}
	shot(t, guide, "console-offer")
	guide.audit(t, axe, "console with an offer")
	guide.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	guide.waitJS(t, "busy while in the call", browserStepTimeout,
		`window.guidecall.presence() === "busy" && document.querySelector("#presence-status").dataset.status === "busy"`)
	guide.do(t, "end the call", browserStepTimeout, chromedp.Click(chromedp.CSS("#end-call")))
	guide.waitJS(t, "wrap-up counting down", browserStepTimeout,
		`window.guidecall.presence() === "wrap_up" && window.guidecall.wrapUpLeft() > 60 && window.guidecall.wrapUpLeft() <= 90 && !document.querySelector("#wrap-up-left").hidden`)
	first := guide.evalString(t, `document.querySelector("#wrap-up-left").textContent`)
	guide.waitJS(t, "the wrap-up clock moves", browserStepTimeout, `document.querySelector("#wrap-up-left").textContent !== `+strconv.Quote(first))
	guide.do(t, "write notes", browserStepTimeout, chromedp.SendKeys(chromedp.CSS("#wrap-up"), "Wants the trail runner in 43"))
	shot(t, guide, "console-wrap-up")
	guide.audit(t, axe, "console in wrap-up")

	// A shopper waits; ending the wrap-up early brings the offer, which
	// hides the notes until it is gone.
	j2 := joinQueue(t, base)
	_ = dialWS(t, "second shopper", j2.WSURL, j2.Token)
	guide.do(t, "end wrap-up early", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	guide.waitJS(t, "offer over the notes", browserConnectTimeout,
		`!document.querySelector("#offer").hidden && document.querySelector("#ended-view").hidden`)
	guide.do(t, "decline", browserStepTimeout, chromedp.Click(chromedp.CSS("#decline-offer")))
	guide.waitJS(t, "notes back, as written", browserStepTimeout,
		`document.querySelector("#offer").hidden && !document.querySelector("#ended-view").hidden && document.querySelector("#wrap-up").value === "Wants the trail runner in 43"`)

	// Sound off is remembered.
	guide.do(t, "turn the sound off", browserStepTimeout, chromedp.Click(chromedp.CSS("#offer-sound")))
	guide.do(t, "reload", browserStepTimeout, chromedp.Reload())
	guide.waitJS(t, "console back after the reload", browserStepTimeout, `!document.querySelector("#console-view").hidden`)
	if ok, _ := guide.check(`document.querySelector("#offer-sound").checked === false`); !ok {
		t.Error("the sound setting was not kept over a reload")
	}
}
