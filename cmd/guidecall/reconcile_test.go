package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// A payment whose webhook was never delivered (no node runs the outbox
// here) is fixed by `guidecall reconcile`, which prints the fix; a second
// run finds nothing.
func TestReconcileCommand(t *testing.T) {
	ctx := context.Background()
	pool, url := dbtest.NewSchema(t)
	outbox, err := webhook.NewRiverOutbox(pool, dbtest.SchemaName(t, pool), webhook.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: sandbox.NewPostgresStore(pool, outbox), Outbox: outbox,
		WebhookURL: "http://127.0.0.1:1/webhooks/sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	store := payments.NewPostgresStore(pool)
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{sb}})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "c_1", Amount: 500, Currency: "EUR", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/"+l.ProviderRef+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	sb.CheckoutRoutes().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}

	out, stderr, err := runCmd(t, noEnv, "reconcile", "--database-url", url, "--after", "0s")
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, stderr)
	}
	if want := "fixed " + l.ID + " (call c_1, sandbox): open -> paid, refunded 0 -> 0"; !strings.Contains(out, want) || !strings.Contains(out, "1 payment link(s) fixed") {
		t.Fatalf("reconcile printed %q, want %q", out, want)
	}
	if got, _ := store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
		t.Fatalf("after reconcile the link is %s", got.Status)
	}
	out, _, err = runCmd(t, noEnv, "reconcile", "--database-url", url, "--after", "0s")
	if err != nil || !strings.Contains(out, "0 payment link(s) fixed") {
		t.Fatalf("second reconcile: %q, %v", out, err)
	}

	// A refund whose webhook is lost: healed with its amount, but only
	// when the link is within --since.
	if err := sb.Refund(ctx, payments.RefundParams{Ref: l.ProviderRef, LinkID: l.ID, Amount: 200, Currency: "EUR", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, noEnv, "reconcile", "--database-url", url, "--after", "0s", "--since", "1ms")
	if err != nil || !strings.Contains(out, "0 payment link(s) fixed") {
		t.Fatalf("reconcile of links created in the last 1ms: %q, %v", out, err)
	}
	out, _, err = runCmd(t, noEnv, "reconcile", "--database-url", url, "--after", "0s", "--since", "24h")
	if want := "fixed " + l.ID + " (call c_1, sandbox): paid -> partially_refunded, refunded 0 -> 200"; err != nil || !strings.Contains(out, want) {
		t.Fatalf("reconcile --since 24h printed %q (%v), want %q", out, err, want)
	}
	if got, _ := store.LinkGet(ctx, l.ID); got.Status != payments.StatusPartiallyRefunded || got.RefundedAmount != 200 {
		t.Fatalf("after the refund's reconcile the link is %s, refunded %d", got.Status, got.RefundedAmount)
	}
	if _, _, err := runCmd(t, noEnv, "reconcile"); err == nil {
		t.Fatal("reconcile without --database-url succeeded")
	}
}
