package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
	"guidecall/payments"
	"guidecall/protocol"
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
	guide.auditSizes(t, axe, "console set away after missed offers")

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
	guide.auditSizes(t, axe, "console with an offer")
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
	guide.auditSizes(t, axe, "console in wrap-up")

	// A shopper waits; ending the wrap-up early brings the offer, which
	// hides the notes until it is gone.
	j2 := joinQueue(t, base)
	second := dialWS(t, "second shopper", j2.WSURL, j2.Token)
	guide.do(t, "end wrap-up early", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	guide.waitJS(t, "offer over the notes", browserConnectTimeout,
		`!document.querySelector("#offer").hidden && document.querySelector("#ended-view").hidden`)
	// The shopper gives up (a decline would offer it to this guide again,
	// the only one online): the offer goes, and the notes come back.
	second.Send(protocol.TypeQueueCancel, "", protocol.QueueCancel{})
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

// TestBrowserWrapUpNotesInHistory: the guide ends a call, must pick an
// outcome, saves it with notes, and finds both again in its history after
// a reload, with the call's paid link and the shopper's rating; the
// history's search finds the call by its notes and not by other text.
func TestBrowserWrapUpNotesInHistory(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	// A refund window over as soon as the link is paid: the console must
	// show the paid link's Refund disabled, saying why.
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.GuideRefundWindow = time.Nanosecond }})
	base := node.URL()
	ctx := context.Background()

	guide := launchChromium(t, "guide", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
		}
	})
	guide.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(base+"/guide/"))
	guide.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), node.guideEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), node.guidePassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	guide.waitJS(t, "empty history", browserStepTimeout,
		`!document.querySelector("#console-view").hidden && document.querySelector("#history-status").textContent === "No calls found."`)
	guide.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	waitAvailable(t, node, node.guideEmail)

	j := joinQueue(t, base)
	shopWS := dialWS(t, "shopper", j.WSURL, j.Token)
	guide.waitJS(t, "offer shown", browserStepTimeout, `window.guidecall.offers().length === 1 && !document.querySelector("#offer").hidden`)
	// The queue overview polls: the shopper shows up there with its page
	// and language, its wait counting.
	guide.waitJS(t, "the shopper in the queue overview", browserStepTimeout,
		`(() => { const r = document.querySelector('#overview-queues tr[data-entry-id=`+strconv.Quote(j.EntryID)+`]'); return r && r.textContent.includes("Sam") && r.textContent.includes("de-DE") && r.textContent.includes("shop.example/p/42"); })()`)
	shot(t, guide, "console-queue-overview", "#overview-panel")
	guide.auditSizes(t, axe, "console with the queue overview")
	// On a phone the overview's rows stand stacked under their column
	// names, in English and in Arabic (right to left): nothing scrolls
	// sideways. The history's status line follows the language too.
	guide.fitsPhone(t, "console with the queue overview")
	guide.do(t, "choose Arabic", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "ar"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "the overview in Arabic", browserStepTimeout, `document.documentElement.dir === "rtl" &&
		document.querySelectorAll("#overview-queues th")[1]?.textContent === "المتسوق" &&
		document.querySelector("#overview-queues tbody td:nth-child(2)")?.dataset.label === "المتسوق" &&
		document.querySelector("#history-status").textContent === "لم يتم العثور على مكالمات."`)
	guide.fitsPhone(t, "console with the queue overview, in Arabic")
	shot(t, guide, "console-queue-overview-ar", "#overview-panel")
	guide.do(t, "back to English", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "en"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "English again", browserStepTimeout, `document.documentElement.lang === "en" && document.documentElement.dir === "ltr"`)
	guide.do(t, "accept", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	guide.waitJS(t, "call on screen", browserStepTimeout, `!!window.guidecall.callId()`)
	callID := guide.evalString(t, `window.guidecall.callId()`)

	// A link of this call, paid on the sandbox checkout.
	acc, err := node.Auth.Account(ctx, node.guideEmail)
	if err != nil {
		t.Fatal(err)
	}
	link, _, err := node.Payments.CreateLink(ctx, payments.CreateLinkParams{
		CallID: callID, Amount: 12900, Currency: "EUR", Description: "Trail runner 43", IdempotencyKey: "history-" + callID, CreatedBy: acc.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/pay/sandbox/"+link.ProviderRef+"/pay", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sandbox pay: %d", res.StatusCode)
	}

	// Paid, past the guide's window: Refund disabled with the reason, and
	// the server refuses it by the same rule.
	paid := fmt.Sprintf(`#payment-links li[data-link-id=%q][data-status="paid"]`, link.ID)
	guide.waitJS(t, "paid link with Refund disabled, past its window", browserStepTimeout,
		`(() => { const li = document.querySelector(`+strconv.Quote(paid)+`); const b = li && li.querySelector(".refund-open");
			const why = li && li.querySelector('.refund-reason[data-reason="window"]');
			return !!b && b.disabled && !!why && why.textContent.startsWith("The refund window ended") && b.getAttribute("aria-describedby") === why.id; })()`)
	guide.waitJS(t, "a system line in the chat says it was paid", browserStepTimeout,
		`document.querySelector('#guide-chat-log li.chat-system[data-key="chat.sys.paid"]')?.textContent === "Payment link paid: Trail runner 43, €129.00."`)
	shot(t, guide, "console-link-paid-refund-window-over", "#payment-links")
	shot(t, guide, "console-link-paid-chat", "#guide-chat-log")
	guide.audit(t, axe, "console with a paid link past its refund window")
	api(t, http.MethodPost, base+"/api/v1/calls/"+callID+"/payment-links/"+link.ID+"/refunds", loginGuide(t, node.endpoint()),
		refundBody{idempotencyKey: "late-" + link.ID}, nil, http.StatusForbidden)

	guide.do(t, "end the call", browserStepTimeout, chromedp.Click(chromedp.CSS("#end-call")))
	guide.waitJS(t, "wrap-up shown", browserStepTimeout, `!document.querySelector("#ended-view").hidden`)
	shopWS.Await(protocol.TypeCallEnded, callID)
	api(t, http.MethodPost, base+"/api/v1/calls/"+callID+"/rating", j.Token, map[string]any{"rating": 5, "comment": "Found my size"}, nil, http.StatusOK)

	const notes = "Wants the trail runner in 43; call back Friday"
	guide.do(t, "write notes", browserStepTimeout, chromedp.SendKeys(chromedp.CSS("#wrap-up"), notes))
	guide.do(t, "done without an outcome", browserStepTimeout, chromedp.Click(chromedp.CSS("#wrap-up-done")))
	guide.waitJS(t, "asked for the outcome", browserStepTimeout,
		`!document.querySelector("#wrap-up-error").hidden && !document.querySelector("#ended-view").hidden`)
	shot(t, guide, "console-wrap-up-outcome", "#ended-view")
	guide.auditSizes(t, axe, "wrap-up asking for an outcome")
	guide.do(t, "choose an outcome and finish", browserStepTimeout,
		chromedp.SetValue(chromedp.CSS("#wrap-up-outcome"), "follow_up"),
		chromedp.Click(chromedp.CSS("#wrap-up-done")),
	)
	guide.waitJS(t, "wrap-up closed", browserStepTimeout, `document.querySelector("#ended-view").hidden`)
	c, err := node.Queue.Call(ctx, queue.PartyGuide, acc.ID, callID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Outcome != queue.OutcomeFollowUp || c.WrapUpNotes != notes {
		t.Fatalf("stored wrap-up: outcome %q notes %q", c.Outcome, c.WrapUpNotes)
	}

	guide.do(t, "reload", browserStepTimeout, chromedp.Reload())
	row := fmt.Sprintf(`document.querySelector('#history-list li[data-call-id=%q]')`, callID)
	guide.waitJS(t, "the call in the history after the reload", browserStepTimeout,
		row+` && `+row+`.querySelector(".history-notes").textContent === `+strconv.Quote(notes)+
			` && `+row+`.querySelector(".badge").dataset.outcome === "follow_up"`+
			` && `+row+`.querySelector('.history-payments li[data-status="paid"]') !== null`)
	text := guide.evalString(t, row+`.textContent`)
	for _, want := range []string{"Sam", "Follow up", "5 of 5", "Found my size", "paid", "Trail runner 43", "129"} {
		if !strings.Contains(text, want) {
			t.Errorf("history row lacks %q: %s", want, text)
		}
	}
	shot(t, guide, "console-history", "#history-panel")
	guide.auditSizes(t, axe, "console history")

	guide.do(t, "search by the notes", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#history-q"), "TRAIL runner"),
		chromedp.Click(chromedp.CSS("#history-search")),
	)
	guide.waitJS(t, "found by its notes", browserStepTimeout,
		`document.querySelector("#history-status").textContent === "Calls found: 1" && document.querySelectorAll("#history-list li.history-call").length === 1`)
	guide.do(t, "search for something else", browserStepTimeout,
		chromedp.SetValue(chromedp.CSS("#history-q"), "umbrella"),
		chromedp.Click(chromedp.CSS("#history-search")),
	)
	guide.waitJS(t, "nothing found", browserStepTimeout,
		`document.querySelector("#history-status").textContent === "No calls found." && document.querySelectorAll("#history-list li").length === 0`)
}

// refundBody is POST …/refunds with an empty amount (all that is left).
type refundBody struct {
	Amount         int64 `json:"amount,omitempty"`
	idempotencyKey string
}

func (r refundBody) key() string { return r.idempotencyKey }

// getOverview asks GET /api/v1/guide/queue, with an ETag to revalidate
// when given, and returns the status, the new ETag and the body.
func getOverview(t *testing.T, base, token, etag string) (int, string, overviewAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/guide/queue", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body overviewAnswer
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, res.Header.Get("ETag"), body
}

type overviewAnswer struct {
	Queues []struct {
		Queue   string `json:"queue"`
		Waiting int    `json:"waiting"`
		Entries []struct {
			EntryID  string `json:"entry_id"`
			Name     string `json:"name"`
			Language string `json:"language"`
			PageURL  string `json:"page_url"`
		} `json:"entries"`
	} `json:"queues"`
	CallbacksOpen int `json:"callbacks_open"`
}

// TestGuideQueueOverviewRevalidates: the overview answers 304 to its own
// ETag while nothing changed, a new answer once a shopper joined, and lists
// only the queues the guide serves.
func TestGuideQueueOverviewRevalidates(t *testing.T) {
	node := startNode(t, nodeOptions{})
	base := node.URL()
	ctx := context.Background()
	if _, err := node.Queue.CreateQueue(ctx, queue.Queue{Name: "bags"}); err != nil {
		t.Fatal(err)
	}
	acc, err := node.Auth.Account(ctx, node.guideEmail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Queue.SetProfile(ctx, acc.ID, queue.Profile{Queues: []string{"default"}}); err != nil {
		t.Fatal(err)
	}
	token := loginGuide(t, node.endpoint())
	status, etag, first := getOverview(t, base, token, "")
	if status != http.StatusOK || etag == "" || len(first.Queues) != 1 || first.Queues[0].Queue != "default" || first.Queues[0].Waiting != 0 {
		t.Fatalf("first overview: %d %q %+v", status, etag, first)
	}
	if status, again, _ := getOverview(t, base, token, etag); status != http.StatusNotModified || again != etag {
		t.Fatalf("unchanged overview: %d %q, want 304 %q", status, again, etag)
	}
	joinQueue(t, base)
	api(t, http.MethodPost, base+"/api/v1/queue", "", map[string]string{
		"queue": "bags", "locale": "en", "currency": "EUR", "page_url": "https://shop.example/bag", "name": "Not mine",
	}, nil, http.StatusCreated)
	status, next, got := getOverview(t, base, token, etag)
	if status != http.StatusOK || next == etag {
		t.Fatalf("after a join: %d %q (was %q)", status, next, etag)
	}
	if len(got.Queues) != 1 || got.Queues[0].Waiting != 1 || got.Queues[0].Entries[0].Name != "Sam" ||
		got.Queues[0].Entries[0].Language != "de" || got.Queues[0].Entries[0].PageURL != "https://shop.example/p/42" {
		t.Errorf("overview after a join: %+v", got)
	}
}

// TestBrowserConsoleLanguages: the guide picks a language in the header;
// the page follows at once (right to left for Arabic), text set by code
// too, and the choice outlives a reload.
func TestBrowserConsoleLanguages(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	node := startNode(t, nodeOptions{})
	guide := launchChromium(t, "guide", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
		}
	})
	guide.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(node.URL()+"/guide/"))
	guide.waitJS(t, "English first", browserStepTimeout, `document.documentElement.lang === "en" && document.querySelector("#console-locale").options.length === 15`)
	guide.do(t, "choose Arabic", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "ar"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "Arabic, right to left", browserStepTimeout,
		`document.documentElement.lang === "ar" && document.documentElement.dir === "rtl" && document.querySelector("#login-title").textContent === "تسجيل الدخول"`)
	guide.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), node.guideEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), node.guidePassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	guide.waitJS(t, "the console and its queues shown", browserStepTimeout,
		`!document.querySelector("#console-view").hidden && document.querySelector("#overview-summary").textContent !== ""`)
	// Text set by code (presence, the overview) is in Arabic too.
	for sel, want := range map[string]string{"#presence-status": "غير متاح", "#overview-summary": "لا أحد ينتظر في طوابيرك.", "#presence-title": "الحالة"} {
		if got := guide.text(t, sel); got != want {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	shot(t, guide, "console-ar")
	guide.auditSizes(t, axe, "console in Arabic")
	guide.do(t, "reload", browserStepTimeout, chromedp.Reload())
	guide.waitJS(t, "still Arabic after a reload", browserStepTimeout,
		`document.documentElement.dir === "rtl" && document.querySelector("#console-locale").value === "ar" && document.querySelector("#presence-title").textContent === "الحالة"`)
	guide.do(t, "choose Japanese", browserStepTimeout, chromedp.SetValue(chromedp.CSS("#console-locale"), "ja"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#console-locale").dispatchEvent(new Event("change")), null`))
	guide.waitJS(t, "Japanese, left to right", browserStepTimeout,
		`document.documentElement.lang === "ja" && document.documentElement.dir === "ltr" && document.querySelector("#history-title").textContent === "過去の通話"`)
	shot(t, guide, "console-ja")
}
