package merchant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"guidecall/internal/db"
	"guidecall/internal/db/dbtest"
	"guidecall/merchant"
	"guidecall/webhook"
)

// receiver is a merchant's endpoint: it verifies each request with the
// secret it was given, and answers with the status its script says.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	// fail answers this many requests with 503 before answering 200.
	fail   int
	got    map[string]int // event id -> valid deliveries
	bad    int            // requests whose signature did not verify
	arrive chan string    // event id of each 2xx-answered request
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, got: map[string]int{}, arrive: make(chan string, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify([]byte(r.secret), req.Header.Get(merchant.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
			r.bad++
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(merchant.EventIDHeader) || ev.Type != req.Header.Get(merchant.EventTypeHeader) ||
			req.Header.Get(merchant.AttemptHeader) == "" || !strings.HasPrefix(req.Header.Get(merchant.DeliveryHeader), "whd_") {
			http.Error(w, "body and headers disagree", http.StatusBadRequest)
			return
		}
		if r.fail > 0 {
			r.fail--
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		r.got[ev.ID]++
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"ok":true}`)
		r.arrive <- ev.ID
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setFail(n int) {
	r.mu.Lock()
	r.fail = n
	r.mu.Unlock()
}

func (r *receiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

func (r *receiver) await(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-r.arrive:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("event %s never arrived", id)
		}
	}
}

type fixture struct {
	pool *pgxpool.Pool     // nil on memory
	pg   *merchant.Service // nil on memory
	svc  merchant.Admin
	api  *httptest.Server
}

// eachStore runs one conformance test on both stores: memory always,
// PostgreSQL when DATABASE_URL is set.
func eachStore(t *testing.T, schedule []time.Duration, body func(t *testing.T, f *fixture)) {
	t.Run("memory", func(t *testing.T) { body(t, newMemoryFixture(t, schedule)) })
	t.Run("postgres", func(t *testing.T) {
		dbtest.URL(t)
		body(t, newFixture(t, schedule))
	})
}

func newMemoryFixture(t *testing.T, schedule []time.Duration) *fixture {
	t.Helper()
	svc := merchant.NewMemoryService(merchant.MemoryConfig{Schedule: schedule, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	api := httptest.NewServer(svc.AdminRoutes())
	t.Cleanup(api.Close)
	return &fixture{svc: svc, api: api}
}

func newFixture(t *testing.T, schedule []time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, _ := dbtest.NewSchema(t)
	svc, err := merchant.New(merchant.Config{Pool: pool, Schema: dbtest.SchemaName(t, pool), Schedule: schedule,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	svc.AddWorker(workers)
	jobs, err := db.NewJobs(ctx, pool, db.JobsConfig{Workers: workers, FetchPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Stop)
	api := httptest.NewServer(svc.AdminRoutes())
	t.Cleanup(api.Close)
	return &fixture{pool: pool, pg: svc, svc: svc, api: api}
}

func (f *fixture) call(t *testing.T, method, path string, body any, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.api.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

func (f *fixture) endpoint(t *testing.T, r *receiver, events ...string) merchant.Endpoint {
	t.Helper()
	body := map[string]any{"url": r.srv.URL + "/hooks", "description": "test shop"}
	if events != nil {
		body["events"] = events
	}
	var e merchant.Endpoint
	if err := json.Unmarshal(f.call(t, "POST", "/endpoints", body, http.StatusCreated), &e); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("endpoint %+v has no secret", e)
	}
	r.mu.Lock()
	r.secret = e.Secret
	r.mu.Unlock()
	return e
}

func event(id, typ string) merchant.Event {
	return merchant.Event{ID: id, Type: typ, CreatedAt: time.Now(), Data: json.RawMessage(`{"payment_link":{"id":"pl_1"}}`)}
}

// recordTx records evs in a transaction that commits or not; on memory,
// where a change that did not happen records nothing, only commits record.
func (f *fixture) recordTx(t *testing.T, commit bool, evs ...merchant.Event) {
	t.Helper()
	ctx := context.Background()
	if f.pg == nil {
		if commit {
			if err := f.svc.Record(ctx, evs...); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pg.RecordTx(ctx, tx, evs...); err != nil {
		t.Fatal(err)
	}
	end := tx.Rollback
	if commit {
		end = tx.Commit
	}
	if err := end(ctx); err != nil && err != pgx.ErrTxClosed {
		t.Fatal(err)
	}
}

func (f *fixture) delivery(t *testing.T, eventID, endpointID string) merchant.Delivery {
	t.Helper()
	var d merchant.Delivery
	if err := json.Unmarshal(f.call(t, "GET", "/deliveries/whd_"+eventID+"_"+endpointID, nil, http.StatusOK), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// awaitStatus polls the admin API (each read is a real request, bounded
// by the deadline) until the delivery reaches status.
func (f *fixture) awaitStatus(t *testing.T, eventID, endpointID, status string) merchant.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := f.delivery(t, eventID, endpointID)
		if d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of %s is %s after 20s, want %s: %+v", eventID, d.Status, status, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliveredOnceWithAValidSignature(t *testing.T) {
	eachStore(t, []time.Duration{50 * time.Millisecond}, func(t *testing.T, f *fixture) {
		r := newReceiver(t)
		ep := f.endpoint(t, r)

		// A rolled-back change sends nothing; the same event recorded twice
		// (a relay after a crash) is sent once.
		f.recordTx(t, false, event("evt_rolled_back", merchant.PaymentSucceeded))
		f.recordTx(t, true, event("evt_paid", merchant.PaymentSucceeded))
		f.recordTx(t, true, event("evt_paid", merchant.PaymentSucceeded))
		r.await(t, "evt_paid")
		if err := f.svc.Record(context.Background(), event("evt_after", merchant.PaymentRefunded)); err != nil {
			t.Fatal(err)
		}
		r.await(t, "evt_after")
		d := f.awaitStatus(t, "evt_after", ep.ID, merchant.StatusSucceeded)
		if n := r.count("evt_paid"); n != 1 {
			t.Fatalf("evt_paid arrived %d times, want 1", n)
		}
		if r.count("evt_rolled_back") != 0 || r.badSignatures() != 0 {
			t.Fatalf("rolled back arrived %d times, %d bad signatures", r.count("evt_rolled_back"), r.badSignatures())
		}
		if f.pool != nil {
			var n int
			if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM merchant_events WHERE id = 'evt_rolled_back'`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("rolled-back event recorded: %d %v", n, err)
			}
		}
		if d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != 200 || d.AttemptLog[0].Response != `{"ok":true}` {
			t.Fatalf("delivery %+v: want one attempt answered 200 {\"ok\":true}", d)
		}
	})
}

func TestRetriedUntilTheEndpointIsBack(t *testing.T) {
	eachStore(t, []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond}, func(t *testing.T, f *fixture) {
		r := newReceiver(t)
		r.setFail(3)
		ep := f.endpoint(t, r)
		f.recordTx(t, true, event("evt_retry", merchant.PaymentSucceeded))
		r.await(t, "evt_retry")
		d := f.awaitStatus(t, "evt_retry", ep.ID, merchant.StatusSucceeded)
		var codes []int
		for _, a := range d.AttemptLog {
			codes = append(codes, a.StatusCode)
		}
		if fmt.Sprint(codes) != "[503 503 503 200]" || d.Attempts != 4 {
			t.Fatalf("attempts answered %v (%d), want three 503 then 200", codes, d.Attempts)
		}
		if !strings.Contains(d.AttemptLog[0].Response, "down for maintenance") {
			t.Fatalf("the receiver's answer is not kept: %q", d.AttemptLog[0].Response)
		}
		if r.count("evt_retry") != 1 {
			t.Fatalf("arrived %d times", r.count("evt_retry"))
		}
	})
}

func TestFailedThenReplayed(t *testing.T) {
	eachStore(t, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}, func(t *testing.T, f *fixture) {
		r := newReceiver(t)
		r.setFail(3) // all three scheduled attempts
		ep := f.endpoint(t, r)
		f.recordTx(t, true, event("evt_fail", merchant.PaymentFailed))
		d := f.awaitStatus(t, "evt_fail", ep.ID, merchant.StatusFailed)
		if d.Attempts != 3 || d.LastStatusCode != 503 {
			t.Fatalf("failed delivery %+v: want 3 attempts, last 503", d)
		}
		var list struct{ Deliveries []merchant.Delivery }
		if err := json.Unmarshal(f.call(t, "GET", "/deliveries?status=failed", nil, http.StatusOK), &list); err != nil || len(list.Deliveries) != 1 {
			t.Fatalf("failed list: %+v %v", list, err)
		}
		f.call(t, "POST", "/deliveries/"+d.ID+"/replay", nil, http.StatusAccepted)
		r.await(t, "evt_fail")
		d = f.awaitStatus(t, "evt_fail", ep.ID, merchant.StatusSucceeded)
		if d.Attempts != 4 || d.AttemptLog[3].StatusCode != 200 {
			t.Fatalf("replayed delivery %+v: want a 4th attempt answered 200", d)
		}
		// A succeeded delivery is not replayed (the receiver has it).
		f.call(t, "POST", "/deliveries/"+d.ID+"/replay", nil, http.StatusConflict)
		f.call(t, "POST", "/deliveries/whd_nope/replay", nil, http.StatusNotFound)
	})
}

func TestSubscriptionsAndDisabledEndpoints(t *testing.T) {
	eachStore(t, []time.Duration{10 * time.Millisecond}, func(t *testing.T, f *fixture) {
		paidOnly, all := newReceiver(t), newReceiver(t)
		epPaid := f.endpoint(t, paidOnly, merchant.PaymentSucceeded)
		epAll := f.endpoint(t, all)
		f.recordTx(t, true, event("evt_created", merchant.PaymentLinkCreated), event("evt_ok", merchant.PaymentSucceeded))
		paidOnly.await(t, "evt_ok")
		f.awaitStatus(t, "evt_created", epAll.ID, merchant.StatusSucceeded)
		f.awaitStatus(t, "evt_ok", epAll.ID, merchant.StatusSucceeded)
		if paidOnly.count("evt_created") != 0 {
			t.Fatal("an endpoint got an event type it did not subscribe to")
		}
		f.call(t, "GET", "/deliveries/whd_evt_created_"+epPaid.ID, nil, http.StatusNotFound)

		// Disabled: new events skip it; deleted: pending ones are canceled.
		f.call(t, "PATCH", "/endpoints/"+epPaid.ID, map[string]any{"enabled": false}, http.StatusOK)
		all.setFail(1000)
		f.recordTx(t, true, event("evt_ok2", merchant.PaymentSucceeded))
		f.call(t, "GET", "/deliveries/whd_evt_ok2_"+epPaid.ID, nil, http.StatusNotFound)
		f.awaitStatus(t, "evt_ok2", epAll.ID, merchant.StatusFailed)
		f.call(t, "DELETE", "/endpoints/"+epAll.ID, nil, http.StatusNoContent)
		f.call(t, "POST", "/deliveries/whd_evt_ok2_"+epAll.ID+"/replay", nil, http.StatusAccepted)
		f.awaitStatus(t, "evt_ok2", epAll.ID, merchant.StatusCanceled)

		var list struct{ Endpoints []merchant.Endpoint }
		if err := json.Unmarshal(f.call(t, "GET", "/endpoints", nil, http.StatusOK), &list); err != nil || len(list.Endpoints) != 1 || list.Endpoints[0].Secret != "" {
			t.Fatalf("endpoints %+v %v: want the one left, without its secret", list, err)
		}
	})
}

func TestEndpointValidation(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, f *fixture) {
		f.call(t, "POST", "/endpoints", map[string]any{"url": "ftp://x"}, http.StatusUnprocessableEntity)
		f.call(t, "POST", "/endpoints", map[string]any{"url": "/relative"}, http.StatusUnprocessableEntity)
		f.call(t, "POST", "/endpoints", map[string]any{}, http.StatusUnprocessableEntity)
		f.call(t, "POST", "/endpoints", map[string]any{"url": "https://shop.example/h", "events": []string{"payment.stolen"}}, http.StatusUnprocessableEntity)
		f.call(t, "POST", "/endpoints", map[string]any{"url": "https://shop.example/h", "secret": "mine"}, http.StatusBadRequest)
		f.call(t, "GET", "/endpoints/we_nope", nil, http.StatusNotFound)
		f.call(t, "PATCH", "/endpoints/we_nope", map[string]any{"enabled": false}, http.StatusNotFound)
		f.call(t, "DELETE", "/endpoints/we_nope", nil, http.StatusNotFound)
		var e merchant.Endpoint
		_ = json.Unmarshal(f.call(t, "POST", "/endpoints", map[string]any{"url": "https://shop.example/h",
			"events": []string{merchant.PaymentSucceeded, merchant.CallStarted, merchant.PaymentSucceeded}}, http.StatusCreated), &e)
		if fmt.Sprint(e.Events) != "[call.started payment.succeeded]" {
			t.Fatalf("events %v, want sorted and deduplicated", e.Events)
		}
		f.call(t, "PATCH", "/endpoints/"+e.ID, map[string]any{"url": "nope"}, http.StatusUnprocessableEntity)
	})
}

// The schedule is what the issue asks for: at least 24 hours of retries.
func TestDefaultScheduleSpansADay(t *testing.T) {
	var sum time.Duration
	for _, d := range merchant.DefaultSchedule {
		sum += d
	}
	if sum < 24*time.Hour {
		t.Fatalf("default schedule spans %s, want at least 24h", sum)
	}
}
