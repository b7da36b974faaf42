package rtcpeer

import (
	"time"

	"github.com/pion/webrtc/v4"

	"guidecall/protocol"
)

// Quality summarises the peer connection's getStats() as a call.quality
// report, as frontend/static/js/call.js does in a browser: the selected
// pair's round trip, the inbound video's jitter, losses, frames and
// resolution, and the pair's candidate types. What pion does not measure
// (it decodes nothing, so frames and freezes) stays 0.
func (p *Peer) Quality() protocol.CallQuality {
	var q protocol.CallQuality
	for _, s := range p.pc.GetStats() {
		switch s := s.(type) {
		case webrtc.ICECandidatePairStats:
			if s.Nominated && s.State == webrtc.StatsICECandidatePairStateSucceeded {
				q.RTTMS = s.CurrentRoundTripTime * 1000
			}
		case webrtc.InboundRTPStreamStats:
			if s.Kind != "video" {
				continue
			}
			q.JitterMS = s.Jitter * 1000
			q.PacketsLost = int64(max(s.PacketsLost, 0))
			q.FramesDecoded = int64(s.FramesDecoded)
			q.FramesDropped = int64(s.FramesDropped)
			q.FreezeCount = int64(s.FreezeCount)
			q.FrameWidth, q.FrameHeight = int(s.FrameWidth), int(s.FrameHeight)
		}
	}
	if l, r, _, err := p.SelectedPair(); err == nil {
		q.LocalCandidate, q.RemoteCandidate = l.String(), r.String()
	}
	return q
}

// reportQuality sends a report at once and then every QualityEvery until
// Close.
func (p *Peer) reportQuality() {
	t := time.NewTicker(p.cfg.QualityEvery)
	defer t.Stop()
	for {
		p.send(p.socket(), protocol.TypeCallQuality, p.Quality())
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}
