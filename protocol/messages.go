package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// The payloads of docs/protocol.md, one Go type per message shape. States,
// statuses and reasons are plain strings here: their meaning belongs to the
// domain that sets them, and this package imports none.

// Auth is the first message of every socket.
type Auth struct {
	Token string `json:"token"`
}

// Welcome answers auth. One of WelcomeShopper and WelcomeGuide is set, by
// Role; their fields sit at the top level of the payload.
type Welcome struct {
	Role Role `json:"role"`
	*WelcomeShopper
	*WelcomeGuide
	Resumed     bool  `json:"resumed"`
	HeartbeatMS int64 `json:"heartbeat_ms"`
	// Call is the receiver's live call; it is sent as null when there is
	// none, so a page can tell "no call" from an old server.
	Call *CallView `json:"call"`
}

// WelcomeShopper is a shopper's part of welcome: its queue entry.
type WelcomeShopper struct {
	EntryID string `json:"entry_id"`
	State   string `json:"state"`
}

// WelcomeGuide is a guide's part of welcome: its account and presence.
type WelcomeGuide struct {
	GuideID string `json:"guide_id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	// StatusReason says why the status is what it is ("missed_offers"
	// when the server set the guide away); omitted when the guide chose.
	StatusReason string `json:"status_reason,omitempty"`
	// Capacity is how many calls the guide may hold at once; Calls are all
	// the accepted calls it holds, oldest first (Call is the first of
	// them). Pending offers are sent again as offer messages.
	Capacity int        `json:"capacity,omitempty"`
	Calls    []CallView `json:"calls,omitempty"`
	// WrapUpMs is how long the guide's wrap-up has left (status wrap_up):
	// a duration, so the console counts down without trusting its clock.
	WrapUpMs int64 `json:"wrap_up_ms,omitempty"`
}

// CallView names the call a welcome resumes, and the receiver's side of it.
type CallView struct {
	CallID string `json:"call_id"`
	State  string `json:"state"`
	Role   Role   `json:"role"`
}

// SetPresence is a guide choosing its status.
type SetPresence struct {
	Status string `json:"status"`
}

// Presence confirms a guide's status; Reason is empty for the guide's own
// change and always sent.
type Presence struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	// WrapUpMs is how long a wrap_up status has left when it was sent.
	WrapUpMs int64 `json:"wrap_up_ms,omitempty"`
}

// ShopperContext is what a guide sees of a shopper's visit.
type ShopperContext struct {
	Locale   string `json:"locale"`
	Currency string `json:"currency"`
	PageURL  string `json:"page_url"`
	// CustomerID is the merchant's id of a shopper its site signed in
	// (a verified customer token); absent for anonymous shoppers.
	CustomerID string `json:"customer_id,omitempty"`
	// Device is phone, tablet or desktop, as the widget said; absent when
	// it did not.
	Device string `json:"device,omitempty"`
}

// Offer asks a guide to take a waiting shopper. OfferID is the id of the
// call the offer becomes if accepted.
type Offer struct {
	OfferID     string       `json:"offer_id"`
	EntryID     string       `json:"entry_id"`
	Deadline    time.Time    `json:"deadline"`
	ExpiresInMS int64        `json:"expires_in_ms"`
	Shopper     OfferShopper `json:"shopper"`
}

// OfferShopper is the shopper an offer is about.
type OfferShopper struct {
	Name  string `json:"name"`
	Queue string `json:"queue"`
	ShopperContext
	WaitedMS int64 `json:"waited_ms"`
	// Skill, Priority and Steps (the relaxation steps taken) say why the
	// shopper reached this guide; all omitted when unset.
	Skill    string   `json:"skill,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Steps    []string `json:"steps,omitempty"`
	// Note is what the guide who transferred the shopper wrote.
	Note string `json:"note,omitempty"`
}

// OfferReply is a guide's offer.accept or offer.decline; Reason is the
// guide's optional reason for declining.
type OfferReply struct {
	OfferID string `json:"offer_id"`
	Reason  string `json:"reason,omitempty"`
}

// OfferRevoked withdraws an offer.
type OfferRevoked struct {
	OfferID string `json:"offer_id"`
	Reason  string `json:"reason"`
}

// QueuePosition is a shopper's place in line. ETASeconds is null when no
// estimate is honest (no guide who could take the shopper is online);
// GuidesOnline counts those who could; Callback says the shopper may
// leave a callback request instead of waiting.
type QueuePosition struct {
	Queue        string `json:"queue"`
	Position     int    `json:"position"`
	ETASeconds   *int   `json:"eta_seconds"`
	GuidesOnline int    `json:"guides_online"`
	Callback     bool   `json:"callback"`
}

// QueueRequeued puts a shopper back in line after its guide left.
type QueueRequeued struct {
	Reason     string `json:"reason"`
	Position   int    `json:"position"`
	ETASeconds *int   `json:"eta_seconds"`
	Queue      string `json:"queue"`
}

// QueueLeft tells a shopper its entry left the line.
type QueueLeft struct {
	Reason string `json:"reason"`
}

// QueueCancel is a shopper leaving the line; it has no fields.
type QueueCancel struct{}

// CallMatched starts a call: Role is the receiver's side, Initiator the
// side that sends the first SDP offer.
type CallMatched struct {
	Role      Role `json:"role"`
	Initiator Role `json:"initiator"`
	Peer      Peer `json:"peer"`
}

// Peer is the other party of a call. A shopper peer carries its visit.
type Peer struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	*ShopperContext
}

// CallState is a call's move to State.
type CallState struct {
	State string `json:"state"`
}

// CallPeer reports the other party dropping (with the grace it has to come
// back) or coming back.
type CallPeer struct {
	Status  string `json:"status"`
	GraceMS int64  `json:"grace_ms,omitempty"`
}

// CallEnded ends a call; By is guide, shopper or server.
type CallEnded struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// CallEnd is a party ending its call.
type CallEnd struct {
	Reason string `json:"reason"`
}

// CallConnected is a party reporting its peer connection up.
type CallConnected struct{}

// CallQuality is a party's summary of its peer connection's getStats()
// over the last reporting interval (every 10 s during a call). Counters
// (packets lost, frames, freezes) are totals since the connection began,
// as getStats() reports them; a field the client could not measure is 0,
// or "" for the candidate types.
type CallQuality struct {
	RTTMS           float64 `json:"rtt_ms"`
	JitterMS        float64 `json:"jitter_ms"`
	PacketsLost     int64   `json:"packets_lost"`
	FramesDecoded   int64   `json:"frames_decoded"`
	FramesDropped   int64   `json:"frames_dropped"`
	FreezeCount     int64   `json:"freeze_count"`
	FrameWidth      int     `json:"frame_width"`
	FrameHeight     int     `json:"frame_height"`
	LocalCandidate  string  `json:"local_candidate"`
	RemoteCandidate string  `json:"remote_candidate"`
}

// PaymentLink is a link's state, sent on creation and each status change.
// Every field is always present, but for the refund fields, which only the
// guide's copy has.
type PaymentLink struct {
	LinkID      string        `json:"link_id"`
	Amount      int64         `json:"amount"`
	Currency    string        `json:"currency"`
	Status      string        `json:"status"`
	Description string        `json:"description"`
	CheckoutURL string        `json:"checkout_url"`
	Items       []PaymentItem `json:"items"`
	// Refundable is what the guide may still refund, in minor units (0
	// before the payment and once everything is refunded or asked back);
	// RefundableUntil ends the guide's refund window, absent before the
	// payment. Both come from the payments rule; the guide's copy only.
	Refundable      *int64     `json:"refundable,omitempty"`
	RefundableUntil *time.Time `json:"refundable_until,omitempty"`
}

// MarshalJSON sends no items as [], since clients iterate them.
func (p PaymentLink) MarshalJSON() ([]byte, error) {
	type plain PaymentLink
	if p.Items == nil {
		p.Items = []PaymentItem{}
	}
	return json.Marshal(plain(p))
}

// PaymentItem is one line of a payment link; amounts are in the currency's
// minor unit.
type PaymentItem struct {
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// SDP is a session description, relayed as the browser's
// RTCSessionDescriptionInit.
type SDP struct {
	Type string `json:"type"` // offer or answer
	SDP  string `json:"sdp"`
}

// ICECandidate is a trickled candidate, relayed as the browser's
// RTCIceCandidateInit: the optional fields are null when unknown.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}

// CallbackChanged names a callback request whose state changed; the
// console reads the request itself over HTTP.
type CallbackChanged struct {
	CallbackID string `json:"callback_id"`
	Queue      string `json:"queue"`
	State      string `json:"state"`
}

// CallTransfer is a guide handing its shopper to a queue or to a named
// colleague (exactly one of Queue and GuideID), with a note the receiving
// guide sees in its offer.
type CallTransfer struct {
	Queue   string `json:"queue,omitempty"`
	GuideID string `json:"guide_id,omitempty"`
	Note    string `json:"note,omitempty"`
}

// CallHold says whether the guide has put the call on hold: a guide of
// capacity above 1 talks in one call at a time, and the shopper of each
// other call is told it waits, so a silent, frozen guide does not read as
// a broken call. The guide sends it; its shopper gets the same payload.
type CallHold struct {
	OnHold bool `json:"on_hold"`
}

// ICERestart asks the initiator for a new offer with fresh ICE. Fresh says
// the sender's page was reloaded and has a new peer connection (new DTLS),
// so the initiator must build a new one too: an ICE restart of the old one
// would never finish the handshake.
type ICERestart struct {
	Fresh bool `json:"fresh,omitempty"`
}

// MediaState says whether the sender's microphone (Audio) and camera
// (Video) are on: false for a track it turned off or never had.
type MediaState struct {
	Audio bool `json:"audio"`
	Video bool `json:"video"`
}

// UnmarshalJSON takes exactly audio and video: a relayed payload reaches
// the other party as the sender wrote it, so nothing else may ride along.
func (m *MediaState) UnmarshalJSON(b []byte) error {
	var p struct {
		Audio *bool `json:"audio"`
		Video *bool `json:"video"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	if p.Audio == nil || p.Video == nil {
		return errors.New("media.state needs both audio and video")
	}
	m.Audio, m.Video = *p.Audio, *p.Video
	return nil
}

// ChatSend is a chat message a party sends in its call. Only a guide may
// attach an image (an http or https URL).
type ChatSend struct {
	Text     string `json:"text"`
	ImageURL string `json:"image_url,omitempty"`
}

// ChatMessage is a chat message as both parties get it (the sender too,
// as its acknowledgement), in the call's order.
type ChatMessage struct {
	ItemID   string    `json:"item_id"`
	Seq      int       `json:"seq"`
	From     Role      `json:"from"`
	Text     string    `json:"text"`
	ImageURL string    `json:"image_url,omitempty"`
	SentAt   time.Time `json:"sent_at"`
}

// Product is a product as a guide shows it or a shopper's page describes
// it; Price is in the currency's minor unit.
type Product struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Variant   string `json:"variant,omitempty"`
	ImageURL  string `json:"image_url,omitempty"`
	URL       string `json:"url,omitempty"`
	Price     int64  `json:"price"`
	Currency  string `json:"currency"`
}

// ProductShare is a guide showing a product card to the shopper.
type ProductShare struct {
	Product
}

// ProductCard is a shown product as both parties get it.
type ProductCard struct {
	ItemID string    `json:"item_id"`
	Seq    int       `json:"seq"`
	SentAt time.Time `json:"sent_at"`
	Product
}

// CartLine is one line of the shopper's cart.
type CartLine struct {
	Product
	Quantity int `json:"quantity"`
}

// CartUpdate is the shopper's page telling the guide what the shopper is
// looking at and what is in its cart (window.guidecall.setContext).
type CartUpdate struct {
	Viewing *Product   `json:"viewing"`
	Lines   []CartLine `json:"lines"`
}

// Cart is the shopper's latest cart as both parties get it.
type Cart struct {
	ItemID  string     `json:"item_id"`
	Seq     int        `json:"seq"`
	SentAt  time.Time  `json:"sent_at"`
	Viewing *Product   `json:"viewing"`
	Lines   []CartLine `json:"lines"`
}

// ClientPayload returns a new payload for a message of type t as a client
// sends it, or nil when clients do not send t.
func ClientPayload(t Type) any {
	switch t {
	case TypeAuth:
		return new(Auth)
	case TypePresence:
		return new(SetPresence)
	case TypeOfferAccept, TypeOfferDecline:
		return new(OfferReply)
	case TypeQueueCancel:
		return new(QueueCancel)
	case TypeSDP:
		return new(SDP)
	case TypeICE:
		return new(ICECandidate)
	case TypeICERestart:
		return new(ICERestart)
	case TypeCallConnected:
		return new(CallConnected)
	case TypeCallEnd:
		return new(CallEnd)
	case TypeCallQuality:
		return new(CallQuality)
	case TypeChatSend:
		return new(ChatSend)
	case TypeProductShare:
		return new(ProductShare)
	case TypeCartUpdate:
		return new(CartUpdate)
	case TypeCallTransfer:
		return new(CallTransfer)
	case TypeMediaState:
		return new(MediaState)
	case TypeCallHold:
		return new(CallHold)
	}
	return nil
}

// ServerPayload returns a new payload for a message of type t as the server
// sends it, or nil when the server does not send t.
func ServerPayload(t Type) any {
	switch t {
	case TypeWelcome:
		return new(Welcome)
	case TypeError:
		return new(Error)
	case TypePresence:
		return new(Presence)
	case TypeQueuePosition:
		return new(QueuePosition)
	case TypeQueueRequeued:
		return new(QueueRequeued)
	case TypeQueueLeft:
		return new(QueueLeft)
	case TypeOffer:
		return new(Offer)
	case TypeOfferRevoked:
		return new(OfferRevoked)
	case TypeCallMatched:
		return new(CallMatched)
	case TypeCallState:
		return new(CallState)
	case TypeCallPeer:
		return new(CallPeer)
	case TypeCallEnded:
		return new(CallEnded)
	case TypePaymentLink:
		return new(PaymentLink)
	case TypeChatMessage:
		return new(ChatMessage)
	case TypeProductCard:
		return new(ProductCard)
	case TypeCart:
		return new(Cart)
	case TypeCallbackChanged:
		return new(CallbackChanged)
	case TypeCallHold:
		return new(CallHold)
	case TypeSDP, TypeICE, TypeICERestart, TypeMediaState:
		// Relayed: the other party gets what the sender sent.
		return ClientPayload(t)
	}
	return nil
}
