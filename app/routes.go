package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"guidecall/frontend"
	"guidecall/internal/auth"
	"guidecall/internal/httpjson"
	"guidecall/protocol"
)

func (a *App) routes(issuer *auth.Issuer) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, requestLog(a.log), middleware.Recoverer)
	r.Use(secureHeaders, deadlines(a.cfg.HTTPBodyTimeout, a.cfg.HTTPWriteTimeout))
	if a.Metrics != nil {
		r.Use(a.Metrics.HTTP)
	}
	if a.certs != nil {
		r.Use(hsts)
	}

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.handleReady)
	r.Get("/api/openapi.json", serveOpenAPI)

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(apiCORS(a.origins), a.needStore)
		r.Mount("/auth", a.Auth.Routes())
		r.Mount("/admin/accounts", a.Auth.AdminRoutes())
		r.Get("/privacy", a.handlePrivacy)
		r.Handle("/ws", a.Hub)
		r.Mount("/calls/{callID}/payment-links", a.Payments.APIRoutes(a.Flow.PaymentAuthorizer()))
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/payment-links", a.Payments.AdminRoutes())
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/payment-limits", a.Payments.RiskRoutes())
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/sandbox/script", a.Sandbox.ScriptRoutes())
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/payment-providers", a.Payments.ProviderRoutes())
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/products", a.Catalog.AdminRoutes(tokenSubject))
		r.With(issuer.Middleware(protocol.RoleGuide)).Mount("/products", a.Catalog.GuideRoutes(tokenSubject))
		r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/replies", a.Catalog.MerchantReplyRoutes())
		r.With(issuer.Middleware(protocol.RoleGuide)).Mount("/replies", a.Catalog.GuideReplyRoutes(tokenSubject))
		if a.Merchant != nil {
			r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/webhooks", a.Merchant.AdminRoutes())
		} else if a.MerchantMemory != nil {
			r.With(issuer.Middleware(protocol.RoleAdmin)).Mount("/admin/webhooks", a.MerchantMemory.AdminRoutes())
		}
		r.Mount("/", a.Flow.Routes())
	})
	// A provider retries a webhook refused with 503, so nothing is lost
	// while the database is away.
	r.With(a.needStore).Mount("/webhooks", a.Payments.WebhookRoutes())
	r.Mount("/pay/sandbox", a.Sandbox.CheckoutRoutes())
	r.Handle("/*", frontend.HandlerFor(frontend.Options{AllowedOrigins: a.origins}))
	return r
}

func (a *App) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-a.stopping:
		httpjson.Error(w, http.StatusServiceUnavailable, "shutting_down", "this node is shutting down")
		return
	default:
	}
	if a.stores.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.stores.Ready(ctx); err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "store_unavailable", "the database does not answer")
			return
		}
		// The store just answered: serve the API now rather than after the
		// watcher's next ping, so a balancer that saw ready is not refused.
		if a.storeDown.Swap(false) {
			a.log.Info("database back; serving again")
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

// needStore answers 503 while the store is down, so clients retry rather
// than wait on requests that cannot succeed.
func (a *App) needStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.storeDown.Load() {
			w.Header().Set("Retry-After", "2")
			httpjson.Error(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestLog logs each request with its id, after it finished.
func requestLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || ww.Status() < 400 && r.Method == http.MethodGet {
				level = slog.LevelDebug
			}
			log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
				"bytes", ww.BytesWritten(), "ms", time.Since(start).Milliseconds(), "request_id", middleware.GetReqID(r.Context()))
		})
	}
}

// tokenSubject names the caller of a route behind a token check (an
// account id), for the logs of domains that do not read tokens.
func tokenSubject(r *http.Request) string {
	if c, ok := auth.ClaimsFrom(r.Context()); ok {
		return c.Subject
	}
	return ""
}
