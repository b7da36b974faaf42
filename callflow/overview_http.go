package callflow

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"guidecall/internal/httpjson"
	"guidecall/queue"
)

// overviewEntry is one waiting shopper in a guide's queue overview.
type overviewEntry struct {
	EntryID  string           `json:"entry_id"`
	Position int              `json:"position"`
	State    queue.EntryState `json:"state"`
	Name     string           `json:"name,omitempty"`
	Locale   string           `json:"locale"`
	Language string           `json:"language"`
	Currency string           `json:"currency"`
	// CartValue is the cart at join in minor units of Currency; absent
	// when neither the customer token nor the widget said.
	CartValue *int64 `json:"cart_value,omitempty"`
	PageURL   string `json:"page_url,omitempty"`
	Skill     string `json:"skill,omitempty"`
	Priority  int    `json:"priority"`
	// JoinedAt rather than a wait: the answer then stays the same while
	// nothing changes (so its ETag does), and the console counts the wait
	// up itself against the Date header.
	JoinedAt    time.Time `json:"joined_at"`
	SignedIn    bool      `json:"signed_in"`
	ForYou      bool      `json:"for_you,omitempty"` // transferred to this guide by name
	Transferred bool      `json:"transferred,omitempty"`
}

type overviewQueue struct {
	Queue   string          `json:"queue"`
	Waiting int             `json:"waiting"`
	Entries []overviewEntry `json:"entries"`
}

// handleGuideOverview answers the signed-in guide's queues: who waits, in
// offer order, with language, page, skill and priority, and how many
// callbacks are open. It is polled (with If-None-Match) rather than
// pushed: every join, offer and departure would otherwise fan a whole list
// out to every guide of the queue on every node, while a poll is answered
// by any node from the shared store and costs a 304 when nothing moved.
func (f *Flow) handleGuideOverview(w http.ResponseWriter, r *http.Request) {
	me := subject(r)
	lines, err := f.queue.GuideOverview(r.Context(), me)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	queues := make([]overviewQueue, 0, len(lines))
	for _, l := range lines {
		oq := overviewQueue{Queue: l.Queue, Waiting: len(l.Entries), Entries: make([]overviewEntry, 0, len(l.Entries))}
		for i, e := range l.Entries {
			oq.Entries = append(oq.Entries, overviewEntry{
				EntryID: e.ID, Position: i + 1, State: e.State, Name: e.Name, Locale: e.Locale, Language: e.Language,
				Currency: e.Currency, CartValue: e.CartValue, PageURL: e.PageURL, Skill: e.Skill, Priority: e.Priority, JoinedAt: e.JoinedAt,
				SignedIn: e.CustomerID != "", ForYou: e.TransferGuide == me, Transferred: e.TransferNote != "" || e.TransferGuide != "",
			})
		}
		queues = append(queues, oq)
	}
	callbacks, err := f.queue.Callbacks(r.Context(), me)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	open := 0
	for _, cb := range callbacks {
		if cb.State == queue.CallbackOpen {
			open++
		}
	}
	body, err := json.Marshal(map[string]any{"queues": queues, "callbacks_open": open})
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
