package rtcpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"guidecall/protocol"
	"guidecall/protocol/client"
)

// ICEServers is what /api/v1/ice-servers answers.
type ICEServers struct {
	ICEServers []struct {
		URLs       []string `json:"urls"`
		Username   string   `json:"username"`
		Credential string   `json:"credential"`
	} `json:"iceServers"`
	TTL                int    `json:"ttl"`
	ICETransportPolicy string `json:"iceTransportPolicy"`
}

// Configuration is the servers as pion's configuration, relay only: a
// synthetic call exists to prove the node's TURN relays.
func (s ICEServers) Configuration() webrtc.Configuration {
	cfg := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	for _, srv := range s.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	return cfg
}

// FetchICEServers asks a node for TURN credentials with a party's token.
func FetchICEServers(ctx context.Context, hc *http.Client, baseURL, token string) (ICEServers, error) {
	var out ICEServers
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/ice-servers", nil)
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return out, fmt.Errorf("ice servers: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("ice servers: status %d: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("ice servers: %w", err)
	}
	if len(out.ICEServers) == 0 {
		return out, errors.New("ice servers: the node offers none")
	}
	return out, nil
}

// Config makes a Peer.
type Config struct {
	Name   string // in errors
	ICE    webrtc.Configuration
	Socket *client.Conn
	CallID string
	// Loopback keeps ICE on the loopback interface, as tests on one
	// machine need (TURN is reached from 127.0.0.1 only).
	Loopback bool
	// OnError is told of failures on pion's and the socket's goroutines
	// (a bad frame, a candidate that would not apply); nil drops them.
	OnError func(error)
	// QualityEvery sends a call.quality report this often once connected,
	// the first one at once; 0 sends none.
	QualityEvery time.Duration
}

// Peer is one side of a call.
type Peer struct {
	cfg Config
	pc  *webrtc.PeerConnection

	received  atomic.Int64
	relays    atomic.Int64 // relay candidates gathered
	connected chan struct{}
	firstRTP  chan struct{}
	firstAt   time.Time // set before firstRTP is closed
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup

	mu        sync.Mutex
	ws        *client.Conn
	remoteSet bool
	pending   []webrtc.ICECandidateInit // the other side's, before its description
	holding   bool
	outbox    []webrtc.ICECandidateInit // ours, before our description went out
}

// New makes the peer connection with its outgoing track and starts
// sending frames; negotiation starts with Offer or Answer.
func New(cfg Config) (*Peer, error) {
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	var se webrtc.SettingEngine
	// pion waits 2 s before it trusts a relay pair; the call is relay-only
	// so there is nothing better to wait for.
	se.SetRelayAcceptanceMinWait(0)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	if cfg.Loopback {
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIncludeLoopbackCandidate(true)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(cfg.ICE)
	if err != nil {
		return nil, fmt.Errorf("%s: peer connection: %w", cfg.Name, err)
	}
	p := &Peer{cfg: cfg, pc: pc, connected: make(chan struct{}), firstRTP: make(chan struct{}), stop: make(chan struct{})}

	var connectedOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			connectedOnce.Do(func() {
				close(p.connected)
				if cfg.QualityEvery > 0 {
					p.goUnlessClosed(p.reportQuality)
				}
			})
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		if c.Typ == webrtc.ICECandidateTypeRelay {
			p.relays.Add(1)
		}
		p.mu.Lock()
		if p.holding {
			p.outbox = append(p.outbox, c.ToJSON())
			p.mu.Unlock()
			return
		}
		ws := p.ws
		p.mu.Unlock()
		p.send(ws, protocol.TypeICE, wireCandidate(c.ToJSON()))
	})
	var firstOnce sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
			firstOnce.Do(func() {
				p.firstAt = time.Now()
				close(p.firstRTP)
			})
		}
	})
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", cfg.Name)
	if err == nil {
		_, err = pc.AddTrack(track)
	}
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("%s: track: %w", cfg.Name, err)
	}
	p.goUnlessClosed(func() { p.sendFrames(track) })
	p.Attach(cfg.Socket)
	return p, nil
}

func (p *Peer) send(ws *client.Conn, typ protocol.Type, data any) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Send(ctx, typ, p.cfg.CallID, data); err != nil {
		p.cfg.OnError(fmt.Errorf("%s: send %s: %w", p.cfg.Name, typ, err))
	}
}

// Attach makes ws the peer's signaling socket: candidates go out on it and
// the other side's candidates come in from it.
func (p *Peer) Attach(ws *client.Conn) {
	p.mu.Lock()
	p.ws = ws
	p.mu.Unlock()
	ws.Handle(protocol.TypeICE, func(f client.Frame) {
		var w protocol.ICECandidate
		if err := f.Decode(&w); err != nil {
			p.cfg.OnError(fmt.Errorf("%s: bad ice %s", p.cfg.Name, f.Data))
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
			p.cfg.OnError(fmt.Errorf("%s: add candidate: %w", p.cfg.Name, err))
		}
	})
}

func (p *Peer) socket() *client.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ws
}

// describe creates a local description, sets it and sends it, holding
// back the candidates gathered meanwhile until it is on the wire: a
// candidate of a new ICE generation that overtakes its offer is dropped by
// the other side. The hold starts before create, since an offer with an
// ICE restart starts gathering as it is created.
func (p *Peer) describe(ws *client.Conn, create func() (webrtc.SessionDescription, error)) error {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
	desc, err := create()
	if err == nil {
		err = p.pc.SetLocalDescription(desc)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = ws.Send(ctx, protocol.TypeSDP, p.cfg.CallID, protocol.SDP{Type: desc.Type.String(), SDP: desc.SDP})
		cancel()
	}
	p.mu.Lock()
	held := p.outbox
	p.holding, p.outbox = false, nil
	p.mu.Unlock()
	for _, c := range held {
		p.send(ws, protocol.TypeICE, wireCandidate(c))
	}
	if err != nil {
		return fmt.Errorf("%s: describe: %w", p.cfg.Name, err)
	}
	return nil
}

func (p *Peer) setRemote(desc webrtc.SessionDescription) {
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		p.cfg.OnError(fmt.Errorf("%s: set remote %s: %w", p.cfg.Name, desc.Type, err))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remoteSet = true
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.cfg.OnError(fmt.Errorf("%s: add queued candidate: %w", p.cfg.Name, err))
		}
	}
	p.pending = nil
}

// Offer starts negotiation as the initiator (the guide).
func (p *Peer) Offer() error { return p.negotiate(nil) }

// RestartICE is what a guide's page does after its socket came back on
// another node: new TURN credentials from there and an ICE-restart offer
// over the new socket.
func (p *Peer) RestartICE(ice webrtc.Configuration, ws *client.Conn) error {
	p.Attach(ws)
	if err := p.pc.SetConfiguration(ice); err != nil {
		return fmt.Errorf("%s: new ICE servers: %w", p.cfg.Name, err)
	}
	p.mu.Lock()
	p.remoteSet = false // candidates of the new generation wait for the answer
	p.mu.Unlock()
	return p.negotiate(&webrtc.OfferOptions{ICERestart: true})
}

func (p *Peer) negotiate(opts *webrtc.OfferOptions) error {
	ws := p.socket()
	ws.Handle(protocol.TypeSDP, func(f client.Frame) {
		d, ok := p.description(f)
		if ok && d.Type == webrtc.SDPTypeAnswer {
			p.setRemote(d)
		}
	})
	return p.describe(ws, func() (webrtc.SessionDescription, error) { return p.pc.CreateOffer(opts) })
}

// Answer waits for the initiator's offer and answers it (the shopper).
func (p *Peer) Answer() {
	p.socket().Handle(protocol.TypeSDP, func(f client.Frame) {
		d, ok := p.description(f)
		if !ok || d.Type != webrtc.SDPTypeOffer {
			return
		}
		p.setRemote(d)
		if err := p.describe(p.socket(), func() (webrtc.SessionDescription, error) { return p.pc.CreateAnswer(nil) }); err != nil {
			p.cfg.OnError(err)
		}
	})
}

func (p *Peer) description(f client.Frame) (webrtc.SessionDescription, bool) {
	var d protocol.SDP
	if err := f.Decode(&d); err != nil {
		p.cfg.OnError(fmt.Errorf("%s: bad sdp %s", p.cfg.Name, f.Data))
		return webrtc.SessionDescription{}, false
	}
	return webrtc.SessionDescription{Type: webrtc.NewSDPType(d.Type), SDP: d.SDP}, true
}

// wireCandidate is pion's candidate as the protocol carries it; both are
// the browser's RTCIceCandidateInit.
func wireCandidate(c webrtc.ICECandidateInit) protocol.ICECandidate {
	return protocol.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

// sendFrames writes a small fake VP8 frame at 30 fps until Close; the
// payload is not decodable video, but it is real SRTP through TURN.
func (p *Peer) sendFrames(track *webrtc.TrackLocalStaticSample) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 800)
	payload[0] = 0x10
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			if err := track.WriteSample(media.Sample{Data: payload, Duration: 33 * time.Millisecond}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}
}

// Connected is closed when the peer connection first reaches connected.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// FirstRTP is closed when the first RTP packet from the other side arrives.
func (p *Peer) FirstRTP() <-chan struct{} { return p.firstRTP }

// FirstRTPAt is when the first RTP packet arrived; valid once FirstRTP is
// closed.
func (p *Peer) FirstRTPAt() time.Time {
	<-p.firstRTP
	return p.firstAt
}

// RelayCandidates counts the relay candidates this side gathered: none
// after a while means the TURN server did not answer or refused it.
func (p *Peer) RelayCandidates() int64 { return p.relays.Load() }

// Received counts the RTP packets received.
func (p *Peer) Received() int64 { return p.received.Load() }

// State is the peer connection's state, for messages.
func (p *Peer) State() webrtc.PeerConnectionState { return p.pc.ConnectionState() }

// SelectedPair is the nominated candidate pair: the candidate types and
// the address of the local one (the relay this side allocated).
func (p *Peer) SelectedPair() (local, remote webrtc.ICECandidateType, localAddr string, err error) {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err == nil && pair == nil {
		err = errors.New("none selected")
	}
	if err != nil {
		return 0, 0, "", fmt.Errorf("%s: selected candidate pair: %w", p.cfg.Name, err)
	}
	return pair.Local.Typ, pair.Remote.Typ, pair.Local.Address, nil
}

// goUnlessClosed runs fn on a goroutine Close waits for, unless Close
// came first.
func (p *Peer) goUnlessClosed(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stop:
		return
	default:
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// CheckRelayPair reports whether p's selected pair runs from a TURN relay
// of p's own to one of other's relays. The remote may be typed prflx: when
// other's check through its relay arrives before its signalled relay
// candidate, pion learns the address as peer-reflexive and keeps that
// type; its address, one other allocated on TURN, is what makes it a
// relay.
func (p *Peer) CheckRelayPair(other *Peer) error {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err == nil && pair == nil {
		err = errors.New("none selected")
	}
	if err != nil {
		return fmt.Errorf("%s: selected candidate pair: %w", p.cfg.Name, err)
	}
	if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		return fmt.Errorf("%s: selected pair %s/%s, want a relay of its own", p.cfg.Name, pair.Local.Typ, pair.Remote.Typ)
	}
	if pair.Remote.Typ != webrtc.ICECandidateTypeRelay && pair.Remote.Typ != webrtc.ICECandidateTypePrflx {
		return fmt.Errorf("%s: selected pair %s/%s, want the remote a relay", p.cfg.Name, pair.Local.Typ, pair.Remote.Typ)
	}
	remote := net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port)))
	relays := other.RelayAddrs()
	if !slices.Contains(relays, remote) {
		return fmt.Errorf("%s: remote %s %s is none of %s's relays %v", p.cfg.Name, pair.Remote.Typ, remote, other.cfg.Name, relays)
	}
	return nil
}

// RelayAddrs are the address:port of every relay candidate the peer holds
// now: pion writes its gatherer's current candidates into the local
// description it reports.
func (p *Peer) RelayAddrs() []string {
	desc := p.pc.LocalDescription()
	if desc == nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(desc.SDP, "\n") {
		// a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
		line = strings.TrimSpace(line)
		f := strings.Fields(strings.TrimPrefix(line, "a=candidate:"))
		if !strings.HasPrefix(line, "a=candidate:") || len(f) < 8 || f[6] != "typ" || f[7] != "relay" {
			continue
		}
		out = append(out, net.JoinHostPort(f[4], f[5]))
	}
	return out
}

// Close stops the media and closes the peer connection. Safe to call
// more than once.
func (p *Peer) Close() {
	p.mu.Lock()
	p.stopOnce.Do(func() { close(p.stop) })
	p.mu.Unlock()
	p.wg.Wait()
	_ = p.pc.Close()
}
