package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"guidecall/internal/config"
	"guidecall/internal/tlstest"
)

// TestBrowserCallHTTPS is the browser call on a node serving HTTPS and WSS
// itself, with a self-signed certificate this test makes and Chromium
// trusts by its key: a secure origin, where browsers allow the camera.
// The sandbox's webhook reaches the node over HTTPS too, or the payment
// would never show paid.
func TestBrowserCallHTTPS(t *testing.T) {
	chromium := findChromium(t)
	cert := tlstest.Write(t, t.TempDir())
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.TLSCert, c.TLSKey = cert.CertFile, cert.KeyFile }})
	if node.URL()[:8] != "https://" {
		t.Fatalf("node URL %s", node.URL())
	}
	runBrowserCall(t, chromium, node, chromedp.Flag("ignore-certificate-errors-spki-list", cert.SPKIHash()))
}
