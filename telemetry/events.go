package telemetry

import (
	"context"
	"slices"
	"time"

	"guidecall/protocol"
	"guidecall/queue"
)

var (
	offerRevokeReasons = []string{queue.ReasonOfferTimeout, queue.ReasonDeclined, queue.ReasonGuideLost, queue.ReasonCanceled,
		queue.ReasonShopperLost, queue.ReasonServerShutdown}
	endReasons = []string{queue.ReasonHangup, queue.ReasonPeerLost, queue.ReasonFailed, queue.ReasonOfferTimeout, queue.ReasonDeclined,
		queue.ReasonGuideLost, queue.ReasonCanceled, queue.ReasonShopperLost, queue.ReasonServerShutdown, queue.ReasonTransferred,
		queue.ReasonCallback}
	roles          = []string{string(protocol.RoleShopper), string(protocol.RoleGuide)}
	candidateTypes = []string{"host", "srflx", "prflx", "relay"}
)

// QueueEvent counts what the queue did; subscribe it to queue.Service.
func (m *Metrics) QueueEvent(_ context.Context, ev queue.Event) {
	switch ev := ev.(type) {
	case queue.OfferMade:
		if !ev.Resent {
			m.offers.WithLabelValues("made").Inc()
		}
		m.sawQueue(ev.Call.Queue)
	case queue.OfferRevoked:
		m.offers.WithLabelValues(oneOf(ev.Reason, offerRevokeReasons...)).Inc()
	case queue.CallMatched:
		m.offers.WithLabelValues("accepted").Inc()
		m.sawQueue(ev.Entry.Queue)
		m.waitSeconds.WithLabelValues(ev.Entry.Queue).Observe(seconds(ev.EventTime().Sub(ev.Entry.JoinedAt)))
	case queue.CallStateChanged:
		c := ev.Call
		if c.State == queue.CallConnected && c.AcceptedAt != nil && c.ConnectedAt != nil {
			m.setupSeconds.Observe(seconds(c.ConnectedAt.Sub(*c.AcceptedAt)))
		}
	case queue.CallFinished:
		c := ev.Call
		if c.AcceptedAt == nil {
			return // an offer that ended: counted as OfferRevoked
		}
		m.callsEnded.WithLabelValues(oneOf(c.EndReason, endReasons...), boolLabel(c.ConnectedAt != nil)).Inc()
		end := ev.EventTime()
		if c.EndedAt != nil {
			end = *c.EndedAt
		}
		m.durationSeconds.Observe(seconds(end.Sub(*c.AcceptedAt)))
	case queue.Requeued:
		m.requeues.WithLabelValues(oneOf(ev.Reason, endReasons...)).Inc()
	case queue.EntryLeft:
		m.abandonments.WithLabelValues(oneOf(ev.Entry.LeftReason, endReasons...)).Inc()
	case queue.PositionChanged:
		m.sawQueue(ev.Position.Queue)
	case queue.PositionsChanged:
		for _, p := range ev.Positions {
			m.sawQueue(p.Position.Queue)
		}
	case queue.PeerStatusChanged:
		role := oneOf(string(ev.Lost), roles...)
		if ev.Connected {
			m.peerBack.WithLabelValues(role).Inc()
		} else {
			m.peerLost.WithLabelValues(role).Inc()
		}
	case queue.QualityReported:
		r := ev.Report
		role := oneOf(string(r.Party), roles...)
		m.qualityRep.WithLabelValues(role, oneOf(r.LocalCandidate, candidateTypes...)).Inc()
		if r.RTTMS > 0 {
			m.rttSeconds.WithLabelValues(role).Observe(r.RTTMS / 1000)
		}
		if r.JitterMS > 0 {
			m.jitterSeconds.WithLabelValues(role).Observe(r.JitterMS / 1000)
		}
		if r.FrameHeight > 0 {
			m.frameHeight.WithLabelValues(role).Observe(float64(r.FrameHeight))
		}
	}
}

// sawQueue remembers a queue name for the waiting gauge. Queue names are
// the operator's (an entry must name a configured queue), so the set is
// bounded; it is capped anyway.
func (m *Metrics) sawQueue(name string) {
	if name == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.queues, name) && len(m.queues) < 100 {
		m.queues = append(m.queues, name)
	}
}

// Pass and Leading make Metrics the queue's MatcherObserver.
func (m *Metrics) Pass(took time.Duration, err error) {
	m.matcherPass.WithLabelValues(result(err)).Observe(seconds(took))
}

func (m *Metrics) Leading(leading bool) {
	m.leaderChanges.Inc()
	if leading {
		m.leading.Set(1)
	} else {
		m.leading.Set(0)
	}
}

// ICERestarted counts an ICE restart offer; it is callflow's
// Config.ICERestarted.
func (m *Metrics) ICERestarted(by protocol.Role) {
	m.iceRestarts.WithLabelValues(oneOf(string(by), roles...)).Inc()
}

// messageType bounds a type a client sent to the protocol's own.
func messageType(t protocol.Type) string {
	if protocol.ClientPayload(t) == nil && protocol.ServerPayload(t) == nil {
		return "other"
	}
	return string(t)
}

// MessageIn, MessageOut, MessageRefused and Published make Metrics the
// signaling hub's Observer.
func (m *Metrics) MessageIn(t protocol.Type)  { m.msgIn.WithLabelValues(messageType(t)).Inc() }
func (m *Metrics) MessageOut(t protocol.Type) { m.msgOut.WithLabelValues(messageType(t)).Inc() }

func (m *Metrics) MessageRefused(t protocol.Type, code protocol.Code) {
	typ := messageType(t)
	if t == "" {
		typ = "none" // the frame did not get as far as a type
	}
	m.msgRefused.WithLabelValues(typ, string(code)).Inc()
}

func (m *Metrics) Published(took time.Duration, err error) {
	m.busPublish.WithLabelValues(result(err)).Observe(seconds(took))
}
