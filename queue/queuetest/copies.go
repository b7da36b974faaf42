package queuetest

import (
	"context"
	"testing"
	"time"

	"guidecall/queue"
)

// runCopyTests checks that no caller shares memory with the store: not
// through what a method returns, nor through what an update fn stored.
func runCopyTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()
	later := at(time.Hour)

	t.Run("Entry", func(t *testing.T) {
		s := newStore(t)
		e := entry("e_1", "shoes", 0)
		disc := at(time.Second)
		e.DisconnectedAt = &disc
		created := mustCreateEntry(t, s, e)
		disc = later // the caller reuses its variable
		*created.DisconnectedAt = later

		got, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatal(err)
		}
		*got.DisconnectedAt = later

		line, _ := s.EntriesQueued(ctx, "shoes")
		*line[0].DisconnectedAt = later
		all, _ := s.EntriesQueued(ctx, "")
		*all[0].DisconnectedAt = later

		left := at(2 * time.Second)
		updated, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
			e.LeftAt = &left
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		left = later
		*updated.DisconnectedAt, *updated.LeftAt = later, later

		requeued, err := s.EntryRequeue(ctx, "e_1")
		if err != nil {
			t.Fatal(err)
		}
		*requeued.DisconnectedAt, *requeued.LeftAt = later, later

		read, _ := s.EntryGet(ctx, "e_1")
		if read.DisconnectedAt == nil || !read.DisconnectedAt.Equal(at(time.Second)) {
			t.Errorf("DisconnectedAt = %s, want %s: the store shares memory with a caller", fmtTimePtr(read.DisconnectedAt), at(time.Second))
		}
		if read.LeftAt == nil || !read.LeftAt.Equal(at(2*time.Second)) {
			t.Errorf("LeftAt = %s, want %s: the store shares memory with a caller", fmtTimePtr(read.LeftAt), at(2*time.Second))
		}
	})

	t.Run("Guide", func(t *testing.T) {
		s := newStore(t)
		g := guide("g_1", 0)
		disc := at(time.Second)
		g.DisconnectedAt, g.Online, g.Status, g.CallIDs = &disc, false, queue.GuideAvailable, []string{"c_1"}
		created := mustUpsertGuide(t, s, g)
		disc = later
		*created.DisconnectedAt = later

		got, _ := s.GuideGet(ctx, "g_1")
		*got.DisconnectedAt = later
		again, _ := s.GuideUpsert(ctx, g)
		*again.DisconnectedAt = later

		disc2 := at(2 * time.Second)
		updated, err := s.GuideUpdate(ctx, "g_1", func(g *queue.Guide) error {
			g.DisconnectedAt, g.Online, g.CallIDs = &disc2, true, nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		disc2 = later
		*updated.DisconnectedAt = later
		avail, _ := s.GuidesAvailable(ctx)
		for _, g := range avail {
			*g.DisconnectedAt = later
		}

		read, _ := s.GuideGet(ctx, "g_1")
		if read.DisconnectedAt == nil || !read.DisconnectedAt.Equal(at(2*time.Second)) {
			t.Errorf("DisconnectedAt = %s, want %s: the store shares memory with a caller", fmtTimePtr(read.DisconnectedAt), at(2*time.Second))
		}
	})

	t.Run("Call", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		c := call("c_1", "e_1", "g_1", "shoes", 0)
		acc := at(time.Second)
		c.AcceptedAt, c.State = &acc, queue.CallAccepted
		created := mustCreateCall(t, s, c)
		acc = later
		*created.AcceptedAt = later

		got, _ := s.CallGet(ctx, "c_1")
		*got.AcceptedAt = later

		conn := at(2 * time.Second)
		updated, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
			c.ConnectedAt, c.State = &conn, queue.CallConnected
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		conn = later
		*updated.AcceptedAt, *updated.ConnectedAt = later, later
		live, _ := s.CallsLive(ctx)
		for _, c := range live {
			*c.AcceptedAt, *c.ConnectedAt = later, later
		}

		read, _ := s.CallGet(ctx, "c_1")
		if read.AcceptedAt == nil || !read.AcceptedAt.Equal(at(time.Second)) {
			t.Errorf("AcceptedAt = %s, want %s: the store shares memory with a caller", fmtTimePtr(read.AcceptedAt), at(time.Second))
		}
		if read.ConnectedAt == nil || !read.ConnectedAt.Equal(at(2*time.Second)) {
			t.Errorf("ConnectedAt = %s, want %s: the store shares memory with a caller", fmtTimePtr(read.ConnectedAt), at(2*time.Second))
		}
	})
}
