package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// TestMediaStateRelayedToTheGuide: the shopper's mute and camera-off reach
// the guide of its call as sent, marked from the shopper; a payload with
// other fields and a message naming another call are refused, like sdp.
func TestMediaStateRelayedToTheGuide(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	g, s, _, _, callID := connectedCall(t, node, "media-guide@test.local")

	s.Send(protocol.TypeMediaState, callID, protocol.MediaState{Audio: false, Video: true})
	var ms protocol.MediaState
	f := g.AwaitInto(protocol.TypeMediaState, callID, &ms)
	if ms.Audio || !ms.Video || f.From != protocol.RoleShopper {
		t.Fatalf("guide got %+v from %q; want audio off, video on, from the shopper", ms, f.From)
	}
	g.Send(protocol.TypeMediaState, callID, protocol.MediaState{Audio: true, Video: false})
	s.AwaitInto(protocol.TypeMediaState, callID, &ms)
	if !ms.Audio || ms.Video {
		t.Fatalf("shopper got %+v", ms)
	}

	if err := s.SendRaw([]byte(`{"v":1,"type":"media.state","call_id":"` + callID + `","data":{"audio":true,"video":true,"screen":true}}`)); err != nil {
		t.Fatal(err)
	}
	refused(t, s, protocol.CodeBadMessage)
	s.Send(protocol.TypeMediaState, "c_someone_else", protocol.MediaState{})
	refused(t, s, protocol.CodeNotInCall)
	s.Send(protocol.TypeMediaState, "", protocol.MediaState{})
	refused(t, s, protocol.CodeBadMessage)
	if err := s.SendRaw([]byte(`{"v":1,"type":"media.state","call_id":"` + callID + `","data":{"audio":true}}`)); err != nil {
		t.Fatal(err)
	}
	refused(t, s, protocol.CodeBadMessage)
}

// refused awaits the error answering a media.state, other frames kept.
func refused(t *testing.T, c *clienttest.Conn, code protocol.Code) {
	t.Helper()
	var pe protocol.Error
	c.AwaitInto(protocol.TypeError, "", &pe)
	if pe.Code != code || pe.Ref != string(protocol.TypeMediaState) {
		t.Errorf("error %+v, want %s for media.state", pe, code)
	}
}

// TestCallContextForItsGuide: GET /api/v1/calls/{id}/context gives the
// guide of the call the shopper's visit: the join's page, locale, currency
// and device, the customer with its earlier call, and the latest cart with
// its value; nobody else reads it.
func TestCallContextForItsGuide(t *testing.T) {
	t.Parallel()
	const customerSecret = "merchant identity secret for the context test"
	node := startAppConfig(t, func(c *config.Serve) { c.CustomerTokenSecret = customerSecret }, nil)
	tok := customerToken(t, customerSecret, jwt.MapClaims{"sub": "cust-ctx", "exp": time.Now().Add(time.Hour).Unix()})
	_, guideTok := accountToken(t, node, "context-guide@test.local", protocol.RoleGuide)
	ws := "ws" + strings.TrimPrefix(node.URL(), "http") + "/api/v1/ws"
	g, _ := clienttest.DialAuth(t, ws, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	g.Await(protocol.TypePresence, "")

	if r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{"currency": "EUR", "device": "fridge"}, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "device") {
		t.Fatalf("join with device fridge: %d %s; want 400 naming device", r.status, r.body)
	}
	call := func(device string) (*clienttest.Conn, string, string) {
		t.Helper()
		r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{
			"currency": "EUR", "locale": "de-DE", "name": "Sam", "page_url": "https://shop.example/p/42",
			"device": device, "customer_token": tok,
		}, nil)
		var j joined
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &j) != nil {
			t.Fatalf("join: %d %s", r.status, r.body)
		}
		s, _ := clienttest.DialAuth(t, ws, j.Token)
		var o protocol.Offer
		g.AwaitInto(protocol.TypeOffer, "", &o)
		if o.Shopper.Device != device {
			t.Errorf("offer device %q, want %q", o.Shopper.Device, device)
		}
		g.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: o.OfferID})
		id := g.Await(protocol.TypeCallMatched, "").CallID
		s.Await(protocol.TypeCallMatched, id)
		return s, id, j.Token
	}
	// An earlier call of the same customer, ended.
	first, firstID, _ := call("desktop")
	first.Send(protocol.TypeCallEnd, firstID, protocol.CallEnd{Reason: "hangup"})
	g.Await(protocol.TypeCallEnded, firstID)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})

	s, callID, shopperTok := call("phone")
	sneaker := protocol.Product{ProductID: "merino", Name: "Merino wool sneaker", Variant: "EU 42", Price: 12900, Currency: "EUR"}
	socks := protocol.Product{ProductID: "socks", Name: "Wool socks", Price: 1500, Currency: "EUR"}
	s.Send(protocol.TypeCartUpdate, callID, protocol.CartUpdate{Viewing: &sneaker, Lines: []protocol.CartLine{{Product: socks, Quantity: 1}}})
	g.Await(protocol.TypeCart, callID)
	s.Send(protocol.TypeCartUpdate, callID, protocol.CartUpdate{Viewing: &sneaker, Lines: []protocol.CartLine{{Product: socks, Quantity: 2}, {Product: sneaker, Quantity: 1}}})
	g.Await(protocol.TypeCart, callID)

	url := node.URL() + "/api/v1/calls/" + callID + "/context"
	r := do(t, "GET", url, guideTok, nil, nil)
	var got struct {
		Name, Locale, Currency, Device string
		CustomerID                     string `json:"customer_id"`
		Returning                      bool
		PreviousCalls                  []struct {
			CallID string `json:"call_id"`
		} `json:"previous_calls"`
		Viewing *protocol.Product
		Cart    struct {
			Lines  []protocol.CartLine
			Count  int
			Totals []struct {
				Currency string
				Amount   int64
			}
		}
	}
	if r.status != http.StatusOK {
		t.Fatalf("GET context: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "Sam" || got.Locale != "de-DE" || got.Currency != "EUR" || got.Device != "phone" || got.CustomerID != "cust-ctx" {
		t.Errorf("context %s", r.body)
	}
	if !got.Returning || len(got.PreviousCalls) != 1 || got.PreviousCalls[0].CallID != firstID {
		t.Errorf("previous calls %+v, want only %s", got.PreviousCalls, firstID)
	}
	if got.Viewing == nil || got.Viewing.Variant != "EU 42" {
		t.Errorf("viewing %+v", got.Viewing)
	}
	if got.Cart.Count != 3 || len(got.Cart.Lines) != 2 || len(got.Cart.Totals) != 1 || got.Cart.Totals[0].Amount != 2*1500+12900 {
		t.Errorf("cart %+v; want the latest: 3 items worth 15900 EUR", got.Cart)
	}

	// Only the call's guide: not its shopper, not another guide.
	if r := do(t, "GET", url, shopperTok, nil, nil); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
		t.Errorf("shopper GET context: %d", r.status)
	}
	_, otherTok := accountToken(t, node, "other-guide@test.local", protocol.RoleGuide)
	if r := do(t, "GET", url, otherTok, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("another guide GET context: %d %s", r.status, r.body)
	}
}

var _ = app.App{}
