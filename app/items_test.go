package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"guidecall/app"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// connectedCall makes a call between a new guide and a new shopper and
// returns their sockets (errors arrive as frames), tokens and the call id.
func connectedCall(t *testing.T, node *app.App, email string) (g, s *clienttest.Conn, guideTok, shopperTok, callID string) {
	t.Helper()
	_, guideTok = accountToken(t, node, email, protocol.RoleGuide)
	url := "ws" + strings.TrimPrefix(node.URL(), "http") + "/api/v1/ws"
	g, _ = clienttest.DialAuth(t, url, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	a := join(t, node)
	s, _ = clienttest.DialAuth(t, url, a.Token)
	var od protocol.Offer
	g.AwaitInto(protocol.TypeOffer, "", &od)
	g.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: od.OfferID})
	callID = g.Await(protocol.TypeCallMatched, "").CallID
	s.Await(protocol.TypeCallMatched, callID)
	g.Send(protocol.TypeCallConnected, callID, protocol.CallConnected{})
	g.Await(protocol.TypeCallState, callID)
	s.Await(protocol.TypeCallState, callID)
	return g, s, guideTok, a.Token, callID
}

func TestChatProductsCartAndRating(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	g, s, guideTok, shopperTok, callID := connectedCall(t, node, "items-guide@test.local")

	// Chat both ways: each side gets every message, its own included, in seq order.
	s.Send(protocol.TypeChatSend, callID, protocol.ChatSend{Text: "Does it run small?"})
	var m protocol.ChatMessage
	g.AwaitInto(protocol.TypeChatMessage, callID, &m)
	if m.Text != "Does it run small?" || m.From != protocol.RoleShopper || m.Seq != 1 || m.ItemID == "" || m.SentAt.IsZero() {
		t.Fatalf("guide got %+v", m)
	}
	s.AwaitInto(protocol.TypeChatMessage, callID, &m)
	if m.Seq != 1 {
		t.Fatalf("the shopper's own copy: %+v", m)
	}
	g.Send(protocol.TypeChatSend, callID, protocol.ChatSend{Text: "A little; take 43.", ImageURL: "https://shop.example/sole.jpg"})
	s.AwaitInto(protocol.TypeChatMessage, callID, &m)
	if m.From != protocol.RoleGuide || m.ImageURL != "https://shop.example/sole.jpg" || m.Seq != 2 {
		t.Fatalf("shopper got %+v", m)
	}
	g.Await(protocol.TypeChatMessage, callID)

	// A product card from the guide.
	card := protocol.Product{ProductID: "merino", Name: "Merino wool sneaker", Variant: "EU 43", Price: 12900, Currency: "EUR", URL: "https://shop.example/p/merino"}
	g.Send(protocol.TypeProductShare, callID, protocol.ProductShare{Product: card})
	var pc protocol.ProductCard
	s.AwaitInto(protocol.TypeProductCard, callID, &pc)
	if pc.Product != card || pc.Seq != 3 {
		t.Fatalf("product card %+v", pc)
	}
	g.Await(protocol.TypeProductCard, callID)

	// The shopper's cart reaches the guide.
	s.Send(protocol.TypeCartUpdate, callID, protocol.CartUpdate{Viewing: &card, Lines: []protocol.CartLine{{Product: card, Quantity: 1}}})
	var cart protocol.Cart
	g.AwaitInto(protocol.TypeCart, callID, &cart)
	if cart.Viewing == nil || cart.Viewing.Name != card.Name || len(cart.Lines) != 1 || cart.Lines[0].Quantity != 1 {
		t.Fatalf("cart %+v", cart)
	}
	s.Await(protocol.TypeCart, callID)

	// What each side may not send, and what is malformed.
	for _, tc := range []struct {
		from *clienttest.Conn
		typ  protocol.Type
		data any
		code protocol.Code
	}{
		{s, protocol.TypeProductShare, protocol.ProductShare{Product: card}, protocol.CodeUnknownType},
		{g, protocol.TypeCartUpdate, protocol.CartUpdate{}, protocol.CodeUnknownType},
		{s, protocol.TypeChatSend, protocol.ChatSend{Text: "look", ImageURL: "https://x.example/a.png"}, protocol.CodeBadMessage},
		{g, protocol.TypeChatSend, protocol.ChatSend{Text: "x", ImageURL: "javascript:alert(1)"}, protocol.CodeBadMessage},
		{s, protocol.TypeChatSend, protocol.ChatSend{}, protocol.CodeBadMessage},
		{s, protocol.TypeChatSend, protocol.ChatSend{Text: strings.Repeat("é", 2001)}, protocol.CodeBadMessage},
		{g, protocol.TypeProductShare, protocol.ProductShare{Product: protocol.Product{Name: "x", Currency: "euro"}}, protocol.CodeBadMessage},
		{s, protocol.TypeCartUpdate, protocol.CartUpdate{Lines: []protocol.CartLine{{Product: card, Quantity: 0}}}, protocol.CodeBadMessage},
	} {
		tc.from.Send(tc.typ, callID, tc.data)
		var pe protocol.Error
		tc.from.AwaitInto(protocol.TypeError, "", &pe)
		if pe.Code != tc.code || pe.Ref != string(tc.typ) {
			t.Errorf("%s %+v: error %+v, want %s", tc.typ, tc.data, pe, tc.code)
		}
	}

	// A reloaded page reads the call's items back.
	items := node.URL() + "/api/v1/calls/" + callID + "/items"
	r := do(t, "GET", items, shopperTok, nil, nil)
	var got struct {
		Items []struct {
			Type protocol.Type   `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"items"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("GET items: %d %s", r.status, r.body)
	}
	var types []string
	for _, it := range got.Items {
		types = append(types, string(it.Type))
	}
	if strings.Join(types, " ") != "chat.message chat.message product.card cart" {
		t.Fatalf("items %v", types)
	}
	if r := do(t, "GET", items, guideTok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("guide GET items: %d %s", r.status, r.body)
	}
	other := join(t, node)
	if r := do(t, "GET", items, other.Token, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("another shopper GET items: %d %s", r.status, r.body)
	}

	// The rating, once the call ended, by its shopper only, once.
	rating := node.URL() + "/api/v1/calls/" + callID + "/rating"
	if r := doJSON(t, "POST", rating, shopperTok, map[string]any{"rating": 5}, nil); r.status != http.StatusConflict {
		t.Fatalf("rating a live call: %d %s", r.status, r.body)
	}
	s.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	g.Await(protocol.TypeCallEnded, callID)
	s.Await(protocol.TypeCallEnded, callID)
	if r := doJSON(t, "POST", rating, guideTok, map[string]any{"rating": 5}, nil); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
		t.Fatalf("the guide rates: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "POST", rating, other.Token, map[string]any{"rating": 5}, nil); r.status != http.StatusNotFound {
		t.Fatalf("a stranger rates: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "POST", rating, shopperTok, map[string]any{"rating": 9}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("rating 9: %d %s", r.status, r.body)
	}
	r = doJSON(t, "POST", rating, shopperTok, map[string]any{"rating": 4, "comment": " Helpful "}, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"rating":4`) || !strings.Contains(string(r.body), `"comment":"Helpful"`) {
		t.Fatalf("rating: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "POST", rating, shopperTok, map[string]any{"rating": 1}, nil); r.status != http.StatusConflict {
		t.Fatalf("second rating: %d %s", r.status, r.body)
	}
	if c, err := node.Queue.CallRecord(t.Context(), callID); err != nil || c.Rating != 4 || c.RatingComment != "Helpful" {
		t.Fatalf("stored call %+v, %v", c, err)
	}
}
