package queue

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"guidecall/internal/cleantext"
)

// DefaultQueue is the queue a join names when it names none. The Service
// creates it on Start when it is missing, so a fresh install answers the
// README's two commands without any set-up.
const DefaultQueue = "default"

// Queue is one line shoppers join, with the rules the matcher applies to
// it. Durations are whole seconds so that the record reads the same in
// JSON, in the database and on the command line.
type Queue struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// TimeZone is the IANA zone Hours and ClosedDates are read in.
	TimeZone string `json:"time_zone"`
	// Hours lists, per weekday ("mon" ... "sun"), when the queue is open,
	// in local wall-clock time. Nil means open around the clock; a day
	// absent from a non-nil map is closed all day.
	Hours map[string][]Span `json:"hours,omitempty"`
	// ClosedDates are local dates (2026-12-25) closed whatever Hours say.
	ClosedDates []string `json:"closed_dates,omitempty"`
	// MaxWaitSeconds is how long a shopper should wait before being
	// offered a callback instead (0: no limit).
	MaxWaitSeconds int `json:"max_wait_seconds"`
	// WrapUpSeconds is how long a guide stays in wrap-up after a call of
	// this queue (0: none).
	WrapUpSeconds int `json:"wrap_up_seconds"`
	// OfferTimeoutSeconds is how long a guide has to accept (0: the
	// service's default).
	OfferTimeoutSeconds int `json:"offer_timeout_seconds"`
	// Relax are the steps a waiting entry takes, in order.
	Relax     []RelaxStep `json:"relax,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// Span is one opening, Open inclusive to Close exclusive, as "15:04";
// Close may be "24:00". A span never crosses midnight: an evening shift
// into the night is two spans on two days.
type Span struct {
	Open  string `json:"open"`
	Close string `json:"close"`
}

// Relaxation actions.
const (
	RelaxDropSkill      = "drop_skill"
	RelaxSecondLanguage = "second_language"
	RelaxOverflow       = "overflow"
)

// RelaxStep widens who may take an entry once it has waited
// AfterSeconds since it joined.
type RelaxStep struct {
	AfterSeconds int    `json:"after_seconds"`
	Action       string `json:"action"`
	// Queue is the overflow target (only for RelaxOverflow).
	Queue string `json:"queue,omitempty"`
}

// label is how a step is recorded on the entry that took it.
func (r RelaxStep) label() string {
	if r.Action == RelaxOverflow {
		return RelaxOverflow + ":" + r.Queue
	}
	return r.Action
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseClock reads "15:04" (or "24:00") as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return hh*60 + mm, nil
}

// Validate checks a queue record on its own; ValidateAgainst adds the
// checks that need the other queues.
func (q *Queue) Validate() error {
	// Shoppers and guides read the display name (cleantext).
	name, err := cleantext.Line(q.DisplayName, 120)
	if err != nil {
		return fmt.Errorf("%w: display_name: %w", ErrInvalid, err)
	}
	q.DisplayName = name
	if q.DisplayName == "" {
		q.DisplayName = q.Name
	}
	if q.TimeZone == "" {
		q.TimeZone = "UTC"
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	if !queueNameRE.MatchString(q.Name) {
		return bad("name", "must be 1-64 of a-z, 0-9, - and _")
	}
	if len(q.DisplayName) > 120 {
		return bad("display_name", "longer than 120 bytes")
	}
	if _, err := time.LoadLocation(q.TimeZone); err != nil || q.TimeZone == "Local" {
		return bad("time_zone", "%q is not an IANA time zone", q.TimeZone)
	}
	for day, spans := range q.Hours {
		if !slices.Contains(weekdays, day) {
			return bad("hours", "%q is not a weekday (mon, tue, ... sun)", day)
		}
		prevClose := -1
		sorted := slices.Clone(spans)
		slices.SortFunc(sorted, func(a, b Span) int { return strings.Compare(a.Open, b.Open) })
		for _, s := range sorted {
			o, err := parseClock(s.Open)
			if err != nil {
				return bad("hours."+day, "open %v", err)
			}
			c, err := parseClock(s.Close)
			if err != nil {
				return bad("hours."+day, "close %v", err)
			}
			if c <= o {
				return bad("hours."+day, "closes (%s) before it opens (%s)", s.Close, s.Open)
			}
			if o < prevClose {
				return bad("hours."+day, "spans overlap at %s", s.Open)
			}
			prevClose = c
		}
		q.Hours[day] = sorted
	}
	for _, d := range q.ClosedDates {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return bad("closed_dates", "%q is not a date like 2026-12-25", d)
		}
	}
	for field, v := range map[string]int{"max_wait_seconds": q.MaxWaitSeconds, "wrap_up_seconds": q.WrapUpSeconds, "offer_timeout_seconds": q.OfferTimeoutSeconds} {
		if v < 0 || v > 86400 {
			return bad(field, "must be 0-86400")
		}
	}
	last := 0
	for i, r := range q.Relax {
		field := fmt.Sprintf("relax[%d]", i)
		if r.AfterSeconds < last {
			return bad(field, "after_seconds %d is before the previous step's %d: steps run in order", r.AfterSeconds, last)
		}
		last = r.AfterSeconds
		switch r.Action {
		case RelaxDropSkill, RelaxSecondLanguage:
			if r.Queue != "" {
				return bad(field, "queue is only for overflow")
			}
		case RelaxOverflow:
			if r.Queue == q.Name {
				return bad(field, "queue %q overflows into itself", r.Queue)
			}
			if !queueNameRE.MatchString(r.Queue) {
				return bad(field, "overflow needs a queue")
			}
		default:
			return bad(field, "action %q is not drop_skill, second_language or overflow", r.Action)
		}
	}
	return nil
}

// validateOverflow checks that every overflow target exists.
func (q Queue) validateOverflow(exists func(string) bool) error {
	for i, r := range q.Relax {
		if r.Action == RelaxOverflow && !exists(r.Queue) {
			return fmt.Errorf("%w: relax[%d]: overflow queue %q does not exist", ErrNotFound, i, r.Queue)
		}
	}
	return nil
}

func (q Queue) location() *time.Location {
	loc, err := time.LoadLocation(q.TimeZone)
	if err != nil {
		return time.UTC // Validate refused it; records only hold valid zones
	}
	return loc
}

func (q Queue) closedOn(local time.Time) bool {
	return slices.Contains(q.ClosedDates, local.Format(time.DateOnly))
}

// OpenAt reports whether the queue takes joins at t.
func (q Queue) OpenAt(t time.Time) bool {
	lt := t.In(q.location())
	if q.closedOn(lt) {
		return false
	}
	if q.Hours == nil {
		return true
	}
	mins := lt.Hour()*60 + lt.Minute()
	for _, s := range q.Hours[weekdays[lt.Weekday()]] {
		o, _ := parseClock(s.Open)
		c, _ := parseClock(s.Close)
		if mins >= o && mins < c {
			return true
		}
	}
	return false
}

// NextOpening is the first instant after t at which a closed queue opens,
// looking a year ahead; ok is false when it never does (no spans at all,
// or every day closed).
func (q Queue) NextOpening(t time.Time) (next time.Time, ok bool) {
	loc := q.location()
	lt := t.In(loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	for i := 0; i <= 366; i++ {
		d := day.AddDate(0, 0, i)
		if q.closedOn(d) {
			continue
		}
		if q.Hours == nil {
			if i == 0 {
				continue // closed today only by date: opens at tomorrow's midnight
			}
			return d.UTC(), true
		}
		for _, s := range q.Hours[weekdays[d.Weekday()]] {
			o, _ := parseClock(s.Open)
			// time.Date, not Add: 09:00 local stays 09:00 across a DST change.
			at := time.Date(d.Year(), d.Month(), d.Day(), o/60, o%60, 0, 0, loc)
			if at.After(t) && q.OpenAt(at) {
				return at.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

func (q Queue) offerTimeout(def time.Duration) time.Duration {
	if q.OfferTimeoutSeconds > 0 {
		return time.Duration(q.OfferTimeoutSeconds) * time.Second
	}
	return def
}

func cloneQueue(q Queue) Queue {
	if q.Hours != nil {
		h := make(map[string][]Span, len(q.Hours))
		for k, v := range q.Hours {
			h[k] = slices.Clone(v)
		}
		q.Hours = h
	}
	q.ClosedDates = slices.Clone(q.ClosedDates)
	q.Relax = slices.Clone(q.Relax)
	return q
}
