package turnserver

import (
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"guidecall/internal/tlstest"
)

func tlsServer(t *testing.T) (*Server, tlstest.Cert) {
	t.Helper()
	cert := tlstest.Write(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *Config) {
		c.TLS = TLSListener{Host: "localhost", Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }}
	})
	return s, cert
}

// allocateOver allocates a UDP relay through a pion client on conn.
func allocateOver(t *testing.T, conn net.Conn, server string) {
	t.Helper()
	user, pass := NewCredentials(testSecret, "tls-client", time.Minute, time.Now())
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: server, Username: user, Password: pass, Realm: "guidecall",
		Conn: turn.NewSTUNConn(conn), LoggerFactory: slogFactory{l: quietLogger()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	_ = relay.Close()
}

// TestTLSListener: the TLS port serves TURN over TLS (turns:) with the
// configured certificate and plain TURN over TCP on the same port, and
// ICEConfig lists the turns: URL at the certificate's name.
func TestTLSListener(t *testing.T) {
	s, cert := tlsServer(t)
	addr := s.TLSAddr().String()

	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cert.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer tc.Close()
	allocateOver(t, tc, addr)

	plain, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	allocateOver(t, plain, addr)

	port := strconv.Itoa(s.TLSAddr().(*net.TCPAddr).Port)
	urls := s.ICEConfig("x").ICEServers[0].URLs
	if got := urls[len(urls)-1]; got != "turns:localhost:"+port+"?transport=tcp" {
		t.Fatalf("URLs %v, want the turns: URL last", urls)
	}

	// A client that does not trust the certificate gets no further.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}); err == nil {
		_ = c.Close()
		t.Fatal("handshake succeeded without trusting the test certificate")
	}
	// Stop hangs up on TLS clients too.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Fatal("TLS connection still open after Stop")
	}
}
