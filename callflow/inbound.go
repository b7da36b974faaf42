package callflow

import (
	"context"
	"time"

	"guidecall/queue"
	"guidecall/signaling"
)

// callView is the call part of a welcome.
type callView struct {
	CallID string          `json:"call_id"`
	State  queue.CallState `json:"state"`
	Role   string          `json:"role"`
}

// controller answers signaling's questions from the queue.
type controller struct {
	flow      *Flow
	heartbeat time.Duration
}

func (c controller) Open(ctx context.Context, who signaling.Identity) (any, error) {
	var call *queue.Call
	welcome := map[string]any{"role": who.Role, "heartbeat_ms": c.heartbeat.Milliseconds()}
	switch who.Role {
	case signaling.RoleShopper:
		e, cl, err := c.flow.queue.ShopperConnected(ctx, who.ID, who.Socket)
		if err != nil {
			return nil, protocolError(err)
		}
		welcome["entry_id"], welcome["state"], call = e.ID, e.State, cl
	default:
		g, cl, err := c.flow.queue.GuideConnected(ctx, who.ID, who.Name, who.Socket)
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
		c.flow.queue.ShopperDisconnected(ctx, who.ID, who.Socket)
		return
	}
	c.flow.queue.GuideDisconnected(ctx, who.ID, who.Socket)
}

func (c controller) Route(ctx context.Context, who signaling.Identity, m signaling.Message) (signaling.Address, error) {
	p := partyOf(who.Address)
	call, err := c.flow.queue.Call(ctx, p, who.ID, m.CallID)
	if err != nil {
		return signaling.Address{}, protocolError(err)
	}
	switch call.State {
	case queue.CallAccepted:
		if m.Type == signaling.TypeSDP {
			c.flow.queue.Signaled(ctx, call.ID)
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
		_, err := c.flow.queue.SetPresence(ctx, who.ID, d.Status)
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
			return protocolError(c.flow.queue.Decline(ctx, who.ID, d.OfferID))
		}
		_, err := c.flow.queue.Accept(ctx, who.ID, d.OfferID)
		return protocolError(err)
	case signaling.TypeQueueCancel:
		return protocolError(c.flow.queue.Cancel(ctx, who.ID))
	case signaling.TypeCallConnected:
		_, err := c.flow.queue.Connected(ctx, p, who.ID, m.CallID)
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
		_, err := c.flow.queue.EndCall(ctx, p, who.ID, m.CallID, d.Reason)
		return protocolError(err)
	}
	return signaling.Errorf(signaling.CodeUnknownType, "%q is not handled", m.Type)
}
