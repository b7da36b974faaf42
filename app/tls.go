package app

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"guidecall/turnserver"
)

// certReloader serves the certificate of --tls-cert and --tls-key and
// reads the files again on Reload (SIGHUP), so a renewed certificate is
// picked up without a restart. A reload that fails keeps the old one.
type certReloader struct {
	certFile, keyFile string
	flags             string // the flags that named the files, for errors
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	return newCertReloaderFor("--tls-cert", "--tls-key", certFile, keyFile, log)
}

// newCertReloaderFor is newCertReloader for another pair of flags.
func newCertReloaderFor(certFlag, keyFlag, certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, flags: certFlag + " %s / " + keyFlag + " %s: %w", log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the certificate and key files again.
func (r *certReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf(r.flags, r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	r.log.Info("TLS certificate loaded", "file", r.certFile, "subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339),
		"serial", c.Leaf.SerialNumber.Text(16))
	return nil
}

// getCertificate serves the certificate loaded last.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

func (r *certReloader) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// WebSockets upgrade over HTTP/1.1 only.
		NextProtos:     []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cert.Load(), nil },
	}
}

// clientConfig is for the node's requests to itself (the sandbox's
// webhooks to its own loopback address, where no certificate name can
// match): it accepts exactly the certificate this node serves now, and
// verifies anything else as usual against the system roots by name.
func (r *certReloader) clientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done below, by VerifyConnection.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no certificate")
			}
			if own := r.cert.Load(); own != nil && bytes.Equal(cs.PeerCertificates[0].Raw, own.Leaf.Raw) {
				return nil
			}
			if cs.ServerName == "" {
				return errors.New("tls: no server name to verify the certificate against")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter})
			return err
		},
	}
}

// hsts tells browsers to come back over HTTPS only, for a year. Not
// includeSubDomains: other hosts of the operator's domain are not ours to
// decide for.
func hsts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// redirectToHTTPS answers every plain-HTTP request with a permanent
// redirect to the same path on the public HTTPS URL.
func redirectToHTTPS(publicURL string) http.Handler {
	base := strings.TrimRight(publicURL, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// ReloadTLS reads --tls-cert and --tls-key, and --turn-tls-cert and
// --turn-tls-key, again (the serve command calls it on SIGHUP). Without
// TLS it does nothing.
func (a *App) ReloadTLS() error {
	var errs []error
	for _, c := range []*certReloader{a.certs, a.turnCerts} {
		if c != nil {
			errs = append(errs, c.Reload())
		}
	}
	return errors.Join(errs...)
}

// turnTLS configures the TURN server's TLS listener from --turn-tls-*.
func (a *App) turnTLS() (turnserver.TLSListener, error) {
	t := a.cfg.TURN
	if !t.TLSEnabled() {
		return turnserver.TLSListener{}, nil
	}
	certs, err := newCertReloaderFor("--turn-tls-cert", "--turn-tls-key", t.TLSCert, t.TLSKey, a.log.With("component", "turn"))
	if err != nil {
		return turnserver.TLSListener{}, err
	}
	a.turnCerts = certs
	host := t.TLSHost
	if host == "" {
		// The node's public name is what certificates are issued for.
		if u, err := url.Parse(a.publicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			host = u.Hostname()
		}
	}
	return turnserver.TLSListener{Port: t.TLSPort, Certificate: certs.getCertificate, Host: host}, nil
}

// setupTLS wraps the HTTP listener in TLS and binds the redirect listener,
// when --tls-cert is set.
func (a *App) setupTLS(ln net.Listener) (net.Listener, error) {
	if a.cfg.TLSCert == "" {
		return ln, nil
	}
	certs, err := newCertReloader(a.cfg.TLSCert, a.cfg.TLSKey, a.log)
	if err != nil {
		return nil, err
	}
	a.certs = certs
	if a.cfg.HTTPRedirectAddr != "" {
		rl, err := net.Listen("tcp", a.cfg.HTTPRedirectAddr)
		if err != nil {
			return nil, fmt.Errorf("listen --http-redirect-addr %s: %w", a.cfg.HTTPRedirectAddr, err)
		}
		a.redirect = &http.Server{Handler: redirectToHTTPS(a.publicURL), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		a.redirectLn = rl
	}
	return tls.NewListener(ln, certs.serverConfig()), nil
}

// RedirectURL is the plain-HTTP address that redirects to HTTPS, or "".
func (a *App) RedirectURL() string {
	if a.redirectLn == nil {
		return ""
	}
	return "http://" + loopbackAddr(a.redirectLn.Addr())
}
