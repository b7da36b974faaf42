package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWidgetCameraOnMidCall joins once with the camera off and once audio
// only, and turns the camera on during each call: the shopper offers (the
// renegotiation of call.js), the guide console answers mid-call, and the
// guide's tile then decodes the shopper's frames and shows a picture,
// while the call stays connected through it.
func TestWidgetCameraOnMidCall(t *testing.T) {
	chromium := findChromium(t)
	n := startNode(t, nodeOptions{})
	guide := launchChromium(t, "guide", chromium)
	shopper := launchChromium(t, "shopper", chromium)
	t.Cleanup(func() {
		if t.Failed() {
			guide.dump(t)
			shopper.dump(t)
		}
	})
	guideAvailable(t, guide, n)
	shopper.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(n.URL()+"/shop/"))
	shopper.waitJS(t, "widget ready", browserStepTimeout, `!!window.guidecall && !!guidecall.root`)

	for i, mode := range []string{"camera-off", "audio"} {
		if i == 0 {
			shopper.do(t, "open the widget", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
		} else {
			shopper.do(t, "call again", browserStepTimeout, chromedp.Click(widgetEl("#call-again")))
		}
		shopper.do(t, "join "+mode, browserStepTimeout, chromedp.Click(widgetEl("#join-"+mode)))
		guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
		guide.do(t, "accept the offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
		waitBothTabs(t, "connected", browserConnectTimeout, guide, shopper, `window.guidecall.state() === "connected"`)
		if m := shopper.media(t); m != "audio" {
			t.Fatalf("%s: the shopper holds %q, want audio only", mode, m)
		}
		if s := guide.stats(t); s.FramesDecoded != 0 {
			t.Fatalf("%s: the guide decoded %d frames before the camera was on", mode, s.FramesDecoded)
		}
		shopper.widgetVisible(t, "camera button offered", "#camera")
		if label := shopper.widgetText(t, "#camera"); label != "Camera on" {
			t.Errorf("%s: camera button reads %q, want Camera on", mode, label)
		}
		shopper.do(t, "turn the camera on", browserStepTimeout, chromedp.Click(widgetEl("#camera")))
		waitVideo(t, guide, mode+": the shopper's video at the guide")
		guide.waitJS(t, "the guide's tile shows the shopper", browserMediaTimeout,
			`document.querySelector("#remote-video").videoWidth > 0`)
		if m := shopper.media(t); m != "audio,video" {
			t.Errorf("%s: after turning the camera on the shopper holds %q, want audio,video", mode, m)
		}
		if s := shopper.stats(t); s.FramesSent == 0 {
			t.Errorf("%s: the shopper sent no video frames", mode)
		}
		shopper.widgetVisible(t, "self view", "#local-video")
		if label := shopper.widgetText(t, "#camera"); label != "Camera off" {
			t.Errorf("%s: camera button reads %q after, want Camera off", mode, label)
		}
		waitBothTabs(t, "still connected", browserStepTimeout, guide, shopper, `window.guidecall.state() === "connected"`)
		if mode == "audio" {
			// Audio only became a video call: the guide's picture comes too.
			waitVideo(t, shopper, "the guide's video after the camera went on")
		}
		shopper.screenshots(t, mode+"-camera-on")
		guide.screenshots(t, mode+"-guide-sees-shopper")
		shopper.do(t, "end the call", browserStepTimeout, chromedp.Click(widgetEl("#end-call")))
		waitBothTabs(t, "ended", browserStepTimeout, guide, shopper, `window.guidecall.state() === "ended"`)
		shopper.widgetVisible(t, "call again offered", "#call-again")
		guideReady(t, guide)
	}
}

// guideReady closes the ended call's wrap-up and goes available again.
func guideReady(t *testing.T, guide *chromeTab) {
	t.Helper()
	guide.do(t, "wrap-up done", browserStepTimeout, chromedp.Click(chromedp.CSS("#wrap-up-done")))
	if guide.text(t, "#presence-status") != "available" {
		guide.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	}
	guide.waitText(t, "#presence-status", "available", browserStepTimeout)
}
