package signaling_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/signaling"
)

// What one waiting socket costs the node is measured with the clients in
// another process (this test binary, run again as TestIdleClients), so
// that the server's heap, stacks and RSS hold only the server's side.

var (
	idleSockets = flag.Int("idle-sockets", 2000, "BenchmarkIdleSocket: how many waiting sockets to open")
	idleProfile = flag.String("idle-profile", "", "BenchmarkIdleSocket: write heap and goroutine profiles, taken with the sockets open, to this path prefix")
)

// The child process's parameters travel in the environment.
const (
	idleURLEnv   = "GUIDECALL_IDLE_CLIENTS_URL"
	idleCountEnv = "GUIDECALL_IDLE_CLIENTS_N"
)

// idleAuth takes "idle-<n>" as the token of shopper e_idle_<n>.
type idleAuth struct{}

func (idleAuth) Authenticate(_ context.Context, token string) (signaling.Identity, error) {
	n, ok := strings.CutPrefix(token, "idle-")
	if !ok {
		return signaling.Identity{}, errors.New("unknown token")
	}
	return signaling.Identity{Address: signaling.Address{Role: protocol.RoleShopper, ID: "e_idle_" + n}, Name: "Sam"}, nil
}

// idleSessions welcomes every shopper with a queue position, the frame a
// waiting shopper gets, and counts the closes.
type idleSessions struct{ closed sync.WaitGroup }

func (s *idleSessions) Open(_ context.Context, who signaling.Identity) (protocol.Welcome, error) {
	s.closed.Add(1)
	return protocol.Welcome{Role: who.Role}, nil
}

func (s *idleSessions) Close(context.Context, signaling.Identity) { s.closed.Done() }

// memSample is what the process holds at one moment, after a GC.
type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func sampleMem(b *testing.B) memSample {
	b.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stack: ms.StackInuse, rss: vmRSS(b), goroutines: runtime.NumGoroutine()}
}

// vmRSS is this process's resident set from /proc/self/status, in bytes.
func vmRSS(b *testing.B) uint64 {
	b.Helper()
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(s)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkIdleSocket reports what one authenticated socket that waits
// (no traffic but the hub's pings) costs the node: heap, goroutine stacks
// and RSS per socket, and goroutines per socket, with -idle-sockets of
// them open on loopback. Run it once per count:
//
//	go test ./signaling/ -run '^$' -bench BenchmarkIdleSocket -benchtime 1x -idle-sockets 10000
func BenchmarkIdleSocket(b *testing.B) {
	n := *idleSockets
	for b.Loop() {
		benchIdle(b, n)
	}
}

func benchIdle(b *testing.B, n int) {
	sessions := &idleSessions{}
	hub, err := signaling.NewHub(signaling.Config{
		Auth: idleAuth{}, Sessions: sessions, Logger: quietLogger(),
		MaxConnections: n + 10, MaxConnectionsPerIP: n + 10,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	b.StopTimer()
	before := sampleMem(b)
	b.StartTimer()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestIdleClients$", "-test.v")
	cmd.Env = append(os.Environ(), idleURLEnv+"=ws"+strings.TrimPrefix(srv.URL, "http"), idleCountEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The child prints "ready" once every socket has its welcome, which the
	// hub queues after it registered the socket.
	ready := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		_ = stdin.Close()
		_ = cmd.Wait()
		b.Fatalf("the client process ended before its %d sockets were open", n)
	}
	b.StopTimer()
	if got := hub.Connections(); got != n {
		b.Errorf("hub holds %d sockets, want %d", got, n)
	}
	full := sampleMem(b)
	if *idleProfile != "" {
		writeProfile(b, *idleProfile+".heap", "heap")
		writeProfile(b, *idleProfile+".goroutine", "goroutine")
	}
	per := func(after, before uint64) float64 { return (float64(after) - float64(before)) / float64(n) }
	b.ReportMetric(per(full.heap, before.heap), "heap-B/socket")
	b.ReportMetric(per(full.stack, before.stack), "stack-B/socket")
	b.ReportMetric(per(full.rss, before.rss), "rss-B/socket")
	b.ReportMetric(float64(full.goroutines-before.goroutines)/float64(n), "goroutines/socket")

	// Closing stdin tells the child to exit; its sockets end with it, and
	// the hub tells Sessions of every close.
	_ = stdin.Close()
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := cmd.Wait(); err != nil {
		b.Errorf("client process: %v", err)
	}
	sessions.closed.Wait()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if err := hub.Shutdown(sctx); err != nil {
		b.Errorf("hub shutdown: %v", err)
	}
	b.StartTimer()
}

func writeProfile(b *testing.B, path, name string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// TestIdleClients is BenchmarkIdleSocket's client process: it opens the
// sockets, authenticates each, waits for every welcome, prints "ready" and
// holds them (answering pings) until its stdin closes.
func TestIdleClients(t *testing.T) {
	url, count := os.Getenv(idleURLEnv), os.Getenv(idleCountEnv)
	if url == "" {
		t.Skip("run by BenchmarkIdleSocket")
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	work := make(chan int)
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				ws, err := dialIdle(ctx, url, i)
				if err != nil {
					select {
					case errc <- fmt.Errorf("socket %d: %w", i, err):
					default:
					}
					continue
				}
				conns[i] = ws
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	for _, ws := range conns {
		// CloseRead reads (and so answers pings) until the socket ends.
		ws.CloseRead(ctx)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		_ = ws.CloseNow()
	}
}

func dialIdle(ctx context.Context, url string, i int) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	if err := ws.Write(dctx, websocket.MessageText, []byte(`{"v":1,"type":"auth","data":{"token":"idle-`+strconv.Itoa(i)+`"}}`)); err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	_, m, err := ws.Read(dctx)
	if err != nil || !strings.Contains(string(m), `"welcome"`) {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("welcome: %s %v", m, err)
	}
	return ws, nil
}
