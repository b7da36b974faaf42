package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/app"
	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
)

// berlin is where the seeded day is cut: a day there starts at 23:00 UTC.
var berlin = mustLocation("Europe/Berlin")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// seededAt is a time on 24 November 2026 in Berlin, plus day days.
func seededAt(day, h, m, s int) time.Time { return time.Date(2026, 11, 24+day, h, m, s, 0, berlin) }

type seededCall struct {
	id                           string
	offered, accepted, connected time.Time
	ended                        time.Time
	rating                       int
	quality                      []queue.QualityReport
	links                        []payments.Link
}

type seededEntry struct {
	id, queue string
	joined    time.Time
	state     queue.EntryState
	left      time.Time
	reason    string
	calls     []seededCall
}

func quality(party queue.Party, rtt float64, lost, freezes int64) queue.QualityReport {
	return queue.QualityReport{Party: party, RTTMS: rtt, PacketsLost: lost, FreezeCount: freezes, FramesDecoded: 900,
		FrameWidth: 640, FrameHeight: 480, LocalCandidate: "relay", RemoteCandidate: "relay"}
}

func link(id, provider, currency string, amount int64, status payments.LinkStatus, refunded int64) payments.Link {
	return payments.Link{ID: id, Provider: provider, Currency: currency, Amount: amount, Status: status, RefundedAmount: refunded}
}

// seededDay is the fixed history the dashboard's figures are checked on:
// 24 November 2026 in Berlin, with a shopper who joined just before it
// and one just after. The expected figures in TestAdminStatsSeededDay are
// worked out from it by hand.
func seededDay() []seededEntry {
	return []seededEntry{
		{id: "e_1", queue: "shoes", joined: seededAt(0, 10, 0, 0), state: queue.EntryDone, left: seededAt(0, 10, 10, 25), calls: []seededCall{{
			id: "c_1", offered: seededAt(0, 10, 0, 5), accepted: seededAt(0, 10, 0, 20), connected: seededAt(0, 10, 0, 25), ended: seededAt(0, 10, 10, 25), rating: 5,
			quality: []queue.QualityReport{quality(queue.PartyShopper, 40, 10, 0), quality(queue.PartyShopper, 60, 30, 1), quality(queue.PartyGuide, 50, 5, 0)},
			links:   []payments.Link{link("pl_1", "sandbox", "EUR", 5000, payments.StatusPaid, 0)},
		}}},
		{id: "e_2", queue: "shoes", joined: seededAt(0, 10, 5, 0), state: queue.EntryDone, left: seededAt(0, 10, 10, 45), calls: []seededCall{
			{id: "c_2a", offered: seededAt(0, 10, 5, 2), ended: seededAt(0, 10, 5, 10)}, // declined
			{id: "c_2b", offered: seededAt(0, 10, 5, 12), accepted: seededAt(0, 10, 5, 40), connected: seededAt(0, 10, 5, 45), ended: seededAt(0, 10, 10, 45), rating: 3,
				quality: []queue.QualityReport{quality(queue.PartyGuide, 100, 2, 3)},
				links: []payments.Link{link("pl_2", "sandbox", "EUR", 2000, payments.StatusExpired, 0),
					link("pl_3", "stripe", "EUR", 3000, payments.StatusPartiallyRefunded, 1000)}},
		}},
		{id: "e_3", queue: "default", joined: seededAt(0, 11, 0, 0), state: queue.EntryDone, left: seededAt(0, 11, 21, 5), calls: []seededCall{{
			id: "c_3", offered: seededAt(0, 11, 0, 1), accepted: seededAt(0, 11, 1, 0), connected: seededAt(0, 11, 1, 5), ended: seededAt(0, 11, 21, 5),
			links: []payments.Link{link("pl_4", "sandbox", "JPY", 1500, payments.StatusPaid, 0), link("pl_5", "sandbox", "EUR", 1000, payments.StatusOpen, 0)},
		}}},
		{id: "e_4", queue: "default", joined: seededAt(0, 12, 0, 0), state: queue.EntryCanceled, left: seededAt(0, 12, 0, 30), reason: queue.ReasonCanceled},
		{id: "e_5", queue: "default", joined: seededAt(0, 12, 30, 0), state: queue.EntryAbandoned, left: seededAt(0, 12, 32, 0), reason: queue.ReasonShopperLost},
		{id: "e_6", queue: "shoes", joined: seededAt(0, 13, 0, 0), state: queue.EntryCanceled, left: seededAt(0, 13, 1, 0), reason: queue.ReasonCallback},
		// Joined a second before midnight: its call runs into the next day
		// but belongs to this one.
		{id: "e_7", queue: "default", joined: seededAt(0, 23, 59, 59), state: queue.EntryDone, left: seededAt(1, 0, 5, 10), calls: []seededCall{{
			id: "c_7", offered: seededAt(1, 0, 0, 2), accepted: seededAt(1, 0, 0, 9), connected: seededAt(1, 0, 0, 10), ended: seededAt(1, 0, 5, 10), rating: 4,
			links: []payments.Link{link("pl_6", "adyen", "EUR", 10000, payments.StatusFailed, 0)},
		}}},
		// 23:30 UTC on the 23rd: the 24th in Berlin.
		{id: "e_8", queue: "default", joined: seededAt(0, 0, 30, 0), state: queue.EntryDone, left: seededAt(0, 0, 32, 6), calls: []seededCall{{
			id: "c_8", offered: seededAt(0, 0, 30, 3), accepted: seededAt(0, 0, 30, 5), connected: seededAt(0, 0, 30, 6), ended: seededAt(0, 0, 32, 6), rating: 5,
		}}},
		// The next day: outside the window.
		{id: "e_9", queue: "default", joined: seededAt(1, 0, 0, 0), state: queue.EntryDone, left: seededAt(1, 0, 10, 0), calls: []seededCall{{
			id: "c_9", offered: seededAt(1, 0, 0, 1), accepted: seededAt(1, 0, 0, 3), connected: seededAt(1, 0, 0, 4), ended: seededAt(1, 0, 10, 0), rating: 1,
			links: []payments.Link{link("pl_9", "sandbox", "EUR", 99900, payments.StatusPaid, 0)},
		}}},
		// The day before, in Berlin.
		{id: "e_10", queue: "default", joined: seededAt(-1, 23, 59, 0), state: queue.EntryAbandoned, left: seededAt(-1, 23, 59, 20), reason: queue.ReasonShopperLost},
	}
}

func seed(t *testing.T, qs queue.Store, ps payments.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := qs.GuideUpsert(ctx, queue.Guide{ID: "g_seed", Name: "Seed", Status: queue.GuideAway, IdleSince: seededAt(-1, 0, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for _, e := range seededDay() {
		if _, err := qs.EntryCreate(ctx, queue.Entry{ID: e.id, Queue: e.queue, Locale: "de-DE", Language: "de", Currency: "EUR",
			State: queue.EntryWaiting, JoinedAt: e.joined.UTC(), SeenAt: e.joined.UTC()}); err != nil {
			t.Fatalf("entry %s: %v", e.id, err)
		}
		for _, c := range e.calls {
			if _, err := qs.CallCreate(ctx, queue.Call{ID: c.id, EntryID: e.id, GuideID: "g_seed", Queue: e.queue, State: queue.CallOffered,
				JoinedAt: e.joined.UTC(), OfferedAt: c.offered.UTC(), OfferDeadline: c.offered.Add(15 * time.Second).UTC()}); err != nil {
				t.Fatalf("call %s: %v", c.id, err)
			}
			for i, r := range c.quality {
				r.At = c.connected.Add(time.Duration(i+1) * 10 * time.Second).UTC()
				if err := qs.QualityAdd(ctx, c.id, r); err != nil {
					t.Fatalf("quality of %s: %v", c.id, err)
				}
			}
			if _, err := qs.CallUpdate(ctx, c.id, func(cur *queue.Call) error {
				cur.State, cur.EndReason = queue.CallEnded, queue.ReasonHangup
				cur.AcceptedAt, cur.ConnectedAt, cur.EndedAt = opt(c.accepted), opt(c.connected), opt(c.ended)
				if c.accepted.IsZero() {
					cur.EndReason = queue.ReasonDeclined
				}
				cur.Rating = c.rating
				return nil
			}); err != nil {
				t.Fatalf("end call %s: %v", c.id, err)
			}
			for _, l := range c.links {
				l.CallID, l.IdempotencyKey, l.CreatedBy = c.id, "seed-"+l.ID, "g_seed"
				l.CreatedAt = c.connected.Add(time.Minute).UTC()
				l.UpdatedAt, l.ExpiresAt = l.CreatedAt, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
				if l.Status == payments.StatusPaid || l.Status == payments.StatusPartiallyRefunded {
					l.PaidAt = opt(l.CreatedAt.Add(time.Minute))
				}
				if _, err := ps.LinkCreate(ctx, l); err != nil {
					t.Fatalf("link %s: %v", l.ID, err)
				}
			}
		}
		if _, err := qs.EntryUpdate(ctx, e.id, func(cur *queue.Entry) error {
			cur.State, cur.LeftAt, cur.LeftReason = e.state, opt(e.left), e.reason
			if len(e.calls) > 0 {
				cur.CallID = e.calls[len(e.calls)-1].id
			}
			return nil
		}); err != nil {
			t.Fatalf("entry %s: %v", e.id, err)
		}
	}
}

// statsOf asks the node for a window's figures as generic JSON.
func statsOf(t *testing.T, node *app.App, token, query string) map[string]any {
	t.Helper()
	r := do(t, "GET", node.URL()+"/api/v1/admin/stats?"+query, token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("stats?%s: %d %s", query, r.status, r.body)
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at reads a dotted path ("wait_seconds.p90") out of generic JSON.
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// The figures of the seeded day, worked out by hand from seededDay.
var seededDayWant = map[string]any{
	"offered": 8.0, "answered": 5.0, "abandoned": 2.0, "callbacks": 1.0,
	// waits 20, 40, 60, 10, 5 s; abandoned after 30 and 120 s
	"wait_seconds.count": 5.0, "wait_seconds.mean": 27.0, "wait_seconds.p90": 60.0,
	"abandon_wait_seconds.count": 2.0, "abandon_wait_seconds.mean": 75.0, "abandon_wait_seconds.p90": 120.0,
	// c_2a was declined; handle times 600, 300, 1200, 300, 120 s
	"answered_calls": 5.0, "handle_seconds.count": 5.0, "handle_seconds.mean": 504.0, "handle_seconds.p90": 1200.0,
	"rating.count": 4.0, "rating.mean": 4.25,
	// c_1, c_2b and c_3 had a link paid
	"converted_calls": 3.0, "conversion": 0.6,
	// reports of c_1 (rtt 40, 60, 50) and c_2b (100); the shopper of c_1
	// lost 30 and froze once, its guide lost 5; the guide of c_2b lost 2 and froze 3 times
	"quality.calls_reported": 2.0, "quality.reports": 4.0, "quality.rtt_ms.count": 4.0, "quality.rtt_ms.mean": 62.5, "quality.rtt_ms.p90": 100.0,
	"quality.packets_lost": 37.0, "quality.freezes": 4.0, "quality.calls_with_freezes": 2.0,
}

var seededDayRevenue = []any{
	map[string]any{"currency": "EUR", "paid_links": 2.0, "paid": 8000.0, "refunded": 1000.0, "net": 7000.0},
	map[string]any{"currency": "JPY", "paid_links": 1.0, "paid": 1500.0, "refunded": 0.0, "net": 1500.0},
}

var seededDayProviders = []any{
	map[string]any{"provider": "adyen", "links": 1.0, "outcomes": 1.0, "paid": 0.0, "success_rate": 0.0},
	map[string]any{"provider": "sandbox", "links": 4.0, "outcomes": 3.0, "paid": 2.0, "success_rate": 0.6667},
	map[string]any{"provider": "stripe", "links": 1.0, "outcomes": 1.0, "paid": 1.0, "success_rate": 1.0},
}

func checkSeededFigures(t *testing.T, what string, figures any) {
	t.Helper()
	for path, want := range seededDayWant {
		if got := at(figures, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s = %v, want %v", what, path, got, want)
		}
	}
	if got := at(figures, "revenue"); !reflect.DeepEqual(got, seededDayRevenue) {
		t.Errorf("%s revenue = %v, want %v", what, got, seededDayRevenue)
	}
	if got := at(figures, "providers"); !reflect.DeepEqual(got, seededDayProviders) {
		t.Errorf("%s providers = %v, want %v", what, got, seededDayProviders)
	}
}

// TestAdminStatsSeededDay checks the dashboard's figures of a seeded day
// on both stores: against numbers worked out by hand, and on PostgreSQL
// against the queries of docs/dashboard.md run as written.
func TestAdminStatsSeededDay(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, stores app.Stores, pool *pgxpool.Pool) {
		seed(t, stores.Queue, stores.Payments)
		node := startApp(t, func(s *app.Stores) { *s = stores })
		_, guide := accountToken(t, node, "guide-stats@test.local", protocol.RoleGuide)
		_, admin := accountToken(t, node, "admin-stats@test.local", protocol.RoleAdmin)
		if r := do(t, "GET", node.URL()+"/api/v1/admin/stats", guide, nil, nil); r.status != http.StatusForbidden {
			t.Fatalf("a guide reads the stats: %d", r.status)
		}

		got := statsOf(t, node, admin, "from=2026-11-24&to=2026-11-24&tz=Europe/Berlin")
		if got["from"] != "2026-11-23T23:00:00Z" || got["to"] != "2026-11-24T23:00:00Z" || got["time_zone"] != "Europe/Berlin" {
			t.Fatalf("window %v to %v in %v", got["from"], got["to"], got["time_zone"])
		}
		checkSeededFigures(t, "totals", got["totals"])
		days := got["days"].([]any)
		if len(days) != 1 || at(days[0], "day") != "2026-11-24" {
			t.Fatalf("days %v", days)
		}
		checkSeededFigures(t, "day", days[0])

		two := statsOf(t, node, admin, "from=2026-11-23&to=2026-11-24&tz=Europe/Berlin")
		days = two["days"].([]any)
		if len(days) != 2 || at(days[0], "day") != "2026-11-23" || at(days[0], "offered") != 1.0 || at(days[0], "abandoned") != 1.0 ||
			at(days[0], "abandon_wait_seconds.mean") != 20.0 || at(days[0], "conversion") != nil {
			t.Fatalf("the day before: %v", days[0])
		}
		checkSeededFigures(t, "second day", days[1])
		if at(two, "totals.offered") != 9.0 {
			t.Fatalf("two days offered %v, want 9", at(two, "totals.offered"))
		}

		shoes := statsOf(t, node, admin, "from=2026-11-24&to=2026-11-24&tz=Europe/Berlin&queue=shoes")
		for path, want := range map[string]any{"offered": 3.0, "answered": 2.0, "abandoned": 0.0, "callbacks": 1.0,
			"wait_seconds.mean": 30.0, "wait_seconds.p90": 40.0, "converted_calls": 2.0, "conversion": 1.0} {
			if got := at(shoes["totals"], path); got != want {
				t.Errorf("shoes %s = %v, want %v", path, got, want)
			}
		}
		if got := at(shoes["totals"], "revenue"); !reflect.DeepEqual(got, seededDayRevenue[:1]) {
			t.Errorf("shoes revenue %v", got)
		}

		if pool == nil {
			return
		}
		for _, query := range []map[string]any{got, shoes, two} {
			from, _ := time.Parse(time.RFC3339, query["from"].(string))
			to, _ := time.Parse(time.RFC3339, query["to"].(string))
			checkHandQueries(t, pool, from, to, query["queue"].(string), query["totals"])
		}
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		run(t, app.MemoryStores(), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pool, url := dbtest.NewSchema(t)
		stores, err := app.PostgresStores(context.Background(), url, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		run(t, stores, pool)
	})
}

// handQueries reads the SQL blocks of docs/dashboard.md with the part of
// the answer each one recomputes (its first line, "-- totals…").
func handQueries(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/dashboard.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range regexp.MustCompile("(?s)```sql\n(-- (totals[a-z.]*)\n.*?)```").FindAllStringSubmatch(string(doc), -1) {
		out[m[2]] = append(out[m[2]], m[1])
	}
	if len(out["totals"]) < 4 || len(out["totals.revenue"]) != 1 || len(out["totals.providers"]) != 1 {
		t.Fatalf("docs/dashboard.md: queries %v", out)
	}
	return out
}

// checkHandQueries runs every query of docs/dashboard.md on the window and
// compares each column with the answer's figure of the same name.
func checkHandQueries(t *testing.T, pool *pgxpool.Pool, from, to time.Time, queueName string, totals any) {
	t.Helper()
	ctx := context.Background()
	rowsOf := func(sql string) []map[string]any {
		rows, err := pool.Query(ctx, `SELECT row_to_json(q)::text FROM (`+sql+`) q`, from, to, queueName)
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		defer rows.Close()
		var out []map[string]any
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		return out
	}
	same := func(a, b any) bool {
		x, ok1 := a.(float64)
		y, ok2 := b.(float64)
		if ok1 && ok2 {
			return math.Abs(x-y) < 1e-9
		}
		return reflect.DeepEqual(a, b)
	}
	compared := 0
	for part, queries := range handQueries(t) {
		for _, sql := range queries {
			rows := rowsOf(sql)
			if part == "totals" {
				if len(rows) != 1 {
					t.Fatalf("%d rows from\n%s", len(rows), sql)
				}
				for col, v := range rows[0] {
					compared++
					if got := at(totals, col); !same(got, v) {
						t.Errorf("window %s–%s queue %q: %s is %v by the API, %v by hand", from, to, queueName, col, got, v)
					}
				}
				continue
			}
			list, _ := at(totals, strings.TrimPrefix(part, "totals.")).([]any)
			if len(list) != len(rows) {
				t.Errorf("%s: %d rows by the API, %d by hand", part, len(list), len(rows))
				continue
			}
			for i, row := range rows {
				for col, v := range row {
					compared++
					if got := at(list[i], col); !same(got, v) {
						t.Errorf("%s[%d].%s is %v by the API, %v by hand", part, i, col, got, v)
					}
				}
			}
		}
	}
	if compared < 30 {
		t.Fatalf("only %d figures compared", compared)
	}
}
