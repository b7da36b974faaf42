package telemetry_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/telemetry"
	"guidecall/webhook"
)

// renamed is the sandbox under another name: a second provider for the
// route, failing whenever the sandbox is told to fail its next create.
type renamed struct {
	payments.Provider
	name string
}

func (p renamed) Name() string { return p.name }

// A provider that fails its create opens its breaker and hands the link to
// the next provider; the scrape shows both, labelled by provider.
func TestPaymentProviderBreakerMetrics(t *testing.T) {
	ctx := context.Background()
	outbox := webhook.NewMemoryOutbox(webhook.MemoryConfig{})
	t.Cleanup(outbox.Stop)
	sb, err := sandbox.New(sandbox.Config{
		Secret: []byte("s"), CheckoutBaseURL: "http://127.0.0.1:1/pay/sandbox", WebhookURL: "http://127.0.0.1:1/webhooks/sandbox",
		Store: sandbox.NewMemoryStore(outbox), Outbox: outbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	primary := renamed{Provider: sb, name: "primary"}
	svc, err := payments.NewService(payments.Config{
		Store: payments.NewMemoryStore(), Providers: []payments.Provider{primary, sb},
		Routing: payments.RoutingConfig{Routes: map[string][]string{"*": {"primary", sandbox.Name}}, BreakerCoolDown: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := telemetry.New(telemetry.Sources{PaymentBreakers: svc.Breakers})
	names := []string{"guidecall_payment_provider_breaker_open", "guidecall_payment_provider_create_errors_total", "guidecall_payment_provider_failovers_total"}
	expect := func(primaryOpen, errs, failovers int) {
		t.Helper()
		want := strings.NewReplacer("OPEN", strconv.Itoa(primaryOpen), "ERRS", strconv.Itoa(errs), "FAILOVERS", strconv.Itoa(failovers)).Replace(`
# HELP guidecall_payment_provider_breaker_open 1 while this node skips the payment provider after a failed create (its breaker is open), by provider.
# TYPE guidecall_payment_provider_breaker_open gauge
guidecall_payment_provider_breaker_open{provider="primary"} OPEN
guidecall_payment_provider_breaker_open{provider="sandbox"} 0
# HELP guidecall_payment_provider_create_errors_total Payment link creates the provider failed or timed out on this node, by provider.
# TYPE guidecall_payment_provider_create_errors_total counter
guidecall_payment_provider_create_errors_total{provider="primary"} ERRS
guidecall_payment_provider_create_errors_total{provider="sandbox"} 0
# HELP guidecall_payment_provider_failovers_total Payment links the provider failed that the next provider of the route then took, by the provider that failed.
# TYPE guidecall_payment_provider_failovers_total counter
guidecall_payment_provider_failovers_total{provider="primary"} FAILOVERS
guidecall_payment_provider_failovers_total{provider="sandbox"} 0
`)
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
			t.Fatal(err)
		}
	}
	create := func(key string) payments.Link {
		t.Helper()
		l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "call-1", Amount: 2500, Currency: "EUR", IdempotencyKey: key, CreatedBy: "guide-1"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	if l := create("up"); l.Provider != "primary" {
		t.Fatalf("link from %s while the primary is up", l.Provider)
	}
	expect(0, 0, 0)
	sb.FailNextCreate(errors.New("503 from upstream")) // the primary's create, which delegates to the sandbox
	if l := create("down"); l.Provider != sandbox.Name {
		t.Fatalf("link from %s after the primary failed", l.Provider)
	}
	expect(1, 1, 1)
	// While open, the primary is skipped: no new error, no failover.
	if l := create("while-open"); l.Provider != sandbox.Name {
		t.Fatalf("link from %s while the primary's breaker is open", l.Provider)
	}
	expect(1, 1, 1)
	problems, err := testutil.GatherAndLint(m.Registry(), names...)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
