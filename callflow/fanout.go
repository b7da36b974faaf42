package callflow

import (
	"context"
	"log/slog"
	"time"

	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
)

// events turns queue and payment events into protocol messages and sends
// them to the parties through the hub, wherever their sockets are.
type events struct {
	flow *Flow
	log  *slog.Logger
}

func (ev events) send(ctx context.Context, to signaling.Address, typ protocol.Type, callID string, data any) {
	if err := ev.flow.hub.Send(ctx, to, typ, callID, data); err != nil {
		ev.log.WarnContext(ctx, "event not sent", "to", to.String(), "type", typ, "call_id", callID, "err", err)
	}
}

// toBoth sends one message about c to both of its parties.
func (ev events) toBoth(ctx context.Context, c queue.Call, typ protocol.Type, data any) {
	ev.send(ctx, guide(c.GuideID), typ, c.ID, data)
	ev.send(ctx, shopper(c.EntryID), typ, c.ID, data)
}

// dispatch sends one queue event as the protocol message(s) it stands for.
// A slow socket or bus delays the next message, never the queue.
func (ev events) dispatch(ctx context.Context, e queue.Event) {
	switch e := e.(type) {
	case queue.PositionChanged:
		ev.Position(ctx, e.EntryID, e.Position)
	case queue.PositionsChanged:
		ev.Positions(ctx, e.Positions)
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
		ev.Presence(ctx, e.Guide, e.Reason, e.At)
	case queue.PeerStatusChanged:
		ev.PeerStatus(ctx, e.Call, e.Lost, e.Connected, e.Grace)
	case queue.CallItemAdded:
		ev.CallItem(ctx, e.Call, e.Item)
	case queue.CallRated, queue.CallWrappedUp:
		// For the merchant webhook and the dashboard; no party is told.
	case queue.CallbackChanged:
		ids, err := ev.flow.queue.GuidesServing(ctx, e.Callback.Queue)
		if err != nil {
			ev.log.WarnContext(ctx, "callback change not sent: guides unknown", "callback_id", e.Callback.ID, "err", err)
			return
		}
		ev.CallbackChanged(ctx, ids, e.Callback)
	case queue.EntryRelaxed:
		// No message: the next queue.position carries what relaxing changed.
	default:
		ev.log.WarnContext(ctx, "queue event not delivered to clients", "kind", e.Kind(), "event_id", e.EventID())
	}
}

func (ev events) Position(ctx context.Context, entryID string, p queue.Position) {
	ev.send(ctx, shopper(entryID), protocol.TypeQueuePosition, "", positionMessage(p))
}

// Positions tells many shoppers their positions.
func (ev events) Positions(ctx context.Context, ps []queue.EntryPosition) {
	msgs := make([]signaling.Outgoing, len(ps))
	for i, p := range ps {
		msgs[i] = signaling.Outgoing{To: shopper(p.EntryID), Type: protocol.TypeQueuePosition, Data: positionMessage(p.Position)}
	}
	if err := ev.flow.hub.SendMany(ctx, msgs); err != nil {
		ev.log.WarnContext(ctx, "positions not all sent", "positions", len(ps), "err", err)
	}
}

func positionMessage(p queue.Position) protocol.QueuePosition {
	return protocol.QueuePosition{
		Queue: p.Queue, Position: p.Position, ETASeconds: p.ETASeconds, GuidesOnline: p.GuidesOnline, Callback: p.Callback,
	}
}

func (ev events) Offer(ctx context.Context, c queue.Call, e queue.Entry) {
	ev.send(ctx, guide(c.GuideID), protocol.TypeOffer, "", protocol.Offer{
		OfferID:     c.ID,
		EntryID:     e.ID,
		Deadline:    c.OfferDeadline.UTC(),
		ExpiresInMS: max(time.Until(c.OfferDeadline).Milliseconds(), 0),
		Shopper: protocol.OfferShopper{
			Name: e.Name, Queue: e.Queue, ShopperContext: visit(e),
			WaitedMS: c.OfferedAt.Sub(e.JoinedAt).Milliseconds(),
			Skill:    e.Skill, Priority: e.Priority, Steps: e.Steps, Note: e.TransferNote,
		},
	})
}

// visit is what a guide sees of e's visit.
func visit(e queue.Entry) protocol.ShopperContext {
	return protocol.ShopperContext{Locale: e.Locale, Currency: e.Currency, PageURL: e.PageURL, CustomerID: e.CustomerID, Device: e.Device}
}

func (ev events) OfferRevoked(ctx context.Context, guideID, callID, reason string) {
	ev.send(ctx, guide(guideID), protocol.TypeOfferRevoked, "", protocol.OfferRevoked{OfferID: callID, Reason: reason})
}

func (ev events) Matched(ctx context.Context, c queue.Call, e queue.Entry, g queue.Guide) {
	sc := visit(e)
	ev.send(ctx, guide(c.GuideID), protocol.TypeCallMatched, c.ID, protocol.CallMatched{
		Role: protocol.RoleGuide, Initiator: protocol.RoleGuide,
		Peer: protocol.Peer{Name: e.Name, Role: protocol.RoleShopper, ShopperContext: &sc},
	})
	ev.send(ctx, shopper(c.EntryID), protocol.TypeCallMatched, c.ID, protocol.CallMatched{
		Role: protocol.RoleShopper, Initiator: protocol.RoleGuide,
		Peer: protocol.Peer{Name: g.Name, Role: protocol.RoleGuide},
	})
}

func (ev events) Requeued(ctx context.Context, e queue.Entry, reason string, p queue.Position) {
	ev.send(ctx, shopper(e.ID), protocol.TypeQueueRequeued, "", protocol.QueueRequeued{
		Reason: reason, Position: p.Position, ETASeconds: p.ETASeconds, Queue: e.Queue,
	})
}

func (ev events) EntryLeft(ctx context.Context, e queue.Entry) {
	ev.send(ctx, shopper(e.ID), protocol.TypeQueueLeft, "", protocol.QueueLeft{Reason: e.LeftReason})
}

func (ev events) CallState(ctx context.Context, c queue.Call) {
	ev.toBoth(ctx, c, protocol.TypeCallState, protocol.CallState{State: string(c.State)})
}

func (ev events) CallEnded(ctx context.Context, c queue.Call) {
	ev.toBoth(ctx, c, protocol.TypeCallEnded, protocol.CallEnded{Reason: c.EndReason, By: c.EndedBy})
}

func (ev events) Presence(ctx context.Context, g queue.Guide, reason string, at time.Time) {
	ev.send(ctx, guide(g.ID), protocol.TypePresence, "", protocol.Presence{Status: string(g.Status), Reason: reason, WrapUpMs: wrapUpLeft(g, at)})
}

// wrapUpLeft is what remains of a guide's wrap-up at that time, in ms; 0
// when the guide is not in wrap-up (or it is over and about to be settled).
func wrapUpLeft(g queue.Guide, at time.Time) int64 {
	if g.Status != queue.GuideWrapUp || g.WrapUpUntil == nil {
		return 0
	}
	return max(g.WrapUpUntil.Sub(at).Milliseconds(), 0)
}

// CallbackChanged tells these guides that a callback of their queue moved.
func (ev events) CallbackChanged(ctx context.Context, guideIDs []string, cb queue.Callback) {
	for _, id := range guideIDs {
		ev.send(ctx, guide(id), protocol.TypeCallbackChanged, "", protocol.CallbackChanged{
			CallbackID: cb.ID, Queue: cb.Queue, State: string(cb.State),
		})
	}
}

func (ev events) PeerStatus(ctx context.Context, c queue.Call, lost queue.Party, connected bool, grace time.Duration) {
	p := protocol.CallPeer{Status: "reconnected"}
	if !connected {
		p = protocol.CallPeer{Status: "disconnected", GraceMS: grace.Milliseconds()}
	}
	ev.send(ctx, otherParty(c, lost), protocol.TypeCallPeer, c.ID, p)
}

// CallItem sends a chat message, product card or cart to both parties,
// the sender too: its copy is the acknowledgement with the item's seq.
func (ev events) CallItem(ctx context.Context, c queue.Call, it queue.CallItem) {
	typ, data, err := itemMessage(it)
	if err != nil {
		ev.log.ErrorContext(ctx, "call item not sent", "call_id", c.ID, "item_id", it.ID, "err", err)
		return
	}
	ev.toBoth(ctx, c, typ, data)
}

// PaymentLinkUpdated sends a link's state to both parties of its call.
func (ev events) PaymentLinkUpdated(ctx context.Context, l payments.Link) {
	c, err := ev.flow.queue.CallRecord(ctx, l.CallID)
	if err != nil {
		ev.log.WarnContext(ctx, "payment update for unknown call", "link_id", l.ID, "call_id", l.CallID, "err", err)
		return
	}
	items := make([]protocol.PaymentItem, 0, len(l.Items))
	for _, it := range l.Items {
		items = append(items, protocol.PaymentItem{Name: it.Name, Quantity: it.Quantity, UnitAmount: it.UnitAmount})
	}
	msg := protocol.PaymentLink{
		LinkID: l.ID, Amount: l.Amount, Currency: l.Currency, Status: string(l.Status),
		Description: l.Description, CheckoutURL: l.CheckoutURL, Items: items,
	}
	ev.send(ctx, shopper(c.EntryID), protocol.TypePaymentLink, c.ID, msg)
	// The guide's copy says what it may still refund, by payments' rule.
	if ev.flow.payments != nil {
		r := ev.flow.payments.GuideRefundOf(l)
		msg.Refundable, msg.RefundableUntil = &r.Refundable, r.RefundableUntil
	}
	ev.send(ctx, guide(c.GuideID), protocol.TypePaymentLink, c.ID, msg)
}
