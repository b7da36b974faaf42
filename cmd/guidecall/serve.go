package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"guidecall/app"
	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/signaling"
)

const demoGuideEmail = "guide@demo.local"

// demoAdminEmail is the demo's admin, so a node on memory stores can use
// the admin API (merchant webhooks, limits, sandbox scripts) too.
const demoAdminEmail = "admin@demo.local"

// testWebhookDelayEnv is a test hook, deliberately not a flag: it holds
// every sandbox webhook back this long (e.g. "3s"), so that the
// end-to-end crash test can SIGKILL a node after Pay and before the
// delivery without racing it.
const testWebhookDelayEnv = "GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY"

// testMerchantScheduleEnv is a test hook too: the merchant webhook retry
// schedule as comma-separated durations ("200ms,500ms,1s"), so that an
// end-to-end test sees a receiver's outage healed in seconds, not hours.
const testMerchantScheduleEnv = "GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE"

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Serve
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	fs.Usage = config.Usage(fs, "guidecall serve: run a node (HTTP, WebSocket signaling, bundled TURN, matcher).")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if v := getenv(testWebhookDelayEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", testWebhookDelayEnv, err)
		}
		cfg.SandboxWebhookDelay = d
	}
	if v := getenv(testMerchantScheduleEnv); v != "" {
		for part := range strings.SplitSeq(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				return fmt.Errorf("%s: %q: want positive durations", testMerchantScheduleEnv, part)
			}
			cfg.MerchantRetrySchedule = append(cfg.MerchantRetrySchedule, d)
		}
	}
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	stores, err := openStores(ctx, cfg.Store, cfg.Migrate, log)
	if err != nil {
		return err
	}
	if cfg.BusURL != "" && stores.Pool != nil {
		// Without a database app.New refuses --bus-url.
		stores.Bus = signaling.NewNATSBus(cfg.BusURL, stores.Pool, log.With("component", "bus"))
	}
	app, err := app.New(cfg, stores, log)
	if err != nil {
		if stores.Close != nil {
			stores.Close()
		}
		return err
	}
	var demoPassword, demoAdminPassword string
	if cfg.WantDemoGuide() {
		if demoPassword, err = ensureDemoAccount(ctx, app.Auth, demoGuideEmail, "Demo Guide", protocol.RoleGuide); err != nil {
			return errors.Join(err, app.Stop(context.Background()))
		}
		if demoAdminPassword, err = ensureDemoAccount(ctx, app.Auth, demoAdminEmail, "Demo Admin", protocol.RoleAdmin); err != nil {
			return errors.Join(err, app.Stop(context.Background()))
		}
		// A product to find and replies to insert in the first call.
		if err := app.Catalog.SeedDemo(ctx, app.URL()); err != nil {
			return errors.Join(err, app.Stop(context.Background()))
		}
	}
	if err := app.Start(ctx); err != nil {
		return errors.Join(err, app.Stop(context.Background()))
	}
	// SIGHUP reloads the TLS certificate, for renewals (certbot's deploy
	// hook, a Kubernetes secret update). Listening before the banner, so a
	// SIGHUP sent once the banner is out never finds Go's default (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fmt.Fprintf(stdout, "\nguidecall is running.\n\n  Shopper demo page:  %s/shop/\n  Guide console:      %s/guide/\n  Admin dashboard:    %s/admin/\n",
		app.URL(), app.URL(), app.URL())
	if demoPassword != "" {
		fmt.Fprintf(stdout, "  Demo guide login:   %s / %s\n", demoGuideEmail, demoPassword)
	} else if cfg.WantDemoGuide() {
		fmt.Fprintf(stdout, "  Demo guide login:   %s (already existed; password unchanged)\n", demoGuideEmail)
	}
	if demoAdminPassword != "" {
		fmt.Fprintf(stdout, "  Demo admin login:   %s / %s\n", demoAdminEmail, demoAdminPassword)
	} else if cfg.WantDemoGuide() {
		fmt.Fprintf(stdout, "  Demo admin login:   %s (already existed; password unchanged)\n", demoAdminEmail)
	}
	fmt.Fprintf(stdout, "  TURN:               %s (udp), %s (tcp)\n\nOpen the shopper page in one window and the guide console in another;\n"+
		"the admin dashboard fills as calls are made. Ctrl-C stops.\n\n",
		app.TURN.UDPAddr(), app.TURN.TCPAddr())

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			if err := app.ReloadTLS(); err != nil {
				log.Error("TLS reload failed; still serving the previous certificate", "err", err)
			}
		}
	}
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return app.Stop(stopCtx)
}

// ensureDemoAccount creates a demo account with a fresh random password,
// or leaves an existing one alone and returns "".
func ensureDemoAccount(ctx context.Context, svc *auth.Service, email, name string, role protocol.Role) (string, error) {
	password := rand.Text()[:16]
	_, err := svc.AddAccount(ctx, email, name, password, role)
	if errors.Is(err, auth.ErrDuplicateEmail) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("demo %s: %w", role, err)
	}
	return password, nil
}
