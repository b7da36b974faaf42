package protocol

// Type names a message.
type Type string

// Messages clients send.
const (
	TypeAuth          Type = "auth"
	TypePresence      Type = "presence"
	TypeOfferAccept   Type = "offer.accept"
	TypeOfferDecline  Type = "offer.decline"
	TypeQueueCancel   Type = "queue.cancel"
	TypeSDP           Type = "sdp"
	TypeICE           Type = "ice"
	TypeICERestart    Type = "ice.restart"
	TypeCallConnected Type = "call.connected"
	TypeCallEnd       Type = "call.end"
	TypeCallQuality   Type = "call.quality"
	TypeCallTransfer  Type = "call.transfer"
	// TypeCallHold is a guide holding several calls putting one on hold
	// (or taking it back); its shopper gets it as it was sent.
	TypeCallHold Type = "call.hold"

	// Inside a call (issue 13): chat both ways, product cards from the
	// guide, the shopper's cart and what it is looking at.
	TypeChatSend     Type = "chat.send"
	TypeProductShare Type = "product.share"
	TypeCartUpdate   Type = "cart.update"

	// TypeMediaState is a party's microphone and camera as it turned them
	// on or off, relayed to the other party: a muted track sends silence
	// and a disabled camera black frames, which the other side cannot
	// tell from a fault.
	TypeMediaState Type = "media.state"
)

// Messages the server sends.
const (
	TypeWelcome       Type = "welcome"
	TypeError         Type = "error"
	TypeQueuePosition Type = "queue.position"
	TypeQueueRequeued Type = "queue.requeued"
	TypeQueueLeft     Type = "queue.left"
	TypeOffer         Type = "offer"
	TypeOfferRevoked  Type = "offer.revoked"
	TypeCallMatched   Type = "call.matched"
	TypeCallState     Type = "call.state"
	TypeCallPeer      Type = "call.peer"
	TypeCallEnded     Type = "call.ended"
	TypePaymentLink   Type = "payment.link"
	// TypeCallbackChanged tells the guides of a queue that one of its
	// callback requests was made, claimed or closed.
	TypeCallbackChanged Type = "callback.changed"

	TypeChatMessage Type = "chat.message"
	TypeProductCard Type = "product.card"
	TypeCart        Type = "cart"
)

// Relayed reports whether the server passes t to the other party of the
// sender's call as it is.
func (t Type) Relayed() bool {
	return t == TypeSDP || t == TypeICE || t == TypeICERestart || t == TypeMediaState
}

// NeedsCall reports whether a client message of type t must name the
// sender's call.
func (t Type) NeedsCall() bool {
	switch t {
	case TypeCallConnected, TypeCallEnd, TypeCallQuality, TypeCallTransfer, TypeCallHold, TypeChatSend, TypeProductShare, TypeCartUpdate:
		return true
	}
	return t.Relayed()
}
