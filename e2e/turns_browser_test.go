package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
	"guidecall/internal/tlstest"
)

// onlyTURNS keeps, in every RTCPeerConnection the page makes, only the
// turns: URLs of the ICE servers it is given, relay only: a shopper on a
// network that lets nothing but TLS on TCP out. It keeps the connections
// in window.gcPeerConnections for the test to read their stats.
const onlyTURNS = `(() => {
  const Native = window.RTCPeerConnection;
  const limit = (config) => {
    const c = { ...(config || {}) };
    c.iceTransportPolicy = "relay";
    c.iceServers = (c.iceServers || []).map((s) => {
      const urls = [].concat(s.urls).filter((u) => u.startsWith("turns:"));
      return { ...s, urls };
    }).filter((s) => s.urls.length > 0);
    return c;
  };
  window.gcPeerConnections = [];
  window.RTCPeerConnection = function (config, ...rest) {
    const pc = new Native(limit(config), ...rest);
    const set = pc.setConfiguration.bind(pc);
    pc.setConfiguration = (next) => set(limit(next));
    window.gcPeerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();`

// selectedLocalRelay answers the shopper's selected local candidate as
// "type protocol relayProtocol url".
const selectedLocalRelay = `(async () => {
  const pcs = window.gcPeerConnections.filter((pc) => pc.connectionState === "connected");
  if (pcs.length === 0) return "no connected peer connection";
  const stats = await pcs[pcs.length - 1].getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return "no selected pair";
  const l = stats.get(pair.localCandidateId);
  return [l.candidateType, l.protocol, l.relayProtocol, l.url].join(" ");
})()`

// TestBrowserCallTURNS: a whole browser call where the shopper may use
// nothing but the node's turns: server, over TLS on TCP, with a
// certificate Chromium trusts by its key; the guide connects as usual.
func TestBrowserCallTURNS(t *testing.T) {
	chromium := findChromium(t)
	cert := tlstest.Write(t, t.TempDir())
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) {
		c.TURN.TLSCert, c.TURN.TLSKey, c.TURN.TLSPort = cert.CertFile, cert.KeyFile, 0
	}})
	runBrowserCallWith(t, chromium, node, browserCall{
		chrome:      []chromedp.ExecAllocatorOption{chromedp.Flag("ignore-certificate-errors-spki-list", cert.SPKIHash())},
		shopperInit: onlyTURNS,
		connected: func(t *testing.T, _, shopper *chromeTab) {
			ctx, cancel := context.WithTimeout(shopper.ctx, browserStepTimeout)
			defer cancel()
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](selectedLocalRelay, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("read the shopper's selected candidate: %v", err)
			}
			t.Logf("shopper's local candidate: %s", got)
			f := strings.Fields(got)
			if len(f) != 4 || f[0] != "relay" || f[2] != "tls" || !strings.HasPrefix(f[3], "turns:") {
				t.Fatalf("shopper's selected local candidate %q, want a relay reached over TLS from a turns: URL", got)
			}
			if node.TURN.TLSAddr() == nil {
				t.Fatal("the node's TURN has no TLS listener")
			}
		},
	})
}
