package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"guidecall/internal/auth"
	"guidecall/internal/db/dbtest"
)

func init() {
	// Real argon2id parameters cost tens of milliseconds per hash; the
	// test only needs an account to exist.
	auth.DefaultPasswordParams = auth.TestPasswordParams
}

func noEnv(string) string { return "" }

func runCmd(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	err = run(context.Background(), args, &out, &errw, getenv)
	return out.String(), errw.String(), err
}

func TestMigrateGuideAddList(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t) // already migrated: migrate must apply 0

	out, stderr, err := runCmd(t, noEnv, "migrate", "--database-url", url)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "applied 0 migrations") {
		t.Errorf("migrate on an up-to-date schema printed %q", out)
	}

	out, stderr, err = runCmd(t, noEnv, "guide", "add", "--database-url", url,
		"--email", "Ada@Example.com", "--name", "Ada Lovelace", "--password", "correct horse battery")
	if err != nil {
		t.Fatalf("guide add: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "added guide ada@example.com (Ada Lovelace)") {
		t.Errorf("guide add printed %q", out)
	}

	// The URL may come from the environment instead of the flag.
	env := func(k string) string {
		if k == "GUIDECALL_DATABASE_URL" {
			return url
		}
		return ""
	}
	if _, stderr, err := runCmd(t, env, "guide", "add", "--email", "boss@example.com", "--name", "Boss",
		"--password", "another long password", "--role", "admin"); err != nil {
		t.Fatalf("guide add admin: %v\n%s", err, stderr)
	}

	_, _, err = runCmd(t, env, "guide", "add", "--email", "ADA@example.com", "--name", "Again", "--password", "correct horse battery")
	if want := "guide add: an account with email ada@example.com already exists"; err == nil || err.Error() != want {
		t.Errorf("second account with the same email: err = %v, want %q", err, want)
	}
	_, _, err = runCmd(t, env, "guide", "add", "--email", "x@example.com", "--name", "X", "--password", "long enough password", "--role", "shopper")
	if err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("--role shopper: err = %v, want a role error", err)
	}

	out, stderr, err = runCmd(t, noEnv, "guide", "list", "--database-url", url)
	if err != nil {
		t.Fatalf("guide list: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("guide list printed %d lines, want a header and 2 accounts:\n%s", len(lines), out)
	}
	for _, want := range []string{"ID", "EMAIL", "NAME", "ROLE", "CREATED"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for i, want := range [][]string{{"ada@example.com", "Ada Lovelace", "guide"}, {"boss@example.com", "Boss", "admin"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}

// On a schema nobody migrated, guide refuses with a pointer to migrate;
// --migrate or `guidecall migrate` fixes it.
func TestGuideNeedsMigrations(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.NewSchema(t)
	ctx := context.Background()
	schema := "test_bare_" + strings.ToLower(rand.Text())
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	url, err := dbtest.WithSearchPath(dbtest.URL(t), schema)
	if err != nil {
		t.Fatal(err)
	}

	_, _, err = runCmd(t, noEnv, "guide", "list", "--database-url", url)
	if err == nil || !strings.Contains(err.Error(), "guidecall migrate") {
		t.Fatalf("guide list on an empty schema: err = %v, want a pointer to guidecall migrate", err)
	}
	out, stderr, err := runCmd(t, noEnv, "guide", "add", "--migrate", "--database-url", url,
		"--email", "a@example.com", "--name", "A", "--password", "long enough password")
	if err != nil {
		t.Fatalf("guide add --migrate: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "added guide a@example.com") {
		t.Errorf("guide add --migrate printed %q", out)
	}
	if out, _, err := runCmd(t, noEnv, "migrate", "--database-url", url); err != nil || !strings.Contains(out, "applied 0") {
		t.Errorf("migrate after --migrate = %q, %v", out, err)
	}
}

func TestGuideWithoutDatabase(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"guide", "add", "--email", "a@example.com", "--name", "A", "--password", "long enough password"},
		{"guide", "list"},
		{"guide", "disable", "--email", "a@example.com"},
		{"guide", "remove", "--email", "a@example.com"},
	} {
		_, _, err := runCmd(t, noEnv, args...)
		want := "guide: needs --database-url: accounts in the in-memory store vanish when the process exits"
		if err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %q", args, err, want)
		}
	}
	if _, _, err := runCmd(t, noEnv, "migrate"); err == nil || !strings.Contains(err.Error(), "--database-url") {
		t.Errorf("migrate without a URL: err = %v", err)
	}
	if _, _, err := runCmd(t, noEnv, "guide"); err == nil {
		t.Error("guide without a command succeeded")
	}
	if _, _, err := runCmd(t, noEnv, "guide", "frobnicate"); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("guide frobnicate: err = %v", err)
	}
}
