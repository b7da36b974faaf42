package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/time/rate"

	"guidecall/internal/auth"
	"guidecall/internal/cleantext"
	"guidecall/internal/httpjson"
	"guidecall/merchant"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/turnserver"
)

// maxJoinBody bounds POST /api/v1/queue.
const maxJoinBody = 16 << 10

// ShopperTokenTTL bounds a shopper's wait plus call.
const ShopperTokenTTL = 2 * time.Hour

// writeQueueError maps a queue error to a status.
func writeQueueError(w http.ResponseWriter, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, queue.ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, queue.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, queue.ErrBadState):
		httpjson.Error(w, http.StatusConflict, "bad_state", err.Error())
	case errors.Is(err, queue.ErrUnavailable):
		httpjson.Error(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
	default:
		log.Error("request failed", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

func (f *Flow) handleJoin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		queue.JoinParams
		// Priority is refused, never silently dropped: a merchant who sends
		// it learns that only a signed customer token sets it.
		Priority json.RawMessage `json:"priority"`
	}
	if err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, maxJoinBody), &body, false); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", "body over 16 KiB")
			return
		}
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "body must be one JSON object: "+err.Error())
		return
	}
	if len(body.Priority) > 0 {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "priority: set only by a signed customer_token (its tier or priority claim)")
		return
	}
	p := body.JoinParams
	// The shopper's currency is the one the guide's links will be in:
	// checked against the table payments uses, so an unknown code fails
	// here and not at the first payment link.
	if _, err := payments.MinorUnits(p.Currency); err != nil && len(p.Currency) == 3 {
		httpjson.Error(w, http.StatusBadRequest, "unknown_currency", fmt.Sprintf("currency %q is not an ISO 4217 currency", p.Currency))
		return
	}
	p.Priority, p.CustomerID = 0, ""
	if p.CustomerToken != "" {
		c, err := verifyCustomer(p.CustomerToken, f.cfg.CustomerSecret, time.Now)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, "bad_customer_token", err.Error())
			return
		}
		p.CustomerID, p.Priority = c.ID, c.Priority
		// The merchant's own figure goes before what the widget added up.
		if c.CartValue != nil {
			p.CartValue = c.CartValue
		}
	}
	e, err := f.queue.Join(r.Context(), p)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	token, err := f.cfg.Issuer.IssueShopper(e.ID, ShopperTokenTTL)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, joinAnswer{
		EntryID: e.ID, Token: token, WSURL: wsURL(f.cfg.PublicURL), ExpiresIn: int(ShopperTokenTTL.Seconds()),
	})
}

// joinAnswer is the answer to POST /api/v1/queue (docs/api.md).
type joinAnswer struct {
	EntryID   string `json:"entry_id"`
	Token     string `json:"token"`
	WSURL     string `json:"ws_url"`
	ExpiresIn int    `json:"expires_in"`
}

func wsURL(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://") + "/api/v1/ws"
	default:
		return "ws://" + strings.TrimPrefix(base, "http://") + "/api/v1/ws"
	}
}

// iceResponse is an RTCConfiguration fragment.
type iceResponse struct {
	turnserver.ICEConfig
	ICETransportPolicy string `json:"iceTransportPolicy"`
}

// handleICEServers hands out TURN credentials. Anyone can get a shopper
// token, so a shopper gets them only while its entry is in a call: a relay
// is for talking to a guide, not a free proxy for whoever joins the queue.
func (f *Flow) handleICEServers(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.ClaimsFrom(r.Context())
	id, ttl := guideTURNID(c.Subject, c.Family), time.Duration(0)
	if c.Role == protocol.RoleShopper {
		id = c.EntryID
		e, err := f.queue.Entry(r.Context(), id)
		switch {
		case errors.Is(err, queue.ErrNotFound):
			httpjson.Error(w, http.StatusForbidden, "not_in_call", "ICE servers are given to a shopper only during its call")
			return
		case err != nil:
			writeQueueError(w, f.log, err)
			return
		case e.State != queue.EntryInCall:
			httpjson.Error(w, http.StatusForbidden, "not_in_call", "ICE servers are given to a shopper only during its call; this entry is "+string(e.State))
			return
		}
		// Issued for this call: its end revokes them (CallEnded).
		id, ttl = shopperTURNID(e.ID, e.CallID), ShopperTURNTTL
	}
	cfg := f.cfg.TURN.ICEConfig(id)
	if ttl > 0 {
		cfg = f.cfg.TURN.ICEConfigTTL(id, ttl)
	}
	resp := iceResponse{ICEConfig: cfg, ICETransportPolicy: "all"}
	if f.cfg.ICERelayOnly {
		resp.ICETransportPolicy = "relay"
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func (f *Flow) handleAdminQueue(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("queue")
	if name == "" {
		name = "default"
	}
	line, err := f.queue.Waiting(r.Context(), name)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	type row struct {
		EntryID  string           `json:"entry_id"`
		Position int              `json:"position"`
		JoinedAt time.Time        `json:"joined_at"`
		State    queue.EntryState `json:"state"`
	}
	rows := make([]row, 0, len(line))
	for i, e := range line {
		rows = append(rows, row{EntryID: e.ID, Position: i + 1, JoinedAt: e.JoinedAt, State: e.State})
	}
	httpjson.Write(w, http.StatusOK, struct {
		Queue   string `json:"queue"`
		Entries []row  `json:"entries"`
	}{name, rows})
}

// handleAdminCall is one call's history: its record and the quality its
// parties reported, summarised.
func (f *Flow) handleAdminCall(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "callID")
	c, err := f.queue.CallRecord(r.Context(), id)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	q, err := f.queue.CallQuality(r.Context(), id)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"call": c, "quality": q})
}

// handleErase erases one shopper's data at their request: the entry's
// name, page and notes, its calls' notes and its callbacks; timestamps
// stay for statistics. 204, or 404.
func (f *Flow) handleErase(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "entryID")
	c, _ := auth.ClaimsFrom(r.Context())
	n, err := f.queue.EraseEntry(r.Context(), id)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	if err := f.eraseMerchantEvents(r.Context(), merchant.Match{Field: "entry_id", Value: id}); err != nil {
		f.log.ErrorContext(r.Context(), "merchant events of an erased entry", "entry_id", id, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "the merchant events were not erased; ask again")
		return
	}
	f.log.InfoContext(r.Context(), "shopper data erased by an admin", "entry_id", id, "callbacks", n.Callbacks, "admin_id", c.Subject)
	w.WriteHeader(http.StatusNoContent)
}

// eraseMerchantEvents: see Config.EraseMerchantEvents. An erasure asked
// again redoes both parts, so a failure here is answered, not hidden.
func (f *Flow) eraseMerchantEvents(ctx context.Context, m merchant.Match) error {
	if f.cfg.EraseMerchantEvents == nil {
		return nil
	}
	return f.cfg.EraseMerchantEvents(ctx, m)
}

// handleEraseCustomer erases every entry and callback of one customer of
// the merchant's (the sub of its customer tokens). 200 with the counts,
// zero when the node holds nothing of that customer.
func (f *Flow) handleEraseCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(chi.URLParam(r, "customerID"))
	if err != nil || id == "" || cleantext.HasNUL(id) {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "customer_id: not a customer id")
		return
	}
	c, _ := auth.ClaimsFrom(r.Context())
	n, err := f.queue.EraseCustomer(r.Context(), id)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	if err := f.eraseMerchantEvents(r.Context(), merchant.Match{Field: "customer_id", Value: id}); err != nil {
		f.log.ErrorContext(r.Context(), "merchant events of an erased customer", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "the merchant events were not erased; ask again")
		return
	}
	// The customer id is what was erased: it is not logged.
	f.log.InfoContext(r.Context(), "customer's shopper data erased by an admin", "entries", n.Entries, "callbacks", n.Callbacks, "admin_id", c.Subject)
	httpjson.Write(w, http.StatusOK, erasedAnswer{Entries: n.Entries, Callbacks: n.Callbacks})
}

// erasedAnswer is the answer to DELETE /api/v1/admin/customers/{id}.
type erasedAnswer struct {
	Entries   int `json:"entries"`
	Callbacks int `json:"callbacks"`
}

// ipLimiter bounds queue joins per client IP.
type ipLimiter struct {
	mu       sync.Mutex
	perMin   float64
	burst    int
	clientIP func(*http.Request) string
	clients  map[string]*rate.Limiter
}

func joinLimiter(perMinute float64, burst int, clientIP func(*http.Request) string) *ipLimiter {
	return &ipLimiter{perMin: perMinute, burst: burst, clientIP: clientIP, clients: map[string]*rate.Limiter{}}
}

func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[ip]
	if !ok {
		// Bounded memory: a flood of distinct addresses resets the table
		// rather than growing it; each address then starts with a full burst.
		if len(l.clients) >= 100_000 {
			clear(l.clients)
		}
		lim = rate.NewLimiter(rate.Limit(l.perMin/60), l.burst)
		l.clients[ip] = lim
	}
	return lim.Allow()
}

func (l *ipLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(l.clientIP(r)) {
			w.Header().Set("Retry-After", "10")
			httpjson.Error(w, http.StatusTooManyRequests, "rate_limited", "too many queue joins from this address; retry shortly")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// partyOf is who the token's holder is in a call.
func partyOf(c *auth.Claims) (queue.Party, string) {
	if c.Role == protocol.RoleShopper {
		return queue.PartyShopper, c.EntryID
	}
	return queue.PartyGuide, c.Subject
}

func writeCallError(w http.ResponseWriter, log *slog.Logger, err error) {
	if errors.Is(err, queue.ErrNotParty) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such call of yours")
		return
	}
	writeQueueError(w, log, err)
}

// handleCallItems lists a call's chat, product cards and carts, as the
// messages that carried them, for a page that was reloaded and for the
// summary after the call.
func (f *Flow) handleCallItems(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.ClaimsFrom(r.Context())
	party, id := partyOf(c)
	callID := chi.URLParam(r, "callID")
	items, err := f.queue.CallItems(r.Context(), party, id, callID)
	if err != nil {
		writeCallError(w, f.log, err)
		return
	}
	type message struct {
		Type protocol.Type `json:"type"`
		Data any           `json:"data"`
	}
	out := make([]message, 0, len(items))
	for _, it := range items {
		typ, data, err := itemMessage(it)
		if err != nil {
			f.log.ErrorContext(r.Context(), "call item unreadable", "call_id", callID, "item_id", it.ID, "err", err)
			continue
		}
		out = append(out, message{Type: typ, Data: data})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"call_id": callID, "items": out})
}

// handleRateCall stores the shopper's rating of its call once it ended.
func (f *Flow) handleRateCall(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.ClaimsFrom(r.Context())
	var body struct {
		Rating  int    `json:"rating"`
		Comment string `json:"comment"`
	}
	if err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, 8<<10), &body, true); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "body must be {\"rating\": 1-5, \"comment\": \"…\"}: "+err.Error())
		return
	}
	call, err := f.queue.RateCall(r.Context(), c.EntryID, chi.URLParam(r, "callID"), body.Rating, strings.TrimSpace(body.Comment))
	if err != nil {
		writeCallError(w, f.log, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"call_id": call.ID, "rating": call.Rating, "comment": call.RatingComment, "rated_at": call.RatedAt,
	})
}
