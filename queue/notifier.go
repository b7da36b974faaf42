package queue

import (
	"context"
	"time"
)

// Notifier carries queue and call events to the clients concerned. The
// wiring implements it over signaling. Implementations must not block:
// the matcher calls them from its loop.
type Notifier interface {
	// Position tells a waiting shopper where it stands.
	Position(ctx context.Context, entryID string, p Position)
	// Offer shows an entry to c.GuideID until c.OfferDeadline.
	Offer(ctx context.Context, c Call, e Entry)
	// OfferRevoked withdraws an offer from a guide.
	OfferRevoked(ctx context.Context, guideID, callID, reason string)
	// Matched tells both parties the guide accepted.
	Matched(ctx context.Context, c Call, e Entry, g Guide)
	// Requeued tells a shopper its call fell through before connecting and
	// it is back at the head of the line.
	Requeued(ctx context.Context, e Entry, reason string, p Position)
	// EntryLeft tells a shopper its entry ended without a call.
	EntryLeft(ctx context.Context, e Entry)
	// CallState tells both parties the call moved (connecting, connected).
	CallState(ctx context.Context, c Call)
	// CallEnded tells both parties the call is over.
	CallEnded(ctx context.Context, c Call)
	// Presence tells a guide the server changed its status.
	Presence(ctx context.Context, g Guide, reason string)
	// PeerStatus tells the other party that lost dropped (connected false,
	// with the grace period it has to come back) or came back.
	PeerStatus(ctx context.Context, c Call, lost Party, connected bool, grace time.Duration)
}

// Elector decides which node runs the matcher loop.
type Elector interface {
	// Lead blocks until this node leads or ctx ends. The returned context
	// is canceled when leadership is lost.
	Lead(ctx context.Context) (context.Context, error)
}

// SoleLeader is the Elector of a single node: it always leads.
type SoleLeader struct{}

// Lead returns ctx itself: nobody else can take the lead away.
func (SoleLeader) Lead(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ctx, nil
}
