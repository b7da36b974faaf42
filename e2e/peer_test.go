package e2e

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"guidecall/protocol"
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
)

// icePayload is what /api/v1/ice-servers answers.
type icePayload struct {
	ICEServers []struct {
		URLs       []string `json:"urls"`
		Username   string   `json:"username"`
		Credential string   `json:"credential"`
	} `json:"iceServers"`
	TTL                int    `json:"ttl"`
	ICETransportPolicy string `json:"iceTransportPolicy"`
}

// peer is one side of a call written with pion: it relays through the
// node's TURN only, sends a VP8 track of its own and counts the RTP it
// receives.
type peer struct {
	t    *testing.T
	name string
	pc   *webrtc.PeerConnection
	call string

	received  atomic.Int64
	connected chan struct{}
	stopMedia chan struct{}
	mediaDone sync.WaitGroup

	mu        sync.Mutex
	ws        *clienttest.Conn // replaced when the socket reconnects to another node
	remoteSet bool
	pending   []webrtc.ICECandidateInit // the other side's, before its description
	holding   bool
	outbox    []webrtc.ICECandidateInit // ours, before our description went out
}

// describe creates a local description, sets it and sends it, holding
// back the candidates gathered meanwhile until it is on the wire: a
// candidate of a new ICE generation that overtakes its offer is dropped by
// the other side. The hold starts before create, since an offer with an
// ICE restart starts gathering as it is created.
func (p *peer) describe(ws *clienttest.Conn, create func() (webrtc.SessionDescription, error)) error {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
	desc, err := create()
	if err == nil {
		err = p.pc.SetLocalDescription(desc)
	}
	if err == nil {
		ws.Send(protocol.TypeSDP, p.call, protocol.SDP{Type: desc.Type.String(), SDP: desc.SDP})
	}
	p.mu.Lock()
	held := p.outbox
	p.holding, p.outbox = false, nil
	p.mu.Unlock()
	for _, c := range held {
		ws.Send(protocol.TypeICE, p.call, wireCandidate(c))
	}
	return err
}

// socket is the peer's current signaling connection.
func (p *peer) socket() *clienttest.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ws
}

// iceConfig fetches fresh TURN credentials from a node.
func iceConfig(t *testing.T, name, baseURL, token string) webrtc.Configuration {
	t.Helper()
	var ice icePayload
	api(t, http.MethodGet, baseURL+"/api/v1/ice-servers", token, nil, &ice, http.StatusOK)
	if ice.ICETransportPolicy != "relay" || len(ice.ICEServers) == 0 {
		t.Fatalf("%s: ice servers %+v: want a relay-only TURN config", name, ice)
	}
	cfg := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	for _, s := range ice.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return cfg
}

// attach makes ws the peer's signaling connection: candidates go out on
// it and the other side's candidates come in from it, handled as they
// arrive while the test waits for other messages.
func (p *peer) attach(ws *clienttest.Conn) {
	p.mu.Lock()
	p.ws = ws
	p.mu.Unlock()
	ws.Client.Handle(protocol.TypeICE, func(f client.Frame) {
		var w protocol.ICECandidate
		if err := f.Decode(&w); err != nil {
			p.t.Errorf("%s: bad ice %s", p.name, f.Data)
			return
		}
		c := webrtc.ICECandidateInit{Candidate: w.Candidate, SDPMid: w.SDPMid, SDPMLineIndex: w.SDPMLineIndex, UsernameFragment: w.UsernameFragment}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.remoteSet {
			p.pending = append(p.pending, c)
			return
		}
		if err := p.pc.AddICECandidate(c); err != nil {
			p.t.Errorf("%s: add candidate: %v", p.name, err)
		}
	})
}

func newPeer(t *testing.T, name, baseURL, token string, ws *clienttest.Conn, callID string) *peer {
	t.Helper()
	cfg := iceConfig(t, name, baseURL, token)
	var se webrtc.SettingEngine
	// pion waits 2 s before it trusts a relay pair; the call is relay-only
	// so there is nothing better to wait for.
	se.SetRelayAcceptanceMinWait(0)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	// Tests stay on loopback: TURN is reached from 127.0.0.1 only.
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, name: name, pc: pc, call: callID, connected: make(chan struct{}), stopMedia: make(chan struct{})}
	t.Cleanup(p.close)

	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		p.mu.Lock()
		if p.holding {
			p.outbox = append(p.outbox, c.ToJSON())
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.socket().Send(protocol.TypeICE, callID, wireCandidate(c.ToJSON()))
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
		}
	})
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	p.mediaDone.Add(1)
	go p.sendFrames(track)

	p.attach(ws)
	return p
}

// sendFrames writes a small fake VP8 frame at 30 fps until the call ends;
// the payload is not decodable video, but it is real SRTP through TURN.
func (p *peer) sendFrames(track *webrtc.TrackLocalStaticSample) {
	defer p.mediaDone.Done()
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 800)
	payload[0] = 0x10
	for {
		select {
		case <-p.stopMedia:
			return
		case <-tick.C:
			if err := track.WriteSample(sampleOf(payload)); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}
}

func (p *peer) setRemote(desc webrtc.SessionDescription) {
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		p.t.Errorf("%s: set remote %s: %v", p.name, desc.Type, err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remoteSet = true
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.t.Errorf("%s: add queued candidate: %v", p.name, err)
		}
	}
	p.pending = nil
}

// offer starts negotiation as the initiator (the guide).
func (p *peer) offer() { p.negotiate(nil) }

// restartICE is what a guide's page does after its socket came back on
// another node: fetch fresh TURN credentials there and offer an ICE
// restart over the new socket.
func (p *peer) restartICE(baseURL, token string, ws *clienttest.Conn) {
	p.attach(ws)
	if err := p.pc.SetConfiguration(iceConfig(p.t, p.name, baseURL, token)); err != nil {
		p.t.Fatalf("%s: new ICE servers: %v", p.name, err)
	}
	p.mu.Lock()
	p.remoteSet = false // candidates of the new generation wait for the answer
	p.mu.Unlock()
	p.negotiate(&webrtc.OfferOptions{ICERestart: true})
}

func (p *peer) negotiate(opts *webrtc.OfferOptions) {
	ws := p.socket()
	ws.Client.Handle(protocol.TypeSDP, func(f client.Frame) {
		d, ok := p.description(f)
		if ok && d.Type == webrtc.SDPTypeAnswer {
			p.setRemote(d)
		}
	})
	if err := p.describe(ws, func() (webrtc.SessionDescription, error) { return p.pc.CreateOffer(opts) }); err != nil {
		p.t.Fatal(err)
	}
}

// answer waits for the initiator's offer (the shopper's side).
func (p *peer) answer() {
	p.socket().Client.Handle(protocol.TypeSDP, func(f client.Frame) {
		d, ok := p.description(f)
		if !ok || d.Type != webrtc.SDPTypeOffer {
			return
		}
		p.setRemote(d)
		if err := p.describe(p.socket(), func() (webrtc.SessionDescription, error) { return p.pc.CreateAnswer(nil) }); err != nil {
			p.t.Errorf("%s: answer: %v", p.name, err)
		}
	})
}

// description is the session description an sdp message carries.
func (p *peer) description(f client.Frame) (webrtc.SessionDescription, bool) {
	var d protocol.SDP
	if err := f.Decode(&d); err != nil {
		p.t.Errorf("%s: bad sdp %s", p.name, f.Data)
		return webrtc.SessionDescription{}, false
	}
	return webrtc.SessionDescription{Type: webrtc.NewSDPType(d.Type), SDP: d.SDP}, true
}

// wireCandidate is pion's candidate as the protocol carries it; both are
// the browser's RTCIceCandidateInit.
func wireCandidate(c webrtc.ICECandidateInit) protocol.ICECandidate {
	return protocol.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

func (p *peer) close() {
	select {
	case <-p.stopMedia:
	default:
		close(p.stopMedia)
	}
	p.mediaDone.Wait()
	_ = p.pc.Close()
}
