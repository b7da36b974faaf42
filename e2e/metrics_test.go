package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"guidecall/internal/config"
	"guidecall/protocol"
)

// scrape reads a node's /metrics.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, string(b)
}

// value is the sum of a family's samples whose labels include want (a
// histogram counts its observations).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

type expectation struct {
	name   string
	labels map[string]string
	min    float64
}

func (e expectation) String() string { return fmt.Sprintf("%s%v >= %g", e.name, e.labels, e.min) }

// TestMetricsAfterPionCall runs a whole pion call on a node serving
// --metrics-addr and checks that the series of every part moved: queue,
// calls, call quality, signaling, TURN, payments, webhooks, HTTP, and the
// Go and process collectors; and that no label carries an id.
func TestMetricsAfterPionCall(t *testing.T) {
	n := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.MetricsAddr = "127.0.0.1:0" }})
	metricsURL := n.MetricsURL()
	if metricsURL == "" {
		t.Fatal("no metrics URL with --metrics-addr set")
	}
	const adminEmail, adminPassword = "admin@e2e.local", "admin password for e2e"
	if _, err := n.Auth.AddAccount(context.Background(), adminEmail, "Admin", adminPassword, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := setupCall(t, n.endpoint(), n.endpoint())
	// An ICE restart, as after a network change: the guide offers again
	// with fresh credentials, and media flows on.
	c.guide.restartICE(n.URL(), c.guideToken, c.guideWS)
	c.waitMedia(t, 10, 20*time.Second)
	callID := finishCall(t, c, n.endpoint(), n.endpoint())

	want := []expectation{
		{"guidecall_queue_offers_total", map[string]string{"outcome": "made"}, 1},
		{"guidecall_queue_offers_total", map[string]string{"outcome": "accepted"}, 1},
		{"guidecall_queue_wait_seconds", map[string]string{"queue": "default"}, 1},
		{"guidecall_queue_waiting", map[string]string{"queue": "default"}, 0},
		{"guidecall_matcher_pass_duration_seconds", map[string]string{"result": "ok"}, 1},
		{"guidecall_matcher_leader", nil, 1},
		{"guidecall_call_setup_seconds", nil, 1},
		{"guidecall_call_ice_restarts_total", map[string]string{"role": "guide"}, 1},
		{"guidecall_call_duration_seconds", nil, 1},
		{"guidecall_calls_ended_total", map[string]string{"reason": "hangup", "connected": "true"}, 1},
		{"guidecall_call_quality_reports_total", map[string]string{"role": "guide", "candidate": "relay"}, 1},
		{"guidecall_call_quality_reports_total", map[string]string{"role": "shopper", "candidate": "relay"}, 1},
		{"guidecall_signaling_messages_received_total", map[string]string{"type": "sdp"}, 2},
		{"guidecall_signaling_messages_received_total", map[string]string{"type": "call.quality"}, 2},
		{"guidecall_signaling_messages_sent_total", map[string]string{"type": "call.matched"}, 2},
		{"guidecall_signaling_messages_sent_total", map[string]string{"type": "welcome"}, 2},
		{"guidecall_turn_allocations_total", nil, 2},
		{"guidecall_turn_relayed_packets_total", map[string]string{"direction": "to_peer"}, 20},
		{"guidecall_turn_relayed_bytes_total", map[string]string{"direction": "from_peer"}, 1000},
		{"guidecall_payment_links_total", map[string]string{"provider": "sandbox", "status": "open"}, 1},
		{"guidecall_payment_links_total", map[string]string{"provider": "sandbox", "status": "paid"}, 1},
		{"guidecall_payment_time_to_paid_seconds", map[string]string{"provider": "sandbox"}, 1},
		{"guidecall_payment_provider_breaker_open", map[string]string{"provider": "sandbox"}, 0},
		{"guidecall_payment_webhooks_received_total", map[string]string{"result": "accepted"}, 1},
		{"guidecall_webhook_delivery_attempts_total", map[string]string{"outcome": "delivered"}, 1},
		{"guidecall_http_requests_total", map[string]string{"route": "/api/v1/queue", "method": "POST", "code": "201"}, 1},
		{"guidecall_http_requests_total", map[string]string{"route": "/api/v1/ws", "code": "101"}, 2},
		{"guidecall_http_request_duration_seconds", map[string]string{"route": "/api/v1/ice-servers"}, 2},
		{"go_goroutines", nil, 1},
		{"process_cpu_seconds_total", nil, 0},
	}
	// The metrics hear of the call's end through their own subscription:
	// scrape until what must have happened shows, within a bound.
	var fams map[string]*dto.MetricFamily
	var text string
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		fams, text = scrape(t, metricsURL)
		missing = missing[:0]
		for _, e := range want {
			if _, ok := fams[e.name]; !ok || value(fams, e.name, e.labels) < e.min {
				missing = append(missing, fmt.Sprintf("%s (got %g)", e, value(fams, e.name, e.labels)))
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a call, these series did not move:\n  %s", strings.Join(missing, "\n  "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Both parties' sockets are on this node, so its frames go in-process,
	// never over the bus (issue 10); the cluster tests use the bus.
	if got := value(fams, "guidecall_signaling_bus_publish_seconds", map[string]string{"result": "ok"}); got != 0 {
		t.Errorf("a call with both parties on one node published %g frames on the bus, want 0 (in-process delivery)", got)
	}
	if got := value(fams, "guidecall_calls_in_progress", nil); got != 0 {
		t.Errorf("calls in progress after hang-up: %g", got)
	}
	// No id as a label: every label value is from a bounded set.
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v := l.GetValue(); strings.HasPrefix(v, "c_") || strings.HasPrefix(v, "e_") || strings.HasPrefix(v, "pl_") ||
					strings.Contains(v, callID) || strings.Contains(v, "@") {
					t.Errorf("%s has an id-like label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
	if path := os.Getenv("GUIDECALL_METRICS_SAMPLE"); path != "" {
		_ = os.WriteFile(path, []byte(text), 0o644)
	}

	// The quality both sides reported is kept with the call's history.
	admin := login(t, n.URL(), adminEmail, adminPassword)
	var history struct {
		Call struct {
			State string `json:"state"`
		} `json:"call"`
		Quality struct {
			Shopper, Guide struct {
				Reports    int      `json:"reports"`
				Candidates []string `json:"candidates"`
				RTTMS      struct {
					Min, Median, Max float64
				} `json:"rtt_ms"`
			}
		} `json:"quality"`
	}
	api(t, http.MethodGet, n.URL()+"/api/v1/admin/calls/"+callID, admin, nil, &history, http.StatusOK)
	if history.Call.State != "ended" {
		t.Fatalf("call state %q", history.Call.State)
	}
	for side, q := range map[string]struct {
		Reports    int      `json:"reports"`
		Candidates []string `json:"candidates"`
		RTTMS      struct {
			Min, Median, Max float64
		} `json:"rtt_ms"`
	}{"shopper": history.Quality.Shopper, "guide": history.Quality.Guide} {
		if q.Reports < 1 || len(q.Candidates) == 0 || !strings.HasPrefix(q.Candidates[0], "relay/") || q.RTTMS.Min > q.RTTMS.Median || q.RTTMS.Median > q.RTTMS.Max {
			t.Errorf("%s quality kept with the call: %+v", side, q)
		}
	}
}
