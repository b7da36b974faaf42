package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
	"guidecall/queue/queuetest"
)

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	dbtest.URL(t) // skip once here rather than in every subtest
	queuetest.RunStoreSuite(t, func(t *testing.T) queue.Store {
		pool, _ := dbtest.NewSchema(t)
		return queue.NewPostgresStore(pool)
	})
}

// A store whose database cannot be reached, or drops its connections,
// says ErrUnavailable (which the HTTP layer turns into 503) rather than a
// bare driver error.
func TestPostgresStoreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		_, err = queue.NewPostgresStore(pool).EntryGet(ctx, "e_1")
		if !errors.Is(err, queue.ErrUnavailable) {
			t.Errorf("EntryGet with nothing listening: err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("Terminated", func(t *testing.T) {
		t.Parallel()
		pool, _ := dbtest.NewSchema(t)
		s := queue.NewPostgresStore(pool)
		if _, err := s.GuideUpsert(ctx, queue.Guide{ID: "g_1", Name: "G", IdleSince: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// An admin kills every connection of the pool, as a server
		// restart or failover would.
		var pids []uint32
		for _, c := range pool.AcquireAllIdle(ctx) {
			pids = append(pids, c.Conn().PgConn().PID())
			c.Release()
		}
		admin, err := pgx.Connect(ctx, dbtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		for _, pid := range pids {
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("terminated backends still running")
			}
			time.Sleep(10 * time.Millisecond)
		}

		_, err = s.GuideGet(ctx, "g_1")
		if !errors.Is(err, queue.ErrUnavailable) {
			t.Errorf("GuideGet on a killed connection: err = %v, want ErrUnavailable", err)
		}
		// The pool replaces the dead connection; the store works again.
		if _, err := s.GuideGet(ctx, "g_1"); err != nil {
			t.Errorf("GuideGet after the pool recovered: %v", err)
		}
	})
}
