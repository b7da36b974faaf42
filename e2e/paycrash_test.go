package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
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
	bin := guidecallBinary(t)
	const email, password = "guide-paycrash@e2e.local", "pay-crash guide password"
	addAccount(t, bin, url, email, "Pay Guide", password, "guide")
	// Long enough for SIGKILL, a restart and two reconnects to come first.
	const delay = 6 * time.Second
	n := startProc(t, bin, "node", procConfig{databaseURL: url, ip: "127.0.0.1",
		env: []string{"GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY=" + delay.String()}})
	ep := n.endpoint(email, password)

	// A connected call, over the raw protocol (no media is needed here).
	guideToken := loginGuide(t, ep)
	guideWS := dialWS(t, "guide", wsURLOf(ep), guideToken)
	guideWS.next(5*time.Second, "welcome")
	guideWS.send("presence", "", map[string]string{"status": "available"})
	guideWS.next(5*time.Second, "presence")
	j := joinQueue(t, n.url)
	shopWS := dialWS(t, "shopper", j.WSURL, j.Token)
	shopWS.next(5*time.Second, "welcome")
	var offer struct {
		OfferID string `json:"offer_id"`
	}
	guideWS.next(10*time.Second, "offer").decode(t, &offer)
	guideWS.send("offer.accept", "", map[string]string{"offer_id": offer.OfferID})
	callID := guideWS.next(5*time.Second, "call.matched").CallID
	shopWS.next(5*time.Second, "call.matched")
	guideWS.send("call.connected", callID, map[string]any{})
	waitCallState(t, guideWS, "connected")

	var link struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		CheckoutURL string `json:"checkout_url"`
	}
	api(t, http.MethodPost, n.url+"/api/v1/calls/"+callID+"/payment-links", guideToken,
		paymentLinkRequest{Amount: 12900, Currency: "EUR", Description: "Wool coat", idempotencyKey: "crash-" + callID},
		&link, http.StatusCreated)
	for _, ws := range []*wsClient{guideWS, shopWS} {
		if st := paymentStatus(t, ws.next(5*time.Second, "payment.link")); st != "open" {
			t.Fatalf("%s: payment.link %s, want open", ws.name, st)
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
	guideWS = dialWS(t, "guide-back", wsURLOf(ep), guideToken)
	shopWS = dialWS(t, "shopper-back", j.WSURL, j.Token)
	for _, ws := range []*wsClient{guideWS, shopWS} {
		var welcome struct {
			Resumed bool `json:"resumed"`
		}
		ws.next(10*time.Second, "welcome").decode(t, &welcome)
		if !welcome.Resumed {
			t.Fatalf("%s: not resumed into the call after the restart", ws.name)
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
	for _, ws := range []*wsClient{guideWS, shopWS} {
		if st := paymentStatus(t, ws.next(10*time.Second, "payment.link")); st != "paid" {
			t.Fatalf("%s: payment.link %s after the restart, want paid", ws.name, st)
		}
	}
	t.Logf("SIGKILL → ready: %d ms; SIGKILL → link paid: %d ms (webhook held back %s after Pay)",
		restarted.Milliseconds(), paidAfter.Milliseconds(), delay)
}

func waitCallState(t *testing.T, ws *wsClient, want string) {
	t.Helper()
	for {
		var st struct {
			State string `json:"state"`
		}
		ws.next(5*time.Second, "call.state").decode(t, &st)
		if st.State == want {
			return
		}
	}
}

func paymentStatus(t *testing.T, f frame) string {
	t.Helper()
	var pl struct {
		Status string `json:"status"`
	}
	f.decode(t, &pl)
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
