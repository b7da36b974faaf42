package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/turnserver"
	"guidecall/webhook"
)

const ns = "guidecall"

// Sources are what the metrics read at scrape time. Every field may be
// nil: its metrics are then not registered.
type Sources struct {
	// TURN is the bundled TURN server's counters.
	TURN func() turnserver.Stats
	// Sockets counts this node's authenticated sockets by role.
	Sockets func() map[protocol.Role]int
	// SendBacklog counts frames waiting in this node's socket buffers.
	SendBacklog func() int
	// LiveCalls lists the calls that have not ended (store-wide).
	LiveCalls func(ctx context.Context) ([]queue.Call, error)
	// Waiting lists a queue's waiting and offered entries (store-wide).
	Waiting func(ctx context.Context, queue string) ([]queue.Entry, error)
	// Queues are the queue names to report waiting entries for; more are
	// added as events name them.
	Queues []string
	// QueueNames lists the configured queues at scrape time (nil: only
	// Queues and the names events brought).
	QueueNames func(ctx context.Context) ([]string, error)
	// Logger reports a source that fails at scrape time.
	Logger *slog.Logger
}

// Metrics is one node's registry and everything that feeds it.
type Metrics struct {
	reg *prometheus.Registry
	src Sources
	log *slog.Logger

	mu     sync.Mutex
	queues []string // names seen, for the waiting gauge

	// Queue.
	waitSeconds   *prometheus.HistogramVec
	abandonments  *prometheus.CounterVec
	offers        *prometheus.CounterVec
	requeues      *prometheus.CounterVec
	matcherPass   *prometheus.HistogramVec
	leaderChanges prometheus.Counter
	leading       prometheus.Gauge

	// Calls.
	setupSeconds    prometheus.Histogram
	durationSeconds prometheus.Histogram
	callsEnded      *prometheus.CounterVec
	peerLost        *prometheus.CounterVec
	peerBack        *prometheus.CounterVec
	iceRestarts     *prometheus.CounterVec

	// Call quality, from the parties' reports.
	rttSeconds    *prometheus.HistogramVec
	jitterSeconds *prometheus.HistogramVec
	frameHeight   *prometheus.HistogramVec
	qualityRep    *prometheus.CounterVec

	// Signaling.
	msgIn      *prometheus.CounterVec
	msgOut     *prometheus.CounterVec
	msgRefused *prometheus.CounterVec
	busPublish *prometheus.HistogramVec

	// Payments.
	links           *prometheus.CounterVec
	timeToPaid      *prometheus.HistogramVec
	webhookVerified *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	reconcileFixes  *prometheus.CounterVec

	// HTTP.
	httpRequests *prometheus.CounterVec
	httpSeconds  *prometheus.HistogramVec
}

// New builds the registry with the Go and process collectors and every
// metric below.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), src: src, log: src.Logger, queues: slices.Clone(src.Queues)}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	f := factory{m.reg}
	waitBuckets := []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1200}
	m.waitSeconds = f.histogram("queue_wait_seconds", "Time from joining the queue to a guide accepting, by queue.", waitBuckets, "queue")
	m.abandonments = f.counter("queue_abandonments_total", "Queue entries that ended without a call, by reason.", "reason")
	m.offers = f.counter("queue_offers_total", "Offers to guides by outcome: made, accepted, or the reason it was withdrawn.", "outcome")
	m.requeues = f.counter("queue_requeues_total", "Shoppers put back at the head of the line after a call fell through before connecting, by reason.", "reason")
	m.matcherPass = f.histogram("matcher_pass_duration_seconds", "Duration of one matcher pass on the leader, by result.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}, "result")
	m.leaderChanges = f.counter("matcher_leader_changes_total", "Times this node became or stopped being the matcher's leader.").WithLabelValues()
	m.leading = f.gauge("matcher_leader", "1 while this node is the matcher's leader.")

	m.setupSeconds = f.histogram("call_setup_seconds", "Time from a guide accepting to the call's media connecting.",
		[]float64{.25, .5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120}).WithLabelValues().(prometheus.Histogram)
	m.durationSeconds = f.histogram("call_duration_seconds", "Duration of accepted calls, accept to end.",
		[]float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}).WithLabelValues().(prometheus.Histogram)
	m.callsEnded = f.counter("calls_ended_total", "Accepted calls that ended, by reason and whether media had connected.", "reason", "connected")
	m.peerLost = f.counter("call_peer_disconnects_total", "A party of a live call dropping its socket, by role.", "role")
	m.iceRestarts = f.counter("call_ice_restarts_total", "New SDP offers on calls that had connected (ICE restarts), by the role that offered.", "role")
	m.peerBack = f.counter("call_reconnects_total", "A party of a live call coming back within the grace period, by role.", "role")

	m.rttSeconds = f.histogram("call_quality_rtt_seconds", "Round-trip time the parties report every 10 s, by role.",
		[]float64{.01, .025, .05, .075, .1, .15, .2, .3, .5, 1, 2}, "role")
	m.jitterSeconds = f.histogram("call_quality_jitter_seconds", "Inbound video jitter the parties report, by role.",
		[]float64{.001, .0025, .005, .01, .02, .03, .05, .1, .2}, "role")
	m.frameHeight = f.histogram("call_quality_frame_height_pixels", "Height of the inbound video the parties report, by role.",
		[]float64{120, 180, 240, 360, 480, 540, 720, 1080, 1440, 2160}, "role")
	m.qualityRep = f.counter("call_quality_reports_total", "Quality reports received, by role and the selected pair's local candidate type.", "role", "candidate")

	m.msgIn = f.counter("signaling_messages_received_total", "Client messages that parsed, by type.", "type")
	m.msgOut = f.counter("signaling_messages_sent_total", "Messages the server sent or relayed, by type.", "type")
	m.msgRefused = f.counter("signaling_messages_refused_total", "Client messages answered with an error, by type and code.", "type", "code")
	m.busPublish = f.histogram("signaling_bus_publish_seconds", "Latency of a publish on the signaling bus, by result.",
		[]float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .5}, "result")

	m.links = f.counter("payment_links_total", "Payment link changes by provider and the status they reached (open when created).", "provider", "status")
	m.timeToPaid = f.histogram("payment_time_to_paid_seconds", "Time from a link's creation to its payment, by provider.",
		[]float64{10, 30, 60, 120, 300, 600, 1800, 3600}, "provider")
	m.webhookVerified = f.counter("payment_webhooks_received_total", "Provider webhooks received, by result: accepted (2xx), rejected (4xx: bad signature or body), error (5xx).", "result")
	m.reconcileFixes = f.counter("payment_reconcile_fixes_total", "Payment links reconciliation found behind their provider and moved, by provider and the status they reached.", "provider", "status")
	m.deliveries = f.counter("webhook_delivery_attempts_total", "Outgoing webhook delivery attempts by outcome (delivered, retry, given_up) and whether it was a retry.", "outcome", "retry")

	m.httpRequests = f.counter("http_requests_total", "HTTP requests by route pattern, method and status code.", "route", "method", "code")
	m.httpSeconds = f.histogram("http_request_duration_seconds", "HTTP request latency by route pattern and method (WebSocket upgrades excluded).",
		prometheus.DefBuckets, "route", "method")

	m.registerSources()
	return m
}

// Registry is where the metrics live, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorLog: slogPrinter{m.log}})
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("metrics", "err", v) }

// factory registers metrics with the guidecall_ prefix.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

// oneOf is v when it is in the set, else "other": labels stay bounded
// whatever a client or a newer node sends.
func oneOf(v string, set ...string) string {
	if slices.Contains(set, v) {
		return v
	}
	return "other"
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func boolLabel(b bool) string { return strconv.FormatBool(b) }

// WebhookAttempted counts an outgoing webhook attempt; it is the outbox's
// webhook.Config.Attempted.
func (m *Metrics) WebhookAttempted(attempt int, outcome webhook.AttemptOutcome) {
	m.deliveries.WithLabelValues(string(outcome), boolLabel(attempt > 1)).Inc()
}

// ReconcileFixed counts a difference reconciliation healed; it is the
// payments ReconcileConfig.Fixed.
func (m *Metrics) ReconcileFixed(f payments.Fix) {
	m.reconcileFixes.WithLabelValues(f.Provider, linkStatus(f.To)).Inc()
}

// PaymentEvent counts link changes; subscribe it to payments.Service.
func (m *Metrics) PaymentEvent(_ context.Context, ev payments.Event) {
	l := ev.EventLink()
	// Providers are the ones this binary was built with: a bounded set.
	provider := l.Provider
	switch ev := ev.(type) {
	case payments.LinkCreated:
		m.links.WithLabelValues(provider, string(payments.StatusOpen)).Inc()
	case payments.LinkStatusChanged:
		m.links.WithLabelValues(provider, linkStatus(ev.To)).Inc()
		if ev.To == payments.StatusPaid {
			// Our clock at both ends: PaidAt is the provider's, whose clock
			// (and idea of when a payment happened) is not ours.
			m.timeToPaid.WithLabelValues(provider).Observe(max(0, seconds(ev.EventTime().Sub(l.CreatedAt))))
		}
	case payments.RefundRecorded:
		m.links.WithLabelValues(provider, linkStatus(ev.To)).Inc()
	}
}

func linkStatus(s payments.LinkStatus) string {
	return oneOf(string(s), string(payments.StatusOpen), string(payments.StatusPaid), string(payments.StatusExpired),
		string(payments.StatusFailed), string(payments.StatusCanceled), string(payments.StatusRefunded), string(payments.StatusPartiallyRefunded))
}
