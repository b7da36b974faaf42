package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/queue"
)

const queueUsage = `guidecall queue: manage queues in PostgreSQL.

Usage:
  guidecall queue add NAME [flags]   create a queue
  guidecall queue set NAME [flags]   change the flags given, keep the rest
  guidecall queue list               print every queue

Flags of add and set:
  --display-name "Shoe advice"
  --time-zone Europe/Berlin                              IANA zone of the hours
  --hours "mon-fri 09:00-12:00,13:00-18:00; sat 10:00-14:00"  ("always": around the clock, "never": closed)
  --closed 2026-12-25,2026-12-26                          closed dates, local
  --max-wait 5m --wrap-up 30s --offer-timeout 15s
  --relax "60s drop_skill, 2m second_language, 5m overflow:other"
`

// queueFlags are add's and set's; set applies those given.
type queueFlags struct {
	displayName, timeZone, hours, closed, relax string
	maxWait, wrapUp, offerTimeout               time.Duration
}

func (f *queueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.displayName, "display-name", "", "the name shoppers see")
	fs.StringVar(&f.timeZone, "time-zone", "UTC", "IANA time zone of the hours and closed dates")
	fs.StringVar(&f.hours, "hours", "always", `opening hours: "mon-fri 09:00-17:00; sat 10:00-14:00", "always" or "never"`)
	fs.StringVar(&f.closed, "closed", "", "comma-separated closed dates (2026-12-25)")
	fs.StringVar(&f.relax, "relax", "", `relaxation steps: "60s drop_skill, 2m second_language, 5m overflow:other"`)
	fs.DurationVar(&f.maxWait, "max-wait", 0, "wait after which a shopper is offered a callback (0: none)")
	fs.DurationVar(&f.wrapUp, "wrap-up", 0, "a guide's wrap-up time after each call")
	fs.DurationVar(&f.offerTimeout, "offer-timeout", 0, "how long a guide has to accept (0: the server's --offer-timeout)")
}

// apply writes the flags set on fs (all of them when all) onto q.
func (f *queueFlags) apply(fs *flag.FlagSet, all bool, q *queue.Queue) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	given := func(name string) bool { return all || set[name] }
	var err error
	if given("display-name") {
		q.DisplayName = f.displayName
	}
	if given("time-zone") {
		q.TimeZone = f.timeZone
	}
	if given("hours") {
		if q.Hours, err = parseHours(f.hours); err != nil {
			return err
		}
	}
	if given("closed") {
		q.ClosedDates = splitList(f.closed)
	}
	if given("relax") {
		if q.Relax, err = parseRelax(f.relax); err != nil {
			return err
		}
	}
	if given("max-wait") {
		q.MaxWaitSeconds = int(f.maxWait.Seconds())
	}
	if given("wrap-up") {
		q.WrapUpSeconds = int(f.wrapUp.Seconds())
	}
	if given("offer-timeout") {
		q.OfferTimeoutSeconds = int(f.offerTimeout.Seconds())
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var dayOrder = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// parseHours reads "mon-fri 09:00-12:00,13:00-18:00; sat 10:00-14:00".
// Days not named are closed; "always" is around the clock (nil), "never"
// closed until hours are set.
func parseHours(s string) (map[string][]queue.Span, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "always", "":
		return nil, nil
	case "never":
		return map[string][]queue.Span{}, nil
	}
	out := map[string][]queue.Span{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, spans, ok := strings.Cut(part, " ")
		if !ok {
			return nil, fmt.Errorf("--hours: %q: want \"DAYS HH:MM-HH:MM[,...]\"", part)
		}
		from, to, isRange := strings.Cut(days, "-")
		i, j := slices.Index(dayOrder, from), slices.Index(dayOrder, to)
		if !isRange {
			j = i
		}
		if i < 0 || j < i {
			return nil, fmt.Errorf("--hours: %q is not a day or a range like mon-fri", days)
		}
		var list []queue.Span
		for _, sp := range strings.Split(spans, ",") {
			open, close, ok := strings.Cut(strings.TrimSpace(sp), "-")
			if !ok {
				return nil, fmt.Errorf("--hours: %q: want HH:MM-HH:MM", sp)
			}
			list = append(list, queue.Span{Open: open, Close: close})
		}
		for _, d := range dayOrder[i : j+1] {
			out[d] = append(out[d], list...)
		}
	}
	return out, nil
}

// parseRelax reads "60s drop_skill, 2m second_language, 5m overflow:other".
func parseRelax(s string) ([]queue.RelaxStep, error) {
	var out []queue.RelaxStep
	for _, part := range splitList(s) {
		after, action, ok := strings.Cut(part, " ")
		d, err := time.ParseDuration(after)
		if !ok || err != nil {
			return nil, fmt.Errorf("--relax: %q: want \"WAIT ACTION\" like \"60s drop_skill\"", part)
		}
		step := queue.RelaxStep{AfterSeconds: int(d.Seconds()), Action: strings.TrimSpace(action)}
		if target, ok := strings.CutPrefix(step.Action, queue.RelaxOverflow+":"); ok {
			step.Action, step.Queue = queue.RelaxOverflow, target
		}
		out = append(out, step)
	}
	return out, nil
}

func queueCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, queueUsage)
		return errors.New("queue: which command? add, set or list")
	}
	switch args[0] {
	case "add", "set":
		return queueAddSet(ctx, args[0], args[1:], stdout, stderr, getenv)
	case "list":
		return queueList(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--h", "-help", "--help":
		fmt.Fprint(stdout, queueUsage)
		return nil
	}
	fmt.Fprint(stderr, queueUsage)
	return fmt.Errorf("queue: unknown command %q", args[0])
}

// queueService is a queue.Service over the database, never started: the
// commands make one change each and exit.
func queueService(ctx context.Context, f dbFlags, stderr io.Writer) (*queue.Service, *pgxpool.Pool, error) {
	if f.DatabaseURL == "" {
		return nil, nil, errors.New("needs --database-url: queues and profiles in the in-memory store vanish when the process exits")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openSchema(ctx, f, false, log)
	if err != nil {
		return nil, nil, err
	}
	svc, err := queue.NewService(queue.Config{Store: queue.NewPostgresStore(pool), Logger: log})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return svc, pool, nil
}

func queueAddSet(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, queueUsage)
		return fmt.Errorf("queue %s: the queue's NAME comes first", cmd)
	}
	name, args := args[0], args[1:]
	var f dbFlags
	var qf queueFlags
	fs := newFlagSet("queue "+cmd, "guidecall queue "+cmd+" NAME: see guidecall queue --help.", stderr)
	f.register(fs)
	qf.register(fs)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	svc, pool, err := queueService(ctx, f, stderr)
	if err != nil {
		return fmt.Errorf("queue %s: %w", cmd, err)
	}
	defer pool.Close()
	var q queue.Queue
	if cmd == "add" {
		q.Name = name
		if err := qf.apply(fs, true, &q); err != nil {
			return err
		}
		q, err = svc.CreateQueue(ctx, q)
	} else {
		var applyErr error
		q, err = svc.UpdateQueue(ctx, name, func(q *queue.Queue) error {
			applyErr = qf.apply(fs, false, q)
			return applyErr
		})
		if applyErr != nil {
			return applyErr
		}
	}
	if err != nil {
		return fmt.Errorf("queue %s: %w", cmd, err)
	}
	verb := map[string]string{"add": "added", "set": "updated"}[cmd]
	fmt.Fprintf(stdout, "%s queue %s (%s), %s\n", verb, q.Name, q.DisplayName, describeHours(q))
	return nil
}

func describeHours(q queue.Queue) string {
	if q.Hours == nil {
		return "open around the clock (" + q.TimeZone + ")"
	}
	var parts []string
	for _, d := range dayOrder {
		var spans []string
		for _, s := range q.Hours[d] {
			spans = append(spans, s.Open+"-"+s.Close)
		}
		if len(spans) > 0 {
			parts = append(parts, d+" "+strings.Join(spans, ","))
		}
	}
	if len(parts) == 0 {
		return "never open"
	}
	return strings.Join(parts, "; ") + " (" + q.TimeZone + ")"
}

func queueList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	fs := newFlagSet("queue list", "guidecall queue list: print every queue.", stderr)
	f.register(fs)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	svc, pool, err := queueService(ctx, f, stderr)
	if err != nil {
		return fmt.Errorf("queue list: %w", err)
	}
	defer pool.Close()
	qs, err := svc.Queues(ctx)
	if err != nil {
		return fmt.Errorf("queue list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tHOURS\tCLOSED\tMAX WAIT\tWRAP-UP\tRELAX")
	for _, q := range qs {
		var relax []string
		for _, r := range q.Relax {
			step := r.Action
			if r.Queue != "" {
				step += ":" + r.Queue
			}
			relax = append(relax, fmt.Sprintf("%ds %s", r.AfterSeconds, step))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%ds\t%ds\t%s\n", q.Name, q.DisplayName, describeHours(q),
			strings.Join(q.ClosedDates, ","), q.MaxWaitSeconds, q.WrapUpSeconds, strings.Join(relax, ", "))
	}
	return tw.Flush()
}

// guideSet sets a guide's routing profile by its account's email.
func guideSet(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f dbFlags
	var email, queues, languages, skills string
	var capacity int
	fs := newFlagSet("guide set", "guidecall guide set: set the queues, languages, skills and capacity of a guide.", stderr)
	f.register(fs)
	fs.StringVar(&email, "email", "", "the guide's account email (required)")
	fs.StringVar(&queues, "queues", "", "comma-separated queues the guide serves (required)")
	fs.StringVar(&languages, "languages", "", "comma-separated BCP 47 languages the guide speaks (empty: any)")
	fs.StringVar(&skills, "skills", "", "comma-separated skills (product categories)")
	fs.IntVar(&capacity, "capacity", 1, "concurrent offers and calls, 1 to 4")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if email == "" {
		return errors.New("guide set: needs --email")
	}
	svc, pool, err := queueService(ctx, f, stderr)
	if err != nil {
		return fmt.Errorf("guide set: %w", err)
	}
	defer pool.Close()
	a, err := auth.NewPostgresAccountStore(pool).AccountByEmail(ctx, auth.NormalizeEmail(email))
	if errors.Is(err, auth.ErrNotFound) {
		return fmt.Errorf("guide set: no account with email %s", auth.NormalizeEmail(email))
	}
	if err != nil {
		return fmt.Errorf("guide set: %w", err)
	}
	g, err := svc.SetProfile(ctx, a.ID, queue.Profile{
		Name: a.Name, Queues: splitList(queues), Languages: splitList(languages), Skills: splitList(skills), Capacity: capacity,
	})
	if err != nil {
		return fmt.Errorf("guide set: %w", err)
	}
	fmt.Fprintf(stdout, "guide %s serves %s, speaks %s, skills %s, capacity %d\n", a.Email,
		strings.Join(g.Queues, ","), orAny(g.Languages), orAny(g.Skills), g.Capacity)
	return nil
}

func orAny(s []string) string {
	if len(s) == 0 {
		return "any"
	}
	return strings.Join(s, ",")
}
