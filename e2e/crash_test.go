package e2e

import (
	"net/http"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

// TestCrashKeepsQueue kills a node on PostgreSQL with SIGKILL while 50
// shoppers wait and starts it again: the line is intact, in order, and a
// shopper resumes its place with its token.
func TestCrashKeepsQueue(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const adminEmail, adminPassword = "admin@e2e.local", "crash-test admin password"
	addAccount(t, bin, url, adminEmail, "Admin", adminPassword, "admin")

	n := startProc(t, bin, "node", procConfig{databaseURL: url, ip: "127.0.0.1"})
	const shoppers = 50
	var line []joined
	for range shoppers {
		line = append(line, joinQueue(t, n.url))
	}

	killed := time.Now()
	n.kill()
	n.start()
	n.waitReady(30 * time.Second)
	restart := time.Since(killed)
	t.Logf("restart (SIGKILL → /readyz 200): %d ms", restart.Milliseconds())

	var q struct {
		Queue   string `json:"queue"`
		Entries []struct {
			EntryID  string `json:"entry_id"`
			Position int    `json:"position"`
			State    string `json:"state"`
		} `json:"entries"`
	}
	admin := login(t, n.url, adminEmail, adminPassword)
	api(t, http.MethodGet, n.url+"/api/v1/admin/queue?queue=default", admin, nil, &q, http.StatusOK)
	if len(q.Entries) != shoppers {
		t.Fatalf("after the restart the queue has %d entries, want %d", len(q.Entries), shoppers)
	}
	for i, e := range q.Entries {
		if e.EntryID != line[i].EntryID || e.Position != i+1 || e.State != "waiting" {
			t.Fatalf("entry %d after the restart: %+v, want %s at position %d, waiting", i, e, line[i].EntryID, i+1)
		}
	}

	// The first shopper comes back with its token and is still first.
	ws, welcome := dialWelcome(t, "shopper-1", wsURLOf(n.endpoint("", "")), line[0].Token)
	if welcome.WelcomeShopper == nil || welcome.EntryID != line[0].EntryID || welcome.State != "waiting" {
		t.Fatalf("welcome after the restart: %+v (shopper %+v)", welcome, welcome.WelcomeShopper)
	}
	var pos protocol.QueuePosition
	if f := ws.AwaitInto(protocol.TypeQueuePosition, "", &pos); pos.Position != 1 {
		t.Fatalf("queue.position after the restart: %s, want position 1", f.Data)
	}
}
