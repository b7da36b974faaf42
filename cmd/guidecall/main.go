// Command guidecall is the one binary of guidecall: the server and its
// operator subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `guidecall: 1:1 video shopping, self-hosted.

Usage:
  guidecall [serve] [flags]     run a node (the default)
  guidecall guide add|list      manage guide and admin accounts
  guidecall guide disable|enable|unlock|remove   take an account's access away, give it back, lift a lock, delete it
  guidecall purge               erase shopper data now: one entry, or all past a retention period
  guidecall guide set           set a guide's queues, languages, skills and capacity
  guidecall queue add|set|list  manage queues: hours, closed dates, waits, relaxation
  guidecall migrate             apply database migrations
  guidecall reconcile           bring payment links to their providers' status, once
  guidecall loadtest [flags]    drive calls against a node (--self: an in-process one)
  guidecall probe [flags]       one synthetic call through a node and its TURN, timed (for uptime monitors)

Run "guidecall <command> --help" for a command's flags ("guidecall serve --help"
for the node's). Every flag of serve, migrate, reconcile and guide can also be set with an
environment variable: --http-addr is GUIDECALL_HTTP_ADDR.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "guidecall:", err)
		stop()
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && isHelp(args[0]) {
		// The top-level help, not serve's: serve is only the default
		// command. `guidecall serve --help` prints the serve flags.
		fmt.Fprint(stdout, usage)
		return nil
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, getenv)
	case "guide":
		return guide(ctx, args, stdout, stderr, getenv)
	case "queue":
		return queueCmd(ctx, args, stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, args, stdout, stderr, getenv)
	case "reconcile":
		return reconcile(ctx, args, stdout, stderr, getenv)
	case "purge":
		return purge(ctx, args, stdout, stderr, getenv)
	case "loadtest":
		return loadtest(ctx, args, stdout, stderr, getenv)
	case "probe":
		return probe(ctx, args, stdout, stderr, getenv)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// isHelp reports whether arg asks for help, in any of the spellings the
// flag package accepts.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
