package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/internal/db"
	"guidecall/protocol"
	"guidecall/signaling"
)

const guideUsage = `guidecall guide: manage guide and admin accounts in PostgreSQL.

Usage:
  guidecall guide add --email E --name N --password P [--role guide|admin] [--migrate]
  guidecall guide list
  guidecall guide disable --email E   (ends the account's logins and closes its sockets on every node)
  guidecall guide enable --email E
  guidecall guide unlock --email E    (lifts a lock after failed logins)
  guidecall guide remove --email E    (deletes the account; as disable, its logins end and its sockets close)
  guidecall guide set --email E --queues Q1,Q2 [--languages en,de] [--skills S] [--capacity 1]

Run "guidecall guide <command> --help" for a command's flags.
`

// errNoDatabase is what guide says without --database-url: there is no
// in-memory fallback, since an account added by a process that then exits
// is gone before any node could use it.
var errNoDatabase = errors.New("guide: needs --database-url: accounts in the in-memory store vanish when the process exits")

// dbFlags are what every database command shares.
type dbFlags struct {
	config.Store
	// Wait bounds how long a command waits for an unreachable database.
	Wait time.Duration
	// migrateFlag says the command has --migrate, for error hints.
	migrateFlag bool
}

// register adds --database-url and --db-wait. The URL's help is its own,
// not config.Store's: these commands have no in-memory fallback.
func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host:5432/db); required")
	fs.DurationVar(&f.Wait, "db-wait", 30*time.Second, "how long to keep retrying while the database is unreachable")
}

func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = config.Usage(fs, summary)
	return fs
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return nil
}

// migrate applies the migrations not yet applied and prints how many.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("migrate", `guidecall migrate: apply the database migrations not yet applied.
Forward-only and idempotent: safe on every deploy and from several nodes at once.`, stderr)
	f.register(fs)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errors.New("migrate: needs --database-url")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := waitForDatabase(ctx, f, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	n, err := db.Migrate(ctx, f.DatabaseURL, log)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if n == 0 {
		fmt.Fprintln(stdout, "database is up to date; applied 0 migrations")
	} else {
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	}
	return nil
}

// waitForDatabase returns once the database answers, retrying (and
// logging) for at most f.Wait, so that a deploy step started next to its
// database does not fail on the first refused connection.
func waitForDatabase(ctx context.Context, f dbFlags, log *slog.Logger) error {
	pool, err := openPool(ctx, f, log)
	if err != nil {
		return err
	}
	pool.Close()
	return nil
}

func openPool(ctx context.Context, f dbFlags, log *slog.Logger) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, f.Wait)
	defer cancel()
	return db.Open(ctx, f.DatabaseURL, log)
}

func guide(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, guideUsage)
		return errors.New("guide: which command? add, list, set, disable, enable, unlock or remove")
	}
	switch args[0] {
	case "add":
		return guideAdd(ctx, args[1:], stdout, stderr, getenv)
	case "list":
		return guideList(ctx, args[1:], stdout, stderr, getenv)
	case "disable", "enable", "unlock", "remove":
		return guideChange(ctx, args[0], args[1:], stdout, stderr, getenv)
	case "set":
		return guideSet(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--h", "-help", "--help":
		fmt.Fprint(stdout, guideUsage)
		return nil
	}
	fmt.Fprint(stderr, guideUsage)
	return fmt.Errorf("guide: unknown command %q", args[0])
}

func guideAdd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	var email, name, password, role string
	var migrateFirst bool
	fs := newFlagSet("guide add", `guidecall guide add: create a guide or admin account.
Prefer GUIDECALL_PASSWORD to --password: command lines are visible to other users of the machine.`, stderr)
	f.register(fs)
	fs.StringVar(&email, "email", "", "the account's email, its login (required)")
	fs.StringVar(&name, "name", "", "the name shoppers and admins see (required)")
	fs.StringVar(&password, "password", "", "the account's password (required)")
	fs.StringVar(&role, "role", string(protocol.RoleGuide), "guide or admin")
	fs.BoolVar(&migrateFirst, "migrate", false, "apply database migrations first")
	f.migrateFlag = true
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errNoDatabase
	}
	if email == "" || name == "" || password == "" {
		return errors.New("guide add: needs --email, --name and --password")
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openSchema(ctx, f, migrateFirst, log)
	if err != nil {
		return fmt.Errorf("guide add: %w", err)
	}
	defer pool.Close()

	// AddAccount does not sign anything, but a Service needs an issuer;
	// a throwaway random secret signs nothing that outlives this process.
	secret := make([]byte, auth.MinSecretLength)
	_, _ = rand.Read(secret)
	issuer, err := auth.NewIssuer(secret, nil)
	if err != nil {
		return fmt.Errorf("guide add: %w", err)
	}
	svc := auth.NewService(auth.NewPostgresAccountStore(pool), issuer, log)
	a, err := svc.AddAccount(ctx, email, name, password, protocol.Role(role))
	if err != nil {
		return addAccountError(email, err)
	}
	fmt.Fprintf(stdout, "added %s %s (%s), id %s\n", a.Role, a.Email, a.Name, a.ID)
	return nil
}

// addAccountError says what went wrong with guide add in one phrase: the
// service's errors carry package prefixes ("auth: add account: auth:
// duplicate email: …") that read as a stutter on a command line.
func addAccountError(email string, err error) error {
	if errors.Is(err, auth.ErrDuplicateEmail) {
		return fmt.Errorf("guide add: an account with email %s already exists", auth.NormalizeEmail(email))
	}
	return fmt.Errorf("guide add: %w", err)
}

func guideList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("guide list", "guidecall guide list: print every guide and admin account, oldest first.", stderr)
	f.register(fs)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errNoDatabase
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openSchema(ctx, f, false, log)
	if err != nil {
		return fmt.Errorf("guide list: %w", err)
	}
	defer pool.Close()

	accounts, err := auth.NewPostgresAccountStore(pool).AccountList(ctx)
	if err != nil {
		return fmt.Errorf("guide list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tCREATED\tSTATE")
	for _, a := range accounts {
		state := "active"
		switch {
		case a.Disabled:
			state = "disabled"
		case a.LockedUntil != nil && a.LockedUntil.After(time.Now()):
			state = "locked until " + a.LockedUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Email, a.Name, a.Role, a.CreatedAt.UTC().Format(time.RFC3339), state)
	}
	return tw.Flush()
}

// openSchema opens the pool and makes sure the schema is current: it
// migrates when asked to, and otherwise refuses to touch a database whose
// migrations have not all been applied, naming the command that fixes it.
func openSchema(ctx context.Context, f dbFlags, migrateFirst bool, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := openPool(ctx, f, log)
	if err != nil {
		return nil, err
	}
	if migrateFirst {
		if _, err := db.Migrate(ctx, f.DatabaseURL, log); err != nil {
			pool.Close()
			return nil, err
		}
		return pool, nil
	}
	n, err := db.Pending(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if n > 0 {
		pool.Close()
		hint := ""
		if f.migrateFlag {
			hint = ", or pass --migrate"
		}
		return nil, fmt.Errorf("the database schema is not up to date (%d migration(s) pending): run `guidecall migrate` first%s", n, hint)
	}
	return pool, nil
}

// guideChange disables, enables, unlocks or removes one account.
// Disabling and removing also publish the close of the account's sockets
// on the cluster's bus, so every node drops them within a second, as the
// admin API does.
func guideChange(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	var email string
	fs := newFlagSet("guide "+cmd, "guidecall guide "+cmd+": "+cmd+" one guide or admin account.", stderr)
	f.register(fs)
	fs.StringVar(&email, "email", "", "the account's email (required)")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if f.DatabaseURL == "" {
		return errNoDatabase
	}
	if email == "" {
		return fmt.Errorf("guide %s: needs --email", cmd)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openSchema(ctx, f, false, log)
	if err != nil {
		return fmt.Errorf("guide %s: %w", cmd, err)
	}
	defer pool.Close()
	secret := make([]byte, auth.MinSecretLength)
	_, _ = rand.Read(secret)
	issuer, err := auth.NewIssuer(secret, nil)
	if err != nil {
		return fmt.Errorf("guide %s: %w", cmd, err)
	}
	svc := auth.NewService(auth.NewPostgresAccountStore(pool), issuer, log)
	svc.Sessions = auth.NewPostgresSessionStore(pool)
	bus := signaling.NewPostgresBus(pool, log)
	svc.Subscribe(func(ctx context.Context, e auth.Event) {
		if rev, ok := e.(auth.SessionsRevoked); ok && rev.Disabled {
			if err := bus.Publish(ctx, signaling.Address{Role: protocol.RoleGuide, ID: rev.AccountID}, signaling.RevokedFrame()); err != nil {
				fmt.Fprintf(stderr, "could not tell the nodes to close the account's sockets (they refuse it at its next request): %v\n", err)
			}
		}
	})
	a, err := svc.Account(ctx, auth.NormalizeEmail(email))
	if errors.Is(err, auth.ErrNotFound) {
		return fmt.Errorf("guide %s: no account with email %s", cmd, auth.NormalizeEmail(email))
	}
	if err != nil {
		return fmt.Errorf("guide %s: %w", cmd, err)
	}
	switch cmd {
	case "disable":
		_, err = svc.SetDisabled(ctx, a.ID, true)
	case "enable":
		_, err = svc.SetDisabled(ctx, a.ID, false)
	case "unlock":
		_, err = svc.Unlock(ctx, a.ID)
	case "remove":
		err = svc.RemoveAccount(ctx, a.ID)
	}
	if err != nil {
		return fmt.Errorf("guide %s: %w", cmd, err)
	}
	done := map[string]string{"disable": "disabled", "enable": "enabled", "unlock": "unlocked", "remove": "removed"}[cmd]
	fmt.Fprintf(stdout, "%s %s %s (id %s)\n", done, a.Role, a.Email, a.ID)
	return nil
}
