package queue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"guidecall/queue"
)

func berlinQueue() queue.Queue {
	weekday := []queue.Span{{Open: "09:00", Close: "12:00"}, {Open: "13:00", Close: "18:00"}}
	return queue.Queue{
		Name: "berlin", TimeZone: "Europe/Berlin",
		Hours: map[string][]queue.Span{
			"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday,
			"sun": {{Open: "10:00", Close: "14:00"}},
		},
		ClosedDates: []string{"2026-12-25"},
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Opening hours are local wall-clock times: 09:00 in Berlin is 08:00 UTC
// in winter and 07:00 UTC in summer, on either side of the change.
func TestQueueHoursAcrossDaylightSaving(t *testing.T) {
	q := berlinQueue()
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	ber := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		at   time.Time
		open bool
	}{
		// Friday 27 March 2026, winter time (UTC+1).
		{time.Date(2026, 3, 27, 7, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 27, 8, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 27, 11, 30, 0, 0, time.UTC), false}, // 12:30 local: lunch
		{time.Date(2026, 3, 27, 16, 59, 0, 0, time.UTC), true},  // 17:59 local
		{time.Date(2026, 3, 27, 17, 0, 0, 0, time.UTC), false},
		// Saturday: closed all day (not in Hours).
		{time.Date(2026, 3, 28, 10, 0, 0, 0, time.UTC), false},
		// Sunday 29 March: clocks go forward at 02:00 local; 10:00 local is 08:00 UTC.
		{time.Date(2026, 3, 29, 7, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC), true},
		// Monday 30 March, summer time (UTC+2): 09:00 local is 07:00 UTC.
		{time.Date(2026, 3, 30, 6, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 30, 15, 59, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 30, 16, 0, 0, 0, time.UTC), false},
		// Closed date, a Friday.
		{time.Date(2026, 12, 25, 10, 0, 0, 0, ber), false},
		{time.Date(2026, 12, 24, 10, 0, 0, 0, ber), true},
	}
	for _, tt := range tests {
		if got := q.OpenAt(tt.at); got != tt.open {
			t.Errorf("OpenAt(%s = %s local) = %v, want %v", tt.at.UTC().Format(time.RFC3339), tt.at.In(ber).Format("Mon 15:04"), got, tt.open)
		}
	}

	next := []struct {
		from, want time.Time
	}{
		// Saturday evening before the change: next is Sunday 10:00 CEST = 08:00 UTC.
		{time.Date(2026, 3, 28, 19, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC)},
		// Sunday after closing: Monday 09:00 CEST = 07:00 UTC.
		{time.Date(2026, 3, 29, 13, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)},
		// Lunch break: 13:00 local the same day.
		{time.Date(2026, 3, 30, 10, 30, 0, 0, time.UTC), time.Date(2026, 3, 30, 11, 0, 0, 0, time.UTC)},
		// Autumn: Saturday 24 October (CEST) to Sunday 25 October 10:00 CET = 09:00 UTC.
		{time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 9, 0, 0, 0, time.UTC)},
		// Christmas Eve after closing: the 25th is closed, the 26th a
		// Saturday, so Sunday the 27th at 10:00 CET.
		{time.Date(2026, 12, 24, 18, 30, 0, 0, ber), time.Date(2026, 12, 27, 10, 0, 0, 0, ber)},
	}
	for _, tt := range next {
		got, ok := q.NextOpening(tt.from)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("NextOpening(%s) = %s, %v; want %s", tt.from.UTC().Format(time.RFC3339), got.UTC().Format(time.RFC3339), ok, tt.want.UTC().Format(time.RFC3339))
		}
	}

	never := queue.Queue{Name: "never", Hours: map[string][]queue.Span{}}
	if err := never.Validate(); err != nil {
		t.Fatal(err)
	}
	if never.OpenAt(time.Now()) {
		t.Error("a queue with hours but no spans is open")
	}
	if _, ok := never.NextOpening(time.Now()); ok {
		t.Error("a queue with no spans has a next opening")
	}
	always := queue.Queue{Name: "always"}
	if err := always.Validate(); err != nil || !always.OpenAt(time.Date(2026, 12, 25, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("a queue without hours is not open around the clock (%v)", err)
	}
}

// Invalid records are refused with the field named.
func TestQueueValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(q *queue.Queue)
		field string
	}{
		{"bad name", func(q *queue.Queue) { q.Name = "Berlin Shop" }, "name"},
		{"bad zone", func(q *queue.Queue) { q.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"local zone", func(q *queue.Queue) { q.TimeZone = "Local" }, "time_zone"},
		{"bad weekday", func(q *queue.Queue) { q.Hours["funday"] = []queue.Span{{Open: "09:00", Close: "10:00"}} }, "hours"},
		{"bad time", func(q *queue.Queue) { q.Hours["mon"] = []queue.Span{{Open: "9am", Close: "10:00"}} }, "hours.mon"},
		{"close before open", func(q *queue.Queue) { q.Hours["mon"] = []queue.Span{{Open: "18:00", Close: "09:00"}} }, "hours.mon"},
		{"past midnight", func(q *queue.Queue) { q.Hours["mon"] = []queue.Span{{Open: "22:00", Close: "25:00"}} }, "hours.mon"},
		{"overlap", func(q *queue.Queue) {
			q.Hours["mon"] = []queue.Span{{Open: "09:00", Close: "12:00"}, {Open: "11:00", Close: "13:00"}}
		}, "hours.mon"},
		{"bad date", func(q *queue.Queue) { q.ClosedDates = []string{"25/12/2026"} }, "closed_dates"},
		{"negative wait", func(q *queue.Queue) { q.MaxWaitSeconds = -1 }, "max_wait_seconds"},
		{"overflow into itself", func(q *queue.Queue) {
			q.Relax = []queue.RelaxStep{{AfterSeconds: 60, Action: queue.RelaxOverflow, Queue: "berlin"}}
		}, "relax[0]"},
		{"steps out of order", func(q *queue.Queue) {
			q.Relax = []queue.RelaxStep{{AfterSeconds: 60, Action: queue.RelaxDropSkill}, {AfterSeconds: 30, Action: queue.RelaxSecondLanguage}}
		}, "relax[1]"},
		{"unknown action", func(q *queue.Queue) { q.Relax = []queue.RelaxStep{{AfterSeconds: 60, Action: "pray"}} }, "relax[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := berlinQueue()
			tt.edit(&q)
			err := q.Validate()
			if !errors.Is(err, queue.ErrInvalid) || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("Validate() = %v, want ErrInvalid naming %s", err, tt.field)
			}
		})
	}
}
