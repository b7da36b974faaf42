package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// TestRoutingOnTheBinary runs the real binary on PostgreSQL, set up with
// the command line as an operator would: two guides with different
// languages, shoppers of both languages each matched only to the guide who
// speaks theirs; a closed queue that refuses a join with a clear error and
// offers a callback; a callback left by a shopper on the shop page in
// headless Chromium, claimed and closed in the guide console in another.
func TestRoutingOnTheBinary(t *testing.T) {
	chromium := findChromium(t)
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	db := []string{"--database-url", url}
	const password = "routing e2e password"
	guides := map[string]string{"en": "ada@e2e.local", "de": "bernd@e2e.local", "night": "nora@e2e.local"}
	for lang, email := range guides {
		addAccount(t, bin, url, email, "Guide "+lang, password, "guide")
	}
	out := runCLI(t, bin, append([]string{"queue", "add", "night", "--display-name", "Night desk", "--hours", "never"}, db...)...)
	if !strings.Contains(out, "added queue night (Night desk), never open") {
		t.Errorf("queue add printed %q", out)
	}
	// The default queue does not exist before the first start; guide set
	// creates it rather than refusing it.
	runCLI(t, bin, append([]string{"guide", "set", "--email", guides["en"], "--queues", "default", "--languages", "en"}, db...)...)
	runCLI(t, bin, append([]string{"guide", "set", "--email", guides["de"], "--queues", "default", "--languages", "de"}, db...)...)
	runCLI(t, bin, append([]string{"guide", "set", "--email", guides["night"], "--queues", "night"}, db...)...)
	if out := runCLI(t, bin, append([]string{"queue", "list"}, db...)...); !strings.Contains(out, "default") || !strings.Contains(out, "night") {
		t.Errorf("queue list:\n%s", out)
	}

	n := startProc(t, bin, "node", procConfig{databaseURL: url, ip: "127.0.0.1"})
	ep := n.endpoint("", "")

	// Two guides, each speaking one language, go available.
	en := dialWS(t, "guide-en", wsURLOf(ep), login(t, n.url, guides["en"], password))
	de := dialWS(t, "guide-de", wsURLOf(ep), login(t, n.url, guides["de"], password))
	for _, g := range []*clienttest.Conn{en, de} {
		if err := g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"}); err != nil {
			t.Fatal(err)
		}
	}
	en.Await(protocol.TypePresence, "")
	de.Await(protocol.TypePresence, "")

	// Nobody French is online: the status says so before anyone joins.
	var st struct {
		Open         bool `json:"open"`
		ETA          *int `json:"eta_seconds"`
		GuidesOnline int  `json:"guides_online"`
		Callback     bool `json:"callback"`
	}
	api(t, http.MethodGet, n.url+"/api/v1/queues/default/status?locale=fr-FR", "", nil, &st, http.StatusOK)
	if !st.Open || st.ETA != nil || st.GuidesOnline != 0 || !st.Callback {
		t.Errorf("status for a French shopper: %+v, want open, no ETA, no guide, callback", st)
	}
	api(t, http.MethodGet, n.url+"/api/v1/queues/default/status?locale=de-CH", "", nil, &st, http.StatusOK)
	if st.ETA == nil || st.GuidesOnline != 1 {
		t.Errorf("status for a German shopper: %+v, want an ETA and one guide", st)
	}

	// Shoppers of both languages, interleaved.
	locales := []string{"de-DE", "en-GB", "de-AT", "en-US"}
	langOf := map[string]string{}
	for _, loc := range locales {
		var j joined
		api(t, http.MethodPost, n.url+"/api/v1/queue", "", map[string]string{
			"queue": "default", "locale": loc, "currency": "EUR", "name": "Shopper " + loc,
		}, &j, http.StatusCreated)
		langOf[j.EntryID] = loc[:2]
		dialWS(t, "shopper-"+loc, j.WSURL, j.Token)
	}
	served := map[string]string{}
	for _, side := range []struct {
		lang string
		ws   *clienttest.Conn
	}{{"en", en}, {"de", de}} {
		for range 2 {
			var o protocol.Offer
			side.ws.AwaitInto(protocol.TypeOffer, "", &o)
			if got := langOf[o.EntryID]; got != side.lang {
				t.Fatalf("guide %s was offered %s, a %q shopper (%s)", side.lang, o.EntryID, got, o.Shopper.Locale)
			}
			served[o.EntryID] = side.lang
			if err := side.ws.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: o.OfferID}); err != nil {
				t.Fatal(err)
			}
			side.ws.Await(protocol.TypeCallMatched, o.OfferID)
			if err := side.ws.Send(protocol.TypeCallEnd, o.OfferID, protocol.CallEnd{Reason: "hangup"}); err != nil {
				t.Fatal(err)
			}
			side.ws.Await(protocol.TypeCallEnded, o.OfferID)
		}
	}
	if len(served) != len(locales) {
		t.Errorf("served %d shoppers, want %d", len(served), len(locales))
	}

	// The closed queue refuses a join, says when it opens (never) and
	// where to leave a callback.
	var closed struct {
		Error struct {
			Code        string  `json:"code"`
			Message     string  `json:"message"`
			NextOpenAt  *string `json:"next_open_at"`
			CallbackURL string  `json:"callback_url"`
		} `json:"error"`
	}
	api(t, http.MethodPost, n.url+"/api/v1/queue", "", map[string]string{"queue": "night", "currency": "EUR"}, &closed, http.StatusConflict)
	if closed.Error.Code != "queue_closed" || !strings.Contains(closed.Error.Message, "night is closed") ||
		closed.Error.CallbackURL != "/api/v1/queues/night/callbacks" || closed.Error.NextOpenAt != nil {
		t.Errorf("join of a closed queue: %+v", closed.Error)
	}

	// A shopper on the shop page of the closed queue is offered a callback
	// instead of the call button, and leaves one.
	shopper := launchChromium(t, "shopper", chromium)
	console := launchChromium(t, "guide", chromium)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			shopper.dump(t)
			console.dump(t)
		}
	})
	// The night guide has the console open, with no callback yet.
	console.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(n.url+"/guide/"))
	console.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), guides["night"]),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	// Online: the server knows the console's socket, so it will hear of
	// new callbacks.
	console.waitJS(t, "console online, no callbacks", browserStepTimeout,
		`!document.querySelector("#console-view").hidden && document.querySelector("#connection-status").textContent === "Online." &&
		 !document.querySelector("#callbacks-empty").hidden && window.guidecall.callbackPushes() === 0`)

	shopper.do(t, "open the shop page of the night desk", browserStepTimeout, chromedp.Navigate(n.url+"/shop/?queue=night&currency=EUR"))
	// The widget (in its Shadow DOM) tells the page the queue is closed;
	// the page's own button then asks for a callback, and the widget's
	// panel offers the callback instead of the join choices.
	shopper.waitJS(t, "closed state shown", browserStepTimeout,
		`document.body.dataset.queueOpen === "false" && !document.querySelector("#call-guide").hidden &&
		 document.querySelector("#call-guide").textContent.includes("Request a callback")`)
	shopper.do(t, "open the widget", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.waitJS(t, "callback offered, no join", browserStepTimeout,
		`!guidecall.root.querySelector("#callback-launch").hidden && guidecall.root.querySelector("#join-video").hidden`)
	if note := shopper.widgetText(t, "#availability"); note == "" {
		t.Error("the closed queue shows no availability note")
	}
	shopper.do(t, "leave a callback request", browserStepTimeout,
		chromedp.Click(widgetEl("#callback-launch")),
		chromedp.SendKeys(widgetEl("#callback-name"), "Clara Night"),
		chromedp.SendKeys(widgetEl("#callback-email"), "clara@shop.example"),
		chromedp.SendKeys(widgetEl("#callback-message"), "Do the sneakers run small?"),
		chromedp.Click(widgetEl("#callback-send")),
	)
	shopper.waitJS(t, "callback sent", browserStepTimeout, `!guidecall.root.querySelector("#callback-done").hidden`)
	cbID := shopper.evalString(t, `guidecall.root.querySelector("#callback-done").dataset.callbackId`)
	if !strings.HasPrefix(cbID, "cb_") {
		t.Fatalf("callback id %q", cbID)
	}

	// The console hears of it (callback.changed), lists it, and the guide
	// claims it and records the outcome.
	console.waitJS(t, "callback.changed received", browserStepTimeout, `window.guidecall.callbackPushes() > 0`)
	item := `#callbacks li[data-callback-id="` + cbID + `"]`
	console.waitJS(t, "callback listed", browserStepTimeout, `!!document.querySelector('`+item+`[data-state="open"]')`)
	if text := console.text(t, item); !strings.Contains(text, "Clara Night") || !strings.Contains(text, "clara@shop.example") || !strings.Contains(text, "run small") {
		t.Errorf("callback in the console reads %q", text)
	}
	console.do(t, "claim it", browserStepTimeout, chromedp.Click(chromedp.CSS(item+` button[data-action="claim"]`)))
	console.waitJS(t, "claimed by this guide", browserStepTimeout, `!!document.querySelector('`+item+`[data-state="claimed"] select.outcome')`)

	// A second guide cannot claim it any more.
	other := login(t, n.url, guides["en"], password)
	api(t, http.MethodPost, n.url+"/api/v1/callbacks/"+cbID+"/claim", other, nil, nil, http.StatusForbidden) // serves default only
	api(t, http.MethodPost, n.url+"/api/v1/callbacks/"+cbID+"/claim", login(t, n.url, guides["night"], password), nil, nil, http.StatusConflict)

	console.do(t, "record the outcome", browserStepTimeout,
		chromedp.SetValue(chromedp.CSS(item+" select.outcome"), "reached"),
		chromedp.SendKeys(chromedp.CSS(item+" input.note"), "sizes run small, advised 43"),
		chromedp.Click(chromedp.CSS(item+` button[data-action="outcome"]`)),
	)
	console.waitJS(t, "callback closed", browserStepTimeout, `!document.querySelector('`+item+`')`)

	// It is data: the row says who claimed it and how it went.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var state, claimer, outcome, note, email string
	if err := conn.QueryRow(context.Background(), `SELECT state, claimed_by, outcome, note, email FROM callbacks WHERE id = $1`, cbID).
		Scan(&state, &claimer, &outcome, &note, &email); err != nil {
		t.Fatal(err)
	}
	var nightID string
	if err := conn.QueryRow(context.Background(), `SELECT id FROM accounts WHERE email = $1`, guides["night"]).Scan(&nightID); err != nil {
		t.Fatal(err)
	}
	if state != "done" || claimer != nightID || outcome != "reached" || note != "sizes run small, advised 43" || email != "clara@shop.example" {
		t.Errorf("callback row: %s by %s, %s %q, %s", state, claimer, outcome, note, email)
	}
}
