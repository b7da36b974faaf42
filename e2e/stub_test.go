package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
)

// TestWidgetQueueStub puts README's queue stub before the one tag on a
// merchant page of another origin and calls on(), setContext() and open()
// before widget.js has run: the widget replays them once it has loaded
// (the panel opens, the handler hears queue-open) and the shopper's join
// carries the currency the early setContext gave.
func TestWidgetQueueStub(t *testing.T) {
	chromium := findChromium(t)
	hostLn, hostOrigin := listenHost(t)
	n := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.AllowedOrigins = hostOrigin }})
	serveHost(t, hostLn, n.URL()+"/widget.js")
	shopper := launchChromium(t, "shopper", chromium)
	shopper.do(t, "open the merchant page with the stub", browserStepTimeout, chromedp.Navigate(hostOrigin+"/?stub=1"))
	if ok, err := shopper.check(`window.stubbedBeforeLoad === true`); !ok || err != nil {
		t.Fatalf("the page's calls did not go to the stub before widget.js ran (%v)", err)
	}
	shopper.widgetVisible(t, "the early open() opened the panel", "#join-audio")
	shopper.waitJS(t, "the early on() heard queue-open", browserStepTimeout, `stubEvents.includes("queue-open")`)
	if ok, _ := shopper.check(`guidecall.version === 1 && !("q" in guidecall)`); !ok {
		t.Error("window.guidecall is not the widget's API after loading")
	}
	shopper.do(t, "join audio only", browserStepTimeout, chromedp.Click(widgetEl("#join-audio")))
	shopper.waitJS(t, "in the queue", browserStepTimeout, `!!sessionStorage.getItem("guidecall:default")`)
	entryID := shopper.evalString(t, `JSON.parse(sessionStorage.getItem("guidecall:default")).entryId`)
	e, err := n.Queue.Entry(t.Context(), entryID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Currency != "USD" {
		t.Errorf("the entry's currency is %q, want the early setContext's USD", e.Currency)
	}
}
