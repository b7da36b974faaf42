package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"guidecall/queue"
)

// Generous deadlines: a call connects in about two seconds in a browser on
// a workstation, CI machines are much slower.
const (
	browserStepTimeout    = 20 * time.Second
	browserConnectTimeout = 30 * time.Second
	browserMediaTimeout   = 30 * time.Second
	browserPollEvery      = 25 * time.Millisecond
)

// TestBrowserCall drives the shopper page and the guide console in two
// headless Chromium processes through one whole call: queue, offer, accept,
// a WebRTC call over the bundled TURN server (relay only), a payment link
// paid on the sandbox's hosted checkout, and the hang-up.
func TestBrowserCall(t *testing.T) {
	chromium := findChromium(t)
	runBrowserCall(t, chromium, startNode(t, nodeOptions{}))
}

// runBrowserCall is TestBrowserCall's call on node, with extra Chromium
// options (trusting a test certificate).
func runBrowserCall(t *testing.T, chromium string, node *node, chromeOpts ...chromedp.ExecAllocatorOption) {
	runBrowserCallWith(t, chromium, node, browserCall{chrome: chromeOpts})
}

// browserCall varies runBrowserCall.
type browserCall struct {
	chrome []chromedp.ExecAllocatorOption
	// shopperInit runs in the shopper's pages before their own scripts.
	shopperInit string
	// connected runs once both sides decode video.
	connected func(t *testing.T, guide, shopper *chromeTab)
}

func runBrowserCallWith(t *testing.T, chromium string, node *node, bc browserCall) {
	base := node.URL()

	// Launched after the node, so their cleanups (LIFO) run before it stops.
	guide := launchChromium(t, "guide", chromium, bc.chrome...)
	shopper := launchChromium(t, "shopper", chromium, bc.chrome...)
	if bc.shopperInit != "" {
		shopper.do(t, "install the shopper's init script", browserStepTimeout, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: bc.shopperInit})
			return err
		}))
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			guide.dump(t)
			shopper.dump(t)
		}
	})

	// The guide signs in and goes available. The console shows the new
	// presence at once; the offer below proves the server took it.
	guide.do(t, "open the guide console", browserStepTimeout, chromedp.Navigate(base+"/guide/"))
	guide.do(t, "sign in", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#email"), node.guideEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), node.guidePassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	guide.waitJS(t, "console shown", browserStepTimeout, `!document.querySelector("#console-view").hidden`)
	guide.do(t, "go available", browserStepTimeout, chromedp.Click(chromedp.CSS("#go-available")))
	guide.waitText(t, "#presence-status", "available", browserStepTimeout)

	// The shopper asks for a guide.
	shopper.do(t, "open the shop page", browserStepTimeout, chromedp.Navigate(base+"/shop/?currency=EUR"))
	// The page's own button opens the widget (window.guidecall.open()); the
	// shopper joins with video from the widget's pre-call view.
	shopper.do(t, "call a guide", browserStepTimeout, chromedp.Click(chromedp.CSS("#call-guide")))
	shopper.do(t, "join with video", browserStepTimeout, chromedp.Click(widgetEl("#join-video")))

	// The guide sees the offer with the shopper's context and accepts.
	guide.waitJS(t, "offer shown", browserStepTimeout, `!document.querySelector("#offer").hidden`)
	offerContext := guide.text(t, "#offer-context")
	if !strings.Contains(offerContext, "EUR") {
		t.Errorf("offer context %q does not mention EUR", offerContext)
	}
	guide.do(t, "accept the offer", browserStepTimeout, chromedp.Click(chromedp.CSS("#accept-offer")))
	accepted := time.Now()

	// Both sides connect, then decode the other side's video.
	connected := waitBothTabs(t, "call-state connected", browserConnectTimeout, guide, shopper,
		`window.guidecall.state() === "connected"`)
	t.Logf("accept→connected: %d ms", connected.Sub(accepted).Milliseconds())

	firstFrame := time.Time{}
	var gs, ss pageStats
	deadline := time.Now().Add(browserMediaTimeout)
	for {
		gs = guide.stats(t)
		ss = shopper.stats(t)
		if firstFrame.IsZero() && gs.FramesDecoded > 0 && ss.FramesDecoded > 0 {
			firstFrame = time.Now()
			t.Logf("accept→first frame: %d ms", firstFrame.Sub(accepted).Milliseconds())
		}
		if gs.FramesDecoded > 10 && ss.FramesDecoded > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no video after %v: guide %s; shopper %s", browserMediaTimeout, gs, ss)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, side := range []struct {
		name string
		s    pageStats
	}{{"guide", gs}, {"shopper", ss}} {
		t.Logf("%s stats: %s", side.name, side.s)
		if side.s.ConnectionState != "connected" {
			t.Errorf("%s: connectionState %q, want connected", side.name, side.s.ConnectionState)
		}
		if side.s.LocalCandidateType == nil || *side.s.LocalCandidateType != "relay" {
			t.Errorf("%s: localCandidateType %v, want relay", side.name, jsNullable(side.s.LocalCandidateType))
		}
		if side.s.RemoteCandidateType == nil || *side.s.RemoteCandidateType != "relay" {
			t.Errorf("%s: remoteCandidateType %v, want relay", side.name, jsNullable(side.s.RemoteCandidateType))
		}
	}

	if bc.connected != nil {
		bc.connected(t, guide, shopper)
	}

	// The guide sends a payment link; the shopper gets a card for it.
	guide.do(t, "fill the payment form", browserStepTimeout,
		chromedp.SendKeys(chromedp.CSS("#pay-amount"), "49.99"),
		chromedp.SendKeys(chromedp.CSS("#pay-description"), "Merino sneaker"),
		chromedp.Click(chromedp.CSS("#pay-send")),
	)
	if cur := guide.value(t, "#pay-currency"); cur != "EUR" {
		t.Errorf("#pay-currency is %q, want the shopper's EUR", cur)
	}
	guide.waitJS(t, "link listed open", browserStepTimeout, `!!document.querySelector('#payment-links li[data-link-id][data-status="open"]')`)
	shopper.waitJS(t, "open payment card", browserStepTimeout, `!!guidecall.root.querySelector('.payment-card[data-link-id][data-status="open"] a.pay-button')`)
	if amount := shopper.widgetText(t, `.payment-card[data-status="open"] .amount`); !strings.Contains(amount, "49.99") {
		t.Errorf("payment card amount %q, want 49.99", amount)
	}
	checkout := shopper.evalString(t, `guidecall.root.querySelector('.payment-card[data-status="open"] a.pay-button').href`)
	if !strings.HasPrefix(checkout, base+"/pay/sandbox/") {
		t.Fatalf("checkout URL %q is not under %s/pay/sandbox/", checkout, base)
	}

	// The shopper pays on the hosted checkout: the card's Pay button opens
	// it in a new tab of the same browser, where the shopper clicks Pay.
	opened := chromedp.WaitNewTarget(shopper.ctx, func(info *target.Info) bool {
		return info.Type == "page" && strings.HasPrefix(info.URL, base+"/pay/sandbox/")
	})
	shopper.do(t, "open the checkout from the card", browserStepTimeout,
		chromedp.Click(widgetEl(`.payment-card[data-status="open"] a.pay-button`)))
	var payTab *chromeTab
	select {
	case id, ok := <-opened:
		if !ok {
			t.Fatal("shopper: no checkout tab opened")
		}
		payTab = shopper.newTab(t, "checkout", chromedp.WithTargetID(id))
	case <-time.After(browserStepTimeout):
		t.Fatalf("shopper: the pay button opened no checkout tab within %v", browserStepTimeout)
	}
	payTab.waitJS(t, "checkout page loaded", browserStepTimeout,
		`location.pathname.startsWith("/pay/sandbox/") && !!document.querySelector("#pay")`)
	if total := payTab.text(t, "#total"); !strings.Contains(total, "49.99") {
		t.Errorf("checkout total %q, want 49.99", total)
	}
	payTab.do(t, "pay", browserStepTimeout, chromedp.Click(chromedp.CSS("#pay")))
	payTab.waitJS(t, "payment received", browserStepTimeout,
		`(document.querySelector("#message")?.textContent || "").includes("payment received")`)

	// Both pages show it paid, live.
	shopper.waitJS(t, "payment card paid", browserStepTimeout, `!!guidecall.root.querySelector('.payment-card[data-link-id][data-status="paid"]')`)
	if ok, _ := shopper.check(`!!guidecall.root.querySelector('.payment-card[data-status="paid"] a.pay-button')`); ok {
		t.Error("the paid card still offers its pay button")
	}
	guide.waitJS(t, "link listed paid", browserStepTimeout, `!!document.querySelector('#payment-links li[data-link-id][data-status="paid"]')`)
	guideRefunds(t, guide)

	// The guide hangs up; both sides end.
	callID := guide.evalString(t, `window.guidecall.callId()`)
	guide.do(t, "end the call", browserStepTimeout, chromedp.Click(chromedp.CSS("#end-call")))
	waitBothTabs(t, "call-state ended", browserStepTimeout, guide, shopper,
		`window.guidecall.state() === "ended"`)

	// Each page reported its getStats() once connected; the call keeps them.
	q, err := node.Queue.CallQuality(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	for side, sq := range map[string]queue.SideQuality{"guide": q.Guide, "shopper": q.Shopper} {
		t.Logf("%s quality: %+v", side, sq)
		if sq.Reports < 1 || len(sq.Candidates) == 0 || !strings.HasPrefix(sq.Candidates[0], "relay/") {
			t.Errorf("%s quality kept with the call: %+v", side, sq)
		}
	}
}

// pageStats is what window.guidecall.stats() answers.
type pageStats struct {
	ConnectionState     string  `json:"connectionState"`
	LocalCandidateType  *string `json:"localCandidateType"`
	RemoteCandidateType *string `json:"remoteCandidateType"`
	FramesDecoded       int64   `json:"framesDecoded"`
	FramesSent          int64   `json:"framesSent"`
	RestartsCompleted   int     `json:"restartsCompleted"`
	// Quality is the shopper widget's connection-quality reading.
	Quality *struct {
		Level string `json:"level"`
		RTTMs *int   `json:"rttMs"`
	} `json:"quality"`
}

func (s pageStats) String() string {
	return fmt.Sprintf("connectionState=%s local=%s remote=%s framesDecoded=%d framesSent=%d",
		s.ConnectionState, jsNullable(s.LocalCandidateType), jsNullable(s.RemoteCandidateType), s.FramesDecoded, s.FramesSent)
}

func jsNullable(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// findChromium finds the browser, or skips the test when there is none
// (unless GUIDECALL_REQUIRE_BROWSER=1).
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GUIDECALL_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found and GUIDECALL_REQUIRE_BROWSER=1; apt-get install -y chromium")
	}
	t.Skip("no Chromium found; apt-get install -y chromium")
	return ""
}

// chromeTab is one tab of a headless Chromium process of its own, with the
// tab's console collected for failure reports.
type chromeTab struct {
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
}

// launchChromium starts a Chromium process with a fake camera and
// microphone, a fresh profile and temporary directories, and opens a tab.
// The process is stopped, and its console reader ends, when the test ends.
func launchChromium(t *testing.T, name, execPath string, extra ...chromedp.ExecAllocatorOption) *chromeTab {
	t.Helper()
	return launchChromiumFlags(t, name, execPath, true, extra...)
}

// launchChromiumFlags is launchChromium; without fakeUI, permissions are
// what the test sets through the DevTools protocol (no prompt accepts them).
func launchChromiumFlags(t *testing.T, name, execPath string, fakeUI bool, extra ...chromedp.ExecAllocatorOption) *chromeTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+t.TempDir(), "XDG_RUNTIME_DIR="+t.TempDir()),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", fakeUI),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &chromeTab{name: name, ctx: ctx}
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("%s: start Chromium: %v", name, err)
	}
	done := b.collectConsole()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits until the process is gone
		<-done
	})
	return b
}

// newTab opens another tab in the same browser process, or attaches to
// one (chromedp.WithTargetID).
func (b *chromeTab) newTab(t *testing.T, name string, opts ...chromedp.ContextOption) *chromeTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	tab := &chromeTab{name: b.name + "/" + name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: open tab: %v", tab.name, err)
	}
	done := tab.collectConsole()
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GUIDECALL_TEST_LOG") != "" {
			tab.dump(t)
		}
		cancel()
		<-done
	})
	return tab
}

// collectConsole records the tab's console until its context ends; the
// returned channel closes then.
func (b *chromeTab) collectConsole() <-chan struct{} {
	done := make(chan struct{})
	messages := chromedp.Console(b.ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			line := m.String()
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			b.mu.Lock()
			b.console = append(b.console, time.Now().Format("15:04:05.000")+" "+line)
			b.mu.Unlock()
		}
	}()
	return done
}

// do runs the actions with a deadline, failing the test on error.
func (b *chromeTab) do(t *testing.T, what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

func (b *chromeTab) evalString(t *testing.T, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return s
}

func (b *chromeTab) text(t *testing.T, sel string) string {
	t.Helper()
	return b.evalString(t, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel))
}

// widgetText is text for an element of the shopper widget, which lives in
// the Shadow DOM of window.guidecall.root.
func (b *chromeTab) widgetText(t *testing.T, sel string) string {
	t.Helper()
	return b.evalString(t, fmt.Sprintf(`guidecall.root.querySelector(%q)?.textContent ?? ""`, sel))
}

// widgetEl selects an element of the shopper widget's Shadow DOM for
// chromedp actions (a real click, not a scripted one).
func widgetEl(sel string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`guidecall.root.querySelector(%q)`, sel))
}

func (b *chromeTab) value(t *testing.T, sel string) string {
	t.Helper()
	return b.evalString(t, fmt.Sprintf(`document.querySelector(%q)?.value ?? ""`, sel))
}

// check evaluates a boolean expression once; errors count as false, so a
// page that is still loading is simply not ready yet.
func (b *chromeTab) check(expr string) (bool, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { try { return !!(%s); } catch { return false; } })()`, expr)))
}

// waitJS polls a boolean expression in the page until it holds.
func (b *chromeTab) waitJS(t *testing.T, what string, timeout time.Duration, expr string) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := b.check(expr)
		if ok {
			return time.Now()
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not true after %v (%s); last error: %v", b.name, what, timeout, expr, lastErr)
		}
		time.Sleep(browserPollEvery)
	}
}

func (b *chromeTab) waitText(t *testing.T, sel, want string, timeout time.Duration) {
	t.Helper()
	b.waitJS(t, fmt.Sprintf("%s is %q", sel, want), timeout,
		fmt.Sprintf(`document.querySelector(%q).textContent.trim() === %q`, sel, want))
}

// waitBothTabs polls the expression on both pages until it holds on both and
// returns when it last became true.
func waitBothTabs(t *testing.T, what string, timeout time.Duration, a, b *chromeTab, expr string) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var at [2]time.Time
	for {
		for i, br := range []*chromeTab{a, b} {
			if !at[i].IsZero() {
				continue
			}
			if ok, _ := br.check(expr); ok {
				at[i] = time.Now()
			}
		}
		if !at[0].IsZero() && !at[1].IsZero() {
			if at[1].After(at[0]) {
				return at[1]
			}
			return at[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true on both pages after %v (%s: %v, %s: %v)", what, timeout,
				a.name, !at[0].IsZero(), b.name, !at[1].IsZero())
		}
		time.Sleep(browserPollEvery)
	}
}

func (b *chromeTab) stats(t *testing.T) pageStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[pageStats](`window.guidecall.stats()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: stats: %v", b.name, err)
	}
	return s
}

// dump logs what a failure report needs: the call state, the stats and
// the console of the page.
func (b *chromeTab) dump(t *testing.T) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(() => { if (window.guidecall?.state) return window.guidecall.state(); const el = document.querySelector("#call-state"); return el ? el.textContent : "(no #call-state)"; })()`))
	if err != nil {
		state = "(" + err.Error() + ")"
	}
	stats, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](
		`(async () => window.guidecall ? await window.guidecall.stats() : null)()`, chromedp.EvalAwaitPromise))
	statsText := string(stats)
	if err != nil {
		statsText = "(" + err.Error() + ")"
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		url = "(" + err.Error() + ")"
	}
	b.mu.Lock()
	console := strings.Join(b.console, "\n\t")
	b.mu.Unlock()
	t.Logf("--- %s at %s\n\t#call-state: %s\n\tstats: %s\n\tconsole:\n\t%s", b.name, url, state, statsText, console)
}
