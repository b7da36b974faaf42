//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"guidecall/internal/tlstest"
)

// TestServeReloadsTLSOnSIGHUP runs serve with a certificate, replaces the
// files, sends SIGHUP to the process and sees the new certificate served
// on new connections, without a restart.
func TestServeReloadsTLSOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--http-addr", "127.0.0.1:0", "--turn-port", "0", "--log-level", "warn",
			"--tls-cert", first.CertFile, "--tls-key", first.KeyFile, "--demo-guide=false"}, &stdout, &stderr, noEnv)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := shopperURLRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URL:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	if base[:8] != "https://" {
		t.Fatalf("serve with --tls-cert prints %s", base)
	}
	serial := func(c tlstest.Cert) (string, error) {
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool}, DisableKeepAlives: true}}
		resp, err := hc.Get(base + "/healthz")
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Text(16), nil
	}
	if got, err := serial(first); err != nil || got != first.Leaf.SerialNumber.Text(16) {
		t.Fatalf("first certificate: %s, %v", got, err)
	}

	second := tlstest.Write(t, dir)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	want := second.Leaf.SerialNumber.Text(16)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := serial(second)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP still not serving the new certificate %s: %s, %v\n%s", want, got, err, stderr.String())
		}
	}
}
