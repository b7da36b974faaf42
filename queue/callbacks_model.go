package queue

import "time"

// CallbackState is where a callback request is: open until a guide claims
// it, claimed until that guide records how it went, then done.
type CallbackState string

const (
	CallbackOpen    CallbackState = "open"
	CallbackClaimed CallbackState = "claimed"
	CallbackDone    CallbackState = "done"
)

// Callback outcomes a guide records.
const (
	OutcomeReached   = "reached"
	OutcomeNoAnswer  = "no_answer"
	OutcomeWrongInfo = "wrong_contact"
	OutcomeDeclined  = "not_needed"
	// OutcomeErased closes a callback whose shopper asked to be erased
	// before anyone called: there is nobody left to call back.
	OutcomeErased = "erased"
)

var callbackOutcomes = []string{OutcomeReached, OutcomeNoAnswer, OutcomeWrongInfo, OutcomeDeclined}

// Callback is a shopper's request to be called back instead of waiting.
// It is data like an entry: on PostgreSQL it survives every restart.
type Callback struct {
	ID      string `json:"callback_id"`
	Queue   string `json:"queue"`
	Name    string `json:"name"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
	Locale  string `json:"locale"`
	Message string `json:"message,omitempty"`
	// WindowFrom and WindowTo are when the shopper would like the call
	// (both nil: any time).
	WindowFrom *time.Time    `json:"window_from,omitempty"`
	WindowTo   *time.Time    `json:"window_to,omitempty"`
	EntryID    string        `json:"entry_id,omitempty"`
	State      CallbackState `json:"state"`
	CreatedAt  time.Time     `json:"created_at"`
	ClaimedBy  string        `json:"claimed_by,omitempty"`
	ClaimedAt  *time.Time    `json:"claimed_at,omitempty"`
	Outcome    string        `json:"outcome,omitempty"`
	Note       string        `json:"note,omitempty"`
	DoneAt     *time.Time    `json:"done_at,omitempty"`
	// CustomerID is the merchant's id of the shopper (the sub of a signed
	// customer token, or of the entry it left the line with), by which an
	// erasure request finds it.
	CustomerID string `json:"customer_id,omitempty"`
	// ErasedAt is when the retention purge or an erasure blanked Name,
	// Phone, Email, Message, Note and CustomerID.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

func cloneCallback(c Callback) Callback {
	c.WindowFrom, c.WindowTo = cloneTime(c.WindowFrom), cloneTime(c.WindowTo)
	c.ClaimedAt, c.DoneAt, c.ErasedAt = cloneTime(c.ClaimedAt), cloneTime(c.DoneAt), cloneTime(c.ErasedAt)
	return c
}
