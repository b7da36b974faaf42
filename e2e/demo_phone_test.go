package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/queue"
)

// launcherClearJS says whether the widget's floating launcher is out of
// the way of the teaser card's heading: hidden, or not overlapping it.
const launcherClearJS = `(() => {
	const l = guidecall.root.querySelector("#launcher");
	if (l.hidden) return "hidden";
	const a = l.getBoundingClientRect(), b = document.querySelector(".guide-teaser h2").getBoundingClientRect();
	return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom ? "overlap" : "clear";
})()`

// TestDemoShopPhoneLauncherClear opens the demo shop at phone size, with
// the queue open and closed: the floating "Video call a guide" never
// covers the teaser card's heading (it shows only while the teaser is out
// of view), and with the queue closed the page's own button asks for a
// callback and opens the callback offer.
func TestDemoShopPhoneLauncherClear(t *testing.T) {
	chromium := findChromium(t)
	n := startNode(t, nodeOptions{})
	if _, err := n.Queue.CreateQueue(t.Context(), queue.Queue{Name: "night", TimeZone: "UTC", Hours: map[string][]queue.Span{}}); err != nil {
		t.Fatal(err)
	}
	shopper := launchChromium(t, "shopper", chromium)
	// Two frames after the queue's status is known: the page's
	// IntersectionObserver has told the widget where the teaser is.
	const settled = `!!window.guidecall?.root && !!document.body.dataset.queueOpen &&
		new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`
	for _, q := range []string{"default", "night"} {
		shopper.do(t, "open the demo shop on a phone", browserStepTimeout,
			chromedp.EmulateViewport(390, 844), chromedp.Navigate(n.URL()+"/shop/?currency=EUR&queue="+q))
		shopper.waitJS(t, "status known", browserStepTimeout, settled)
		if got := shopper.evalString(t, launcherClearJS); got == "overlap" {
			t.Errorf("queue %s: the floating launcher covers the teaser's heading", q)
		}
		label := strings.TrimSpace(shopper.text(t, "#call-guide"))
		switch q {
		case "default":
			if label != "Video call a guide" {
				t.Errorf("open queue: the page's button reads %q", label)
			}
		case "night":
			if label != "Request a callback" {
				t.Errorf("closed queue: the page's button reads %q, want Request a callback", label)
			}
		}
		shopper.screenshots(t, "demo-"+q)
		// On a short screen the teaser starts below the fold: then the
		// floating launcher is the way in.
		shopper.do(t, "short phone", browserStepTimeout, chromedp.EmulateViewport(390, 640))
		shopper.evalString(t, `scrollTo(0, 0); "top"`)
		shopper.waitJS(t, "launcher with the teaser out of view", browserStepTimeout, `!guidecall.root.querySelector("#launcher").hidden`)
		shopper.evalString(t, `document.querySelector(".guide-teaser").scrollIntoView(); "teaser"`)
		shopper.waitJS(t, "no launcher with the teaser in view", browserStepTimeout, `guidecall.root.querySelector("#launcher").hidden`)
	}
	shopper.do(t, "ask for a callback from the page", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.waitJS(t, "callback offered, no join", browserStepTimeout,
		`!guidecall.root.querySelector("#callback-launch").hidden && guidecall.root.querySelector("#join-video").hidden`)
}
