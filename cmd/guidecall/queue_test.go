package main

import (
	"strings"
	"testing"

	"guidecall/internal/db/dbtest"
)

func TestQueueAddSetListAndGuideSet(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t)
	db := []string{"--database-url", url}
	step := func(want string, args ...string) string {
		t.Helper()
		out, stderr, err := runCmd(t, noEnv, append(args, db...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%v printed %q, want it to contain %q", args, out, want)
		}
		return out
	}
	fails := func(want string, args ...string) {
		t.Helper()
		_, _, err := runCmd(t, noEnv, append(args, db...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err %v, want it to name %q", args, err, want)
		}
	}

	step("added queue shoes (Shoe advice), mon 09:00-12:00,13:00-18:00; tue 09:00-12:00,13:00-18:00; wed 09:00-12:00,13:00-18:00; thu 09:00-12:00,13:00-18:00; fri 09:00-12:00,13:00-18:00; sat 10:00-14:00 (Europe/Berlin)",
		"queue", "add", "shoes", "--display-name", "Shoe advice", "--time-zone", "Europe/Berlin",
		"--hours", "mon-fri 09:00-12:00,13:00-18:00; sat 10:00-14:00", "--closed", "2026-12-25", "--max-wait", "5m", "--wrap-up", "30s")
	step("added queue general (general), open around the clock (UTC)", "queue", "add", "general")
	step("updated queue shoes (Shoe advice), open around the clock (Europe/Berlin)",
		"queue", "set", "shoes", "--hours", "always", "--relax", "60s drop_skill, 2m overflow:general")
	out := step("shoes", "queue", "list")
	for _, want := range []string{"general", "2026-12-25", "300s", "30s", "60s drop_skill, 120s overflow:general"} {
		if !strings.Contains(out, want) {
			t.Errorf("queue list lacks %q:\n%s", want, out)
		}
	}
	fails("overflows into itself", "queue", "set", "shoes", "--relax", "60s overflow:shoes")
	fails("time_zone", "queue", "add", "mars", "--time-zone", "Mars/Olympus")
	fails("already exists", "queue", "add", "general")
	fails("unknown queue", "queue", "set", "nosuch", "--wrap-up", "1s")
	fails("--hours", "queue", "add", "odd", "--hours", "someday 09:00-10:00")

	step("added guide", "guide", "add", "--email", "ada@example.com", "--name", "Ada", "--password", "correct horse battery")
	step("guide ada@example.com serves shoes,general, speaks de,en, skills running, capacity 1",
		"guide", "set", "--email", "ada@example.com", "--queues", "shoes,general", "--languages", "de,en", "--skills", "running")
	fails("queues:", "guide", "set", "--email", "ada@example.com")
	step("guide ada@example.com serves shoes, speaks any, skills any, capacity 3",
		"guide", "set", "--email", "ada@example.com", "--queues", "shoes", "--capacity", "3")
	fails("capacity:", "guide", "set", "--email", "ada@example.com", "--queues", "shoes", "--capacity", "5")
	fails("no account", "guide", "set", "--email", "nobody@example.com", "--queues", "shoes")
}
