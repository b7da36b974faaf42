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

// purge erases shopper data: one shopper's at their request (--entry), or
// everything past the retention period (--retention), once. Running nodes
// purge past-retention data on their own every --purge-every.
func purge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("purge", `guidecall purge: erase shopper data (name and page of a queue entry) now.
  --entry ID         erase one shopper's data, whatever the age (an erasure request)
  --retention D      erase the data of every entry that ended more than D ago
Calls and entries keep their timestamps, so statistics still count them.`, stderr)
	f.register(fs)
	entryID := fs.String("entry", "", "the queue entry id of the shopper to erase")
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
	if (*entryID == "") == (*retention <= 0) {
		return errors.New("purge: give exactly one of --entry and --retention")
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
	if *entryID != "" {
		if err := svc.EraseEntry(ctx, *entryID); err != nil {
			if errors.Is(err, queue.ErrNotFound) {
				return fmt.Errorf("purge: no queue entry %s", *entryID)
			}
			return fmt.Errorf("purge: %w", err)
		}
		fmt.Fprintf(stdout, "erased the shopper data of entry %s\n", *entryID)
		return nil
	}
	n, err := svc.PurgeShopperData(ctx, *retention)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	fmt.Fprintf(stdout, "erased the shopper data of %d entr(ies) that ended before %s\n", n, time.Now().Add(-*retention).UTC().Format(time.RFC3339))
	return nil
}
