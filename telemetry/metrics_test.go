package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/telemetry"
	"guidecall/turnserver"
)

func newMetrics() *telemetry.Metrics {
	return telemetry.New(telemetry.Sources{
		TURN:    func() turnserver.Stats { return turnserver.Stats{BytesToPeers: 10} },
		Sockets: func() map[protocol.Role]int { return map[protocol.Role]int{protocol.RoleGuide: 2} },
		LiveCalls: func(context.Context) ([]queue.Call, error) {
			return []queue.Call{{ID: "c_1", State: queue.CallConnected}}, nil
		},
		Waiting: func(_ context.Context, q string) ([]queue.Entry, error) { return make([]queue.Entry, len(q)), nil },
		Queues:  []string{"default"},
	})
}

// Every metric passes Prometheus's own lint: units, _total, help.
func TestMetricsLint(t *testing.T) {
	m := newMetrics()
	// Touch the vectors so they have series to lint.
	m.QueueEvent(context.Background(), queue.OfferMade{Call: queue.Call{Queue: "shoes"}})
	m.MessageIn(protocol.TypeSDP)
	m.Pass(time.Millisecond, nil)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "go_") || strings.HasPrefix(p.Metric, "process_") {
			continue
		}
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// A message type a client made up is counted as "other", not as itself:
// label sets stay bounded whatever clients send.
func TestUnknownMessageTypeIsOther(t *testing.T) {
	m := newMetrics()
	m.MessageIn(protocol.Type("teleport-" + strings.Repeat("x", 10)))
	m.MessageIn(protocol.TypeICE)
	m.MessageRefused("", protocol.CodeBadMessage)
	want := `
# HELP guidecall_signaling_messages_received_total Client messages that parsed, by type.
# TYPE guidecall_signaling_messages_received_total counter
guidecall_signaling_messages_received_total{type="ice"} 1
guidecall_signaling_messages_received_total{type="other"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "guidecall_signaling_messages_received_total"); err != nil {
		t.Fatal(err)
	}
}

// HTTP requests are labelled by the route pattern, never the path.
func TestHTTPUsesTheRoutePattern(t *testing.T) {
	m := newMetrics()
	r := chi.NewRouter()
	r.Use(m.HTTP)
	r.Get("/api/v1/calls/{callID}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, id := range []string{"c_1", "c_2"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/calls/"+id, nil))
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/nowhere", nil))
	want := `
# HELP guidecall_http_requests_total HTTP requests by route pattern, method and status code.
# TYPE guidecall_http_requests_total counter
guidecall_http_requests_total{code="418",method="GET",route="/api/v1/calls/{callID}"} 2
guidecall_http_requests_total{code="405",method="other",route="unmatched"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "guidecall_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}

// The scrape-time sources: store-wide calls and waiting entries (for
// every queue an event named), sockets by role, TURN counters.
func TestScrapeTimeSources(t *testing.T) {
	m := newMetrics()
	m.QueueEvent(context.Background(), queue.PositionChanged{Position: queue.Position{Queue: "shoes"}})
	want := `
# HELP guidecall_queue_waiting Shoppers waiting in line (or being offered), across the cluster, by queue.
# TYPE guidecall_queue_waiting gauge
guidecall_queue_waiting{queue="default"} 7
guidecall_queue_waiting{queue="shoes"} 5
# HELP guidecall_calls_in_progress Calls accepted and not yet ended, across the cluster, by state.
# TYPE guidecall_calls_in_progress gauge
guidecall_calls_in_progress{state="accepted"} 0
guidecall_calls_in_progress{state="connected"} 1
guidecall_calls_in_progress{state="connecting"} 0
# HELP guidecall_signaling_sockets Authenticated WebSocket connections on this node, by role.
# TYPE guidecall_signaling_sockets gauge
guidecall_signaling_sockets{role="guide"} 2
guidecall_signaling_sockets{role="shopper"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"guidecall_queue_waiting", "guidecall_calls_in_progress", "guidecall_signaling_sockets"); err != nil {
		t.Fatal(err)
	}
}
