package e2e

import (
	"strings"
	"testing"
	"time"

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

// cspViolations are the lines of the tab's console so far that report a
// Content Security Policy violation.
func (b *chromeTab) cspViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range b.console {
		if strings.Contains(line, "Content Security Policy") {
			out = append(out, line)
		}
	}
	return out
}

// waitConsole waits until a line of the tab's console contains marker.
func (b *chromeTab) waitConsole(t *testing.T, marker string) {
	t.Helper()
	seen := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, line := range b.console {
			if strings.Contains(line, marker) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(browserStepTimeout)
	for !seen() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: console line %q not seen after %v", b.name, marker, browserStepTimeout)
		}
		time.Sleep(browserPollEvery)
	}
}

// TestDemoShopNoCSPViolation opens the demo shop and the widget's panel
// on it, audited by axe-core at desktop and phone size as every browser
// test audits: the console reports no Content Security Policy violation,
// neither from the page or the widget (no inline style, no inline
// script) nor from the audit (before its preload was turned off, axe-core
// copied the widget's shadow-root sheet into a <style> the CSP refused).
func TestDemoShopNoCSPViolation(t *testing.T) {
	chromium := findChromium(t)
	axe := findAxe(t)
	n := startNode(t, nodeOptions{})
	shopper := launchChromium(t, "shopper", chromium)
	shopper.do(t, "open the demo shop", browserStepTimeout, chromedp.Navigate(n.URL()+"/shop/?currency=EUR"))
	shopper.waitJS(t, "widget mounted", browserStepTimeout, `!!window.guidecall?.root?.querySelector("#launcher")`)
	shopper.auditSizes(t, axe, "demo")
	shopper.do(t, "the page's own call button", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.widgetVisible(t, "pre-call choices", "#join-video")
	shopper.auditSizes(t, axe, "demo-precall")
	// A line logged after all of that: once it is read, so is every
	// line before it.
	shopper.evalString(t, `console.info("csp-check-done"); "ok"`)
	shopper.waitConsole(t, "csp-check-done")
	for _, line := range shopper.cspViolations() {
		t.Errorf("CSP violation on the demo shop: %s", line)
	}
}
