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

// buildMerchant builds the merchant webhooks on a database; memory stores
// have none (nil, nil), since their point is surviving a crash.
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

// merchantQueueHook records call.started and call.ended in the queue
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
