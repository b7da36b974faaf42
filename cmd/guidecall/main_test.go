package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"guidecall/internal/auth"
)

// TestTopLevelHelp: every spelling of help prints the command list, not
// serve's flags, on stdout and succeeds.
func TestTopLevelHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "help", "-help"} {
		out, stderr, err := runCmd(t, noEnv, arg)
		if err != nil {
			t.Errorf("guidecall %s: %v", arg, err)
		}
		if out != usage || stderr != "" {
			t.Errorf("guidecall %s printed stdout %q, stderr %q; want the top-level usage on stdout", arg, out, stderr)
		}
		for _, cmd := range []string{"guidecall [serve]", "guidecall guide add|list", "guidecall migrate", "guidecall loadtest"} {
			if !strings.Contains(out, cmd) {
				t.Errorf("guidecall %s does not list %q", arg, cmd)
			}
		}
		if strings.Contains(out, "--http-addr  [") {
			t.Errorf("guidecall %s printed serve's flags:\n%s", arg, out)
		}
	}
	// An unknown command prints the same list, as an error.
	if _, stderr, err := runCmd(t, noEnv, "serv"); err == nil || stderr != usage {
		t.Errorf("guidecall serv: err %v, stderr %q", err, stderr)
	}
}

// TestCommandHelp: each command prints its own flags in one style,
// --flag [ENV] (loadtest: --flag, since it reads no environment), and
// exits with flag.ErrHelp, which main treats as success.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{
			args: []string{"serve", "--help"},
			want: []string{"guidecall serve:", "  --http-addr  [GUIDECALL_HTTP_ADDR]\n",
				"  --max-connections-per-ip  [GUIDECALL_MAX_CONNECTIONS_PER_IP]\n", "empty keeps everything in memory"},
		},
		{
			args: []string{"migrate", "--help"},
			want: []string{"guidecall migrate:", "  --database-url  [GUIDECALL_DATABASE_URL]\n      PostgreSQL URL (postgres://user@host:5432/db); required\n",
				"  --db-wait  [GUIDECALL_DB_WAIT]\n"},
			not: []string{"in memory"},
		},
		{
			args: []string{"guide", "add", "--help"},
			want: []string{"guidecall guide add:", "  --database-url  [GUIDECALL_DATABASE_URL]\n      PostgreSQL URL (postgres://user@host:5432/db); required\n",
				"  --db-wait  [GUIDECALL_DB_WAIT]\n", "  --email  [GUIDECALL_EMAIL]\n"},
			not: []string{"in memory"},
		},
		{
			args: []string{"guide", "list", "--help"},
			want: []string{"guidecall guide list:", "  --database-url  [GUIDECALL_DATABASE_URL]\n      PostgreSQL URL (postgres://user@host:5432/db); required\n",
				"  --db-wait  [GUIDECALL_DB_WAIT]\n"},
			not: []string{"in memory"},
		},
		{
			args: []string{"loadtest", "--help"},
			want: []string{"guidecall loadtest:", "  --calls\n      stop after this many calls (default 200)\n", "  --self\n",
				"--max-connections-per-ip", "loadtest reads no environment variables"},
			not: []string{"  -calls", "  -self", "[GUIDECALL_"},
		},
	} {
		out, stderr, err := runCmd(t, noEnv, tc.args...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: err = %v, want flag.ErrHelp", tc.args, err)
		}
		if out != "" {
			t.Errorf("%q printed on stdout: %q", tc.args, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q help lacks %q:\n%s", tc.args, w, stderr)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(stderr, n) {
				t.Errorf("%q help has %q:\n%s", tc.args, n, stderr)
			}
		}
	}
	// guide's own help goes to stdout, like the top-level one.
	if out, _, err := runCmd(t, noEnv, "guide", "--help"); err != nil || out != guideUsage {
		t.Errorf("guide --help: %q, %v", out, err)
	}
}

// TestAddAccountError: a duplicate email reads as one sentence, without
// the service's package prefixes; other errors keep theirs.
func TestAddAccountError(t *testing.T) {
	t.Parallel()
	// The shape AddAccount returns for a taken email.
	dup := fmt.Errorf("auth: add account: %w", fmt.Errorf("%w: %s", auth.ErrDuplicateEmail, "ada@shop.example"))
	if got, want := addAccountError(" Ada@Shop.example", dup).Error(), "guide add: an account with email ada@shop.example already exists"; got != want {
		t.Errorf("duplicate: %q, want %q", got, want)
	}
	other := errors.New("auth: role must be guide or admin")
	if got, want := addAccountError("a@b.c", other).Error(), "guide add: auth: role must be guide or admin"; got != want {
		t.Errorf("other: %q, want %q", got, want)
	}
}

// TestLoadReportPlurals: "1 guide", never "1 guides".
func TestLoadReportPlurals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    loadReport
		want string
	}{
		{loadReport{Guides: 1, Shoppers: 1, Calls: 1}, "1 guide, 1 shopper in flight, target 1 call\n"},
		{loadReport{Guides: 2, Shoppers: 3, Calls: 200}, "2 guides, 3 shoppers in flight, target 200 calls\n"},
	} {
		var b strings.Builder
		tc.r.print(&b)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("report lacks %q:\n%s", tc.want, b.String())
		}
	}
}

// TestLoadtestSelfManySockets: --self opens more sockets from 127.0.0.1
// than a node's default --max-connections-per-ip (50) allows, and its own
// node lets them in.
func TestLoadtestSelfManySockets(t *testing.T) {
	t.Parallel()
	out, stderr, err := runCmd(t, noEnv, "loadtest", "--self", "--guides", "30", "--calls", "30",
		"--duration", "30s", "--hold", "10ms", "--ice", "1", "--node-log-level", "error")
	if err != nil {
		t.Fatalf("loadtest with 60 sockets: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "calls completed  30 / 30") {
		t.Errorf("output:\n%s", out)
	}
}
