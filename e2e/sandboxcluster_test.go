package e2e

import (
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
)

// TestSandboxWebhookOutlivesItsNode: the sandbox's webhook is a River job
// any node may deliver, so it goes to --public-url (here node B's address,
// as a load balancer that now sends everything to B) and not to the
// loopback of the node that took the payment. Node A takes Pay and is
// SIGKILLed before the delivery is due; B delivers it to itself and the
// link is paid.
func TestSandboxWebhookOutlivesItsNode(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	b := startProc(t, bin, "node-b", procConfig{databaseURL: url, ip: "127.0.0.1"})
	const delay = 4 * time.Second
	a := startPayNode(t, payNodeConfig{name: "node-a", databaseURL: url, extraArgs: []string{"--public-url", b.url},
		env: []string{"GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY=" + delay.String()}})
	call := a.connectCall(t)
	link := a.sendLink(t, call, 3900, "EUR", "Cluster scarf")
	ref := link.CheckoutURL[strings.LastIndex(link.CheckoutURL, "/")+1:]
	if !strings.HasPrefix(link.CheckoutURL, b.url+"/pay/sandbox/") {
		t.Fatalf("checkout %s: want it on the public URL %s", link.CheckoutURL, b.url)
	}
	paySandbox(t, a.url+"/pay/sandbox/"+ref) // node A takes the payment
	a.kill()
	killed := time.Now()
	if st := linkStatus(t, b.url, call.id, call.guideToken); st != "open" {
		t.Fatalf("link %s right after the kill, want open: the delivery was due %s after Pay, so the test did not cover it", st, delay)
	}
	deadline := time.Now().Add(30 * time.Second)
	for linkStatus(t, b.url, call.id, call.guideToken) != "paid" {
		if time.Now().After(deadline) {
			t.Fatalf("link not paid 30 s after node A died; node B's log:\n%s", b.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(b.log(), `msg="payment link updated"`) {
		t.Fatal("node B did not apply the webhook")
	}
	t.Logf("SIGKILL of the paying node → link paid through node B: %d ms (webhook held back %s)", time.Since(killed).Milliseconds(), delay)
}
