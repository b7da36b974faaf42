package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/protocol"
)

// demoLogin is the email and password the banner prints after label.
func demoLogin(t *testing.T, banner, label string) (string, string) {
	t.Helper()
	for _, l := range strings.Split(banner, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), label); ok {
			if email, password, ok := strings.Cut(strings.TrimSpace(rest), " / "); ok {
				return email, password
			}
		}
	}
	t.Fatalf("no %q in the banner:\n%s", label, banner)
	return "", ""
}

// TestMerchantWebhooksOnMemory runs the real binary as a new user would
// (no database, the demo logins it prints): the admin registers an
// endpoint, a call starts, a link is paid through the sandbox, and the
// endpoint receives call.started, payment_link.created and
// payment.succeeded, each once with a valid signature, after a refusal;
// then call.ended and the shopper's call.rated.
func TestMerchantWebhooksOnMemory(t *testing.T) {
	t.Parallel()
	n := startPayNode(t, payNodeConfig{name: "memory-merchant",
		env: []string{"GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE=300ms,1s,1s,1s,1s,1s"}})
	admin := n.adminToken
	recv := newMerchantReceiver(t)
	n.subscribe(t, recv, "/guidecall")
	api(t, http.MethodGet, n.url+"/api/v1/admin/webhooks/endpoints", loginGuide(t, n.guide), nil, nil, http.StatusForbidden)

	call := n.connectCall(t)
	recv.await(t, "call.started", 20*time.Second)
	link := n.sendLink(t, call, 2500, "EUR", "Gloves")
	recv.await(t, "payment_link.created", 20*time.Second)

	recv.setDown(true)
	paySandbox(t, link.CheckoutURL)
	awaitDelivery(t, n.url, admin, "payment.succeeded", 20*time.Second, func(d adminDelivery) bool { return d.Attempts >= 1 })
	recv.setDown(false)
	recv.await(t, "payment.succeeded", 20*time.Second)
	d := awaitDelivery(t, n.url, admin, "payment.succeeded", 10*time.Second, func(d adminDelivery) bool { return d.Status == "succeeded" })
	call.guideWS.Send(protocol.TypeCallEnd, call.id, protocol.CallEnd{})
	recv.await(t, "call.ended", 20*time.Second)
	recv.awaitRating(t, n.url, call.shopper.Token, call.id)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	for id, typ := range recv.types {
		if recv.received[id] != 1 {
			t.Errorf("%s %s accepted %d times, want 1", typ, id, recv.received[id])
		}
	}
	if recv.bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", recv.bad)
	}
	if len(d.AttemptLog) < 2 || d.AttemptLog[0].StatusCode != http.StatusServiceUnavailable || d.AttemptLog[len(d.AttemptLog)-1].StatusCode != http.StatusNoContent {
		t.Fatalf("attempt log %+v: want a 503 first and a 204 last", d.AttemptLog)
	}
	t.Logf("memory node: %d events accepted once each, payment.succeeded after %d attempts", len(recv.types), d.Attempts)
}
