package callflow

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"unicode/utf8"

	"guidecall/protocol"
	"guidecall/queue"
)

// What one call item may hold; docs/protocol.md states the same.
const (
	maxChatRunes = 2000
	maxCartLines = 50
	maxNameRunes = 200
)

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func badf(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeBadMessage, format, args...)
}

// webURL accepts only an absolute http or https URL (no javascript: or
// data: links reach the other party's page).
func webURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s) > 2048 {
		return badf("%s must be an http or https URL", field)
	}
	return nil
}

func checkProduct(p protocol.Product, what string) error {
	switch {
	case p.Name == "" || utf8.RuneCountInString(p.Name) > maxNameRunes:
		return badf("%s needs a name of 1 to %d characters", what, maxNameRunes)
	case len(p.ProductID) > 200 || utf8.RuneCountInString(p.Variant) > maxNameRunes:
		return badf("%s product_id or variant too long", what)
	case p.Price < 0:
		return badf("%s price must not be negative", what)
	case !currencyRE.MatchString(p.Currency):
		return badf("%s currency must be an ISO 4217 code like EUR", what)
	}
	if err := webURL(what+" image_url", p.ImageURL); err != nil {
		return err
	}
	return webURL(what+" url", p.URL)
}

// itemFrom validates a client's chat.send, product.share or cart.update
// and returns the item's kind and the body to store.
func itemFrom(role protocol.Role, m protocol.Envelope) (queue.CallItemKind, []byte, error) {
	var (
		kind queue.CallItemKind
		body any
	)
	switch m.Type {
	case protocol.TypeChatSend:
		var p protocol.ChatSend
		if err := m.Decode(&p); err != nil {
			return "", nil, err
		}
		n := utf8.RuneCountInString(p.Text)
		switch {
		case n > maxChatRunes:
			return "", nil, badf("chat text over %d characters", maxChatRunes)
		case n == 0 && p.ImageURL == "":
			return "", nil, badf("chat.send needs text or an image")
		case p.ImageURL != "" && role != protocol.RoleGuide:
			return "", nil, badf("only the guide sends images")
		}
		if err := webURL("image_url", p.ImageURL); err != nil {
			return "", nil, err
		}
		kind, body = queue.ItemChat, p
	case protocol.TypeProductShare:
		var p protocol.ProductShare
		if err := m.Decode(&p); err != nil {
			return "", nil, err
		}
		if err := checkProduct(p.Product, "product"); err != nil {
			return "", nil, err
		}
		kind, body = queue.ItemProduct, p
	case protocol.TypeCartUpdate:
		var p protocol.CartUpdate
		if err := m.Decode(&p); err != nil {
			return "", nil, err
		}
		if len(p.Lines) > maxCartLines {
			return "", nil, badf("cart over %d lines", maxCartLines)
		}
		if p.Viewing != nil {
			if err := checkProduct(*p.Viewing, "viewing"); err != nil {
				return "", nil, err
			}
		}
		for i, l := range p.Lines {
			if err := checkProduct(l.Product, fmt.Sprintf("lines[%d]", i)); err != nil {
				return "", nil, err
			}
			if l.Quantity < 1 || l.Quantity > 999 {
				return "", nil, badf("lines[%d] quantity must be 1 to 999", i)
			}
		}
		if p.Lines == nil {
			p.Lines = []protocol.CartLine{}
		}
		kind, body = queue.ItemCart, p
	default:
		return "", nil, badf("%s is not a call item", m.Type)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	return kind, b, nil
}

// itemMessage is an item as the message both parties get.
func itemMessage(it queue.CallItem) (protocol.Type, any, error) {
	switch it.Kind {
	case queue.ItemChat:
		var p protocol.ChatSend
		if err := json.Unmarshal(it.Body, &p); err != nil {
			return "", nil, fmt.Errorf("item %s: %w", it.ID, err)
		}
		return protocol.TypeChatMessage, protocol.ChatMessage{
			ItemID: it.ID, Seq: it.Seq, From: it.From, Text: p.Text, ImageURL: p.ImageURL, SentAt: it.At.UTC(),
		}, nil
	case queue.ItemProduct:
		var p protocol.ProductShare
		if err := json.Unmarshal(it.Body, &p); err != nil {
			return "", nil, fmt.Errorf("item %s: %w", it.ID, err)
		}
		return protocol.TypeProductCard, protocol.ProductCard{ItemID: it.ID, Seq: it.Seq, SentAt: it.At.UTC(), Product: p.Product}, nil
	case queue.ItemCart:
		var p protocol.CartUpdate
		if err := json.Unmarshal(it.Body, &p); err != nil {
			return "", nil, fmt.Errorf("item %s: %w", it.ID, err)
		}
		if p.Lines == nil {
			p.Lines = []protocol.CartLine{}
		}
		return protocol.TypeCart, protocol.Cart{ItemID: it.ID, Seq: it.Seq, SentAt: it.At.UTC(), Viewing: p.Viewing, Lines: p.Lines}, nil
	}
	return "", nil, fmt.Errorf("item %s: unknown kind %q", it.ID, it.Kind)
}
