package callflow_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"guidecall/callflow"
	"guidecall/payments"
	"guidecall/queue"
)

func TestMerchantPaymentEvents(t *testing.T) {
	now := time.Now().UTC()
	link := payments.Link{ID: "pl_1", CallID: "c_1", Provider: "sandbox", Amount: 4900, Currency: "EUR", Status: payments.StatusPaid, CreatedAt: now}
	meta := payments.EventMeta{ID: "pev_1", At: now}
	cases := []struct {
		ev   payments.Event
		want string
	}{
		{payments.LinkCreated{EventMeta: meta, Link: link}, "[evt_pev_1:payment_link.created]"},
		{payments.LinkStatusChanged{EventMeta: meta, Link: link, From: payments.StatusOpen, To: payments.StatusPaid}, "[evt_pev_1:payment.succeeded]"},
		{payments.LinkStatusChanged{EventMeta: meta, Link: link, From: payments.StatusProcessing, To: payments.StatusPaid}, "[evt_pev_1:payment.succeeded]"},
		{payments.LinkStatusChanged{EventMeta: meta, Link: link, From: payments.StatusOpen, To: payments.StatusFailed}, "[evt_pev_1:payment.failed]"},
		{payments.LinkStatusChanged{EventMeta: meta, Link: link, From: payments.StatusOpen, To: payments.StatusExpired}, "[]"},
		{payments.LinkStatusChanged{EventMeta: meta, Link: link, From: payments.StatusOpen, To: payments.StatusProcessing}, "[]"},
		{payments.RefundRecorded{EventMeta: meta, Link: link, From: payments.StatusPaid, To: payments.StatusPartiallyRefunded}, "[evt_pev_1:payment.refunded]"},
		// A refund before the payment tells of the payment first.
		{payments.RefundRecorded{EventMeta: meta, Link: link, From: payments.StatusOpen, To: payments.StatusRefunded}, "[evt_pev_1.paid:payment.succeeded evt_pev_1:payment.refunded]"},
	}
	for _, c := range cases {
		evs := callflow.MerchantPaymentEvents(c.ev)
		got := []string{}
		for _, e := range evs {
			got = append(got, e.ID+":"+e.Type)
			var data struct {
				PaymentLink struct {
					ID     string `json:"id"`
					Amount int64  `json:"amount"`
				} `json:"payment_link"`
			}
			if err := json.Unmarshal(e.Data, &data); err != nil || data.PaymentLink.ID != "pl_1" || data.PaymentLink.Amount != 4900 {
				t.Fatalf("%s: data %s", e.Type, e.Data)
			}
			if !e.CreatedAt.Equal(now) {
				t.Fatalf("%s: created %v, want the change's time", e.Type, e.CreatedAt)
			}
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("%T %v: %s, want %s", c.ev, c.ev.EventLink().Status, s, c.want)
		}
	}
}

func TestMerchantQueueEvents(t *testing.T) {
	call := queue.Call{ID: "c_9", GuideID: "g", EntryID: "e", Queue: "default", State: "connected"}
	meta := queue.EventMeta{ID: "ev_1", At: time.Now()}
	if evs := callflow.MerchantQueueEvents(queue.CallMatched{EventMeta: meta, Call: call}); len(evs) != 1 || evs[0].Type != "call.started" || evs[0].ID != "evt_call_started_c_9" {
		t.Fatalf("CallMatched: %+v", evs)
	}
	if evs := callflow.MerchantQueueEvents(queue.CallFinished{EventMeta: meta, Call: call}); len(evs) != 1 || evs[0].Type != "call.ended" || evs[0].ID != "evt_call_ended_c_9" {
		t.Fatalf("CallFinished: %+v", evs)
	}
	rated := call
	rated.State, rated.Rating, rated.RatingComment = "ended", 5, "Found my size"
	evs := callflow.MerchantQueueEvents(queue.CallRated{EventMeta: meta, Call: rated, CustomerID: "cust_7"})
	if len(evs) != 1 || evs[0].Type != "call.rated" || evs[0].ID != "evt_call_rated_c_9" {
		t.Fatalf("CallRated: %+v", evs)
	}
	for _, want := range []string{`"score":5`, `"comment":"Found my size"`, `"call_id":"c_9"`, `"customer_id":"cust_7"`, `"entry_id":"e"`} {
		if !strings.Contains(string(evs[0].Data), want) {
			t.Errorf("call.rated data %s lacks %s", evs[0].Data, want)
		}
	}
	cb := queue.Callback{ID: "cb_1", Queue: "default", Name: "Sam", Phone: "+4930123456", State: queue.CallbackOpen}
	if evs := callflow.MerchantQueueEvents(queue.CallbackChanged{EventMeta: meta, Callback: cb}); len(evs) != 1 ||
		evs[0].Type != "callback.requested" || evs[0].ID != "evt_callback_requested_cb_1" || !strings.Contains(string(evs[0].Data), `"+4930123456"`) {
		t.Fatalf("CallbackChanged open: %+v", evs)
	}
	cb.State = queue.CallbackClaimed
	if evs := callflow.MerchantQueueEvents(queue.CallbackChanged{EventMeta: meta, Callback: cb}); len(evs) != 0 {
		t.Fatalf("CallbackChanged claimed: %+v", evs)
	}
	if evs := callflow.MerchantQueueEvents(queue.EntryLeft{EventMeta: meta}); len(evs) != 0 {
		t.Fatalf("EntryLeft: %+v", evs)
	}
}
