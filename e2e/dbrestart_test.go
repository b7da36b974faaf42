package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/app"
	"guidecall/internal/db/dbtest"
)

// TestDatabaseRestartRecovers takes PostgreSQL away from a node and gives
// it back, the way a database restart looks to the node: every session is
// terminated (pg_terminate_backend) and new connections are refused for a
// while. The shared server itself is not touched: the node reaches it
// through a proxy in this test, which refuses connections during the
// outage. The node must answer 503 while the database is away, come back
// by itself, and then take joins and make offers again (the bus listener
// and the matcher's lock reconnect too).
func TestDatabaseRestartRecovers(t *testing.T) {
	pool, url := dbtest.NewSchema(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startPGProxy(t, u.Host)
	appName := "e2e_" + dbtest.SchemaName(t, pool)
	u.Host = proxy.addr()
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stores, err := app.PostgresStores(ctx, u.String(), false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeOptions{stores: &stores})
	base := n.URL()
	joinQueue(t, base)
	if got := status(t, http.MethodGet, base+"/readyz", nil); got != http.StatusOK {
		t.Fatalf("/readyz before the outage: %d", got)
	}

	// The outage: refuse new connections, then end every session.
	proxy.setDown(true)
	var ended int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended == 0 {
		t.Fatalf("no sessions named %s to terminate", appName)
	}
	down := time.Now()
	waitStatus(t, http.MethodGet, base+"/readyz", nil, http.StatusServiceUnavailable, 10*time.Second)
	waitStatus(t, http.MethodPost, base+"/api/v1/queue", joinBody, http.StatusServiceUnavailable, 10*time.Second)
	t.Logf("terminated %d sessions; node answered 503 within %d ms", ended, time.Since(down).Milliseconds())

	// The database comes back after a few seconds.
	time.Sleep(2 * time.Second)
	proxy.setDown(false)
	back := time.Now()
	waitStatus(t, http.MethodGet, base+"/readyz", nil, http.StatusOK, 15*time.Second)
	ready := time.Since(back)
	waitStatus(t, http.MethodPost, base+"/api/v1/queue", joinBody, http.StatusCreated, 10*time.Second)
	t.Logf("database back → /readyz 200: %d ms; → join 201: %d ms", ready.Milliseconds(), time.Since(back).Milliseconds())

	// Signaling and matching work again: a guide going available gets an
	// offer (for whichever shopper is first in line).
	guideWS := dialWS(t, "guide", wsURLOf(n.endpoint()), loginGuide(t, n.endpoint()))
	guideWS.next(10*time.Second, "welcome")
	guideWS.send("presence", "", map[string]string{"status": "available"})
	guideWS.next(10*time.Second, "presence")
	j := joinQueue(t, base)
	shopWS := dialWS(t, "shopper", j.WSURL, j.Token)
	shopWS.next(10*time.Second, "welcome")
	guideWS.next(15*time.Second, "offer")
	t.Logf("database back → offer: %d ms", time.Since(back).Milliseconds())
}

var joinBody = map[string]string{"queue": "default", "locale": "de-DE", "currency": "EUR", "page_url": "https://shop.example/p/42", "name": "Sam"}

// status sends a request and returns the status code.
func status(t *testing.T, method, url string, body any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus repeats a request until it answers want, failing after timeout.
func waitStatus(t *testing.T, method, url string, body any, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := 0
	for time.Now().Before(deadline) {
		if got = status(t, method, url, body); got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s %s: %d after %s, want %d", method, url, got, timeout, want)
}

// pgProxy forwards TCP connections to PostgreSQL; while down it closes
// every new connection at once, as a server that is restarting would
// refuse them.
type pgProxy struct {
	t        *testing.T
	ln       net.Listener
	upstream string
	down     atomic.Bool
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startPGProxy(t *testing.T, upstream string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

func (p *pgProxy) setDown(down bool) { p.down.Store(down) }

func (p *pgProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// track remembers a pair of connections, or closes them when the proxy is
// closing.
func (p *pgProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies one way; when either side ends, both are closed.
func (p *pgProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// close stops accepting and cuts every connection; it runs after the node
// has stopped.
func (p *pgProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
