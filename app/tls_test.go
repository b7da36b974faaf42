package app_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"guidecall/internal/config"
	"guidecall/internal/tlstest"
)

func httpsClient(c tlstest.Cert) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// servedSerial is the serial of the certificate a fresh connection sees.
func servedSerial(t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	hc.CloseIdleConnections()
	resp, err := hc.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /healthz over TLS: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Fatalf("Strict-Transport-Security %q over HTTPS", got)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Text(16)
}

// HTTPS on --http-addr with HSTS, a redirect from plain HTTP, and a new
// certificate picked up on reload without a restart.
func TestHTTPSRedirectAndReload(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir)
	node := startAppConfig(t, func(c *config.Serve) {
		c.TLSCert, c.TLSKey, c.HTTPRedirectAddr = first.CertFile, first.KeyFile, "127.0.0.1:0"
	}, nil)
	if !strings.HasPrefix(node.URL(), "https://") {
		t.Fatalf("URL %s with TLS", node.URL())
	}
	hc := httpsClient(first)
	if got := servedSerial(t, hc, node.URL()); got != first.Leaf.SerialNumber.Text(16) {
		t.Fatalf("serving serial %s, want %s", got, first.Leaf.SerialNumber.Text(16))
	}

	resp, err := hc.Get(node.RedirectURL() + "/shop/?currency=EUR")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != node.URL()+"/shop/?currency=EUR" {
		t.Fatalf("plain HTTP: %d to %q, want 308 to %s/shop/?currency=EUR", resp.StatusCode, resp.Header.Get("Location"), node.URL())
	}

	// Renewal: new files in place, then reload (SIGHUP in `serve`).
	second := tlstest.Write(t, dir)
	if err := node.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, httpsClient(second), node.URL()); got != second.Leaf.SerialNumber.Text(16) {
		t.Fatalf("after reload serving serial %s, want the new %s", got, second.Leaf.SerialNumber.Text(16))
	}
	// A broken file keeps the certificate in service.
	if err := writeFile(second.KeyFile, "not a key"); err != nil {
		t.Fatal(err)
	}
	if err := node.ReloadTLS(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	if got := servedSerial(t, httpsClient(second), node.URL()); got != second.Leaf.SerialNumber.Text(16) {
		t.Fatalf("after a failed reload serving %s", got)
	}
}

func TestTLSFlagsValidate(t *testing.T) {
	for _, c := range []config.Serve{
		{HTTPAddr: "127.0.0.1:0", TLSCert: "c.pem", MaxConnections: 1, MaxConnectionsPerIP: 1, JoinRate: 1, JoinBurst: 1, LogFormat: "text"},
		{HTTPAddr: "127.0.0.1:0", HTTPRedirectAddr: ":80", MaxConnections: 1, MaxConnectionsPerIP: 1, JoinRate: 1, JoinBurst: 1, LogFormat: "text"},
		{HTTPAddr: "127.0.0.1:0", TURNRelayPorts: "60000-50000", MaxConnections: 1, MaxConnectionsPerIP: 1, JoinRate: 1, JoinBurst: 1, LogFormat: "text"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
