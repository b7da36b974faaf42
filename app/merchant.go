package app

import (
	"context"
	"fmt"
	"log/slog"

	"time"

	"github.com/jackc/pgx/v5"

	"guidecall/callflow"
	"guidecall/internal/config"
	"guidecall/internal/db"
	"guidecall/merchant"
	"guidecall/payments"
	"guidecall/queue"
)

// buildMerchant builds the merchant webhooks on a database (nil, nil on
// memory stores, which buildMemoryMerchant serves).
func buildMerchant(cfg config.Serve, stores Stores, log *slog.Logger) (*merchant.Service, error) {
	if stores.Pool == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema, err := db.CurrentSchema(ctx, stores.Pool)
	if err != nil {
		return nil, err
	}
	return merchant.New(merchant.Config{
		Pool: stores.Pool, Schema: schema, Schedule: cfg.MerchantRetrySchedule,
		Logger: log.With("component", "merchant-webhooks"),
	})
}

// hookMerchantPayments records the merchant events of every payment
// change in that change's transaction.
func hookMerchantPayments(store payments.Store, m *merchant.Service) error {
	hooked, ok := store.(interface{ SetEventHook(payments.TxEventHook) })
	if !ok {
		return fmt.Errorf("merchant webhooks need a payments store with a transaction hook, not %T", store)
	}
	hooked.SetEventHook(func(ctx context.Context, tx pgx.Tx, events []payments.Event) error {
		var out []merchant.Event
		for _, e := range events {
			out = append(out, callflow.MerchantPaymentEvents(e)...)
		}
		return m.RecordTx(ctx, tx, out...)
	})
	return nil
}

// pgxTxer is a queue StoreTx of the PostgreSQL store.
type pgxTxer interface{ PgxTx() (pgx.Tx, bool) }

// merchantQueueHook records the call and callback events in the queue
// change's transaction; nil without merchant webhooks.
func merchantQueueHook(m *merchant.Service, log *slog.Logger) func(context.Context, queue.StoreTx, []queue.Event) error {
	if m == nil {
		return nil
	}
	return func(ctx context.Context, tx queue.StoreTx, events []queue.Event) error {
		var out []merchant.Event
		for _, e := range events {
			out = append(out, callflow.MerchantQueueEvents(e)...)
		}
		if len(out) == 0 {
			return nil
		}
		ptx, ok := tx.(pgxTxer)
		var t pgx.Tx
		if ok {
			t, ok = ptx.PgxTx()
		}
		if !ok {
			// A queue store that is not PostgreSQL's (a test's wrapper):
			// the call itself matters more than its webhook.
			log.Error("merchant webhooks: queue change without a PostgreSQL transaction; its events are not sent",
				"store_tx", fmt.Sprintf("%T", tx), "events", len(out))
			return nil
		}
		return m.RecordTx(ctx, t, out...)
	}
}

// buildMemoryMerchant builds the merchant webhooks of a node on memory
// stores: the same admin API and events, sent through a memory outbox and
// lost with the process. Events come from the domains' subscriptions
// rather than from their transactions, which memory stores do not have;
// payments' is taken when the part starts, before payments and the queue
// run, so no change is missed.
func (a *App) buildMemoryMerchant(cfg config.Serve, log *slog.Logger) {
	log = log.With("component", "merchant-webhooks")
	m := merchant.NewMemoryService(merchant.MemoryConfig{Schedule: cfg.MerchantRetrySchedule, Logger: log})
	a.MerchantMemory = m
	record := func(ctx context.Context, evs []merchant.Event) {
		if len(evs) == 0 {
			return
		}
		if err := m.Record(ctx, evs...); err != nil {
			log.Error("merchant webhooks: events not recorded", "event_id", evs[0].ID, "events", len(evs), "err", err)
		}
	}
	a.Queue.SubscribeFunc(context.Background(), "merchant webhooks", 0, func(ctx context.Context, e queue.Event) {
		record(ctx, callflow.MerchantQueueEvents(e))
	})
	var unsubscribe func()
	a.durable = append(a.durable, namedService{"merchant webhooks", &funcService{
		start: func(ctx context.Context) error {
			if err := m.Start(ctx); err != nil {
				return err
			}
			unsubscribe = a.Payments.Subscribe(payments.SubscribeConfig{Name: "merchant webhooks"}, func(ctx context.Context, e payments.Event) {
				record(ctx, callflow.MerchantPaymentEvents(e))
			})
			return nil
		},
		stop: func() {
			if unsubscribe != nil {
				unsubscribe()
			}
			m.Stop()
		},
	}})
}
