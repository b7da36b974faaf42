package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
	"guidecall/webhook"
)

// merchantReceiver is the merchant's test endpoint: it verifies every
// request with the endpoint's secret and answers 503 while down.
type merchantReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	secret   string
	down     bool
	refused  int            // requests answered 503
	bad      int            // requests whose signature did not verify
	received map[string]int // event id -> accepted deliveries
	types    map[string]string
	bodies   map[string][]byte // event type -> body of its latest accepted request
	arrived  chan string       // event type of each accepted request
}

func newMerchantReceiver(t *testing.T) *merchantReceiver {
	r := &merchantReceiver{received: map[string]int{}, types: map[string]string{}, bodies: map[string][]byte{}, arrived: make(chan string, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			r.refused++
			http.Error(w, "merchant down", http.StatusServiceUnavailable)
			return
		}
		if err := webhook.Verify([]byte(r.secret), req.Header.Get("Guidecall-Signature"), body, time.Now(), webhook.DefaultTolerance); err != nil {
			r.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != req.Header.Get("Guidecall-Event-Id") {
			r.bad++
			http.Error(w, "no event id", http.StatusBadRequest)
			return
		}
		r.received[ev.ID]++
		r.types[ev.ID] = ev.Type
		r.bodies[ev.Type] = body
		w.WriteHeader(http.StatusNoContent)
		r.arrived <- ev.Type
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *merchantReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// await takes arrivals until one of type typ.
func (r *merchantReceiver) await(t *testing.T, typ string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case got := <-r.arrived:
			if got == typ {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within %s", typ, within)
		}
	}
}

// awaitRating rates callID as its shopper and waits for the call.rated
// event, which must carry the score, the comment and the call.
func (r *merchantReceiver) awaitRating(t *testing.T, baseURL, shopperToken, callID string) {
	t.Helper()
	api(t, http.MethodPost, baseURL+"/api/v1/calls/"+callID+"/rating", shopperToken,
		map[string]any{"rating": 4, "comment": "Helpful with the size"}, nil, http.StatusOK)
	r.await(t, "call.rated", 20*time.Second)
	r.mu.Lock()
	body := r.bodies["call.rated"]
	r.mu.Unlock()
	var ev struct {
		ID   string `json:"id"`
		Data struct {
			Call   struct{ ID string } `json:"call"`
			Rating struct {
				CallID  string `json:"call_id"`
				Score   int    `json:"score"`
				Comment string `json:"comment"`
			} `json:"rating"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("call.rated body %s: %v", body, err)
	}
	if ev.ID != "evt_call_rated_"+callID || ev.Data.Call.ID != callID || ev.Data.Rating.CallID != callID ||
		ev.Data.Rating.Score != 4 || ev.Data.Rating.Comment != "Helpful with the size" {
		t.Fatalf("call.rated body %s: want call %s, score 4 and the comment", body, callID)
	}
}

type adminDelivery struct {
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	AttemptLog []struct {
		N          int `json:"n"`
		StatusCode int `json:"status_code"`
	} `json:"attempt_log"`
}

// deliveryOf is the one delivery of an event type, read through the admin API.
func deliveryOf(t *testing.T, baseURL, token, typ string) (adminDelivery, bool) {
	t.Helper()
	var list struct {
		Deliveries []adminDelivery `json:"deliveries"`
	}
	api(t, http.MethodGet, baseURL+"/api/v1/admin/webhooks/deliveries", token, nil, &list, http.StatusOK)
	for _, d := range list.Deliveries {
		if d.EventType == typ {
			var full adminDelivery
			api(t, http.MethodGet, baseURL+"/api/v1/admin/webhooks/deliveries/"+d.ID, token, nil, &full, http.StatusOK)
			return full, true
		}
	}
	return adminDelivery{}, false
}

// awaitDelivery polls the admin API until cond holds for the delivery of typ.
func awaitDelivery(t *testing.T, baseURL, token, typ string, within time.Duration, cond func(adminDelivery) bool) adminDelivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if d, ok := deliveryOf(t, baseURL, token, typ); ok && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			d, _ := deliveryOf(t, baseURL, token, typ)
			t.Fatalf("delivery of %s not as expected within %s: %+v", typ, within, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitJobBetweenAttempts waits until River has recorded at least
// attempts runs of a merchant delivery's job and it is not running: the
// job waits for its retry.
func awaitJobBetweenAttempts(t *testing.T, databaseURL, deliveryID string, attempts int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var state string
		var attempt int
		err := conn.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE kind = 'merchant_webhook_delivery'
			AND args->>'delivery_id' = $1 ORDER BY id DESC LIMIT 1`, deliveryID).Scan(&state, &attempt)
		switch {
		case err == nil && state != "running" && attempt >= attempts:
			return
		case ctx.Err() != nil:
			t.Fatalf("River job of %s not between attempts within 20s (state %q, attempt %d, %v)", deliveryID, state, attempt, err)
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			t.Fatalf("River job of %s: %v", deliveryID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMerchantWebhookSurvivesOutageAndKill runs the real binary on
// PostgreSQL: a link paid through the sandbox reaches the merchant's
// endpoint as payment.succeeded, once, with a valid signature, although
// the endpoint refused it for a while and the node was SIGKILLed between
// two of the refused attempts.
func TestMerchantWebhookSurvivesOutageAndKill(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	n := startPayNode(t, payNodeConfig{name: "merchant", databaseURL: url,
		env: []string{"GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE=300ms,2s,2s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"}})
	ep, admin := n.guide, n.adminToken
	recv := newMerchantReceiver(t)
	n.subscribe(t, recv, "/guidecall")
	// The guide cannot manage webhooks.
	api(t, http.MethodGet, n.url+"/api/v1/admin/webhooks/endpoints", loginGuide(t, ep), nil, nil, http.StatusForbidden)

	call := n.connectCall(t)
	callID, guideToken := call.id, call.guideToken
	recv.await(t, "call.started", 20*time.Second)
	link := n.sendLink(t, call, 4900, "EUR", "Silk scarf")
	recv.await(t, "payment_link.created", 20*time.Second)

	// The merchant goes down; the shopper pays.
	recv.setDown(true)
	paySandbox(t, link.CheckoutURL)
	before := awaitDelivery(t, n.url, admin, "payment.succeeded", 20*time.Second, func(d adminDelivery) bool { return d.Attempts >= 2 })
	// Kill between two attempts: once River has the job waiting for its
	// retry. (A node killed during an attempt leaves its job running, and
	// River rescues it after two minutes: also delivered, only later.)
	awaitJobBetweenAttempts(t, url, before.ID, before.Attempts)
	n.kill()
	killed := time.Now()
	n.start()
	n.waitReady(30 * time.Second)
	// Still down after the restart: the new process retries too.
	afterRestart := awaitDelivery(t, n.url, admin, "payment.succeeded", 30*time.Second, func(d adminDelivery) bool {
		return d.Attempts > before.Attempts
	})
	recv.setDown(false)
	recv.await(t, "payment.succeeded", 30*time.Second)
	arrived := time.Since(killed)
	d := awaitDelivery(t, n.url, admin, "payment.succeeded", 10*time.Second, func(d adminDelivery) bool { return d.Status == "succeeded" })

	// The guide comes back into the call and hangs up: call.ended, recorded
	// with the queue change that ended the call.
	guideWS, welcome := dialWelcome(t, "guide-back", wsURLOf(ep), guideToken)
	if welcome.Resumed {
		guideWS.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{})
	} // else the call already ended as its parties' node went away
	recv.await(t, "call.ended", 60*time.Second)
	// The shopper rates the call: call.rated, recorded with the rating.
	recv.awaitRating(t, n.url, call.shopper.Token, callID)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	for id, typ := range recv.types {
		if recv.received[id] != 1 {
			t.Errorf("%s %s accepted %d times, want 1", typ, id, recv.received[id])
		}
	}
	if got := recv.received[d.EventID]; got != 1 {
		t.Fatalf("payment.succeeded %s accepted %d times, want 1", d.EventID, got)
	}
	if recv.bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", recv.bad)
	}
	var codes []string
	ok := 0
	for _, a := range d.AttemptLog {
		codes = append(codes, fmt.Sprint(a.StatusCode))
		if a.StatusCode/100 == 2 {
			ok++
		}
	}
	if ok != 1 || d.AttemptLog[0].StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("attempt log %s: want 503s then one 2xx", strings.Join(codes, ","))
	}
	t.Logf("payment.succeeded: %d refused attempts (%d before SIGKILL, %d by the restarted node before the endpoint came back), "+
		"arrived %d ms after the kill; attempt log %s; merchant saw %d refusals",
		len(d.AttemptLog)-1, before.Attempts, afterRestart.Attempts-before.Attempts, arrived.Milliseconds(), strings.Join(codes, ","), recv.refused)
}
