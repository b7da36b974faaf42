package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// TestCrashAfterPayGetsPaid kills a node on PostgreSQL with SIGKILL right
// after the sandbox checkout answered 200 to Pay, before the webhook that
// reports it could be delivered: the outcome and its delivery were
// committed together (a River job), so after the restart River delivers
// it, the link becomes paid, and both parties, back on their sockets, are
// told.
//
// The node runs with GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY, which holds
// every sandbox webhook back; without it the kill would race the delivery
// (which usually lands within milliseconds) instead of always beating it.
func TestCrashAfterPayGetsPaid(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	// Long enough for SIGKILL, a restart and two reconnects to come first.
	const delay = 6 * time.Second
	n := startPayNode(t, payNodeConfig{name: "paycrash", databaseURL: url,
		env: []string{"GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY=" + delay.String()}})
	ep := n.guide
	call := n.connectCall(t)
	callID, guideToken, guideWS, shopWS, j := call.id, call.guideToken, call.guideWS, call.shopWS, call.shopper
	link := n.sendLink(t, call, 12900, "EUR", "Wool coat")
	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		if st := paymentStatus(ws, callID); st != "open" {
			t.Fatalf("%s: payment.link %s, want open", ws.Name, st)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, link.CheckoutURL+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"paid"`) {
		t.Fatalf("pay: %d %s", resp.StatusCode, body)
	}
	n.kill()
	killed := time.Now()

	n.start()
	n.waitReady(30 * time.Second)
	restarted := time.Since(killed)
	// The checkout kept the payment; the link did not hear of it yet.
	if page := get(t, link.CheckoutURL); !strings.Contains(page, "Status: paid") {
		t.Fatalf("checkout after the restart does not show paid:\n%s", page)
	}

	// Both parties come back into the call before the delivery is due.
	guideWS, guideWelcome := dialWelcome(t, "guide-back", wsURLOf(ep), guideToken)
	shopWS, shopWelcome := dialWelcome(t, "shopper-back", j.WSURL, j.Token)
	for ws, welcome := range map[*clienttest.Conn]protocol.Welcome{guideWS: guideWelcome, shopWS: shopWelcome} {
		if !welcome.Resumed {
			t.Fatalf("%s: not resumed into the call after the restart", ws.Name)
		}
	}
	if st := linkStatus(t, n.url, callID, guideToken); st != "open" {
		t.Fatalf("link %s when the parties were back (%d ms after the kill), want still open: "+
			"the delivery was due %s after Pay, so the test did not cover the crash", st, time.Since(killed).Milliseconds(), delay)
	}

	// River delivers the webhook committed with the payment.
	deadline := time.Now().Add(20 * time.Second)
	for linkStatus(t, n.url, callID, guideToken) != "paid" {
		if time.Now().After(deadline) {
			t.Fatalf("link not paid 20 s after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	paidAfter := time.Since(killed)
	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		if st := paymentStatus(ws, callID); st != "paid" {
			t.Fatalf("%s: payment.link %s after the restart, want paid", ws.Name, st)
		}
	}
	t.Logf("SIGKILL → ready: %d ms; SIGKILL → link paid: %d ms (webhook held back %s after Pay)",
		restarted.Milliseconds(), paidAfter.Milliseconds(), delay)
}

// waitCallState takes call.state messages of the call until one says
// want.
func waitCallState(ws *clienttest.Conn, callID, want string) {
	for {
		var st protocol.CallState
		if ws.AwaitInto(protocol.TypeCallState, callID, &st); st.State == want {
			return
		}
	}
}

// paymentStatus is the status the next payment.link of the call reports.
func paymentStatus(ws *clienttest.Conn, callID string) string {
	var pl protocol.PaymentLink
	ws.AwaitInto(protocol.TypePaymentLink, callID, &pl)
	return pl.Status
}

func linkStatus(t *testing.T, baseURL, callID, token string) string {
	t.Helper()
	var list struct {
		Links []struct {
			Status string `json:"status"`
		} `json:"links"`
	}
	api(t, http.MethodGet, baseURL+"/api/v1/calls/"+callID+"/payment-links", token, nil, &list, http.StatusOK)
	if len(list.Links) != 1 {
		t.Fatalf("call %s has %d payment links, want 1", callID, len(list.Links))
	}
	return list.Links[0].Status
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
