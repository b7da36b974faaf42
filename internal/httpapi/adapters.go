package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"guidecall/internal/auth"
	"guidecall/payments"
	"guidecall/queue"
	"guidecall/signaling"
)

// identities turns tokens into signaling identities.
type identities struct {
	issuer   *auth.Issuer
	accounts auth.AccountStore
}

func (a identities) Authenticate(ctx context.Context, token string) (signaling.Identity, error) {
	c, err := a.issuer.Verify(token, "access")
	if err != nil {
		return signaling.Identity{}, err
	}
	return a.fromClaims(ctx, c)
}

func (a identities) fromClaims(ctx context.Context, c *auth.Claims) (signaling.Identity, error) {
	switch c.Role {
	case auth.RoleShopper:
		if c.EntryID == "" {
			return signaling.Identity{}, errors.New("shopper token without an entry")
		}
		return signaling.Identity{Address: signaling.Address{Role: signaling.RoleShopper, ID: c.EntryID}}, nil
	case auth.RoleGuide, auth.RoleAdmin:
		acct, err := a.accounts.AccountByID(ctx, c.Subject)
		if err != nil {
			return signaling.Identity{}, fmt.Errorf("account %s: %w", c.Subject, err)
		}
		return signaling.Identity{Address: signaling.Address{Role: signaling.RoleGuide, ID: acct.ID}, Name: acct.Name}, nil
	}
	return signaling.Identity{}, fmt.Errorf("role %q cannot open a socket", c.Role)
}

func partyOf(a signaling.Address) queue.Party {
	if a.Role == signaling.RoleShopper {
		return queue.PartyShopper
	}
	return queue.PartyGuide
}

func otherParty(c queue.Call, p queue.Party) signaling.Address {
	if p == queue.PartyShopper {
		return signaling.Address{Role: signaling.RoleGuide, ID: c.GuideID}
	}
	return signaling.Address{Role: signaling.RoleShopper, ID: c.EntryID}
}

// protocolError maps queue errors to what a client is told.
func protocolError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNotParty), errors.Is(err, queue.ErrNotFound):
		return signaling.Errorf(signaling.CodeNotInCall, "that call is not yours")
	case errors.Is(err, queue.ErrBadState):
		return signaling.Errorf(signaling.CodeBadState, "%v", err)
	case errors.Is(err, queue.ErrInvalid):
		return signaling.Errorf(signaling.CodeBadMessage, "%v", err)
	case errors.Is(err, queue.ErrUnavailable):
		return signaling.Errorf(signaling.CodeUnavailable, "the service is briefly unavailable; retry")
	}
	return err
}

// callView is the call part of a welcome.
type callView struct {
	CallID string          `json:"call_id"`
	State  queue.CallState `json:"state"`
	Role   string          `json:"role"`
}

// controller answers signaling's questions from the queue.
type controller struct {
	queue     *queue.Service
	heartbeat time.Duration
}

func (c controller) Open(ctx context.Context, who signaling.Identity) (any, error) {
	var call *queue.Call
	welcome := map[string]any{"role": who.Role, "heartbeat_ms": c.heartbeat.Milliseconds()}
	switch who.Role {
	case signaling.RoleShopper:
		e, cl, err := c.queue.ShopperConnected(ctx, who.ID, who.Socket)
		if err != nil {
			return nil, protocolError(err)
		}
		welcome["entry_id"], welcome["state"], call = e.ID, e.State, cl
	default:
		g, cl, err := c.queue.GuideConnected(ctx, who.ID, who.Name, who.Socket)
		if err != nil {
			return nil, protocolError(err)
		}
		welcome["guide_id"], welcome["status"], welcome["name"], call = g.ID, g.Status, g.Name, cl
	}
	welcome["resumed"] = call != nil
	welcome["call"] = nil
	if call != nil {
		welcome["call"] = callView{CallID: call.ID, State: call.State, Role: string(who.Role)}
	}
	return welcome, nil
}

func (c controller) Close(ctx context.Context, who signaling.Identity) {
	if who.Role == signaling.RoleShopper {
		c.queue.ShopperDisconnected(ctx, who.ID, who.Socket)
		return
	}
	c.queue.GuideDisconnected(ctx, who.ID, who.Socket)
}

func (c controller) Route(ctx context.Context, who signaling.Identity, m signaling.Message) (signaling.Address, error) {
	p := partyOf(who.Address)
	call, err := c.queue.Call(ctx, p, who.ID, m.CallID)
	if err != nil {
		return signaling.Address{}, protocolError(err)
	}
	switch call.State {
	case queue.CallAccepted:
		if m.Type == signaling.TypeSDP {
			c.queue.Signaled(ctx, call.ID)
		}
	case queue.CallConnecting, queue.CallConnected:
	default:
		return signaling.Address{}, signaling.Errorf(signaling.CodeBadState, "call %s is %s", call.ID, call.State)
	}
	return otherParty(call, p), nil
}

func (c controller) Handle(ctx context.Context, who signaling.Identity, m signaling.Message) error {
	p := partyOf(who.Address)
	switch m.Type {
	case signaling.TypePresence:
		var d struct {
			Status queue.GuideStatus `json:"status"`
		}
		if err := m.Decode(&d); err != nil {
			return err
		}
		_, err := c.queue.SetPresence(ctx, who.ID, d.Status)
		return protocolError(err)
	case signaling.TypeOfferAccept, signaling.TypeOfferDecline:
		var d struct {
			OfferID string `json:"offer_id"`
		}
		if err := m.Decode(&d); err != nil {
			return err
		}
		if d.OfferID == "" {
			return signaling.Errorf(signaling.CodeBadMessage, "%s needs data.offer_id", m.Type)
		}
		if m.Type == signaling.TypeOfferDecline {
			return protocolError(c.queue.Decline(ctx, who.ID, d.OfferID))
		}
		_, err := c.queue.Accept(ctx, who.ID, d.OfferID)
		return protocolError(err)
	case signaling.TypeQueueCancel:
		return protocolError(c.queue.Cancel(ctx, who.ID))
	case signaling.TypeCallConnected:
		_, err := c.queue.Connected(ctx, p, who.ID, m.CallID)
		return protocolError(err)
	case signaling.TypeCallEnd:
		var d struct {
			Reason string `json:"reason"`
		}
		if err := m.Decode(&d); err != nil {
			return err
		}
		switch d.Reason {
		case "", queue.ReasonHangup:
			d.Reason = queue.ReasonHangup
		case queue.ReasonDeclined, queue.ReasonFailed:
		default:
			return signaling.Errorf(signaling.CodeBadMessage, "call.end reason must be hangup, declined or failed")
		}
		_, err := c.queue.EndCall(ctx, p, who.ID, m.CallID, d.Reason)
		return protocolError(err)
	}
	return signaling.Errorf(signaling.CodeUnknownType, "%q is not handled", m.Type)
}

// events turns queue and payment events into protocol messages.
type events struct {
	hub   *signaling.Hub
	queue func() *queue.Service // set after the queue exists; the two refer to each other
	log   *slog.Logger
}

func shopper(id string) signaling.Address {
	return signaling.Address{Role: signaling.RoleShopper, ID: id}
}
func guide(id string) signaling.Address { return signaling.Address{Role: signaling.RoleGuide, ID: id} }

func (ev events) send(ctx context.Context, to signaling.Address, typ, callID string, data any) {
	if err := ev.hub.Send(ctx, to, typ, callID, data); err != nil {
		ev.log.WarnContext(ctx, "event not sent", "to", to.String(), "type", typ, "call_id", callID, "err", err)
	}
}

func (ev events) Position(ctx context.Context, entryID string, p queue.Position) {
	ev.send(ctx, shopper(entryID), signaling.TypeQueuePosition, "", p)
}

func (ev events) Offer(ctx context.Context, c queue.Call, e queue.Entry) {
	ev.send(ctx, guide(c.GuideID), signaling.TypeOffer, "", map[string]any{
		"offer_id":      c.ID,
		"entry_id":      e.ID,
		"deadline":      c.OfferDeadline.UTC().Format(time.RFC3339Nano),
		"expires_in_ms": max(time.Until(c.OfferDeadline).Milliseconds(), 0),
		"shopper": map[string]any{
			"name": e.Name, "queue": e.Queue, "locale": e.Locale, "currency": e.Currency,
			"page_url": e.PageURL, "waited_ms": c.OfferedAt.Sub(e.JoinedAt).Milliseconds(),
		},
	})
}

func (ev events) OfferRevoked(ctx context.Context, guideID, callID, reason string) {
	ev.send(ctx, guide(guideID), signaling.TypeOfferRevoked, "", map[string]string{"offer_id": callID, "reason": reason})
}

func (ev events) Matched(ctx context.Context, c queue.Call, e queue.Entry, g queue.Guide) {
	ev.send(ctx, guide(c.GuideID), signaling.TypeCallMatched, c.ID, map[string]any{
		"role": "guide", "initiator": "guide",
		"peer": map[string]string{"name": e.Name, "role": "shopper", "locale": e.Locale, "currency": e.Currency, "page_url": e.PageURL},
	})
	ev.send(ctx, shopper(c.EntryID), signaling.TypeCallMatched, c.ID, map[string]any{
		"role": "shopper", "initiator": "guide",
		"peer": map[string]string{"name": g.Name, "role": "guide"},
	})
}

func (ev events) Requeued(ctx context.Context, e queue.Entry, reason string, p queue.Position) {
	ev.send(ctx, shopper(e.ID), signaling.TypeQueueRequeued, "", map[string]any{
		"reason": reason, "position": p.Position, "eta_seconds": p.ETASeconds, "queue": e.Queue,
	})
}

func (ev events) EntryLeft(ctx context.Context, e queue.Entry) {
	ev.send(ctx, shopper(e.ID), signaling.TypeQueueLeft, "", map[string]string{"reason": e.LeftReason})
}

func (ev events) CallState(ctx context.Context, c queue.Call) {
	data := map[string]string{"state": string(c.State)}
	ev.send(ctx, guide(c.GuideID), signaling.TypeCallState, c.ID, data)
	ev.send(ctx, shopper(c.EntryID), signaling.TypeCallState, c.ID, data)
}

func (ev events) CallEnded(ctx context.Context, c queue.Call) {
	data := map[string]string{"reason": c.EndReason, "by": c.EndedBy}
	ev.send(ctx, guide(c.GuideID), signaling.TypeCallEnded, c.ID, data)
	ev.send(ctx, shopper(c.EntryID), signaling.TypeCallEnded, c.ID, data)
}

func (ev events) Presence(ctx context.Context, g queue.Guide, reason string) {
	ev.send(ctx, guide(g.ID), signaling.TypePresence, "", map[string]string{"status": string(g.Status), "reason": reason})
}

func (ev events) PeerStatus(ctx context.Context, c queue.Call, lost queue.Party, connected bool, grace time.Duration) {
	data := map[string]any{"status": "reconnected"}
	if !connected {
		data = map[string]any{"status": "disconnected", "grace_ms": grace.Milliseconds()}
	}
	ev.send(ctx, otherParty(c, lost), signaling.TypeCallPeer, c.ID, data)
}

// payment dispatches the payments service's events to the call's
// parties: every event carries the link as it now is.
func (ev events) payment(ctx context.Context, e payments.Event) {
	switch e.(type) {
	case payments.LinkCreated, payments.LinkStatusChanged, payments.RefundRecorded:
		ev.PaymentLinkUpdated(ctx, e.EventLink())
	}
}

// PaymentLinkUpdated sends a link's state to both parties of its call.
func (ev events) PaymentLinkUpdated(ctx context.Context, l payments.Link) {
	c, err := ev.queue().CallRecord(ctx, l.CallID)
	if err != nil {
		ev.log.WarnContext(ctx, "payment update for unknown call", "link_id", l.ID, "call_id", l.CallID, "err", err)
		return
	}
	items := l.Items
	if items == nil {
		items = []payments.Item{} // clients iterate it; never send null
	}
	data := map[string]any{
		"link_id": l.ID, "amount": l.Amount, "currency": l.Currency, "status": l.Status,
		"checkout_url": l.CheckoutURL, "items": items, "description": l.Description,
	}
	ev.send(ctx, guide(c.GuideID), signaling.TypePaymentLink, c.ID, data)
	ev.send(ctx, shopper(c.EntryID), signaling.TypePaymentLink, c.ID, data)
}

// callAuthorizer lets the guide of a connected call create links, and
// either party read them.
func callAuthorizer(issuer *auth.Issuer, q *queue.Service) payments.CallAuthorizer {
	return func(r *http.Request, callID string) (string, error) {
		tok, ok := auth.BearerToken(r)
		if !ok {
			return "", fmt.Errorf("%w: bearer token required", payments.ErrUnauthorized)
		}
		claims, err := issuer.Verify(tok, "access")
		if err != nil {
			return "", fmt.Errorf("%w: %w", payments.ErrUnauthorized, err)
		}
		party, id := queue.PartyGuide, claims.Subject
		if claims.Role == auth.RoleShopper {
			party, id = queue.PartyShopper, claims.EntryID
		}
		call, err := q.Call(r.Context(), party, id, callID)
		switch {
		case errors.Is(err, queue.ErrUnavailable):
			// Not the caller's fault: payments answers 503 and it retries.
			return "", fmt.Errorf("%w: call %s: %w", payments.ErrUnavailable, callID, err)
		case err != nil:
			// The queue's reason stays out of the answer, which a stranger reads.
			return "", fmt.Errorf("%w: not a party of call %s", payments.ErrForbidden, callID)
		}
		if r.Method != http.MethodGet {
			if party != queue.PartyGuide {
				return "", fmt.Errorf("%w: only the guide sends payment links", payments.ErrForbidden)
			}
			if call.State != queue.CallConnected {
				return "", fmt.Errorf("%w: call %s is %s, not connected", payments.ErrForbidden, call.ID, call.State)
			}
		}
		return string(party) + ":" + id, nil
	}
}
