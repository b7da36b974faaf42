package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"guidecall/protocol"
	"guidecall/protocol/client"
	"guidecall/protocol/client/rtcpeer"
)

// probeOptions configures `guidecall probe`.
type probeOptions struct {
	URL         string
	Login       guideLogin
	JSON        bool
	StepTimeout time.Duration
}

// probeStep is one timed step of a synthetic call.
type probeStep struct {
	Name  string  `json:"step"`
	MS    float64 `json:"ms"`
	OK    bool    `json:"ok"`
	Error string  `json:"error,omitempty"`
}

// probeReport is what the probe prints; OK only when every step passed.
type probeReport struct {
	OK      bool        `json:"ok"`
	URL     string      `json:"url"`
	CallID  string      `json:"call_id,omitempty"`
	TotalMS float64     `json:"total_ms"`
	Steps   []probeStep `json:"steps"`
	Error   string      `json:"error,omitempty"`
}

const probeSummary = `guidecall probe: one synthetic call against a node, for uptime monitors.

A shopper joins the queue, the guide of --guide-login takes the offer, two
pion peers connect through the node's TURN (relay only) and exchange RTP
both ways, a sandbox payment link is created and paid, and the call is hung
up. Each step is timed; the exit code is 0 only when every step succeeded
within --step-timeout. Use a guide account kept for the probe: while it runs
the account is available and takes the probe's own shopper (offers of other
shoppers that reach it are declined).`

func probe(ctx context.Context, args []string, stdout, stderr io.Writer, _ func(string) string) error {
	var o probeOptions
	var login loginList
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "", "base URL of the node (https://video.example.com)")
	fs.Var(&login, "guide-login", "email:password of the guide account the probe calls")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.DurationVar(&o.StepTimeout, "step-timeout", 15*time.Second, "the longest any one step may take")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", probeSummary)
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(fs.Output(), "  --%s\n      %s\n", f.Name, f.Usage) })
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("probe: unexpected arguments %v", fs.Args())
	case o.URL == "":
		return errors.New("probe: --url is required")
	case len(login) != 1:
		return errors.New("probe: give exactly one --guide-login email:password")
	case o.StepTimeout <= 0:
		return errors.New("probe: --step-timeout must be positive")
	}
	if _, err := url.Parse(o.URL); err != nil || !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return fmt.Errorf("probe: --url %q: want http:// or https://", o.URL)
	}
	o.URL = strings.TrimRight(o.URL, "/")
	o.Login = login[0]
	rep := runProbe(ctx, o)
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(stdout)
	}
	if !rep.OK {
		return fmt.Errorf("probe failed: %s", rep.Error)
	}
	return nil
}

func (r probeReport) print(w io.Writer) {
	fmt.Fprintf(w, "probe %s\n", r.URL)
	for _, s := range r.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-26s %8.1f ms", mark, s.Name, s.MS)
		if s.Error != "" {
			fmt.Fprintf(w, "  %s", s.Error)
		}
		fmt.Fprintln(w)
	}
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED: " + r.Error
	}
	fmt.Fprintf(w, "  total %.1f ms, call %s: %s\n", r.TotalMS, r.CallID, verdict)
}

// prober runs one synthetic call.
type prober struct {
	o      probeOptions
	hc     *http.Client
	rep    *probeReport
	errs   chan error // from the peers' goroutines
	guide  *client.Conn
	shop   *client.Conn
	peers  []*rtcpeer.Peer
	callID string
}

func runProbe(ctx context.Context, o probeOptions) probeReport {
	rep := probeReport{URL: o.URL, Steps: []probeStep{}}
	p := &prober{o: o, hc: &http.Client{Timeout: o.StepTimeout}, rep: &rep, errs: make(chan error, 16)}
	start := time.Now()
	err := p.run(ctx)
	p.cleanup()
	rep.TotalMS = ms(time.Since(start))
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// step runs fn within the step timeout and records it.
func (p *prober) step(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, p.o.StepTimeout)
	defer cancel()
	start := time.Now()
	err := fn(sctx)
	if err == nil {
		select {
		case err = <-p.errs:
		default:
		}
	}
	s := probeStep{Name: name, MS: ms(time.Since(start)), OK: err == nil}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", p.o.StepTimeout, err)
		}
		s.Error = err.Error()
		err = fmt.Errorf("%s: %w", name, err)
	}
	p.rep.Steps = append(p.rep.Steps, s)
	return err
}

func (p *prober) run(ctx context.Context) error {
	var guideToken, shopperToken, entryID, shopperWS string
	if err := p.step(ctx, "guide_login", func(ctx context.Context) (err error) {
		var pair struct {
			AccessToken string `json:"access_token"`
		}
		err = p.api(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": p.o.Login.email, "password": p.o.Login.password}, &pair, http.StatusOK)
		guideToken = pair.AccessToken
		return err
	}); err != nil {
		return err
	}
	if err := p.step(ctx, "guide_online", func(ctx context.Context) (err error) {
		if p.guide, _, err = client.DialAuth(ctx, wsOf(p.o.URL), guideToken); err != nil {
			return err
		}
		if err := p.guide.Send(ctx, protocol.TypePresence, "", protocol.SetPresence{Status: "available"}); err != nil {
			return err
		}
		_, err = p.guide.Await(ctx, protocol.TypePresence, "")
		return err
	}); err != nil {
		return err
	}
	if err := p.step(ctx, "join", func(ctx context.Context) (err error) {
		var j struct {
			EntryID string `json:"entry_id"`
			Token   string `json:"token"`
			WSURL   string `json:"ws_url"`
		}
		err = p.api(ctx, http.MethodPost, "/api/v1/queue", "", map[string]string{
			"queue": "default", "locale": "en", "currency": "EUR", "page_url": p.o.URL + "/probe", "name": "guidecall probe",
		}, &j, http.StatusCreated)
		if err != nil {
			return err
		}
		entryID, shopperToken, shopperWS = j.EntryID, j.Token, j.WSURL
		p.shop, _, err = client.DialAuth(ctx, shopperWS, shopperToken)
		return err
	}); err != nil {
		return err
	}
	if err := p.step(ctx, "offer", func(ctx context.Context) error { return p.awaitOffer(ctx, entryID) }); err != nil {
		return err
	}
	accepted := time.Now()
	if err := p.step(ctx, "accept", func(ctx context.Context) error {
		if err := p.guide.Send(ctx, protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: p.callID}); err != nil {
			return err
		}
		for _, c := range []*client.Conn{p.guide, p.shop} {
			if _, err := c.Await(ctx, protocol.TypeCallMatched, p.callID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	var shopper, guide *rtcpeer.Peer
	if err := p.step(ctx, "connected", func(ctx context.Context) (err error) {
		if shopper, err = p.newPeer(ctx, "shopper", shopperToken, p.shop); err != nil {
			return err
		}
		shopper.Answer()
		if guide, err = p.newPeer(ctx, "guide", guideToken, p.guide); err != nil {
			return err
		}
		if err := guide.Offer(); err != nil {
			return err
		}
		for _, pr := range []struct {
			name string
			peer *rtcpeer.Peer
		}{{"guide", guide}, {"shopper", shopper}} {
			select {
			case <-pr.peer.Connected():
			case <-ctx.Done():
				return p.notConnected(pr.name, pr.peer, ctx.Err())
			}
		}
		// Both connected: each pair must run relay to relay (the call is
		// relay-only, and what the probe checks is the node's TURN).
		for _, pr := range []*rtcpeer.Peer{guide, shopper} {
			other := shopper
			if pr == shopper {
				other = guide
			}
			if err := pr.CheckRelayPair(other); err != nil {
				return err
			}
		}
		for _, c := range []*client.Conn{p.guide, p.shop} {
			if err := c.Send(ctx, protocol.TypeCallConnected, p.callID, protocol.CallConnected{}); err != nil {
				return err
			}
		}
		// A barrier: the call is connected (the payment link needs it)
		// once the server has handled what came before the ping.
		return p.guide.Ping(ctx)
	}); err != nil {
		return err
	}
	p.rep.Steps[len(p.rep.Steps)-1].MS = ms(time.Since(accepted)) // accept → connected, as the setup metric
	for _, dir := range []struct {
		name string
		to   *rtcpeer.Peer
	}{{"first_rtp_guide_to_shopper", shopper}, {"first_rtp_shopper_to_guide", guide}} {
		if err := p.step(ctx, dir.name, func(ctx context.Context) error {
			select {
			case <-dir.to.FirstRTP():
				return nil
			case <-ctx.Done():
				return fmt.Errorf("no RTP through the relays: %w", ctx.Err())
			}
		}); err != nil {
			return err
		}
		// Accept → first packet, whichever step was running when it came.
		p.rep.Steps[len(p.rep.Steps)-1].MS = ms(dir.to.FirstRTPAt().Sub(accepted))
	}
	var checkout string
	if err := p.step(ctx, "payment_link", func(ctx context.Context) error {
		var link struct {
			ID          string `json:"id"`
			CheckoutURL string `json:"checkout_url"`
		}
		body := map[string]any{"amount": 100, "currency": "EUR", "description": "guidecall probe"}
		if err := p.apiKey(ctx, http.MethodPost, "/api/v1/calls/"+p.callID+"/payment-links", guideToken, "probe-"+p.callID, body, &link, http.StatusCreated); err != nil {
			return err
		}
		checkout = link.CheckoutURL
		return p.awaitLink(ctx, "open")
	}); err != nil {
		return err
	}
	if err := p.step(ctx, "paid", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, checkout+"/pay", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := p.hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("sandbox checkout answered %d", resp.StatusCode)
		}
		return p.awaitLink(ctx, "paid")
	}); err != nil {
		return err
	}
	return p.step(ctx, "hangup", func(ctx context.Context) error {
		if err := p.guide.Send(ctx, protocol.TypeCallEnd, p.callID, protocol.CallEnd{Reason: "hangup"}); err != nil {
			return err
		}
		for _, c := range []*client.Conn{p.guide, p.shop} {
			if _, err := c.Await(ctx, protocol.TypeCallEnded, p.callID); err != nil {
				return err
			}
		}
		p.callID = "" // ended: nothing for cleanup to hang up
		return nil
	})
}

// awaitOffer waits for the offer of the probe's own shopper, declining any
// other (a real shopper, who then goes to another guide).
func (p *prober) awaitOffer(ctx context.Context, entryID string) error {
	for {
		var o protocol.Offer
		if _, err := p.guide.AwaitInto(ctx, protocol.TypeOffer, "", &o); err != nil {
			return err
		}
		if o.EntryID == entryID {
			p.callID = o.OfferID
			p.rep.CallID = o.OfferID
			return nil
		}
		if err := p.guide.Send(ctx, protocol.TypeOfferDecline, "", protocol.OfferReply{OfferID: o.OfferID}); err != nil {
			return err
		}
	}
}

func (p *prober) awaitLink(ctx context.Context, status string) error {
	for _, c := range []*client.Conn{p.guide, p.shop} {
		for {
			var pl protocol.PaymentLink
			if _, err := c.AwaitInto(ctx, protocol.TypePaymentLink, p.callID, &pl); err != nil {
				return fmt.Errorf("payment.link %s: %w", status, err)
			}
			if pl.Status == status {
				break
			}
		}
	}
	return nil
}

func (p *prober) newPeer(ctx context.Context, name, token string, ws *client.Conn) (*rtcpeer.Peer, error) {
	ice, err := rtcpeer.FetchICEServers(ctx, p.hc, p.o.URL, token)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	peer, err := rtcpeer.New(rtcpeer.Config{
		Name: name, ICE: ice.Configuration(), Socket: ws, CallID: p.callID, Loopback: isLoopbackURL(p.o.URL),
		// Like a browser: a call.quality report once connected, so the
		// probe's calls show in the quality metrics and history too.
		QualityEvery: 10 * time.Second,
		OnError: func(err error) {
			select {
			case p.errs <- err:
			default:
			}
		},
	})
	if err != nil {
		return nil, err
	}
	p.peers = append(p.peers, peer)
	return peer, nil
}

// notConnected says why a peer did not connect, naming TURN when it is
// the cause: a side with no relay candidate never reached the TURN server
// (or was refused by it), and a relay-only call cannot connect without one.
func (p *prober) notConnected(name string, peer *rtcpeer.Peer, err error) error {
	if peer.RelayCandidates() == 0 {
		return fmt.Errorf("%s got no relay candidate from the node's TURN server (unreachable, blocked, or refusing the credentials): %w", name, err)
	}
	return fmt.Errorf("%s did not connect (state %s) although TURN gave it relay candidates: %w", name, peer.State(), err)
}

func (p *prober) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.callID != "" && p.guide != nil {
		// A failed probe must not leave a call behind.
		_ = p.guide.Send(ctx, protocol.TypeCallEnd, p.callID, protocol.CallEnd{Reason: "failed"})
		_ = p.guide.Ping(ctx)
	}
	for _, peer := range p.peers {
		peer.Close()
	}
	for _, c := range []*client.Conn{p.guide, p.shop} {
		if c != nil {
			_ = c.Close()
		}
	}
}

func (p *prober) api(ctx context.Context, method, path, token string, body, out any, want int) error {
	return p.apiKey(ctx, method, path, token, "", body, out, want)
}

func (p *prober) apiKey(ctx context.Context, method, path, token, idempotencyKey string, body, out any, want int) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, p.o.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(rb))
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

func wsOf(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/api/v1/ws"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/api/v1/ws"
}

// isLoopbackURL: a node on this machine is reached over loopback, where
// pion gathers no candidates unless told to.
func isLoopbackURL(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
