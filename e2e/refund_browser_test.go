package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// guideRefunds drives the console's refund of the paid link: a partial
// refund of 10.00, which the sandbox's webhook turns into
// partially_refunded in the list; then a refund of more than is left,
// whose refusal the guide reads; then the rest, after which the link has
// no Refund action. It saves the console at desktop and phone sizes.
func guideRefunds(t *testing.T, guide *chromeTab) {
	t.Helper()
	const paid = `#payment-links li[data-link-id][data-status="paid"]`
	guide.do(t, "open the refund form", browserStepTimeout, chromedp.Click(chromedp.CSS(paid+" .refund-open")))
	guide.do(t, "refund 10.00", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS(paid+" .refund-form input"), "10.00"),
		chromedp.Click(chromedp.CSS(paid+" .refund-send")),
	)
	guide.waitJS(t, "refund answered", browserStepTimeout,
		`(document.querySelector("#refund-status")?.textContent || "") !== ""`)
	if msg := guide.text(t, "#refund-status"); !strings.Contains(msg, "sent to the provider") {
		t.Fatalf("refund answer %q", msg)
	}
	screenshots(t, guide, "guide-refund-sent")
	const partial = `#payment-links li[data-link-id][data-status="partially_refunded"]`
	guide.waitJS(t, "link listed partially refunded", browserStepTimeout, `!!document.querySelector('`+partial+`')`)
	guide.do(t, "refund too much", browserStepTimeout,
		chromedp.Click(chromedp.CSS(partial+" .refund-open")),
		chromedp.SendKeys(chromedp.CSS(partial+" .refund-form input"), "100.00"),
		chromedp.Click(chromedp.CSS(partial+" .refund-send")),
	)
	guide.waitJS(t, "over-refund refused", browserStepTimeout,
		`(document.querySelector("#refund-status")?.textContent || "").includes("Could not refund")`)
	if msg := guide.text(t, "#refund-status"); !strings.Contains(msg, "left to refund") {
		t.Errorf("refusal %q does not say what is left", msg)
	}
	screenshots(t, guide, "guide-refund-refused")

	// The rest, with the amount left empty: once all is asked back the
	// Refund action goes (refunded) or, until the provider's webhook
	// lands, stays disabled saying nothing is left; never clickable.
	// The refused form is still open, with its 100.00.
	if ok, err := guide.check(`(() => { const i = document.querySelector('` + partial + ` .refund-form input'); if (!i) return false; i.value = ""; return true; })()`); !ok || err != nil {
		t.Fatalf("empty the refund amount: %v, %v", ok, err)
	}
	guide.do(t, "refund the rest", browserStepTimeout, chromedp.Click(chromedp.CSS(partial+" .refund-send")))
	guide.waitJS(t, "rest refunded", browserStepTimeout,
		`(document.querySelector("#refund-status")?.textContent || "").includes("sent to the provider")`)
	guide.waitJS(t, "no Refund action on the refunded link", browserStepTimeout, `(() => {
		const li = document.querySelector('#payment-links li[data-link-id]');
		const b = li && li.querySelector(".refund-open");
		if (b && !b.disabled) return false;
		if (b && li.querySelector('.refund-reason[data-reason="none_left"]')?.textContent !== "Nothing left to refund.") return false;
		return li.dataset.status === "refunded" && !b;
	})()`)
	screenshots(t, guide, "guide-refund-full")
}

// screenshots saves the console with its refund answer in view, at desktop
// and phone sizes, in the run's screenshot folder (screenshotDir).
func screenshots(t *testing.T, tab *chromeTab, name string) {
	t.Helper()
	dir := screenshotDir(t)
	for _, size := range []struct {
		label string
		w, h  int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		tab.do(t, "viewport "+size.label, browserStepTimeout,
			chromedp.EmulateViewport(size.w, size.h),
			chromedp.ScrollIntoView(chromedp.CSS("#refund-status")),
		)
		ctx, cancel := context.WithTimeout(tab.ctx, browserStepTimeout)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s %s: %v", name, size.label, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tab.do(t, "viewport back", browserStepTimeout, chromedp.EmulateViewport(1280, 800))
}
