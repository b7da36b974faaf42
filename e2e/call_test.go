package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// endpoint is what a call needs of a node, whether it runs in this
// process (node) or as a child process (procNode): its base URL and a
// guide account on it.
type endpoint struct {
	url                       string
	guideEmail, guidePassword string
}

// endpoint returns the in-process node's URL and guide account.
func (n *node) endpoint() endpoint {
	return endpoint{url: n.URL(), guideEmail: n.guideEmail, guidePassword: n.guidePassword}
}

// loginGuide logs the endpoint's guide in and returns its access token.
func loginGuide(t *testing.T, n endpoint) string {
	t.Helper()
	return login(t, n.url, n.guideEmail, n.guidePassword)
}

// login logs an account in and returns its access token.
func login(t *testing.T, baseURL, email, password string) string {
	t.Helper()
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	api(t, http.MethodPost, baseURL+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &pair, http.StatusOK)
	return pair.AccessToken
}

type joined struct {
	EntryID string `json:"entry_id"`
	Token   string `json:"token"`
	WSURL   string `json:"ws_url"`
}

func joinQueue(t *testing.T, baseURL string) joined {
	t.Helper()
	var j joined
	api(t, http.MethodPost, baseURL+"/api/v1/queue", "", map[string]string{
		"queue": "default", "locale": "de-DE", "currency": "EUR", "page_url": "https://shop.example/p/42", "name": "Sam",
	}, &j, http.StatusCreated)
	return j
}

// TestPionCall runs one whole call between two pion peers through a real
// node: join, offer, accept, SDP and ICE over the WebSocket, media through
// the bundled TURN only, a payment link paid on the sandbox checkout, and
// hang-up.
func TestPionCall(t *testing.T) {
	n := startNode(t, nodeOptions{})
	runPionCall(t, n.endpoint(), n.endpoint())
}

// liveCall is a connected call between two pion peers, media flowing.
type liveCall struct {
	id                  string
	guideToken          string
	shopperToken        string
	guideWS, shopWS     *clienttest.Conn
	guide, shopper      *peer
	accepted, connected time.Time
}

// setupCall matches a shopper on node sn with a guide on node gn (the same
// node, or two nodes of one cluster) and runs their call until RTP flows
// both ways through TURN relays.
func setupCall(t *testing.T, sn, gn endpoint) *liveCall {
	guideToken := loginGuide(t, gn)
	guideWS := dialWS(t, "guide", wsURLOf(gn), guideToken)
	guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	guideWS.Await(protocol.TypePresence, "")

	j := joinQueue(t, sn.url)
	shopWS := dialWS(t, "shopper", j.WSURL, j.Token)

	var o protocol.Offer
	offer := guideWS.AwaitInto(protocol.TypeOffer, "", &o)
	if o.Shopper.Currency != "EUR" || o.Shopper.PageURL != "https://shop.example/p/42" {
		t.Fatalf("offer carries the wrong shopper context: %s", offer.Data)
	}
	accepted := time.Now()
	guideWS.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: o.OfferID})
	gm := guideWS.Await(protocol.TypeCallMatched, "")
	sm := shopWS.Await(protocol.TypeCallMatched, "")
	if gm.CallID != o.OfferID || sm.CallID != gm.CallID {
		t.Fatalf("call ids differ: offer %s, guide %s, shopper %s", o.OfferID, gm.CallID, sm.CallID)
	}
	callID := gm.CallID

	shopper := newPeer(t, "shopper", sn.url, j.Token, shopWS, callID)
	shopper.answer()
	guide := newPeer(t, "guide", gn.url, guideToken, guideWS, callID)
	guide.offer()

	for _, p := range []*peer{guide, shopper} {
		select {
		case <-p.Connected():
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: peer connection not connected after 20 s (state %s)", p.name, p.State())
		}
	}
	connected := time.Since(accepted)
	home := map[*peer]string{guide: gn.url, shopper: sn.url}
	other := map[*peer]*peer{guide: shopper, shopper: guide}
	for _, p := range []*peer{guide, shopper} {
		p.expectRelayPair(other[p])
		// Each side relays through the TURN server of its own node (in these
		// tests a node's TURN listens on its HTTP host).
		if got, want := p.relayIP(), hostOf(t, home[p]); got != want {
			t.Fatalf("%s: relays on %s, want its node's TURN on %s", p.name, got, want)
		}
		p.socket().Send(protocol.TypeCallConnected, callID, protocol.CallConnected{})
	}
	deadline := time.Now().Add(10 * time.Second)
	for guide.Received() < 10 || shopper.Received() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("RTP through TURN: guide got %d packets, shopper %d", guide.Received(), shopper.Received())
		}
		time.Sleep(20 * time.Millisecond)
	}
	firstMedia := time.Since(accepted)
	t.Logf("accept→connected: %d ms; accept→10 RTP packets each way: %d ms", connected.Milliseconds(), firstMedia.Milliseconds())
	// The call moves to connecting on the first SDP, then to connected.
	waitCallState(guideWS, callID, "connected")
	return &liveCall{
		id: callID, guideToken: guideToken, shopperToken: j.Token, guideWS: guideWS, shopWS: shopWS,
		guide: guide, shopper: shopper, accepted: accepted, connected: accepted.Add(connected),
	}
}

// waitMedia waits until both peers received n more RTP packets than
// they had when it was called.
func (c *liveCall) waitMedia(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	g0, s0 := c.guide.Received(), c.shopper.Received()
	deadline := time.Now().Add(timeout)
	for c.guide.Received()-g0 < n || c.shopper.Received()-s0 < n {
		if time.Now().After(deadline) {
			t.Fatalf("RTP: guide got %d new packets, shopper %d, within %s", c.guide.Received()-g0, c.shopper.Received()-s0, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runPionCall drives a whole call (see setupCall), then a payment link
// paid on the sandbox checkout, then hang-up, and returns the call's id.
// It closes both sockets before it returns, so the guide is not left
// available.
func runPionCall(t *testing.T, sn, gn endpoint) string {
	return finishCall(t, setupCall(t, sn, gn), sn, gn)
}

// finishCall is runPionCall after setupCall: the payment link, paid, and
// the hang-up.
func finishCall(t *testing.T, c *liveCall, sn, gn endpoint) string {
	callID, guideToken, guideWS, shopWS, j := c.id, c.guideToken, c.guideWS, c.shopWS, joined{Token: c.shopperToken}

	// The guide pushes a payment link; both see it open.
	var link struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		CheckoutURL string `json:"checkout_url"`
	}
	req := paymentLinkRequest{Amount: 4999, Currency: "EUR", Description: "Merino sneaker", idempotencyKey: "e2e-" + callID}
	api(t, http.MethodPost, gn.url+"/api/v1/calls/"+callID+"/payment-links", guideToken, req, &link, http.StatusCreated)
	// A retry with the same key is the same link, not a second one.
	var again struct {
		ID string `json:"id"`
	}
	api(t, http.MethodPost, gn.url+"/api/v1/calls/"+callID+"/payment-links", guideToken, req, &again, http.StatusOK)
	if again.ID != link.ID {
		t.Fatalf("idempotent retry made link %s, first was %s", again.ID, link.ID)
	}
	// The shopper may not send links, only the guide.
	api(t, http.MethodPost, sn.url+"/api/v1/calls/"+callID+"/payment-links", j.Token,
		paymentLinkRequest{Amount: 1, Currency: "EUR", Description: "x", idempotencyKey: "shopper"}, nil, http.StatusForbidden)

	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		var pl protocol.PaymentLink
		f := ws.AwaitInto(protocol.TypePaymentLink, callID, &pl)
		if pl.LinkID != link.ID || pl.Status != "open" || pl.Amount != 4999 || pl.CheckoutURL == "" {
			t.Fatalf("%s: payment.link %s", ws.Name, f.Data)
		}
	}

	// The shopper pays on the hosted sandbox checkout, through its own node,
	// whichever node made the checkout.
	checkout := checkoutOn(t, link.CheckoutURL, gn.url, sn.url)
	payReq, err := http.NewRequest(http.MethodPost, checkout+"/pay", nil)
	if err != nil {
		t.Fatal(err)
	}
	payReq.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(payReq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("pay on checkout: status %d", resp.StatusCode)
	}
	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		var pl protocol.PaymentLink
		f := ws.AwaitInto(protocol.TypePaymentLink, callID, &pl)
		if pl.Status != "paid" {
			t.Fatalf("%s: after paying: %s", ws.Name, f.Data)
		}
		// Only the guide's copy says what it may refund, and until when
		// (the node's default window, 14 days, ahead).
		switch {
		case ws == guideWS && (pl.Refundable == nil || *pl.Refundable != 4999 || pl.RefundableUntil == nil ||
			time.Until(*pl.RefundableUntil) < 13*24*time.Hour):
			t.Fatalf("guide: paid link without its refund window: %s", f.Data)
		case ws == shopWS && (pl.Refundable != nil || pl.RefundableUntil != nil):
			t.Fatalf("shopper: paid link with the guide's refund fields: %s", f.Data)
		}
	}

	guideWS.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		var e protocol.CallEnded
		if f := ws.AwaitInto(protocol.TypeCallEnded, callID, &e); e.Reason != "hangup" || e.By != "guide" {
			t.Fatalf("%s: call.ended %s", ws.Name, f.Data)
		}
	}
	// Leave nothing behind that a later match could pick: the guide's
	// socket would otherwise keep it available.
	for _, p := range []*peer{c.guide, c.shopper} {
		p.close()
	}
	guideWS.Close()
	shopWS.Close()
	return callID
}

// checkoutOn returns the checkout URL made on node from, moved to node to,
// as a load balancer without sticky sessions may move it. Every node serves
// every checkout (the sandbox keeps them in the shared store), so anything
// but 200 there fails the test.
func checkoutOn(t *testing.T, checkoutURL, from, to string) string {
	t.Helper()
	if from == to {
		return checkoutURL
	}
	if !strings.HasPrefix(checkoutURL, from+"/") {
		t.Fatalf("checkout URL %s was not made on %s", checkoutURL, from)
	}
	moved := to + strings.TrimPrefix(checkoutURL, from)
	resp, err := http.Get(moved)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the sandbox checkout made on %s answers %d on %s", from, resp.StatusCode, to)
	}
	return moved
}

func wsURLOf(n endpoint) string {
	return "ws" + n.url[len("http"):] + "/api/v1/ws"
}
