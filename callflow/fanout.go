package callflow

import (
	"context"
	"log/slog"
	"time"

	"guidecall/payments"
	"guidecall/queue"
	"guidecall/signaling"
)

// events turns queue and payment events into protocol messages and sends
// them to the parties through the hub, wherever their sockets are.
type events struct {
	flow *Flow
	log  *slog.Logger
}

func shopper(id string) signaling.Address {
	return signaling.Address{Role: signaling.RoleShopper, ID: id}
}
func guide(id string) signaling.Address { return signaling.Address{Role: signaling.RoleGuide, ID: id} }

func (ev events) send(ctx context.Context, to signaling.Address, typ, callID string, data any) {
	if err := ev.flow.hub.Send(ctx, to, typ, callID, data); err != nil {
		ev.log.WarnContext(ctx, "event not sent", "to", to.String(), "type", typ, "call_id", callID, "err", err)
	}
}

// dispatch sends one queue event as the protocol message(s) it stands for.
// A slow socket or bus delays the next message, never the queue.
func (ev events) dispatch(ctx context.Context, e queue.Event) {
	switch e := e.(type) {
	case queue.PositionChanged:
		ev.Position(ctx, e.EntryID, e.Position)
	case queue.OfferMade:
		ev.Offer(ctx, e.Call, e.Entry)
	case queue.OfferRevoked:
		ev.OfferRevoked(ctx, e.Call.GuideID, e.Call.ID, e.Reason)
	case queue.CallMatched:
		ev.Matched(ctx, e.Call, e.Entry, e.Guide)
	case queue.Requeued:
		ev.Requeued(ctx, e.Entry, e.Reason, e.Position)
	case queue.EntryLeft:
		ev.EntryLeft(ctx, e.Entry)
	case queue.CallStateChanged:
		ev.CallState(ctx, e.Call)
	case queue.CallFinished:
		ev.CallEnded(ctx, e.Call)
	case queue.PresenceChanged:
		ev.Presence(ctx, e.Guide, e.Reason)
	case queue.PeerStatusChanged:
		ev.PeerStatus(ctx, e.Call, e.Lost, e.Connected, e.Grace)
	default:
		ev.log.WarnContext(ctx, "queue event not delivered to clients", "kind", e.Kind(), "event_id", e.EventID())
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

// PaymentLinkUpdated sends a link's state to both parties of its call.
func (ev events) PaymentLinkUpdated(ctx context.Context, l payments.Link) {
	c, err := ev.flow.queue.CallRecord(ctx, l.CallID)
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
