package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/internal/db"
	"guidecall/payments"
	"guidecall/payments/adyen"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// reconcile runs one reconciliation pass against the database and prints
// what it fixed. The nodes run the same pass every few seconds on their
// own; this is for an operator who wants it now, or a cron job where no
// node runs.
func reconcile(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("reconcile", `guidecall reconcile: ask the payment providers about every payment link that
may be behind them (a lost or given-up webhook) and apply what they say, once.
Prints each link it fixed: its status and refunded total (minor units)
before and after. The parties of a call still in progress are told
by a running node.`, stderr)
	f.register(fs)
	after := fs.Duration("after", payments.DefaultReconcileAfter, "only links unchanged for at least this long")
	since := fs.Duration("since", payments.DefaultReconcileWindow, "only links created within this long (e.g. 24h)")
	closedSince := fs.Duration("closed-since", payments.DefaultReconcileClosedWindow,
		"also expired and failed links closed within this long: a payment taken in time whose webhook was lost makes them paid")
	var st config.Stripe
	st.Register(fs)
	var ad config.Adyen
	ad.Register(fs)
	publicURL := fs.String("public-url", "", "URL browsers reach the nodes at (for the Stripe return URLs; unused by reconciliation)")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errors.New("reconcile: needs --database-url: the in-memory store lives only inside a running node, which reconciles itself")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openPool(ctx, f, log)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	defer pool.Close()
	if n, err := db.Pending(ctx, pool); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	} else if n > 0 {
		return fmt.Errorf("reconcile: the database has %d migration(s) not applied yet: run `guidecall migrate` first", n)
	}
	schema, err := db.CurrentSchema(ctx, pool)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	// Reconciliation only reads checkouts; the outbox is there because the
	// store's writes (refunds, outcomes) would need it.
	outbox, err := webhook.NewRiverOutbox(pool, schema, webhook.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	sb, err := sandbox.New(sandbox.Config{Store: sandbox.NewPostgresStore(pool, outbox), Logger: log})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	providers := []payments.Provider{sb}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if st.Enabled() {
		sp, err := app.StripeProvider(st, *publicURL, log)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		providers = append(providers, sp)
	}
	if err := ad.Validate(); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if ad.Enabled() {
		ap, err := app.AdyenProvider(ad, *publicURL, adyen.NewPostgresRefs(pool), log)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		providers = append(providers, ap)
	}
	svc, err := payments.NewService(payments.Config{
		Store: payments.NewPostgresStore(pool), Providers: providers, Logger: log,
		Reconcile: payments.ReconcileConfig{After: max(*after, time.Nanosecond), Window: max(*since, time.Nanosecond),
			ClosedWindow: max(*closedSince, time.Nanosecond)},
	})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fixes, err := svc.Reconcile(ctx)
	for _, fx := range fixes {
		fmt.Fprintf(stdout, "fixed %s (call %s, %s): %s -> %s, refunded %d -> %d\n", fx.LinkID, fx.CallID, fx.Provider,
			fx.From, fx.To, fx.RefundedFrom, fx.RefundedTo)
	}
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fmt.Fprintf(stdout, "%d payment link(s) fixed\n", len(fixes))
	return nil
}
