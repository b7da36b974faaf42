// Command turnbench measures the bundled TURN server against coturn, side
// by side on this machine: the same pion client load through each, to a
// loopback echo peer, in interleaved runs. It prints echoed packets per
// second, loss and server CPU per packet (from /proc/<pid>/stat), and the
// ratio to coturn. It is a tool for docs/PERFORMANCE.md, not a test:
// .ci/run does not run it.
//
//	go run ./cmd/turnbench                      # 50 clients x 10,000 packets of 1000 B and 100 B, 3 rounds
//	go run ./cmd/turnbench -rounds 5 -packets 2000
//	go build -o /tmp/old ./cmd/turnbench   # at an older commit, then:
//	go run ./cmd/turnbench -servers guidecall@/tmp/old,guidecall,coturn
//
// Each server runs in its own process so its CPU can be read apart from the
// load generator's: guidecall's TURN is this binary re-run with -serve
// (batched UDP, and again with -unbatched for the one-datagram-per-call
// path), coturn is Debian's turnserver when installed, started with the
// equivalent settings (use-auth-secret, one realm, relays on 127.0.0.1,
// loopback peers allowed, no TLS/DTLS/CLI, as many threads as CPUs).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"guidecall/turnserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "turnbench:", err)
		os.Exit(1)
	}
}

type options struct {
	clients, packets, window, rounds int
	sizes                            []int
	coturn                           string
	servers                          []string
	lossWait                         time.Duration
	profile                          string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("turnbench", flag.ContinueOnError)
	var o options
	serve := fs.Bool("serve", false, "internal: run guidecall's TURN server and report on stdin's request")
	unbatched := fs.Bool("unbatched", false, "internal: with -serve, one datagram per system call")
	port := fs.Int("port", 0, "internal: with -serve, the UDP port")
	secret := fs.String("secret", "", "internal: with -serve, the shared secret")
	fs.StringVar(&o.profile, "profile", "", "write guidecall's CPU and allocation profiles (cpu.pprof, allocs.pprof) into this directory")
	fs.IntVar(&o.clients, "clients", 50, "TURN clients, each with its own allocation")
	fs.IntVar(&o.packets, "packets", 10000, "packets each client sends per run")
	fs.IntVar(&o.window, "window", 16, "packets one client has in flight at most")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (every server and size once per round)")
	sizes := fs.String("sizes", "1000,100", "payload sizes in bytes, comma-separated")
	fs.StringVar(&o.coturn, "coturn", "turnserver", "coturn's turnserver binary; skipped when not found")
	servers := fs.String("servers", "guidecall,guidecall-unbatched,coturn", "servers to run, comma-separated; guidecall@PATH runs the server of another turnbench build")
	fs.DurationVar(&o.lossWait, "loss-wait", 300*time.Millisecond, "how long a client waits for an echo before counting its window lost")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve {
		return serveGuidecall(ctx, *port, *secret, *unbatched, o.profile)
	}
	if o.profile != "" {
		// Made here, not by the server process, whose failure would only
		// read as "guidecall did not start".
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 4 || n > 1400 {
			return fmt.Errorf("-sizes %q: want sizes of 4-1400 bytes", *sizes)
		}
		o.sizes = append(o.sizes, n)
	}
	o.servers = strings.Split(*servers, ",")
	if o.clients < 1 || o.packets < 1 || o.window < 1 || o.rounds < 1 {
		return errors.New("-clients, -packets, -window and -rounds must be positive")
	}
	return bench(ctx, o, out)
}

// serveGuidecall is the child process: guidecall's TURN server on
// 127.0.0.1:port until stdin closes. Each line on stdin is answered with
// the process's heap allocations so far and the packets relayed, so the
// parent can work out allocations per packet.
func serveGuidecall(ctx context.Context, port int, secret string, unbatched bool, profile string) error {
	if profile != "" {
		// Every allocation sampled, so allocs.pprof counts them.
		runtime.MemProfileRate = 1
		f, err := os.Create(filepath.Join(profile, "cpu.pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
			if m, err := os.Create(filepath.Join(profile, "allocs.pprof")); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(m, 0)
				_ = m.Close()
			}
		}()
	}
	s, err := turnserver.New(turnserver.Config{
		ListenIP: "127.0.0.1", Port: port, Secret: []byte(secret), Realm: "guidecall",
		// The echo peer is on loopback, which the policy refuses unless
		// allowed, as coturn's --allow-loopback-peers does.
		AllowedPeers:          []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxAllocationsPerUser: 1 << 20,
		UnbatchedUDP:          unbatched,
		Logger:                slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	defer s.Stop()
	fmt.Println("ready", s.UDPAddr().String())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := s.Stats()
		fmt.Printf("mallocs %d packets %d reads %d/%d writes %d/%d gso %d/%d\n", ms.Mallocs, st.PacketsToPeers+st.PacketsFromPeers,
			st.UDPReadDatagrams, st.UDPReadCalls, st.UDPWriteDatagrams, st.UDPWriteCalls, st.GSODatagrams, st.GSOTrains)
	}
	return nil
}

// server is one TURN server process under test.
type server struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
}

func freePort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func startServer(ctx context.Context, name, coturn, secret, profile string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, addr: "127.0.0.1:" + strconv.Itoa(port)}
	// "guidecall@PATH" is guidecall's server from another build of this
	// command (an older commit), so before and after run interleaved.
	base, bin, other := strings.Cut(name, "@")
	if other && base != "guidecall" {
		return nil, fmt.Errorf("unknown server %q", name)
	}
	switch base {
	case "guidecall", "guidecall-unbatched":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if other {
			self = bin
		}
		// The child picks its own port (UDP and TCP both free) and says
		// which.
		args := []string{"-serve", "-port", "0", "-secret", secret}
		if name == "guidecall-unbatched" {
			args = append(args, "-unbatched")
		} else if profile != "" {
			args = append(args, "-profile", profile)
		}
		s.cmd = exec.CommandContext(ctx, self, args...)
	case "coturn":
		path, err := exec.LookPath(coturn)
		if err != nil {
			return nil, fmt.Errorf("coturn: %w", err)
		}
		dir, err := os.MkdirTemp("", "turnbench-coturn")
		if err != nil {
			return nil, err
		}
		s.cmd = exec.CommandContext(ctx, path, "-n",
			"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port), "--relay-ip=127.0.0.1",
			"--use-auth-secret", "--static-auth-secret="+secret, "--realm=guidecall",
			"--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1",
			"--no-tls", "--no-dtls", "--no-cli", "--no-tcp-relay",
			"--log-file=/dev/null", "--simple-log", "--pidfile="+filepath.Join(dir, "pid"),
			"--relay-threads="+strconv.Itoa(runtime.NumCPU()), "--user-quota=0", "--total-quota=0")
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	s.cmd.Stderr = io.Discard
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.stdout = bufio.NewScanner(stdout)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	if name != "coturn" {
		if !s.stdout.Scan() {
			s.stop()
			return nil, fmt.Errorf("%s did not start", name)
		}
		addr, ok := strings.CutPrefix(s.stdout.Text(), "ready ")
		if !ok {
			s.stop()
			return nil, fmt.Errorf("%s did not start: %q", name, s.stdout.Text())
		}
		s.addr = addr
	} else {
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		if err := waitUDP(ctx, s.addr, secret); err != nil {
			s.stop()
			return nil, fmt.Errorf("coturn did not answer: %w", err)
		}
	}
	return s, nil
}

// waitUDP allocates once, which succeeds when the server is up.
func waitUDP(ctx context.Context, addr, secret string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := newClient(addr, secret, "probe")
		if err == nil {
			c.close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// cpu is the process's user+system time so far.
func (s *server) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", s.cmd.Process.Pid)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// counters asks a guidecall child for its allocation and packet counts.
func (s *server) counters() (mallocs, packets uint64, detail string, ok bool) {
	if s.name == "coturn" {
		return 0, 0, "", false
	}
	if _, err := fmt.Fprintln(s.stdin, "stats"); err != nil || !s.stdout.Scan() {
		return 0, 0, "", false
	}
	line := s.stdout.Text()
	var r1, r2, w1, w2 uint64
	if _, err := fmt.Sscanf(line, "mallocs %d packets %d reads %d/%d writes %d/%d", &mallocs, &packets, &r1, &r2, &w1, &w2); err != nil {
		return 0, 0, "", false
	}
	detail = fmt.Sprintf("%d/%d/%d/%d", r1, r2, w1, w2)
	// Builds before UDP_SEGMENT do not report it.
	if _, rest, ok := strings.Cut(line, " gso "); ok {
		detail += " gso " + rest
	}
	return mallocs, packets, detail, true
}

// client is one TURN client with its relay and a channel to the echo peer.
type client struct {
	conn  net.PacketConn
	c     *turn.Client
	relay net.PacketConn
}

func newClient(addr, secret, id string) (*client, error) {
	user, pass := turnserver.NewCredentials([]byte(secret), id, time.Hour, time.Now())
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: addr, Username: user, Password: pass, Realm: "guidecall",
		Conn: conn, RTO: 200 * time.Millisecond,
		LoggerFactory: quietLoggers{},
	})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := c.Listen(); err != nil {
		c.Close()
		_ = conn.Close()
		return nil, err
	}
	relay, err := c.Allocate()
	if err != nil {
		c.Close()
		_ = conn.Close()
		return nil, err
	}
	return &client{conn: conn, c: c, relay: relay}, nil
}

func (c *client) close() {
	_ = c.relay.Close()
	c.c.Close()
	_ = c.conn.Close()
}

// quietLoggers silences pion's client logs.
type quietLoggers struct{}

func (quietLoggers) NewLogger(string) logging.LeveledLogger {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f.NewLogger("turnbench")
}

// echo answers every datagram with itself, batch by batch.
func echo(ctx context.Context) (net.Addr, func(), error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	u := pc.(*net.UDPConn)
	_ = u.SetReadBuffer(8 << 20)
	_ = u.SetWriteBuffer(8 << 20)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for ctx.Err() == nil {
			n, from, err := u.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = u.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return pc.LocalAddr(), func() { _ = pc.Close(); wg.Wait() }, nil
}

// result is one run of one server at one size.
type result struct {
	server      string
	size        int
	sent, got   int
	elapsed     time.Duration
	cpu         time.Duration
	allocsPerPk float64 // guidecall only; -1 when unknown
	batches     string
}

func (r result) pps() float64  { return float64(r.got) / r.elapsed.Seconds() }
func (r result) loss() float64 { return 100 * float64(r.sent-r.got) / float64(r.sent) }

// cpuPerPacket is server CPU per echoed packet (which crosses it twice).
func (r result) cpuPerPacket() time.Duration {
	if r.got == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.got)
}

func runOnce(ctx context.Context, o options, s *server, secret string, peer net.Addr, size, round int) (result, error) {
	clients := make([]*client, o.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for i := range clients {
		c, err := newClient(s.addr, secret, fmt.Sprintf("bench-%d-%d-%d", round, size, i))
		if err != nil {
			return result{}, fmt.Errorf("%s: client %d: %w", s.name, i, err)
		}
		clients[i] = c
	}
	// Warm up: each client's first datagrams ask for a permission and a
	// channel; measured traffic is ChannelData both ways.
	for _, c := range clients {
		if err := warm(c, peer); err != nil {
			return result{}, fmt.Errorf("%s: warm-up: %w", s.name, err)
		}
	}
	m0, p0, _, haveCounters := s.counters()
	cpu0, err := s.cpu()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	sent := make([]int, len(clients))
	got := make([]int, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], got[i] = drive(ctx, c, peer, size, o.packets, o.window, o.lossWait)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := s.cpu()
	if err != nil {
		return result{}, err
	}
	r := result{server: s.name, size: size, elapsed: elapsed, cpu: cpu1 - cpu0, allocsPerPk: -1}
	for i := range clients {
		r.sent += sent[i]
		r.got += got[i]
	}
	if m1, p1, detail, ok := s.counters(); ok && haveCounters && p1 > p0 {
		// Per echoed packet: two relayed datagrams.
		r.allocsPerPk = float64(m1-m0) / float64(p1-p0) * 2
		r.batches = detail
	}
	return r, nil
}

func warm(c *client, peer net.Addr) error {
	buf := make([]byte, 2048)
	for try := 0; try < 50; try++ {
		if _, err := c.relay.WriteTo([]byte("warm"), peer); err != nil {
			return err
		}
		_ = c.relay.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := c.relay.ReadFrom(buf); err == nil {
			// A few more so the channel binding is in place.
			for range 3 {
				_, _ = c.relay.WriteTo([]byte("warm"), peer)
				_ = c.relay.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				_, _, _ = c.relay.ReadFrom(buf)
			}
			return nil
		}
	}
	return errors.New("no echo through the relay")
}

// drive sends n packets of size with at most window in flight and counts
// the distinct echoes; a window that gets no echo within lossWait is
// given up on (late echoes still count).
func drive(ctx context.Context, c *client, peer net.Addr, size, n, window int, lossWait time.Duration) (sent, got int) {
	payload := make([]byte, size)
	seen := make([]bool, n)
	buf := make([]byte, 2048)
	inflight := 0
	for sent < n && ctx.Err() == nil {
		for inflight < window && sent < n {
			putSeq(payload, sent)
			if _, err := c.relay.WriteTo(payload, peer); err != nil {
				return sent, got
			}
			sent++
			inflight++
		}
		_ = c.relay.SetReadDeadline(time.Now().Add(lossWait))
		k, _, err := c.relay.ReadFrom(buf)
		if err != nil {
			inflight = 0
			continue
		}
		if seq := getSeq(buf[:k]); seq >= 0 && seq < n && !seen[seq] {
			seen[seq] = true
			got++
			inflight--
		}
	}
	// The tail: wait for what is still coming.
	for got < sent {
		_ = c.relay.SetReadDeadline(time.Now().Add(lossWait))
		k, _, err := c.relay.ReadFrom(buf)
		if err != nil {
			break
		}
		if seq := getSeq(buf[:k]); seq >= 0 && seq < n && !seen[seq] {
			seen[seq] = true
			got++
		}
	}
	return sent, got
}

func putSeq(p []byte, seq int) {
	p[0], p[1], p[2], p[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
}

func getSeq(p []byte) int {
	if len(p) < 4 {
		return -1
	}
	return int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3])
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func bench(ctx context.Context, o options, out io.Writer) error {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	peer, stopEcho, err := echo(ctx)
	if err != nil {
		return err
	}
	defer stopEcho()

	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, name := range o.servers {
		s, err := startServer(ctx, strings.TrimSpace(name), o.coturn, secret, o.profile)
		if err != nil {
			fmt.Fprintf(out, "# skipping %s: %v\n", name, err)
			continue
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return errors.New("no server to measure")
	}
	fmt.Fprintf(out, "# turnbench: %d clients x %d packets, window %d, sizes %v, %d rounds, %d CPUs\n",
		o.clients, o.packets, o.window, o.sizes, o.rounds, runtime.NumCPU())
	fmt.Fprintf(out, "# load average before: %s\n", loadAverage())
	fmt.Fprintf(out, "%-20s %5s %5s %10s %7s %12s %10s %s\n", "server", "size", "round", "pkt/s", "loss%", "cpu/pkt(µs)", "allocs/pkt", "reads d/c writes d/c")
	var results []result
	for round := 1; round <= o.rounds; round++ {
		for _, size := range o.sizes {
			// Rotate the order each round so no server always goes first.
			for k := range servers {
				s := servers[(k+round)%len(servers)]
				r, err := runOnce(ctx, o, s, secret, peer, size, round)
				if err != nil {
					return err
				}
				results = append(results, r)
				allocs := "-"
				if r.allocsPerPk >= 0 {
					allocs = fmt.Sprintf("%.2f", r.allocsPerPk)
				}
				fmt.Fprintf(out, "%-20s %5d %5d %10.0f %7.2f %12.2f %10s %s\n", r.server, r.size, round, r.pps(), r.loss(),
					float64(r.cpuPerPacket().Nanoseconds())/1000, allocs, r.batches)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	fmt.Fprintf(out, "# load average after: %s\n", loadAverage())
	summarize(out, results, servers)
	return nil
}

// summarize prints the median and spread (min-max) per server and size,
// and the ratio of each guidecall variant's medians to coturn's.
func summarize(out io.Writer, results []result, servers []*server) {
	type key struct {
		server string
		size   int
	}
	med := map[key][2]float64{}
	fmt.Fprintf(out, "\n%-20s %5s %22s %10s %22s\n", "server", "size", "pkt/s median (min-max)", "loss% med", "cpu/pkt µs med (min-max)")
	var sizes []int
	seen := map[int]bool{}
	for _, r := range results {
		if !seen[r.size] {
			seen[r.size] = true
			sizes = append(sizes, r.size)
		}
	}
	for _, size := range sizes {
		for _, s := range servers {
			var pps, loss, cpu []float64
			for _, r := range results {
				if r.server == s.name && r.size == size {
					pps = append(pps, r.pps())
					loss = append(loss, r.loss())
					cpu = append(cpu, float64(r.cpuPerPacket().Nanoseconds())/1000)
				}
			}
			if len(pps) == 0 {
				continue
			}
			mp, lp, hp := stats(pps)
			ml, _, _ := stats(loss)
			mc, lc, hc := stats(cpu)
			med[key{s.name, size}] = [2]float64{mp, mc}
			fmt.Fprintf(out, "%-20s %5d %8.0f (%5.0f-%5.0f) %10.2f %8.2f (%5.2f-%5.2f)\n", s.name, size, mp, lp, hp, ml, mc, lc, hc)
		}
	}
	fmt.Fprintln(out)
	for _, size := range sizes {
		c, ok := med[key{"coturn", size}]
		if !ok {
			continue
		}
		for _, s := range servers {
			if s.name == "coturn" {
				continue
			}
			g := med[key{s.name, size}]
			fmt.Fprintf(out, "%-20s %5d B: %.2fx coturn's pkt/s, %.2fx coturn's CPU per packet\n", s.name, size, g[0]/c[0], g[1]/c[1])
		}
	}
}

func stats(v []float64) (median, lo, hi float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[0], s[n-1]
}
