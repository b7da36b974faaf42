package callflow

import (
	"context"
	"fmt"
	"time"

	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
)

// inbound answers the hub from the queue: each socket's open and close,
// the relay check, and one handler per client message type.
type inbound struct {
	flow      *Flow
	heartbeat time.Duration
}

// register declares on the hub who may send which message and what it
// does.
func (in inbound) register(h *signaling.Hub) {
	shopper, guide := protocol.RoleShopper, protocol.RoleGuide
	h.Handle(protocol.TypePresence, in.presence, guide)
	h.Handle(protocol.TypeOfferAccept, in.offerAccept, guide)
	h.Handle(protocol.TypeOfferDecline, in.offerDecline, guide)
	h.Handle(protocol.TypeQueueCancel, in.queueCancel, shopper)
	h.Handle(protocol.TypeCallConnected, in.callConnected, shopper, guide)
	h.Handle(protocol.TypeCallEnd, in.callEnd, shopper, guide)
	h.Handle(protocol.TypeChatSend, in.callItem, shopper, guide)
	h.Handle(protocol.TypeProductShare, in.callItem, guide)
	h.Handle(protocol.TypeCartUpdate, in.callItem, shopper)
	h.Handle(protocol.TypeCallTransfer, in.callTransfer, guide)
	h.Handle(protocol.TypeCallHold, in.callHold, guide)
	h.Handle(protocol.TypeCallQuality, in.callQuality, shopper, guide)
	h.Relay(in.route)
}

func (in inbound) Open(ctx context.Context, who signaling.Identity) (protocol.Welcome, error) {
	w := protocol.Welcome{Role: who.Role, HeartbeatMS: in.heartbeat.Milliseconds()}
	var call *queue.Call
	switch who.Role {
	case protocol.RoleShopper:
		e, cl, err := in.flow.queue.ShopperConnected(ctx, who.ID, who.Socket)
		if err != nil {
			return protocol.Welcome{}, protocolError(err)
		}
		w.WelcomeShopper, call = &protocol.WelcomeShopper{EntryID: e.ID, State: string(e.State)}, cl
	default:
		g, cl, err := in.flow.queue.GuideConnected(ctx, who.ID, who.Name, who.Socket)
		if err != nil {
			return protocol.Welcome{}, protocolError(err)
		}
		reason := g.StatusReason
		if reason == queue.PresenceChosen {
			reason = ""
		}
		w.WelcomeGuide = &protocol.WelcomeGuide{GuideID: g.ID, Name: g.Name, Status: string(g.Status), StatusReason: reason, Capacity: g.Slots(), WrapUpMs: wrapUpLeft(g, time.Now())}
		for _, c := range cl {
			w.WelcomeGuide.Calls = append(w.WelcomeGuide.Calls, protocol.CallView{CallID: c.ID, State: string(c.State), Role: who.Role})
		}
		if len(cl) > 0 {
			call = &cl[0]
		}
	}
	if call != nil {
		w.Resumed = true
		w.Call = &protocol.CallView{CallID: call.ID, State: string(call.State), Role: who.Role}
	}
	return w, nil
}

func (in inbound) Close(ctx context.Context, who signaling.Identity) {
	if who.Role == protocol.RoleShopper {
		in.flow.queue.ShopperDisconnected(ctx, who.ID, who.Socket)
		return
	}
	in.flow.queue.GuideDisconnected(ctx, who.ID, who.Socket)
}

// route passes sdp, ice, ice.restart and media.state only within the
// sender's own live call; the call's first SDP moves it to connecting.
func (in inbound) route(ctx context.Context, who signaling.Identity, m protocol.Envelope) (signaling.Address, error) {
	call, err := in.flow.queue.Call(ctx, who.Role, who.ID, m.CallID)
	if err != nil {
		return signaling.Address{}, protocolError(err)
	}
	switch call.State {
	case queue.CallAccepted:
		if m.Type == protocol.TypeSDP {
			in.flow.queue.Signaled(ctx, call.ID)
		}
	case queue.CallConnected:
		if m.Type == protocol.TypeSDP && in.flow.cfg.ICERestarted != nil {
			var d protocol.SDP
			if m.Decode(&d) == nil && d.Type == "offer" {
				in.flow.cfg.ICERestarted(who.Role)
			}
		}
	case queue.CallConnecting:
	default:
		return signaling.Address{}, protocol.Errorf(protocol.CodeBadState, "call %s is %s", call.ID, call.State)
	}
	return otherParty(call, who.Role), nil
}

func (in inbound) presence(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	var p protocol.SetPresence
	if err := m.Decode(&p); err != nil {
		return err
	}
	_, err := in.flow.queue.SetPresence(ctx, who.ID, queue.GuideStatus(p.Status))
	return protocolError(err)
}

func (in inbound) offerAccept(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	offerID, err := offerOf(m)
	if err != nil {
		return err
	}
	_, err = in.flow.queue.Accept(ctx, who.ID, offerID)
	return protocolError(err)
}

func (in inbound) offerDecline(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	var p protocol.OfferReply
	if err := m.Decode(&p); err != nil {
		return err
	}
	if p.OfferID == "" {
		return protocol.Errorf(protocol.CodeBadMessage, "%s needs data.offer_id", m.Type)
	}
	return protocolError(in.flow.queue.Decline(ctx, who.ID, p.OfferID, p.Reason))
}

func offerOf(m protocol.Envelope) (string, error) {
	var p protocol.OfferReply
	if err := m.Decode(&p); err != nil {
		return "", err
	}
	if p.OfferID == "" {
		return "", protocol.Errorf(protocol.CodeBadMessage, "%s needs data.offer_id", m.Type)
	}
	return p.OfferID, nil
}

func (in inbound) queueCancel(ctx context.Context, who signaling.Identity, _ protocol.Envelope) error {
	return protocolError(in.flow.queue.Cancel(ctx, who.ID))
}

func (in inbound) callConnected(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	_, err := in.flow.queue.Connected(ctx, who.Role, who.ID, m.CallID)
	return protocolError(err)
}

func (in inbound) callEnd(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	var p protocol.CallEnd
	if err := m.Decode(&p); err != nil {
		return err
	}
	switch p.Reason {
	case "", queue.ReasonHangup:
		p.Reason = queue.ReasonHangup
	case queue.ReasonDeclined, queue.ReasonFailed:
	default:
		return protocol.Errorf(protocol.CodeBadMessage, "call.end reason must be hangup, declined or failed")
	}
	_, err := in.flow.queue.EndCall(ctx, who.Role, who.ID, m.CallID, p.Reason)
	return protocolError(err)
}

// callItem stores a chat message, product card or cart with the sender's
// call; the queue's CallItemAdded then brings it to both parties.
func (in inbound) callItem(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	kind, body, err := itemFrom(who.Role, m)
	if err != nil {
		return err
	}
	_, err = in.flow.queue.AddCallItem(ctx, who.Role, who.ID, m.CallID, kind, body)
	return protocolError(err)
}

func (in inbound) callTransfer(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	var p protocol.CallTransfer
	if err := m.Decode(&p); err != nil {
		return err
	}
	return protocolError(in.flow.queue.Transfer(ctx, who.ID, m.CallID, queue.TransferTo{Queue: p.Queue, GuideID: p.GuideID, Note: p.Note}))
}

// callHold passes the guide's hold or resume of one of its own live calls
// to that call's shopper. Nothing is stored: the console decides which call
// is on screen and says it again when the shopper's socket comes back, so
// there is no second copy of that choice to drift from it.
func (in inbound) callHold(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	// A pointer, so a missing on_hold is refused rather than read as a resume.
	var p struct {
		OnHold *bool `json:"on_hold"`
	}
	if err := m.Decode(&p); err != nil {
		return err
	}
	if p.OnHold == nil {
		return protocol.Errorf(protocol.CodeBadMessage, "call.hold needs data.on_hold (true or false)")
	}
	call, err := in.flow.queue.Call(ctx, queue.PartyGuide, who.ID, m.CallID)
	if err != nil {
		return protocolError(err)
	}
	switch call.State {
	case queue.CallAccepted, queue.CallConnecting, queue.CallConnected:
	default:
		return protocol.Errorf(protocol.CodeBadState, "call %s is %s", call.ID, call.State)
	}
	in.flow.log.DebugContext(ctx, "call hold", "call_id", call.ID, "guide_id", who.ID, "entry_id", call.EntryID, "on_hold", *p.OnHold)
	if err := in.flow.hub.Send(ctx, shopper(call.EntryID), protocol.TypeCallHold, call.ID, protocol.CallHold{OnHold: *p.OnHold}); err != nil {
		return fmt.Errorf("call %s: hold not sent to the shopper: %w", call.ID, err)
	}
	return nil
}

// callQuality keeps a party's getStats() summary with its call.
func (in inbound) callQuality(ctx context.Context, who signaling.Identity, m protocol.Envelope) error {
	var p protocol.CallQuality
	if err := m.Decode(&p); err != nil {
		return err
	}
	return protocolError(in.flow.queue.ReportQuality(ctx, who.Role, who.ID, m.CallID, queue.QualityReport{
		RTTMS: p.RTTMS, JitterMS: p.JitterMS, PacketsLost: p.PacketsLost, FramesDecoded: p.FramesDecoded,
		FramesDropped: p.FramesDropped, FreezeCount: p.FreezeCount, FrameWidth: p.FrameWidth, FrameHeight: p.FrameHeight,
		LocalCandidate: p.LocalCandidate, RemoteCandidate: p.RemoteCandidate,
	}))
}
