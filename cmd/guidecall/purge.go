package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"guidecall/internal/config"
	"guidecall/queue"
)

// purge erases shopper data: one shopper's at their request (--entry, or
// --customer for the merchant's customer id), or everything past the
// retention period (--retention), once. Running nodes
// purge past-retention data on their own every --purge-every.
func purge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("purge", `guidecall purge: erase shopper data (of queue entries, their calls' notes, and callbacks) now.
  --entry ID         erase one queue entry's shopper data and its callbacks, whatever the age
  --customer ID      erase every entry and callback of one customer (the sub of the
                     merchant's signed customer tokens), and nobody else's
  --retention D      erase the data of every entry, call note and callback that ended more than D ago
Entries, calls and callbacks keep their timestamps (and callbacks their outcome),
so statistics still count them.`, stderr)
	f.register(fs)
	entryID := fs.String("entry", "", "the queue entry id of the shopper to erase")
	customerID := fs.String("customer", "", "the merchant's customer id of the shopper to erase")
	retention := fs.Duration("retention", 0, "erase every entry that ended more than this long ago")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errors.New("purge: needs --database-url: the in-memory store lives only inside a running node, which purges itself")
	}
	given := 0
	for _, set := range []bool{*entryID != "", *customerID != "", *retention > 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		return errors.New("purge: give exactly one of --entry, --customer and --retention")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openSchema(ctx, f, false, log)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	defer pool.Close()
	svc, err := queue.NewService(queue.Config{Store: queue.NewPostgresStore(pool), Logger: log})
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	switch {
	case *entryID != "":
		n, err := svc.EraseEntry(ctx, *entryID)
		if err != nil {
			if errors.Is(err, queue.ErrNotFound) {
				return fmt.Errorf("purge: no queue entry %s", *entryID)
			}
			return fmt.Errorf("purge: %w", err)
		}
		fmt.Fprintf(stdout, "erased the shopper data of entry %s and %d callback(s)\n", *entryID, n.Callbacks)
	case *customerID != "":
		n, err := svc.EraseCustomer(ctx, *customerID)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		fmt.Fprintf(stdout, "erased the shopper data of customer %s: %d entr(ies), %d callback(s)\n", *customerID, n.Entries, n.Callbacks)
	default:
		n, err := svc.PurgeShopperData(ctx, *retention)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		fmt.Fprintf(stdout, "erased the shopper data of %d entr(ies) and %d callback(s) that ended before %s\n",
			n.Entries, n.Callbacks, time.Now().Add(-*retention).UTC().Format(time.RFC3339))
	}
	return nil
}
