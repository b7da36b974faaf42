package queue

import (
	"encoding/json"
	"slices"
	"time"

	"guidecall/protocol"
)

// EntryState is where a shopper's queue entry is in its life.
type EntryState string

const (
	EntryWaiting   EntryState = "waiting"   // in line, no guide yet
	EntryOffered   EntryState = "offered"   // a guide is looking at it
	EntryInCall    EntryState = "in_call"   // a guide accepted
	EntryDone      EntryState = "done"      // its call ended
	EntryCanceled  EntryState = "canceled"  // the shopper left the line
	EntryAbandoned EntryState = "abandoned" // the shopper vanished and did not come back
)

// Queued reports whether the entry still holds a place in line.
func (s EntryState) Queued() bool { return s == EntryWaiting || s == EntryOffered }

// Entry is one shopper's place in one queue.
type Entry struct {
	ID       string     `json:"entry_id"`
	Queue    string     `json:"queue"`
	Name     string     `json:"name,omitempty"`
	Locale   string     `json:"locale"`
	Currency string     `json:"currency"`
	PageURL  string     `json:"page_url"`
	State    EntryState `json:"state"`
	// Rank orders a queue: lower goes first. Stores assign it on create;
	// a re-queue sets it below the current head.
	Rank     int64     `json:"-"`
	JoinedAt time.Time `json:"joined_at"`
	// DisconnectedAt is set while the shopper has no socket; the matcher
	// abandons the entry (or ends its call) once it passes the grace period.
	DisconnectedAt *time.Time `json:"-"`
	// SocketID names the socket the shopper holds now, so a late close of
	// an older socket (on this node or another) does not count as a drop.
	SocketID string `json:"-"`
	// SeenAt is refreshed while a node holds the socket; a node that dies
	// stops refreshing it, which is how its parties are found gone.
	SeenAt     time.Time  `json:"-"`
	CallID     string     `json:"call_id,omitempty"`
	LeftAt     *time.Time `json:"left_at,omitempty"`
	LeftReason string     `json:"left_reason,omitempty"`

	// Routing. Language is the primary subtag of Locale ("de" for
	// "de-CH"); Language2 is the shopper's optional second language,
	// accepted once the queue's second_language step has been taken.
	Language  string `json:"language"`
	Language2 string `json:"language2,omitempty"`
	Skill     string `json:"skill,omitempty"`
	// Priority comes only from a verified customer token; higher goes first.
	Priority   int    `json:"priority"`
	CustomerID string `json:"customer_id,omitempty"`
	// Steps are the relaxation steps this entry has taken, in order
	// ("drop_skill", "second_language", "overflow:<queue>").
	Steps []string `json:"steps,omitempty"`
	// TransferGuide, when set, is the only guide who may take the entry
	// (a transfer to a named colleague); TransferNote is what the first
	// guide wrote for whoever takes it next.
	TransferGuide string `json:"transfer_guide,omitempty"`
	TransferNote  string `json:"transfer_note,omitempty"`
	// Device is the kind of device the widget ran on (DevicePhone,
	// DeviceTablet, DeviceDesktop), from its user agent; empty when the
	// widget did not say.
	Device string `json:"device,omitempty"`
	// CartValue is the shopper's cart at join, in minor units of
	// Currency: the merchant's signed cart_value claim when its customer
	// token has one, else what the widget's setContext cart added up to.
	// Nil when neither said (0 is an empty cart).
	CartValue *int64 `json:"cart_value,omitempty"`
}

// The kinds of device a shopper's widget reports.
const (
	DevicePhone   = "phone"
	DeviceTablet  = "tablet"
	DeviceDesktop = "desktop"
)

// GuideStatus is what the guide chose in the console.
type GuideStatus string

const (
	GuideAvailable GuideStatus = "available"
	GuideAway      GuideStatus = "away"
	// GuideWrapUp follows a call for the queue's wrap-up time, or until
	// the guide says it is available again.
	GuideWrapUp GuideStatus = "wrap_up"
)

// Presence is what a guide's state reads as, derived from its status,
// its socket and its call: offline and busy are not chosen but follow.
type Presence string

const (
	PresenceAvailable Presence = "available"
	PresenceAway      Presence = "away"
	PresenceBusy      Presence = "busy"
	PresenceWrapUp    Presence = "wrap_up"
	PresenceOffline   Presence = "offline"
)

// Reasons a guide's presence changes, recorded with each change.
const (
	PresenceChosen       = "chosen"
	PresenceMissedOffers = "missed_offers"
	PresenceSocketLost   = "socket_lost"
	PresenceConnected    = "connected"
	PresenceCallStarted  = "call_started"
	PresenceCallEnded    = "call_ended"
	PresenceWrapUpOver   = "wrap_up_over"
	PresenceNodeLost     = "node_lost"
)

// Guide is a guide's presence as the matcher sees it.
type Guide struct {
	ID     string      `json:"guide_id"`
	Name   string      `json:"name"`
	Status GuideStatus `json:"status"`
	// Online is true while at least one console socket is open.
	Online         bool       `json:"online"`
	DisconnectedAt *time.Time `json:"-"`
	SocketID       string     `json:"-"` // as Entry.SocketID
	SeenAt         time.Time  `json:"-"` // as Entry.SeenAt
	// IdleSince orders available guides: the longest idle gets the offer.
	IdleSince    time.Time `json:"idle_since"`
	MissedOffers int       `json:"missed_offers"`
	// CallIDs are the offers and calls the guide holds, oldest first:
	// never more than its capacity.
	CallIDs []string `json:"call_ids,omitempty"`

	// Routing profile. A guide nobody has configured (Queues nil) serves
	// every queue in every language with every skill, so that a fresh
	// install works before anyone sets profiles up; the admin API refuses
	// to set a profile without a queue.
	Queues    []string `json:"queues"`
	Languages []string `json:"languages"`
	Skills    []string `json:"skills"`
	// Capacity is how many offers and calls the guide holds at once; 0
	// (a record from before profiles) counts as 1.
	Capacity int `json:"capacity"`
	// StatusReason and StatusSince say why and when Status or Online last
	// changed (see the Presence* reasons).
	StatusReason string     `json:"status_reason"`
	StatusSince  time.Time  `json:"status_since"`
	WrapUpUntil  *time.Time `json:"wrap_up_until,omitempty"`
}

// Presence derives the state a guide is in.
func (g Guide) Presence() Presence {
	switch {
	case !g.Online:
		return PresenceOffline
	case len(g.CallIDs) > 0:
		return PresenceBusy
	case g.Status == GuideWrapUp:
		return PresenceWrapUp
	case g.Status == GuideAvailable:
		return PresenceAvailable
	}
	return PresenceAway
}

// Slots is how many offers and calls the guide may hold at once.
func (g Guide) Slots() int { return max(g.Capacity, 1) }

// HasRoom reports whether the guide holds fewer calls than its capacity.
func (g Guide) HasRoom() bool { return len(g.CallIDs) < g.Slots() }

// Holds reports whether callID is one of the guide's offers or calls.
func (g Guide) Holds(callID string) bool { return slices.Contains(g.CallIDs, callID) }

// release drops callID from the guide's calls, reporting whether it held it.
func (g *Guide) release(callID string) bool {
	i := slices.Index(g.CallIDs, callID)
	if i < 0 {
		return false
	}
	g.CallIDs = slices.Delete(slices.Clone(g.CallIDs), i, i+1)
	if len(g.CallIDs) == 0 {
		g.CallIDs = nil
	}
	return true
}

// PresenceRecord is one recorded change of a guide's presence.
type PresenceRecord struct {
	GuideID string    `json:"guide_id"`
	State   Presence  `json:"state"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// CallState is the call state machine: offered → accepted → connecting →
// connected → ended. Any state may end.
type CallState string

const (
	CallOffered    CallState = "offered"
	CallAccepted   CallState = "accepted"
	CallConnecting CallState = "connecting"
	CallConnected  CallState = "connected"
	CallEnded      CallState = "ended"
)

// Live reports whether the call still has two parties bound to it.
func (s CallState) Live() bool { return s != CallEnded && s != "" }

// Reasons a call or entry ends; they travel to clients as-is.
const (
	ReasonHangup         = "hangup"
	ReasonPeerLost       = "peer_lost"
	ReasonFailed         = "failed"
	ReasonOfferTimeout   = "offer_timeout"
	ReasonDeclined       = "declined"
	ReasonGuideLost      = "guide_left"
	ReasonCanceled       = "canceled"
	ReasonShopperLost    = "shopper_left"
	ReasonServerShutdown = "server_shutdown"
	ReasonTransferred    = "transferred"
	ReasonCallback       = "callback"
)

// Party names a side of a call: the protocol's role of that side.
type Party = protocol.Role

const (
	PartyShopper = protocol.RoleShopper
	PartyGuide   = protocol.RoleGuide
)

// Call is one offer to a guide and, if accepted, the call that follows.
// Its timestamps are the history the dashboard reads.
type Call struct {
	ID            string     `json:"call_id"`
	EntryID       string     `json:"entry_id"`
	GuideID       string     `json:"guide_id"`
	Queue         string     `json:"queue"`
	State         CallState  `json:"state"`
	OfferDeadline time.Time  `json:"offer_deadline"`
	JoinedAt      time.Time  `json:"joined_at"`
	OfferedAt     time.Time  `json:"offered_at"`
	AcceptedAt    *time.Time `json:"accepted_at,omitempty"`
	ConnectedAt   *time.Time `json:"connected_at,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	EndReason     string     `json:"end_reason,omitempty"`
	EndedBy       string     `json:"ended_by,omitempty"`
	// DeclineNote is the guide's reason for declining an offer.
	DeclineNote string `json:"decline_note,omitempty"`
	// Rating is the shopper's 1-5 after the call, 0 until rated.
	Rating        int        `json:"rating,omitempty"`
	RatingComment string     `json:"rating_comment,omitempty"`
	RatedAt       *time.Time `json:"rated_at,omitempty"`
	// Outcome and WrapUpNotes are the guide's wrap-up (SaveWrapUp).
	Outcome     Outcome    `json:"outcome,omitempty"`
	WrapUpNotes string     `json:"wrap_up_notes,omitempty"`
	WrappedUpAt *time.Time `json:"wrapped_up_at,omitempty"`
}

// CallItemKind is what a call item is.
type CallItemKind string

const (
	ItemChat    CallItemKind = "chat"    // a chat message, either party
	ItemProduct CallItemKind = "product" // a product card the guide showed
	ItemCart    CallItemKind = "cart"    // the shopper's cart as it is now
)

// CallItem is one thing said or shown during a call, kept with the call's
// history so a reloaded page gets the chat and cards back and the summary
// after the call can list them. Body is the item as the client sent it,
// validated by the caller; the queue does not read it.
type CallItem struct {
	ID     string          `json:"item_id"`
	CallID string          `json:"call_id"`
	Seq    int             `json:"seq"` // 1, 2, … in the order added
	Kind   CallItemKind    `json:"kind"`
	From   Party           `json:"from"`
	Body   json.RawMessage `json:"body"`
	At     time.Time       `json:"at"`
}

// MaxCallItems bounds what one call may hold.
const MaxCallItems = 500

// Position is what a waiting shopper is told. ETASeconds is nil when no
// estimate is honest: no guide who could take the entry is online.
type Position struct {
	Queue      string `json:"queue"`
	Position   int    `json:"position"`
	ETASeconds *int   `json:"eta_seconds"`
	// GuidesOnline counts the guides online who could take this entry.
	GuidesOnline int `json:"guides_online"`
	// Callback says the shopper may leave a callback request instead:
	// nobody eligible is online, or the wait passed the queue's maximum.
	Callback bool `json:"callback"`
}

// Held names a party's socket that a node holds: an entry or guide id and
// the socket's id.
type Held struct {
	ID       string
	SocketID string
}

// SocketGivenUp is the SocketID of a party the matcher declared dropped
// because no node reported it for StaleAfter (its node died, or could not
// reach the store). A later report of the same party by a live node
// reclaims it; a real socket close leaves SocketID empty instead.
const SocketGivenUp = "-"
