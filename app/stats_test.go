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
	"guidecall/callflow/statstest"
	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

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

func checkSeededFigures(t *testing.T, what string, figures any) {
	t.Helper()
	for path, want := range statstest.Want {
		if got := at(figures, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s = %v, want %v", what, path, got, want)
		}
	}
	if got := at(figures, "revenue"); !reflect.DeepEqual(got, statstest.Revenue) {
		t.Errorf("%s revenue = %v, want %v", what, got, statstest.Revenue)
	}
	if got := at(figures, "providers"); !reflect.DeepEqual(got, statstest.Providers) {
		t.Errorf("%s providers = %v, want %v", what, got, statstest.Providers)
	}
}

// TestAdminStatsSeededDay checks the dashboard's figures of a seeded day
// on both stores: against numbers worked out by hand, and on PostgreSQL
// against the queries of docs/dashboard.md run as written.
func TestAdminStatsSeededDay(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, stores app.Stores, pool *pgxpool.Pool) {
		statstest.Seed(t, stores.Queue, stores.Payments)
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
		if got := at(shoes["totals"], "revenue"); !reflect.DeepEqual(got, statstest.Revenue[:1]) {
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
