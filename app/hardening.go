package app

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"guidecall/internal/config"
	"guidecall/internal/httpjson"
)

// hardenAuth gives auth its limits and stores and subscribes the call flow
// to what auth revokes (sockets of disabled guides, TURN credentials); the
// flow itself follows ended calls (their shoppers' TURN credentials).
func (a *App) hardenAuth(cfg config.Serve, stores Stores) {
	if stores.Sessions != nil {
		a.Auth.Sessions = stores.Sessions
	}
	a.Auth.ClientIP = a.clientIP
	a.Auth.Limits.HashConcurrency = cfg.LoginConcurrency
	a.Auth.Limits.PerAddressPerMinute = cfg.LoginRate
	a.Auth.Limits.PerAddressBurst = cfg.LoginBurst
	a.Auth.Limits.FirstDelay = cfg.LoginFirstDelay
	a.Auth.Limits.LockAfter = cfg.LoginLockAfter
	a.Auth.Limits.LockFor = cfg.LoginLockFor
	a.Auth.Subscribe(a.Flow.AuthEvent)
}

// secureHeaders sets what every answer carries: nosniff, so a browser
// never runs an answer as a type it guessed, and refuses a NUL in the URL,
// which no route takes.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.IndexByte(r.URL.Path, 0) >= 0 || strings.Contains(r.URL.RawQuery, "%00") {
			httpjson.Error(w, http.StatusBadRequest, "bad_request", "NUL in the URL")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// deadlines bounds each ordinary request: its body must arrive within
// bodyTimeout and its answer be written within writeTimeout, so a client
// trickling a body a byte at a time is cut off. A WebSocket upgrade is
// exempt: its deadlines are lifted before the hub takes the connection,
// which keeps its own heartbeat and write deadlines.
func deadlines(bodyTimeout, writeTimeout time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if isUpgrade(r) {
				_ = rc.SetReadDeadline(time.Time{})
				_ = rc.SetWriteDeadline(time.Time{})
			} else {
				now := time.Now()
				_ = rc.SetReadDeadline(now.Add(bodyTimeout))
				_ = rc.SetWriteDeadline(now.Add(writeTimeout))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// connCap closes new HTTP connections from an address that already holds
// max. It counts connections, not requests: this is what a slow-body
// flood holds. Trusted proxies are not capped: behind them every client
// shares their address. A hijacked (WebSocket) connection leaves the count; the
// hub caps those per address itself.
type connCap struct {
	max     int
	log     *slog.Logger
	trusted clientIPs

	mu      sync.Mutex
	byIP    map[string]int
	counted map[net.Conn]string
}

func newConnCap(max int, trusted clientIPs, log *slog.Logger) *connCap {
	return &connCap{max: max, log: log, trusted: trusted, byIP: map[string]int{}, counted: map[net.Conn]string{}}
}

func (c *connCap) track(conn net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		ip, _, err := net.SplitHostPort(conn.RemoteAddr().String())
		if err != nil {
			ip = conn.RemoteAddr().String()
		}
		if a, err := netip.ParseAddr(ip); err == nil && c.trusted.isTrusted(a.Unmap()) {
			return
		}
		c.mu.Lock()
		if c.byIP[ip] >= c.max {
			c.mu.Unlock()
			c.log.Warn("HTTP connection refused: too many from one address", "address", ip, "max", c.max)
			_ = conn.Close()
			return
		}
		c.byIP[ip]++
		c.counted[conn] = ip
		c.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		c.mu.Lock()
		if ip, ok := c.counted[conn]; ok {
			delete(c.counted, conn)
			if c.byIP[ip]--; c.byIP[ip] <= 0 {
				delete(c.byIP, ip)
			}
		}
		c.mu.Unlock()
	}
}
