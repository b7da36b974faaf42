package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"guidecall/internal/httpjson"
	"guidecall/merchant"
)

// purge runs the retention purge once: shopper data of entries that ended
// more than --retention ago, guides' presence history past its bound, and
// refresh-token families that expired.
func (a *App) purge(ctx context.Context) error {
	if _, err := a.Queue.PurgeShopperData(ctx, a.cfg.Retention); err != nil {
		return err
	}
	if a.cfg.Retention > 0 {
		if err := a.purgeMerchantEvents(ctx, time.Now().Add(-a.cfg.Retention)); err != nil {
			return err
		}
	}
	if _, err := a.Queue.PurgePresence(ctx, a.cfg.Retention); err != nil {
		return err
	}
	if n, err := a.Auth.PurgeSessions(ctx); err != nil {
		return err
	} else if n > 0 {
		a.log.InfoContext(ctx, "expired logins forgotten", "families", n)
	}
	return nil
}

// purgeMerchantEvents blanks the shopper fields of merchant webhook
// events recorded before cutoff whose deliveries are over.
func (a *App) purgeMerchantEvents(ctx context.Context, cutoff time.Time) error {
	var n int
	var err error
	switch {
	case a.Merchant != nil:
		n, err = a.Merchant.PurgeShopperData(ctx, cutoff)
	case a.MerchantMemory != nil:
		n, err = a.MerchantMemory.PurgeShopperData(ctx, cutoff)
	}
	if err != nil {
		return fmt.Errorf("purge merchant events: %w", err)
	}
	if n > 0 {
		a.log.InfoContext(ctx, "shopper data purged from merchant events", "events", n)
	}
	return nil
}

// eraseMerchantEvents blanks one shopper's fields in the merchant webhook
// events (callflow's Config.EraseMerchantEvents).
func (a *App) eraseMerchantEvents(ctx context.Context, m merchant.Match) error {
	var n int
	var err error
	switch {
	case a.Merchant != nil:
		n, err = a.Merchant.EraseShopper(ctx, m)
	case a.MerchantMemory != nil:
		n, err = a.MerchantMemory.EraseShopper(ctx, m)
	}
	if err != nil {
		return fmt.Errorf("erase merchant events: %w", err)
	}
	a.log.InfoContext(ctx, "shopper data erased from merchant events", "events", n)
	return nil
}

// purgeLoop is the purge of a node on the memory store, every
// --purge-every.
func (a *App) purgeLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.PurgeEvery)
	defer t.Stop()
	for {
		if err := a.purge(ctx); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "retention purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeKind is the River job kind of the retention purge.
const PurgeKind = "privacy_purge"

type purgeArgs struct{}

func (purgeArgs) Kind() string { return PurgeKind }

type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	app *App
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeArgs]) error {
	return w.app.purge(ctx)
}

// addPurgeJob registers the purge on the node's River workers: River's
// leader enqueues it every --purge-every, so one node of a cluster purges
// at a time and a crash mid-purge is retried by the next run.
func (a *App) addPurgeJob(workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &purgeWorker{app: a})
	return river.NewPeriodicJob(river.PeriodicInterval(a.cfg.PurgeEvery),
		func() (river.JobArgs, *river.InsertOpts) {
			return purgeArgs{}, &river.InsertOpts{MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: PurgeKind})
}

// handlePrivacy tells the widget what to say before the camera is asked
// for: how long shopper data is kept, and where the merchant's notice is.
func (a *App) handlePrivacy(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{
		"notice_url":     a.cfg.PrivacyNoticeURL,
		"retention_days": int(a.cfg.Retention / (24 * time.Hour)),
	})
}
