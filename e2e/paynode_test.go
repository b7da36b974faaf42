package e2e

import (
	"net/http"
	"testing"

	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// payNode is the real binary set up for a payment test: a node (on
// PostgreSQL with a guide and an admin added through the CLI, or in
// memory with the demo logins it prints), the admin logged in.
type payNode struct {
	*procNode
	bin, databaseURL string
	guide            endpoint
	adminToken       string
}

// payNodeConfig says how to start a payNode.
type payNodeConfig struct {
	name string
	// databaseURL is the node's schema; empty: a memory node with the
	// demo logins.
	databaseURL string
	env         []string // KEY=VALUE (provider keys, test hooks)
	extraArgs   []string
}

// startPayNode builds the binary, adds the accounts and starts the node.
func startPayNode(t *testing.T, c payNodeConfig) *payNode {
	t.Helper()
	bin := guidecallBinary(t)
	n := &payNode{bin: bin, databaseURL: c.databaseURL}
	pc := procConfig{databaseURL: c.databaseURL, ip: "127.0.0.1", env: c.env, extraArgs: c.extraArgs}
	if c.databaseURL == "" {
		pc.demoDefault = true
		n.procNode = startProc(t, bin, c.name, pc)
		banner := waitBanner(t, n.procNode)
		guideEmail, guidePassword := demoLogin(t, banner, "Demo guide login:")
		adminEmail, adminPassword := demoLogin(t, banner, "Demo admin login:")
		n.guide = n.endpoint(guideEmail, guidePassword)
		n.adminToken = login(t, n.url, adminEmail, adminPassword)
		return n
	}
	guideEmail, adminEmail := "guide-"+c.name+"@e2e.local", "admin-"+c.name+"@e2e.local"
	const guidePassword, adminPassword = "e2e pay guide password", "e2e pay admin password"
	addAccount(t, bin, c.databaseURL, guideEmail, "Pay Guide", guidePassword, "guide")
	addAccount(t, bin, c.databaseURL, adminEmail, "Pay Admin", adminPassword, "admin")
	n.procNode = startProc(t, bin, c.name, pc)
	n.guide = n.endpoint(guideEmail, guidePassword)
	n.adminToken = login(t, n.url, adminEmail, adminPassword)
	return n
}

// subscribe registers recv as the merchant's webhook endpoint (at path
// under its server, for events, all if none) and gives it the secret.
func (n *payNode) subscribe(t *testing.T, recv *merchantReceiver, path string, events ...string) {
	t.Helper()
	body := map[string]any{"url": recv.srv.URL + path, "description": "e2e shop"}
	if len(events) > 0 {
		body["events"] = events
	}
	var created struct {
		Secret string `json:"secret"`
	}
	api(t, http.MethodPost, n.url+"/api/v1/admin/webhooks/endpoints", n.adminToken, body, &created, http.StatusCreated)
	recv.mu.Lock()
	recv.secret = created.Secret
	recv.mu.Unlock()
}

// payCall is a connected call between the node's guide and a shopper who
// joined with joinQueue, over the raw protocol (no media).
type payCall struct {
	id              string
	guideToken      string
	guideWS, shopWS *clienttest.Conn
	shopper         joined
}

// connectCall makes one.
func (n *payNode) connectCall(t *testing.T) payCall {
	t.Helper()
	c := payCall{guideToken: loginGuide(t, n.guide)}
	c.guideWS = dialWS(t, "guide", wsURLOf(n.guide), c.guideToken)
	c.guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	c.guideWS.Await(protocol.TypePresence, "")
	c.shopper = joinQueue(t, n.url)
	c.shopWS = dialWS(t, "shopper", c.shopper.WSURL, c.shopper.Token)
	var offer protocol.Offer
	c.guideWS.AwaitInto(protocol.TypeOffer, "", &offer)
	c.guideWS.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: offer.OfferID})
	c.id = c.guideWS.Await(protocol.TypeCallMatched, "").CallID
	c.shopWS.Await(protocol.TypeCallMatched, c.id)
	c.guideWS.Send(protocol.TypeCallConnected, c.id, protocol.CallConnected{})
	waitCallState(c.guideWS, c.id, "connected")
	return c
}

// createdLink is the guide's answer for a new payment link.
type createdLink struct {
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	ProviderRef string `json:"provider_ref"`
	Mode        string `json:"mode"`
	CheckoutURL string `json:"checkout_url"`
	Status      string `json:"status"`
}

// sendLink is the guide sending a payment link in the call.
func (n *payNode) sendLink(t *testing.T, c payCall, amount int64, currency, description string) createdLink {
	t.Helper()
	var l createdLink
	api(t, http.MethodPost, n.url+"/api/v1/calls/"+c.id+"/payment-links", c.guideToken,
		paymentLinkRequest{Amount: amount, Currency: currency, Description: description, idempotencyKey: "link-" + c.id},
		&l, http.StatusCreated)
	return l
}

// paySandbox presses Pay on a sandbox checkout.
func paySandbox(t *testing.T, checkoutURL string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, checkoutURL+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pay: %d", resp.StatusCode)
	}
}
