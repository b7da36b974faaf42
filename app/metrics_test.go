package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/internal/db/dbtest"
)

// On PostgreSQL the scrape reads the bus's backlog; the in-process bus has
// none to report.
func TestMetricsBusBacklog(t *testing.T) {
	scrape := func(t *testing.T, node *app.App) map[string]float64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, node.MetricsURL(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			if strings.HasPrefix(name, "guidecall_signaling_bus_") || name == "guidecall_metrics_source_errors" {
				out[name] = f.Metric[0].GetGauge().GetValue()
			}
		}
		return out
	}
	metricsOn := func(c *config.Serve) { c.MetricsAddr = "127.0.0.1:0" }

	t.Run("memory", func(t *testing.T) {
		got := scrape(t, startAppConfig(t, metricsOn, nil))
		for _, name := range []string{"guidecall_signaling_bus_notify_queue_usage_ratio", "guidecall_signaling_bus_undelivered_messages"} {
			if _, ok := got[name]; ok {
				t.Errorf("%s reported for the in-process bus", name)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		_, url := dbtest.NewSchema(t)
		stores, err := app.PostgresStores(context.Background(), url, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		node := startAppConfig(t, metricsOn, func(s *app.Stores) { *s = stores })
		got := scrape(t, node)
		usage, ok := got["guidecall_signaling_bus_notify_queue_usage_ratio"]
		if !ok || usage < 0 || usage > 1 {
			t.Fatalf("notify queue usage %v (reported %v) in %v", usage, ok, got)
		}
		if n, ok := got["guidecall_signaling_bus_undelivered_messages"]; !ok || n != 0 {
			t.Fatalf("undelivered %v (reported %v) on a started node", n, ok)
		}
		if _, failed := got["guidecall_metrics_source_errors"]; failed {
			t.Fatalf("a scrape-time source failed: %v", got)
		}
	})
}

// --pprof puts the runtime profiles on the operator's --metrics-addr
// listener only: the public listener never answers them, and without the
// flag neither does the metrics one.
func TestPprofOnTheMetricsListenerOnly(t *testing.T) {
	status := func(t *testing.T, url string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{true, http.StatusOK}, {false, http.StatusNotFound}} {
		node := startAppConfig(t, func(c *config.Serve) { c.MetricsAddr, c.Pprof = "127.0.0.1:0", tc.pprof }, nil)
		base := strings.TrimSuffix(node.MetricsURL(), "/metrics")
		if got := status(t, base+"/debug/pprof/cmdline"); got != tc.want {
			t.Errorf("--pprof=%v: metrics listener /debug/pprof/cmdline answered %d, want %d", tc.pprof, got, tc.want)
		}
		if got := status(t, node.URL()+"/debug/pprof/cmdline"); got == http.StatusOK {
			t.Errorf("--pprof=%v: the public listener served /debug/pprof/cmdline", tc.pprof)
		}
	}
}
