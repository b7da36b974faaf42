package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Postgres tests run the real binary as child processes, so that a node
// can die by SIGKILL with its sockets, its TURN relays and its database
// sessions, as a crashed machine would.

var (
	buildOnce sync.Once
	buildDir  string
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// guidecallBinary builds cmd/guidecall once per test run (with -race when
// the tests run with it, so the nodes' races fail the test too) and returns
// its path.
func guidecallBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("go env GOMOD: not in a module")
			return
		}
		if buildDir, err = os.MkdirTemp("", "guidecall-e2e-"); err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(buildDir, "guidecall")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/guidecall")...)
		cmd.Dir = filepath.Dir(gomod)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/guidecall: %w\n%s", err, out)
			return
		}
		t.Logf("built %s (race=%v) in %d ms", bin, raceEnabled, time.Since(start).Milliseconds())
		builtBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// childEnv is this process's environment without GUIDECALL_* variables,
// so that only the flags a test passes configure a child.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GUIDECALL_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCLI runs a guidecall subcommand to completion and returns its output.
func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("guidecall %s: %v\n%s", strings.Join(args[:min(2, len(args))], " "), err, out)
	}
	return string(out)
}

// freePort returns a port free for both TCP and UDP on ip. Another process
// may take it before the child binds it; the ports are picked just before
// use to keep that window small.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = pc.Close()
			return port
		}
	}
	t.Fatalf("no port free for TCP and UDP on %s after 50 tries", ip)
	return 0
}

// clusterSecrets are shared by every node of a test cluster.
const (
	clusterJWTSecret     = "e2e-cluster-jwt-secret-0123456789abcdef"
	clusterTURNSecret    = "e2e-cluster-turn-secret"
	clusterSandboxSecret = "e2e-cluster-sandbox-secret"
)

// procConfig is what differs between the nodes of a test cluster.
type procConfig struct {
	databaseURL  string
	ip           string   // HTTP and TURN listen IP
	allowedPeers string   // --turn-allowed-peers
	env          []string // KEY=VALUE added to the child's environment (test hooks)
	extraArgs    []string // more serve flags
	// demoDefault leaves --demo-guide out, so the node picks its default.
	demoDefault bool
}

// procNode is a `guidecall serve` child process. It can be killed and
// started again with the same flags; its stdout and stderr go to files
// that are printed when the test fails.
type procNode struct {
	t       *testing.T
	name    string
	bin     string
	args    []string
	env     []string
	url     string
	outPath string
	errPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// startProc starts a node on fresh ports and waits until it is ready. The
// process is killed and waited for when the test ends.
func startProc(t *testing.T, bin, name string, c procConfig) *procNode {
	t.Helper()
	httpPort, turnPort := freePort(t, c.ip), freePort(t, c.ip)
	args := []string{
		"--database-url", c.databaseURL,
		"--http-addr", net.JoinHostPort(c.ip, strconv.Itoa(httpPort)),
		"--turn-port", strconv.Itoa(turnPort),
		"--turn-listen-ip", c.ip,
		"--jwt-secret", clusterJWTSecret,
		"--turn-secret", clusterTURNSecret,
		"--sandbox-secret", clusterSandboxSecret,
		"--join-rate", "100000",
		"--join-burst", "1000",
		"--log-level", "debug",
	}
	if !c.demoDefault {
		args = append(args, "--demo-guide=false")
	}
	args = append(args, c.extraArgs...)
	if c.allowedPeers != "" {
		args = append(args, "--turn-allowed-peers", c.allowedPeers)
	}
	dir := t.TempDir()
	n := &procNode{
		t: t, name: name, bin: bin, args: args, env: c.env,
		url:     "http://" + net.JoinHostPort(c.ip, strconv.Itoa(httpPort)),
		outPath: filepath.Join(dir, name+".stdout"),
		errPath: filepath.Join(dir, name+".stderr"),
	}
	// Cleanups run last-in first-out: kill first, then report.
	t.Cleanup(n.report)
	t.Cleanup(n.kill)
	n.start()
	n.waitReady(30 * time.Second)
	return n
}

// start runs the binary with the node's flags, appending to its log files.
func (n *procNode) start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.t.Fatalf("%s: already running", n.name)
	}
	n.starts++
	open := func(path string) *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			n.t.Fatal(err)
		}
		fmt.Fprintf(f, "=== e2e: start %d of %s ===\n", n.starts, n.name)
		return f
	}
	stdout, stderr := open(n.outPath), open(n.errPath)
	defer stdout.Close()
	defer stderr.Close()
	cmd := exec.Command(n.bin, append([]string{"serve"}, n.args...)...)
	cmd.Env = append(childEnv(), n.env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("%s: start: %v", n.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.cmd, n.exited = cmd, exited
}

// pid is the process id of the running node.
func (n *procNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd.Process.Pid
}

// stdout returns what the node printed to stdout so far.
func (n *procNode) stdout() string {
	b, _ := os.ReadFile(n.outPath)
	return string(b)
}

// kill sends SIGKILL and waits for the process to be gone. Safe to call
// when it is not running.
func (n *procNode) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.t.Errorf("%s: pid %d still running 10 s after SIGKILL", n.name, n.cmd.Process.Pid)
	}
	n.cmd, n.exited = nil, nil
}

// waitReady polls /readyz until it answers 200, failing the test if the
// process exits or the timeout passes first.
func (n *procNode) waitReady(timeout time.Duration) {
	n.t.Helper()
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			n.t.Fatalf("%s: exited before it was ready", n.name)
		default:
		}
		resp, err := client.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	n.t.Fatalf("%s: not ready after %s: %s", n.name, timeout, last)
}

// log returns what the current (last started) process wrote to stderr.
func (n *procNode) log() string {
	b, err := os.ReadFile(n.errPath)
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndex(s, "=== e2e: start "); i >= 0 {
		s = s[i:]
	}
	return s
}

// leads reports whether the current process leads the matcher, by its log.
func (n *procNode) leads() bool {
	l := n.log()
	return strings.LastIndex(l, "matcher leading on this node") > strings.LastIndex(l, "matcher leadership lost")
}

// report prints the logs of a failed test and fails one whose node met a
// data race.
func (n *procNode) report() {
	b, _ := os.ReadFile(n.errPath)
	if strings.Contains(string(b), "WARNING: DATA RACE") {
		n.t.Errorf("%s: the node reported a data race", n.name)
	}
	if !n.t.Failed() {
		return
	}
	out, _ := os.ReadFile(n.outPath)
	n.t.Logf("---- %s stdout ----\n%s", n.name, out)
	n.t.Logf("---- %s stderr ----\n%s", n.name, b)
}

// endpoint is the node's URL with a guide account made with `guide add`.
func (n *procNode) endpoint(email, password string) endpoint {
	return endpoint{url: n.url, guideEmail: email, guidePassword: password}
}

// addAccount creates an account with `guidecall guide add`.
func addAccount(t *testing.T, bin, databaseURL, email, name, password, role string) {
	t.Helper()
	runCLI(t, bin, "guide", "add", "--database-url", databaseURL, "--email", email, "--name", name, "--password", password, "--role", role)
}

// hostOf is the host part of a base URL.
func hostOf(t *testing.T, baseURL string) string {
	t.Helper()
	u, err := neturl.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}
