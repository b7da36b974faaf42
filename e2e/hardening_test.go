package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// memKiB reads one of VmRSS / VmHWM (peak RSS) of a process, in KiB.
func memKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here to read a node's memory: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("%s: %q", field, rest)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// postJSON posts body and returns the status and the answer's headers.
func postJSON(t *testing.T, client *http.Client, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// TestConcurrentLoginsStayWithinMemory floods a node with wrong logins at
// once, its per-address limits lifted so that only the bound on password
// checks stands between them and its memory. Each argon2id check holds
// 19 MiB; unbounded, 60 of them took the node past 800 MiB.
func TestConcurrentLoginsStayWithinMemory(t *testing.T) {
	t.Parallel()
	bin := guidecallBinary(t)
	n := startProc(t, bin, "login-flood", procConfig{ip: "127.0.0.1", extraArgs: []string{
		"--login-rate", "1000000", "--login-burst", "1000000", "--max-http-connections-per-ip", "1000",
	}})
	client := &http.Client{Timeout: 60 * time.Second}
	wrong := map[string]string{"email": "nobody@e2e.local", "password": "not the password"}
	// One login first: the node makes its dummy hash on first use.
	if st, _, body := postJSON(t, client, n.url+"/api/v1/auth/login", "", wrong); st != http.StatusUnauthorized {
		t.Fatalf("warm-up login: %d %s", st, body)
	}
	pid := n.pid()
	base := memKiB(t, pid, "VmHWM")

	const logins = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, h, _ := postJSON(t, client, n.url+"/api/v1/auth/login", "", wrong)
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if st == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
				statuses[-1]++
			}
		}()
	}
	wg.Wait()
	peak, rss := memKiB(t, pid, "VmHWM"), memKiB(t, pid, "VmRSS")
	growth := (peak - base) / 1024
	t.Logf("%d concurrent wrong logins: peak RSS %d MiB -> %d MiB (+%d MiB), RSS after %d MiB; answers %v (race=%v)",
		logins, base/1024, peak/1024, growth, rss/1024, statuses, raceEnabled)
	if statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != logins || statuses[-1] > 0 {
		t.Errorf("answers %v: want only 401 and 503 with Retry-After", statuses)
	}
	if statuses[http.StatusUnauthorized] == 0 {
		t.Error("no login was checked at all")
	}
	// Two checks at a time (--login-concurrency 2) hold 38 MiB; the rest
	// is the Go heap's headroom and the race detector's shadow memory.
	limit := 160
	if raceEnabled {
		limit = 320
	}
	if growth > limit {
		t.Fatalf("peak RSS grew by %d MiB under %d concurrent logins, want at most %d MiB", growth, logins, limit)
	}
}

type loginAnswer struct {
	status     int
	code       string
	retryAfter string
	pair       struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
}

func tryLogin(t *testing.T, baseURL, email, password string) loginAnswer {
	t.Helper()
	st, h, body := postJSON(t, http.DefaultClient, baseURL+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	a := loginAnswer{status: st, retryAfter: h.Get("Retry-After")}
	if st == http.StatusOK {
		if err := json.Unmarshal(body, &a.pair); err != nil {
			t.Fatal(err)
		}
		return a
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	a.code = e.Error.Code
	return a
}

// TestBruteForceIsSlowedAndLocked guesses a guide's password from one
// address against a PostgreSQL node: the first wrong passwords cost
// nothing, then each must wait longer (429 with Retry-After, the password
// not even checked), the 6th locks the account so that even the right
// password is refused, until an admin unlocks it. The node logs each
// failure with the address and never the password.
func TestBruteForceIsSlowedAndLocked(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const guideEmail, adminEmail, password = "victim@e2e.local", "admin@e2e.local", "the right password 42"
	addAccount(t, bin, url, guideEmail, "Victim", password, "guide")
	addAccount(t, bin, url, adminEmail, "Admin", password, "admin")
	const delay = 300 * time.Millisecond
	n := startProc(t, bin, "brute", procConfig{databaseURL: url, ip: "127.0.0.1", extraArgs: []string{
		"--login-first-delay", delay.String(), "--login-lock-after", "6", "--login-lock-for", "1h", "--login-burst", "100",
	}})

	guess := func(i int) string { return fmt.Sprintf("guess-number-%03d", i) }
	// Three free failures, then the 4th: each a plain 401.
	for i := 1; i <= 4; i++ {
		if a := tryLogin(t, n.url, guideEmail, guess(i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s, want 401", i, a.status, a.code)
		}
	}
	// After the 4th, the next attempt must wait `delay`, then 2·delay after
	// the 5th: an attempt at once is refused without being checked.
	for i, wait := range []time.Duration{delay, 2 * delay} {
		a := tryLogin(t, n.url, guideEmail, password) // even the right one
		if a.status != http.StatusTooManyRequests || a.code != "rate_limited" || a.retryAfter == "" {
			t.Fatalf("attempt right after failure %d: %d %s (Retry-After %q), want 429 rate_limited", 4+i, a.status, a.code, a.retryAfter)
		}
		time.Sleep(wait) // the schedule's own wait: what a client is told to do
		if a := tryLogin(t, n.url, guideEmail, guess(5+i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d after waiting %s: %d %s, want 401", 5+i, wait, a.status, a.code)
		}
	}
	// That was the 6th failure: locked, whatever the password.
	a := tryLogin(t, n.url, guideEmail, password)
	if a.status != http.StatusTooManyRequests || a.code != "account_locked" {
		t.Fatalf("right password on a locked account: %d %s, want 429 account_locked", a.status, a.code)
	}
	if ra, _ := strconv.Atoi(a.retryAfter); ra < 3000 {
		t.Errorf("locked account Retry-After %q, want about an hour", a.retryAfter)
	}
	list := runCLI(t, bin, "guide", "list", "--database-url", url)
	if !strings.Contains(list, "locked until") {
		t.Errorf("guide list does not show the lock:\n%s", list)
	}

	// An admin lifts the lock; the right password works again.
	admin := tryLogin(t, n.url, adminEmail, password)
	if admin.status != http.StatusOK {
		t.Fatalf("admin login: %d %s", admin.status, admin.code)
	}
	var accounts struct {
		Accounts []struct{ ID, Email string } `json:"accounts"`
	}
	api(t, http.MethodGet, n.url+"/api/v1/admin/accounts/", admin.pair.AccessToken, nil, &accounts, http.StatusOK)
	var victimID string
	for _, acc := range accounts.Accounts {
		if acc.Email == guideEmail {
			victimID = acc.ID
		}
	}
	api(t, http.MethodPost, n.url+"/api/v1/admin/accounts/"+victimID+"/unlock", admin.pair.AccessToken, nil, nil, http.StatusOK)
	if a := tryLogin(t, n.url, guideEmail, password); a.status != http.StatusOK {
		t.Fatalf("right password after unlock: %d %s", a.status, a.code)
	}

	logs := n.log()
	if !strings.Contains(logs, "login failed") || !strings.Contains(logs, "address=127.0.0.1") {
		t.Error("the node's log does not record failed logins with their address")
	}
	for i := 1; i <= 6; i++ {
		if strings.Contains(logs, guess(i)) {
			t.Fatalf("the node's log contains a guessed password %q", guess(i))
		}
	}
}

// TestLoginRateLimitedPerAddress: one address gets its burst of attempts,
// then 429, whichever accounts it tries.
func TestLoginRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.LoginBurst, c.LoginRate = 5, 1 }})
	for i := range 5 {
		if a := tryLogin(t, node.URL(), fmt.Sprintf("user%d@e2e.local", i), "whatever it is"); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i+1, a.status, a.code)
		}
	}
	a := tryLogin(t, node.URL(), node.guideEmail, node.guidePassword)
	if a.status != http.StatusTooManyRequests || a.code != "rate_limited" || a.retryAfter == "" {
		t.Fatalf("6th attempt from one address: %d %s Retry-After %q, want 429", a.status, a.code, a.retryAfter)
	}
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func refreshWith(t *testing.T, baseURL, refreshToken string) (int, string, tokenPair) {
	t.Helper()
	st, _, body := postJSON(t, http.DefaultClient, baseURL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": refreshToken})
	var out struct {
		tokenPair
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &out)
	return st, out.Error.Code, out.tokenPair
}

// TestRefreshTokensRotate: a refresh token works once; presented again it
// is refused and its whole family (the newest pair too) is revoked; a
// logout revokes a login's tokens at once.
func TestRefreshTokensRotate(t *testing.T) {
	t.Parallel()
	node := startNode(t, nodeOptions{})
	url := node.URL()
	var first tokenPair
	api(t, http.MethodPost, url+"/api/v1/auth/login", "", map[string]string{"email": node.guideEmail, "password": node.guidePassword}, &first, http.StatusOK)

	st, code, second := refreshWith(t, url, first.RefreshToken)
	if st != http.StatusOK || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("first refresh: %d %s", st, code)
	}
	// The stolen copy of the first token is used again.
	if st, code, _ := refreshWith(t, url, first.RefreshToken); st != http.StatusUnauthorized || code != "token_reused" {
		t.Fatalf("reused refresh token: %d %s, want 401 token_reused", st, code)
	}
	// The whole family is gone: the legitimate newest tokens too.
	if st, code, _ := refreshWith(t, url, second.RefreshToken); st != http.StatusUnauthorized {
		t.Fatalf("newest refresh token of a revoked family: %d %s, want 401", st, code)
	}
	api(t, http.MethodGet, url+"/api/v1/auth/me", second.AccessToken, nil, nil, http.StatusUnauthorized)

	// Logout ends a login at once: its refresh and access tokens stop.
	var third tokenPair
	api(t, http.MethodPost, url+"/api/v1/auth/login", "", map[string]string{"email": node.guideEmail, "password": node.guidePassword}, &third, http.StatusOK)
	api(t, http.MethodGet, url+"/api/v1/auth/me", third.AccessToken, nil, nil, http.StatusOK)
	api(t, http.MethodPost, url+"/api/v1/auth/logout", "", map[string]string{"refresh_token": third.RefreshToken}, nil, http.StatusNoContent)
	if st, code, _ := refreshWith(t, url, third.RefreshToken); st != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d %s, want 401", st, code)
	}
	api(t, http.MethodGet, url+"/api/v1/auth/me", third.AccessToken, nil, nil, http.StatusUnauthorized)
	api(t, http.MethodGet, url+"/api/v1/ice-servers", third.AccessToken, nil, nil, http.StatusUnauthorized)
}

// TestDisabledGuideLosesSocketsOnEveryNode runs two PostgreSQL nodes. A
// guide's console socket on node B closes within seconds when the guide is
// disabled with `guidecall guide disable` (a process with no socket of its
// own), and another guide's socket on node A closes when an admin disables
// them through node B's API. Neither can log in or reconnect afterwards.
// `guidecall guide remove` closes a third guide's socket the same way.
func TestDisabledGuideLosesSocketsOnEveryNode(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const pw = "cluster guide password 7"
	addAccount(t, bin, url, "g1@e2e.local", "Guide One", pw, "guide")
	addAccount(t, bin, url, "g2@e2e.local", "Guide Two", pw, "guide")
	addAccount(t, bin, url, "g3@e2e.local", "Guide Three", pw, "guide")
	addAccount(t, bin, url, "boss@e2e.local", "Boss", pw, "admin")
	a := startProc(t, bin, "node-a", procConfig{databaseURL: url, ip: "127.0.0.1"})
	b := startProc(t, bin, "node-b", procConfig{databaseURL: url, ip: "127.0.0.2"})

	tok1 := login(t, a.url, "g1@e2e.local", pw)
	ws1 := dialWS(t, "g1-on-b", wsURLOf(b.endpoint("", "")), tok1)
	start := time.Now()
	runCLI(t, bin, "guide", "disable", "--database-url", url, "--email", "g1@e2e.local")
	ws1.ExpectClosed(4403)
	t.Logf("guide disabled by the CLI: socket on node-b closed %d ms after the command started", time.Since(start).Milliseconds())
	api(t, http.MethodGet, a.url+"/api/v1/auth/me", tok1, nil, nil, http.StatusUnauthorized)
	if la := tryLogin(t, b.url, "g1@e2e.local", pw); la.status != http.StatusUnauthorized {
		t.Fatalf("disabled guide logs in: %d", la.status)
	}

	tok2 := login(t, a.url, "g2@e2e.local", pw)
	ws2 := dialWS(t, "g2-on-a", wsURLOf(a.endpoint("", "")), tok2)
	admin := login(t, b.url, "boss@e2e.local", pw)
	var accounts struct {
		Accounts []struct{ ID, Email string } `json:"accounts"`
	}
	api(t, http.MethodGet, b.url+"/api/v1/admin/accounts/", admin, nil, &accounts, http.StatusOK)
	var g2 string
	for _, acc := range accounts.Accounts {
		if acc.Email == "g2@e2e.local" {
			g2 = acc.ID
		}
	}
	start = time.Now()
	api(t, http.MethodPost, b.url+"/api/v1/admin/accounts/"+g2+"/disable", admin, nil, nil, http.StatusOK)
	ws2.ExpectClosed(4403)
	t.Logf("guide disabled through node-b's API: socket on node-a closed %d ms later", time.Since(start).Milliseconds())
	// A reconnect with the same token is refused.
	c := clienttest.Dial(t, wsURLOf(a.endpoint("", ""))).Named("g2-again")
	c.Send(protocol.TypeAuth, "", protocol.Auth{Token: tok2})
	c.ExpectClosed(4401)

	// Removing an account does the same.
	tok3 := login(t, b.url, "g3@e2e.local", pw)
	ws3 := dialWS(t, "g3-on-a", wsURLOf(a.endpoint("", "")), tok3)
	runCLI(t, bin, "guide", "remove", "--database-url", url, "--email", "g3@e2e.local")
	ws3.ExpectClosed(4403)
	api(t, http.MethodGet, b.url+"/api/v1/auth/me", tok3, nil, nil, http.StatusUnauthorized)
}

// TestTrickledBodyIsCutOff sends a request body a byte every 100 ms: the
// node answers or hangs up once --http-body-timeout has passed since the
// request began, instead of holding the connection for as long as the
// client likes. A WebSocket outlives both deadlines.
func TestTrickledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 700 * time.Millisecond
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) {
		c.HTTPBodyTimeout, c.HTTPWriteTimeout = bodyTimeout, bodyTimeout
	}})
	addr := strings.TrimPrefix(node.URL(), "http://")

	ws := dialWS(t, "long-lived", wsURLOf(node.endpoint()), loginGuide(t, node.endpoint()))

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"queue":"default","currency":"EUR","name":"Slow Loris"}`
	fmt.Fprintf(conn, "POST /api/v1/queue HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() {
		// The node's answer (or EOF) ends the read; the client's own bound
		// is far beyond the node's.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.ReadAll(conn)
		cut <- time.Since(start)
	}()
	sent := 0
	for sent < len(body) {
		select {
		case d := <-cut:
			t.Logf("trickled body cut off after %d ms (%d of %d bytes sent); --http-body-timeout %s", d.Milliseconds(), sent, len(body), bodyTimeout)
			if d >= 10*time.Second {
				t.Fatal("the node held the trickling connection until the client gave up")
			}
			// Past both deadlines, the WebSocket still answers a ping.
			if err := ws.Client.Ping(context.Background()); err != nil {
				t.Fatalf("the WebSocket did not outlive the HTTP deadlines: %v", err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{body[sent]}); err != nil {
			break
		}
		sent++
	}
	d := <-cut
	if sent == len(body) {
		t.Fatalf("the whole body trickled in over %d ms without the node cutting it off", d.Milliseconds())
	}
}

// TestHTTPConnectionsCappedPerAddress: one address holding the cap of
// open connections gets its next one closed at once.
func TestHTTPConnectionsCappedPerAddress(t *testing.T) {
	t.Parallel()
	const capacity = 4
	node := startNode(t, nodeOptions{tweak: func(c *config.Serve) { c.MaxHTTPConnsPerIP = capacity }})
	addr := strings.TrimPrefix(node.URL(), "http://")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	client := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		return c
	}
	healthy := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for i := range capacity {
		if err := healthy(client()); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, capacity, err)
		}
	}
	if err := healthy(client()); err == nil {
		t.Fatalf("connection %d from one address was served, want it closed", capacity+1)
	}
	// Closing one frees a place.
	_ = held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := healthy(client())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place freed after a connection closed: %v", err)
		}
		held[len(held)-1].Close()
		held = held[:len(held)-1]
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBanner waits (bounded) for the whole start-up banner on a node's
// stdout: the node may answer /readyz before it has printed it.
func waitBanner(t *testing.T, n *procNode) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := n.stdout()
		if strings.Contains(out, "Ctrl-C stops.") {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no full banner: %q", n.name, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoGuideOnlyInMemoryByDefault: without --demo-guide, a node on the
// in-memory store creates guide@demo.local and prints its login, and a node
// on PostgreSQL creates no such account and prints no password.
func TestDemoGuideOnlyInMemoryByDefault(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)

	mem := startProc(t, bin, "memory-demo", procConfig{ip: "127.0.0.1", demoDefault: true})
	banner := waitBanner(t, mem)
	line := ""
	for _, l := range strings.Split(banner, "\n") {
		if strings.Contains(l, "Demo guide login:") {
			line = l
		}
	}
	email, password, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Demo guide login:")), " / ")
	if !ok || email != "guide@demo.local" || password == "" {
		t.Fatalf("memory node's stdout has no demo login: %q", mem.stdout())
	}
	if a := tryLogin(t, mem.url, email, password); a.status != http.StatusOK {
		t.Fatalf("the printed demo login does not work: %d %s", a.status, a.code)
	}

	pg := startProc(t, bin, "postgres-demo", procConfig{databaseURL: url, ip: "127.0.0.1", demoDefault: true})
	if out := waitBanner(t, pg); strings.Contains(out, "Demo guide") || strings.Contains(out, "guide@demo.local") {
		t.Fatalf("a PostgreSQL node printed a demo login:\n%s", out)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM accounts WHERE email = 'guide@demo.local'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("demo accounts on PostgreSQL: %d (%v), want 0", n, err)
	}
	if a := tryLogin(t, pg.url, "guide@demo.local", password); a.status != http.StatusUnauthorized {
		t.Fatalf("demo login on PostgreSQL: %d, want 401", a.status)
	}
}

// rawRequest sends body as is and returns the status, the error code and
// the headers.
func rawRequest(t *testing.T, method, url, token, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, resp.Header
}

// TestBadInputRefusedAndNothingStored runs a node on PostgreSQL, where a
// NUL in a shopper's name (or, later, in a callback request) used to
// answer 500: NUL anywhere, null and non-object bodies get 400 and leave
// no entry or callback behind; invisible and bidi
// characters are stripped from names before anyone sees them; every
// answer says nosniff.
func TestBadInputRefusedAndNothingStored(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stores, err := app.PostgresStores(ctx, url, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	node := startNode(t, nodeOptions{stores: &stores})
	base := node.URL()
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM queue_entries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for name, body := range map[string]string{
		"NUL in name":     `{"currency":"EUR","name":"Sam\u0000"}`,
		"NUL in page_url": `{"currency":"EUR","page_url":"https://shop.example/\u0000"}`,
		"NUL in a key":    `{"currency":"EUR","na\u0000me":"x"}`,
		"null body":       `null`,
		"array body":      `[{"currency":"EUR"}]`,
		"string body":     `"EUR"`,
		"empty body":      ``,
		"broken UTF-8":    "{\"currency\":\"EUR\",\"name\":\"\xff\"}",
	} {
		if st, code, h := rawRequest(t, http.MethodPost, base+"/api/v1/queue", "", body); st != http.StatusBadRequest || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("join with %s: %d %s (nosniff %q), want 400", name, st, code, h.Get("X-Content-Type-Options"))
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d entries stored by refused joins", n)
	}
	for name, body := range map[string]string{"null": `null`, "NUL": `{"email":"a@b.c","password":"x\u0000"}`} {
		if st, code, _ := rawRequest(t, http.MethodPost, base+"/api/v1/auth/login", "", body); st != http.StatusBadRequest {
			t.Errorf("login with %s body: %d %s, want 400", name, st, code)
		}
	}
	// Routing's shopper text (issue 8): a callback request, on PostgreSQL.
	for name, body := range map[string]string{
		"NUL in callback name":    `{"name":"Ana\u0000","phone":"+49 30 1234567"}`,
		"NUL in callback message": `{"name":"Ana","phone":"+49 30 1234567","message":"hi\u0000"}`,
		"NUL in callback entry":   `{"name":"Ana","phone":"+49 30 1234567","entry_id":"e_\u0000"}`,
		"null callback":           `null`,
	} {
		if st, code, _ := rawRequest(t, http.MethodPost, base+"/api/v1/queues/default/callbacks", "", body); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, st, code)
		}
	}
	var callbacks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM callbacks`).Scan(&callbacks); err != nil || callbacks != 0 {
		t.Fatalf("%d callbacks stored by refused requests (%v)", callbacks, err)
	}
	// The admin bodies of merchant webhooks, payments and the sandbox go
	// through the same decoder: null is not an object, and a NUL would
	// answer 500 from PostgreSQL.
	const adminPW = "admin password for bad input"
	if _, err := node.Auth.AddAccount(ctx, "bad-input-admin@e2e.local", "Bad Input Admin", adminPW, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := login(t, base, "bad-input-admin@e2e.local", adminPW)
	for _, req := range []struct{ name, method, path, body string }{
		{"merchant endpoint, NUL", http.MethodPost, "/api/v1/admin/webhooks/endpoints", `{"url":"https://shop.example/hook","description":"x\u0000"}`},
		{"merchant endpoint, null", http.MethodPost, "/api/v1/admin/webhooks/endpoints", `null`},
		{"refund, NUL key", http.MethodPost, "/api/v1/admin/payment-links/pl_x/refunds", `{"amo\u0000unt":1}`},
		{"refund, null", http.MethodPost, "/api/v1/admin/payment-links/pl_x/refunds", `null`},
		{"risk limits, NUL", http.MethodPut, "/api/v1/admin/payment-limits", `{"max_amount":{"EUR\u0000":100}}`},
		{"risk limits, null", http.MethodPut, "/api/v1/admin/payment-limits", `null`},
		{"rollout, NUL", http.MethodPut, "/api/v1/admin/payment-providers/rollouts", `{"currency":"EUR\u0000","provider":"sandbox","incumbent":"sandbox","percent":10}`},
		{"rollout, null", http.MethodPut, "/api/v1/admin/payment-providers/rollouts", `null`},
		{"sandbox script, null", http.MethodPut, "/api/v1/admin/sandbox/script", `null`},
		{"sandbox script, array", http.MethodPut, "/api/v1/admin/sandbox/script", `[]`},
	} {
		r, _ := http.NewRequest(req.method, base+req.path, strings.NewReader(req.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Idempotency-Key", "bad-input-"+req.name)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", req.name, resp.StatusCode, b)
		}
	}
	var endpoints int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM merchant_endpoints`).Scan(&endpoints); err != nil || endpoints != 0 {
		t.Errorf("%d merchant endpoints stored by refused requests (%v)", endpoints, err)
	}
	if st, _, _ := rawRequest(t, http.MethodGet, base+"/api/v1/admin/queue?queue=%00", "", ""); st != http.StatusBadRequest {
		t.Errorf("NUL in a query: %d, want 400", st)
	}

	var j joined
	api(t, http.MethodPost, base+"/api/v1/queue", "", map[string]string{
		"currency": "EUR", "name": "\u202eSam\u200b\u2066 O\u0308zil\u2069\u0007",
	}, &j, http.StatusCreated)
	var stored string
	if err := pool.QueryRow(ctx, `SELECT name FROM queue_entries WHERE id = $1`, j.EntryID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != "Sam Özil" {
		t.Errorf("stored name %q, want %q (invisible characters stripped, NFC)", stored, "Sam Özil")
	}

	for _, path := range []string{"/shop/", "/healthz", "/api/v1/nothing-here", "/js/call.js"} {
		if _, _, h := rawRequest(t, http.MethodGet, base+path, "", ""); h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}

	bin := guidecallBinary(t)
	for _, pw := range []string{"password", "Password123", "weak@e2e.local", "weak"} {
		cmd := exec.Command(bin, "guide", "add", "--database-url", url, "--email", "weak@e2e.local", "--name", "Weak", "--password", pw)
		cmd.Env = childEnv()
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("guide add accepted the password %q: %s", pw, out)
		}
	}
}

// TestRetentionPurgeAndErasure runs a PostgreSQL node whose retention is
// one second. A shopper whose call ended loses name and page to the
// periodic purge (a River job), and so does a callback done, while the
// entry, its call and the callback keep their timestamps (and the
// callback its outcome), so statistics still count them; waiting shoppers
// and open callbacks keep theirs. An erasure request (admin API, then
// `guidecall purge --entry`) removes exactly one shopper's data; one by
// the merchant's customer id (admin API, then `guidecall purge
// --customer`) removes that customer's entries and callbacks and nobody
// else's.
func TestRetentionPurgeAndErasure(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stores, err := app.PostgresStores(ctx, url, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	const customerSecret = "merchant identity secret of the e2e shop"
	node := startNode(t, nodeOptions{stores: &stores, tweak: func(c *config.Serve) {
		c.Retention, c.PurgeEvery = time.Second, 250*time.Millisecond
		c.CustomerTokenSecret = customerSecret
	}})
	base := node.URL()
	const adminPW = "admin password for privacy"
	if _, err := node.Auth.AddAccount(ctx, "privacy-admin@e2e.local", "Privacy Admin", adminPW, protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := login(t, base, "privacy-admin@e2e.local", adminPW)

	// Shopper D asked for a callback, and the guide called back.
	guideToken := loginGuide(t, node.endpoint())
	var cbD struct {
		ID string `json:"callback_id"`
	}
	api(t, http.MethodPost, base+"/api/v1/queues/default/callbacks", "", map[string]string{
		"name": "Dora", "phone": "+49 30 1234567", "email": "dora@shop.example", "message": "size 38?",
	}, &cbD, http.StatusCreated)
	api(t, http.MethodPost, base+"/api/v1/callbacks/"+cbD.ID+"/claim", guideToken, nil, nil, http.StatusOK)
	api(t, http.MethodPost, base+"/api/v1/callbacks/"+cbD.ID+"/outcome", guideToken, map[string]string{"outcome": "reached", "note": "Dora ordered"}, nil, http.StatusOK)
	callback := func(id string) (data, state, outcome string, done, erased bool) {
		var doneAt, erasedAt *time.Time
		if err := pool.QueryRow(ctx, `SELECT name || phone || email || message || note || customer_id, state, outcome, done_at, erased_at
			FROM callbacks WHERE id = $1`, id).Scan(&data, &state, &outcome, &doneAt, &erasedAt); err != nil {
			t.Fatalf("callback %s: %v", id, err)
		}
		return data, state, outcome, doneAt != nil, erasedAt != nil
	}

	// Shopper A has a call that ends.
	guideWS := dialWS(t, "guide", wsURLOf(node.endpoint()), loginGuide(t, node.endpoint()))
	guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	a := joinQueue(t, base)
	shopperA := dialWS(t, "shopper-a", a.WSURL, a.Token)
	var offer protocol.Offer
	guideWS.AwaitInto(protocol.TypeOffer, "", &offer)
	guideWS.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: offer.OfferID})
	callID := shopperA.Await(protocol.TypeCallMatched, "").CallID
	guideWS.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	shopperA.Await(protocol.TypeCallEnded, "")
	guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "away"})
	guideWS.Await(protocol.TypePresence, "")

	// B and C wait in line.
	b, c := joinQueue(t, base), joinQueue(t, base)
	entry := func(id string) (name, page string, erased bool) {
		var at *time.Time
		if err := pool.QueryRow(ctx, `SELECT name, page_url, erased_at FROM queue_entries WHERE id = $1`, id).Scan(&name, &page, &at); err != nil {
			t.Fatalf("entry %s: %v", id, err)
		}
		return name, page, at != nil
	}
	if name, page, _ := entry(a.EntryID); name != "Sam" || page == "" {
		t.Fatalf("entry A before the purge: %q %q", name, page)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		name, page, erased := entry(a.EntryID)
		cbData, _, _, _, cbErased := callback(cbD.ID)
		var doraEvents int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM merchant_events WHERE strpos(convert_from(body, 'UTF8'), 'dora@shop.example') > 0`).Scan(&doraEvents); err != nil {
			t.Fatal(err)
		}
		if name == "" && page == "" && erased && cbData == "" && cbErased && doraEvents == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after a retention of 1 s, entry A holds %q %q, callback D holds %q, %d merchant events hold D's email", name, page, cbData, doraEvents)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, state, outcome, done, _ := callback(cbD.ID); state != "done" || outcome != "reached" || !done {
		t.Fatalf("purged callback D: %s %s done=%v; want done, reached, its time kept (statistics)", state, outcome, done)
	}
	var entries, calls int
	var ended *time.Time
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM queue_entries), (SELECT count(*) FROM calls), (SELECT ended_at FROM calls WHERE id = $1)`, callID).Scan(&entries, &calls, &ended); err != nil {
		t.Fatal(err)
	}
	if entries != 3 || calls != 1 || ended == nil {
		t.Fatalf("after the purge: %d entries, %d calls, call ended at %v; want 3, 1 and a time (statistics still count them)", entries, calls, ended)
	}
	for _, id := range []string{b.EntryID, c.EntryID} {
		if name, _, erased := entry(id); name != "Sam" || erased {
			t.Fatalf("waiting entry %s purged: %q", id, name)
		}
	}

	// B asks to be forgotten; C is not touched.
	api(t, http.MethodDelete, base+"/api/v1/admin/shoppers/"+b.EntryID, admin, nil, nil, http.StatusNoContent)
	api(t, http.MethodDelete, base+"/api/v1/admin/shoppers/e_nobody", admin, nil, nil, http.StatusNotFound)
	api(t, http.MethodDelete, base+"/api/v1/admin/shoppers/"+c.EntryID, loginGuide(t, node.endpoint()), nil, nil, http.StatusForbidden)
	if name, page, erased := entry(b.EntryID); name != "" || page != "" || !erased {
		t.Fatalf("entry B after its erasure: %q %q erased=%v", name, page, erased)
	}
	if name, page, erased := entry(c.EntryID); name != "Sam" || page == "" || erased {
		t.Fatalf("erasing B touched C: %q %q erased=%v", name, page, erased)
	}
	out := runCLI(t, guidecallBinary(t), "purge", "--database-url", url, "--entry", c.EntryID)
	if name, _, erased := entry(c.EntryID); name != "" || !erased {
		t.Fatalf("guidecall purge --entry left C's name %q (%s)", name, out)
	}

	// Customers E and F of the merchant's wait, each with an open callback
	// asked for with its signed token: nothing the retention purge takes.
	tokenOf := func(sub string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(customerSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	customer := func(sub string) (entryID, callbackID string) {
		var j joined
		api(t, http.MethodPost, base+"/api/v1/queue", "", map[string]string{
			"currency": "EUR", "name": "Sam", "page_url": "https://shop.example/order/7", "customer_token": tokenOf(sub),
		}, &j, http.StatusCreated)
		var cb struct {
			ID string `json:"callback_id"`
		}
		api(t, http.MethodPost, base+"/api/v1/queues/default/callbacks", "", map[string]string{
			"name": "Sam", "phone": "+49 30 7654321", "email": sub + "@shop.example", "message": "about order 7", "customer_token": tokenOf(sub),
		}, &cb, http.StatusCreated)
		return j.EntryID, cb.ID
	}
	e, cbE := customer("cust-e")
	f, cbF := customer("cust-f")
	var erasedE struct{ Entries, Callbacks int }
	api(t, http.MethodDelete, base+"/api/v1/admin/customers/cust-e", admin, nil, &erasedE, http.StatusOK)
	if erasedE.Entries != 1 || erasedE.Callbacks != 1 {
		t.Fatalf("erasure of cust-e: %+v, want 1 entry and 1 callback", erasedE)
	}
	if name, page, erased := entry(e); name != "" || page != "" || !erased {
		t.Fatalf("entry of cust-e after its erasure: %q %q erased=%v", name, page, erased)
	}
	if data, state, outcome, _, erased := callback(cbE); data != "" || state != "done" || outcome != "erased" || !erased {
		t.Fatalf("callback of cust-e after its erasure: %q %s %s erased=%v", data, state, outcome, erased)
	}
	if name, _, erased := entry(f); name != "Sam" || erased {
		t.Fatalf("erasing cust-e touched cust-f's entry: %q erased=%v", name, erased)
	}
	// The callback.requested events kept for merchant webhooks held the
	// same shopper fields.
	eventsHolding := func(text string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM merchant_events WHERE strpos(convert_from(body, 'UTF8'), $1) > 0`, text).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := eventsHolding("cust-e@shop.example"); n != 0 {
		t.Errorf("%d merchant events still hold cust-e's email after the erasure", n)
	}
	if n := eventsHolding("cust-f@shop.example"); n != 1 {
		t.Errorf("%d merchant events hold cust-f's email, want 1 (not erased)", n)
	}
	if data, state, _, _, _ := callback(cbF); !strings.Contains(data, "about order 7") || !strings.Contains(data, "cust-f") || state != "open" {
		t.Fatalf("erasing cust-e touched cust-f's callback: %q %s", data, state)
	}
	out = runCLI(t, guidecallBinary(t), "purge", "--database-url", url, "--customer", "cust-f")
	if !strings.Contains(out, "1 entr(ies), 1 callback(s)") {
		t.Errorf("guidecall purge --customer said %q", out)
	}
	if name, _, erased := entry(f); name != "" || !erased {
		t.Fatalf("guidecall purge --customer left F's name %q (%s)", name, out)
	}
	if data, _, outcome, _, _ := callback(cbF); data != "" || outcome != "erased" {
		t.Fatalf("guidecall purge --customer left F's callback %q %s (%s)", data, outcome, out)
	}
	if n := eventsHolding("cust-f@shop.example"); n != 0 {
		t.Errorf("guidecall purge --customer left cust-f's email in %d merchant events", n)
	}
	if n := eventsHolding("Sam"); n != 0 {
		t.Errorf("%d merchant events still hold the name of an erased customer", n)
	}
	var callbacks int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM queue_entries), (SELECT count(*) FROM callbacks)`).Scan(&entries, &callbacks); err != nil {
		t.Fatal(err)
	}
	if entries != 5 || callbacks != 3 {
		t.Fatalf("after every erasure %d entries, %d callbacks; want 5 and 3 (statistics still count them)", entries, callbacks)
	}
}

// allocateOn tries one TURN allocation with a credential on the server at
// a turn: URL's host and port (UDP).
func allocateOn(t *testing.T, turnURL, user, pass string) error {
	t.Helper()
	hostPort := strings.TrimPrefix(strings.Split(turnURL, "?")[0], "turn:")
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: hostPort, Username: user, Password: pass, Realm: "guidecall",
		Conn: conn, RTO: 100 * time.Millisecond, LoggerFactory: logging.NewDefaultLoggerFactory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		_ = relay.Close()
	}
	return err
}

// TestShopperTURNRevokedAcrossNodes: a shopper gets TURN credentials from
// node B while its guide is on node A; when the guide hangs up on A, B's
// TURN server refuses the credential, told through the cluster's bus.
func TestShopperTURNRevokedAcrossNodes(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const pw = "turn guide password 9"
	addAccount(t, bin, url, "turn-g@e2e.local", "TURN Guide", pw, "guide")
	a := startProc(t, bin, "node-a", procConfig{databaseURL: url, ip: "127.0.0.1"})
	b := startProc(t, bin, "node-b", procConfig{databaseURL: url, ip: "127.0.0.2"})

	guideWS := dialWS(t, "guide-on-a", wsURLOf(a.endpoint("", "")), login(t, a.url, "turn-g@e2e.local", pw))
	guideWS.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	j := joinQueue(t, b.url)
	shopper := dialWS(t, "shopper-on-b", j.WSURL, j.Token)
	var offer protocol.Offer
	guideWS.AwaitInto(protocol.TypeOffer, "", &offer)
	guideWS.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: offer.OfferID})
	callID := shopper.Await(protocol.TypeCallMatched, "").CallID

	var ice struct {
		ICEServers []struct {
			URLs                 []string
			Username, Credential string
		} `json:"iceServers"`
	}
	api(t, http.MethodGet, b.url+"/api/v1/ice-servers", j.Token, nil, &ice, http.StatusOK)
	s := ice.ICEServers[0]
	if err := allocateOn(t, s.URLs[0], s.Username, s.Credential); err != nil {
		t.Fatalf("allocation during the call: %v", err)
	}
	guideWS.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	shopper.Await(protocol.TypeCallEnded, "")
	// The revocation travels A → PostgreSQL → B; the shopper heard of the
	// end by the same way, so it is there by now or within moments.
	deadline := time.Now().Add(5 * time.Second)
	for allocateOn(t, s.URLs[0], s.Username, s.Credential) == nil {
		if time.Now().After(deadline) {
			t.Fatal("node-b's TURN still allocates with the credential of a call that ended on node-a")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
