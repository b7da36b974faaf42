package telemetry

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"guidecall/protocol"
	"guidecall/turnserver"
)

// registerSources adds the metrics read at scrape time.
func (m *Metrics) registerSources() {
	if m.src.TURN != nil {
		m.reg.MustRegister(turnCollector{m.src.TURN})
	}
	if m.src.Sockets != nil {
		m.reg.MustRegister(socketCollector{m.src.Sockets})
	}
	if m.src.SendBacklog != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "signaling_send_backlog_frames",
			Help: "Frames waiting in this node's socket send buffers.",
		}, func() float64 { return float64(m.src.SendBacklog()) }))
	}
	if m.src.LiveCalls != nil || m.src.Waiting != nil {
		m.reg.MustRegister(storeCollector{m})
	}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
}

var (
	turnAllocations    = desc("turn_allocations", "TURN allocations open now.")
	turnAllocsTotal    = desc("turn_allocations_total", "TURN allocations created since start.")
	turnRefused        = desc("turn_permissions_refused_total", "TURN permissions and relayed packets refused, by reason.", "reason")
	turnAuthFailures   = desc("turn_auth_failures_total", "TURN requests with bad, expired or wrongly signed credentials.")
	turnQuota          = desc("turn_allocation_quota_refusals_total", "TURN allocations refused by the per-user quota.")
	turnBytes          = desc("turn_relayed_bytes_total", "Bytes relayed through TURN allocations, by direction.", "direction")
	turnPackets        = desc("turn_relayed_packets_total", "Packets relayed through TURN allocations, by direction.", "direction")
	socketsOpen        = desc("signaling_sockets", "Authenticated WebSocket connections on this node, by role.", "role")
	callsInProgress    = desc("calls_in_progress", "Calls accepted and not yet ended, across the cluster, by state.", "state")
	queueWaiting       = desc("queue_waiting", "Shoppers waiting in line (or being offered), across the cluster, by queue.", "queue")
	scrapeSourceErrors = desc("metrics_source_errors", "1 when a store-backed metric could not be read at this scrape.", "source")
)

type turnCollector struct{ stats func() turnserver.Stats }

func (c turnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{turnAllocations, turnAllocsTotal, turnRefused, turnAuthFailures, turnQuota, turnBytes, turnPackets} {
		ch <- d
	}
}

func (c turnCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(turnAllocations, prometheus.GaugeValue, float64(s.ActiveAllocations))
	ch <- prometheus.MustNewConstMetric(turnAllocsTotal, prometheus.CounterValue, float64(s.AllocationsTotal))
	ch <- prometheus.MustNewConstMetric(turnRefused, prometheus.CounterValue, float64(s.PermissionsRefused), "peer_policy")
	ch <- prometheus.MustNewConstMetric(turnRefused, prometheus.CounterValue, float64(s.OwnPortRefused), "own_address")
	ch <- prometheus.MustNewConstMetric(turnAuthFailures, prometheus.CounterValue, float64(s.AuthFailures))
	ch <- prometheus.MustNewConstMetric(turnQuota, prometheus.CounterValue, float64(s.QuotaRejections))
	ch <- prometheus.MustNewConstMetric(turnBytes, prometheus.CounterValue, float64(s.BytesToPeers), "to_peer")
	ch <- prometheus.MustNewConstMetric(turnBytes, prometheus.CounterValue, float64(s.BytesFromPeers), "from_peer")
	ch <- prometheus.MustNewConstMetric(turnPackets, prometheus.CounterValue, float64(s.PacketsToPeers), "to_peer")
	ch <- prometheus.MustNewConstMetric(turnPackets, prometheus.CounterValue, float64(s.PacketsFromPeers), "from_peer")
}

type socketCollector struct {
	count func() map[protocol.Role]int
}

func (c socketCollector) Describe(ch chan<- *prometheus.Desc) { ch <- socketsOpen }

func (c socketCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.count()
	for _, r := range []protocol.Role{protocol.RoleShopper, protocol.RoleGuide} {
		ch <- prometheus.MustNewConstMetric(socketsOpen, prometheus.GaugeValue, float64(n[r]), string(r))
	}
}

// storeCollector reads live calls and waiting entries from the store, so
// every node of a cluster reports the same, true numbers (take max(), not
// sum(), across nodes).
type storeCollector struct{ m *Metrics }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- callsInProgress
	ch <- queueWaiting
	ch <- scrapeSourceErrors
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	src := c.m.src
	failed := func(source string, err error) {
		c.m.log.Warn("metrics: could not read the store", "source", source, "err", err)
		ch <- prometheus.MustNewConstMetric(scrapeSourceErrors, prometheus.GaugeValue, 1, source)
	}
	if src.LiveCalls != nil {
		calls, err := src.LiveCalls(ctx)
		if err != nil {
			failed("live_calls", err)
		} else {
			by := map[string]int{"accepted": 0, "connecting": 0, "connected": 0}
			for _, cl := range calls {
				if _, ok := by[string(cl.State)]; ok {
					by[string(cl.State)]++
				}
			}
			for _, st := range []string{"accepted", "connecting", "connected"} {
				ch <- prometheus.MustNewConstMetric(callsInProgress, prometheus.GaugeValue, float64(by[st]), st)
			}
		}
	}
	if src.Waiting != nil {
		if src.QueueNames != nil {
			names, err := src.QueueNames(ctx)
			if err != nil {
				failed("queues", err)
			}
			for _, n := range names {
				c.m.sawQueue(n)
			}
		}
		c.m.mu.Lock()
		queues := slices.Clone(c.m.queues)
		c.m.mu.Unlock()
		for _, q := range queues {
			entries, err := src.Waiting(ctx, q)
			if err != nil {
				failed("waiting", err)
				break
			}
			ch <- prometheus.MustNewConstMetric(queueWaiting, prometheus.GaugeValue, float64(len(entries)), q)
		}
	}
}
