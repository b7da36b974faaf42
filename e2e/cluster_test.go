package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

// TestClusterCallAndFailover runs two nodes on one schema: a whole call
// with the shopper on node A and the guide on node B (signaling between
// them through PostgreSQL, media through both nodes' TURN relays), then
// kills the node leading the matcher and checks that the other one makes
// the next offer within 5 s.
func TestClusterCallAndFailover(t *testing.T) { testClusterCallAndFailover(t, "") }

// TestClusterCallAndFailoverNATS is the same with the nodes' bus on NATS
// (--bus-url NATS_URL): nothing travels through bus_messages.
func TestClusterCallAndFailoverNATS(t *testing.T) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		if os.Getenv("GUIDECALL_REQUIRE_NATS") == "1" {
			t.Fatal("GUIDECALL_REQUIRE_NATS=1 but NATS_URL is not set")
		}
		t.Skip("NATS_URL not set (e.g. nats://127.0.0.1:4222); skipping the cluster test over NATS")
	}
	testClusterCallAndFailover(t, url)
}

func testClusterCallAndFailover(t *testing.T, busURL string) {
	pool, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const password = "cluster-test guide password"
	const callGuide, standbyGuide = "guide-call@e2e.local", "guide-failover@e2e.local"
	addAccount(t, bin, url, callGuide, "Call Guide", password, "guide")
	addAccount(t, bin, url, standbyGuide, "Failover Guide", password, "guide")

	// Each TURN server relays to the other's relay addresses, which are
	// loopback and so refused unless allowed (docs/scaling.md).
	var extra []string
	if busURL != "" {
		extra = []string{"--bus-url", busURL}
	}
	a := startProc(t, bin, "node-a", procConfig{databaseURL: url, ip: "127.0.0.1", allowedPeers: "127.0.0.2/32", extraArgs: extra})
	b := startProc(t, bin, "node-b", procConfig{databaseURL: url, ip: "127.0.0.2", allowedPeers: "127.0.0.1/32", extraArgs: extra})

	runPionCall(t, a.endpoint(callGuide, password), b.endpoint(callGuide, password))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var msgs, large, biggest, targeted, nodes int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE length(frame) > 7000), coalesce(max(length(frame)), 0),
			count(*) FILTER (WHERE node IS NOT NULL), (SELECT count(DISTINCT node) FROM bus_parties)
		FROM bus_messages`).Scan(&msgs, &large, &biggest, &targeted, &nodes); err != nil {
		t.Fatal(err)
	}
	t.Logf("the call went through %d bus messages (%d over the 7000-byte inline limit, largest %d bytes, %d addressed to one node); bus_parties names %d nodes",
		msgs, large, biggest, targeted, nodes)
	if nodes != 2 {
		t.Errorf("bus_parties names %d nodes, want 2 (each node records the parties it holds)", nodes)
	}
	switch {
	case busURL == "" && targeted == 0:
		t.Fatal("no bus message addressed to one node: the nodes did not talk through PostgreSQL, or broadcast everything")
	case busURL != "" && msgs != 0:
		t.Fatalf("%d bus messages in PostgreSQL with the bus on NATS", msgs)
	}

	leader, survivor := matcherLeader(t, pool, a, b)
	t.Logf("%s leads the matcher; killing it", leader.name)
	killed := time.Now()
	leader.kill()

	guideWS := dialWS(t, "failover-guide", wsURLOf(survivor.endpoint("", "")), login(t, survivor.url, standbyGuide, password))
	guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	guideWS.Await(protocol.TypePresence, "")
	j := joinQueue(t, survivor.url)
	dialWS(t, "failover-shopper", j.WSURL, j.Token)

	var o protocol.Offer
	offer := guideWS.AwaitInto(protocol.TypeOffer, "", &o)
	failover := time.Since(killed)
	t.Logf("failover (SIGKILL of the leader → offer on %s): %d ms", survivor.name, failover.Milliseconds())
	if o.EntryID != j.EntryID {
		t.Fatalf("offer for entry %s, want %s: %s", o.EntryID, j.EntryID, offer.Data)
	}
	if failover > 5*time.Second {
		t.Fatalf("failover took %s, want at most 5 s", failover)
	}
	if !survivor.leads() {
		t.Errorf("%s made the offer but its log does not say it leads", survivor.name)
	}
}

// matcherLeader waits (bounded) until exactly one of the nodes says it
// leads the matcher, and returns it and the other. When that does not
// happen it lists the advisory locks held on the database, to show who
// holds the matcher's.
func matcherLeader(t *testing.T, pool *pgxpool.Pool, a, b *procNode) (leader, other *procNode) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		switch la, lb := a.leads(), b.leads(); {
		case la && !lb:
			return a, b
		case lb && !la:
			return b, a
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var locks string
	err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(format('key %s by pid %s (%s:%s)',
			(l.classid::bigint << 32) | l.objid::bigint, l.pid, s.client_addr, s.client_port), '; '), 'none')
		FROM pg_locks l LEFT JOIN pg_stat_activity s USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted`).Scan(&locks)
	if err != nil {
		locks = "unknown: " + err.Error()
	}
	t.Fatalf("no single matcher leader after 15 s (A leads: %v, B leads: %v); advisory locks held: %s", a.leads(), b.leads(), locks)
	return nil, nil
}
