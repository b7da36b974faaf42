package telemetry

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// HTTP counts requests by the route pattern chi matched (never the path
// itself, which holds ids) and times them. Put it after the router has a
// RouteContext, i.e. as a chi middleware of the root router.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		method := oneOf(r.Method, http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
			http.MethodDelete, http.MethodOptions)
		m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		// A WebSocket's request lasts as long as the socket: its latency
		// says nothing about the server.
		if status != http.StatusSwitchingProtocols {
			m.httpSeconds.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}
		if strings.HasPrefix(route, "/webhooks/") {
			m.webhookVerified.WithLabelValues(webhookResult(status)).Inc()
		}
	})
}

func webhookResult(status int) string {
	switch {
	case status < 300:
		return "accepted"
	case status < 500:
		return "rejected"
	}
	return "error"
}
