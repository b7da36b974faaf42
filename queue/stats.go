package queue

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// MaxStatsWindow bounds one stats read: a quarter of days at most.
const MaxStatsWindow = 93 * 24 * time.Hour

// StatsQuery is a window of the dashboard: [From, To), of Queue (every
// queue when empty), cut into days in Location.
type StatsQuery struct {
	From, To time.Time
	Queue    string
	Location *time.Location
}

func (q *StatsQuery) validate() error {
	switch {
	case q.From.IsZero() || q.To.IsZero():
		return fmt.Errorf("from and to: both are needed: %w", ErrInvalid)
	case !q.From.Before(q.To):
		return fmt.Errorf("to: must be after from: %w", ErrInvalid)
	case q.To.Sub(q.From) > MaxStatsWindow:
		return fmt.Errorf("to: the window is at most 93 days: %w", ErrInvalid)
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	return nil
}

// Seconds summarises durations: how many, their mean and 90th percentile
// (nearest rank: the smallest value at or above 90 % of them, which is
// what PostgreSQL's percentile_disc(0.9) answers), in seconds rounded to
// the millisecond. Zero when there are none.
type Seconds struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P90   float64 `json:"p90"`
}

func secondsOf(ds []time.Duration) Seconds {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = d.Seconds()
	}
	return Seconds(spreadP90(xs))
}

type p90Spread struct {
	Count int
	Mean  float64
	P90   float64
}

func spreadP90(xs []float64) p90Spread {
	if len(xs) == 0 {
		return p90Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	rank := int(math.Ceil(0.9*float64(len(s)))) - 1
	return p90Spread{Count: len(s), Mean: milli(sum / float64(len(s))), P90: milli(s[rank])}
}

func milli(x float64) float64 { return math.Round(x*1000) / 1000 }

// Rating is the shoppers' ratings of the window's calls: their mean
// (rounded to two decimals) and how many rated.
type Rating struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
}

// QualityFigures fold the clients' quality reports of the window's calls.
// RTT is over every report; packets lost and freezes are counters since a
// connection began, so each party's last (largest) value per call is its
// call's total, and the figures add those up.
type QualityFigures struct {
	CallsReported    int     `json:"calls_reported"`
	Reports          int     `json:"reports"`
	RTTMS            Seconds `json:"rtt_ms"`
	PacketsLost      int64   `json:"packets_lost"`
	Freezes          int64   `json:"freezes"`
	CallsWithFreezes int     `json:"calls_with_freezes"`
}

// Figures are the queue's part of the dashboard for a window or one day.
// An entry counts once, in the day it joined: offered when it joined,
// answered when a guide accepted one of its offers (its wait runs from
// joining to that first accept), abandoned when it left the line (the
// shopper canceled or vanished) without ever being answered, callback when
// it left the line for a callback request. Calls are the offers of those
// entries: answered calls are those a guide accepted, their handle time
// runs from connected to ended.
type Figures struct {
	Offered       int            `json:"offered"`
	Answered      int            `json:"answered"`
	Abandoned     int            `json:"abandoned"`
	Callbacks     int            `json:"callbacks"`
	AbandonWait   Seconds        `json:"abandon_wait_seconds"`
	Wait          Seconds        `json:"wait_seconds"`
	Handle        Seconds        `json:"handle_seconds"`
	AnsweredCalls int            `json:"answered_calls"`
	Rating        Rating         `json:"rating"`
	Quality       QualityFigures `json:"quality"`
}

// DayFigures are one day's Figures; Day is the date in the query's
// location (2006-01-02).
type DayFigures struct {
	Day string `json:"day"`
	Figures
}

// Stats are a window's figures, its days in order (every day, empty ones
// too, so a chart has no gaps), and which day each call of the window
// belongs to and whether a guide answered it: what another domain's
// figures are attributed by.
type Stats struct {
	Totals Figures      `json:"totals"`
	Days   []DayFigures `json:"days"`
	// CallDays names the day of each call of the window's entries;
	// AnsweredCalls lists the calls a guide accepted.
	CallDays      map[string]string `json:"-"`
	AnsweredCalls []string          `json:"-"`
}

// Stats reads the window's history from the store and computes its figures.
func (s *Service) Stats(ctx context.Context, q StatsQuery) (Stats, error) {
	if err := q.validate(); err != nil {
		return Stats{}, err
	}
	h, err := s.store.History(ctx, HistoryQuery{From: q.From, To: q.To, Queue: q.Queue})
	if err != nil {
		return Stats{}, err
	}
	return ComputeStats(h, q), nil
}

// Day is the date of t in loc.
func Day(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// Days lists the dates of [from, to) in loc.
func Days(from, to time.Time, loc *time.Location) []string {
	var out []string
	y, m, d := from.In(loc).Date()
	for day := time.Date(y, m, d, 0, 0, 0, 0, loc); day.Before(to); day = day.AddDate(0, 0, 1) {
		out = append(out, day.Format(time.DateOnly))
	}
	return out
}

// figureSamples gathers one bucket's raw values before they are folded.
type figureSamples struct {
	f                     Figures
	abandon, wait, handle []time.Duration
	ratings               []int
	rtt                   []float64
}

// ComputeStats folds a history into the window's figures.
func ComputeStats(h History, q StatsQuery) Stats {
	if q.Location == nil {
		q.Location = time.UTC
	}
	days := Days(q.From, q.To, q.Location)
	buckets := make(map[string]*figureSamples, len(days))
	for _, d := range days {
		buckets[d] = &figureSamples{}
	}
	total := &figureSamples{}
	entryDay := make(map[string]string, len(h.Entries))
	for _, e := range h.Entries {
		entryDay[e.ID] = Day(e.JoinedAt, q.Location)
	}
	into := func(day string, fn func(*figureSamples)) {
		fn(total)
		if b := buckets[day]; b != nil {
			fn(b)
		}
	}
	firstAccept := map[string]time.Time{}
	st := Stats{CallDays: map[string]string{}}
	for _, c := range h.Calls {
		day, ok := entryDay[c.EntryID]
		if !ok {
			continue
		}
		st.CallDays[c.ID] = day
		if c.AcceptedAt != nil {
			st.AnsweredCalls = append(st.AnsweredCalls, c.ID)
			if t, seen := firstAccept[c.EntryID]; !seen || c.AcceptedAt.Before(t) {
				firstAccept[c.EntryID] = *c.AcceptedAt
			}
		}
		reports := h.Quality[c.ID]
		into(day, func(b *figureSamples) {
			if c.AcceptedAt != nil {
				b.f.AnsweredCalls++
			}
			if c.ConnectedAt != nil && c.EndedAt != nil {
				b.handle = append(b.handle, c.EndedAt.Sub(*c.ConnectedAt))
			}
			if c.Rating > 0 {
				b.ratings = append(b.ratings, c.Rating)
			}
			foldQuality(b, reports)
		})
	}
	for _, e := range h.Entries {
		accepted, answered := firstAccept[e.ID]
		into(entryDay[e.ID], func(b *figureSamples) {
			b.f.Offered++
			switch {
			case answered:
				b.f.Answered++
				b.wait = append(b.wait, accepted.Sub(e.JoinedAt))
			case e.State == EntryCanceled && e.LeftReason == ReasonCallback:
				b.f.Callbacks++
			case (e.State == EntryCanceled || e.State == EntryAbandoned) && e.LeftAt != nil:
				b.f.Abandoned++
				b.abandon = append(b.abandon, e.LeftAt.Sub(e.JoinedAt))
			}
		})
	}
	st.Totals = total.fold()
	for _, d := range days {
		st.Days = append(st.Days, DayFigures{Day: d, Figures: buckets[d].fold()})
	}
	return st
}

func foldQuality(b *figureSamples, reports []QualityReport) {
	if len(reports) == 0 {
		return
	}
	b.f.Quality.CallsReported++
	b.f.Quality.Reports += len(reports)
	var lost, freezes = map[Party]int64{}, map[Party]int64{}
	for _, r := range reports {
		b.rtt = append(b.rtt, r.RTTMS)
		lost[r.Party] = max(lost[r.Party], r.PacketsLost)
		freezes[r.Party] = max(freezes[r.Party], r.FreezeCount)
	}
	var froze int64
	for p := range lost {
		b.f.Quality.PacketsLost += lost[p]
		froze += freezes[p]
	}
	b.f.Quality.Freezes += froze
	if froze > 0 {
		b.f.Quality.CallsWithFreezes++
	}
}

func (b *figureSamples) fold() Figures {
	f := b.f
	f.AbandonWait, f.Wait, f.Handle = secondsOf(b.abandon), secondsOf(b.wait), secondsOf(b.handle)
	f.Quality.RTTMS = Seconds(spreadP90(b.rtt))
	if len(b.ratings) > 0 {
		sum := 0
		for _, r := range b.ratings {
			sum += r
		}
		f.Rating = Rating{Count: len(b.ratings), Mean: math.Round(float64(sum)/float64(len(b.ratings))*100) / 100}
	}
	return f
}

// LiveQueue is one queue now: who waits (in line or in an offer) and
// since when the longest has.
type LiveQueue struct {
	Queue              string `json:"queue"`
	Waiting            int    `json:"waiting"`
	LongestWaitSeconds int    `json:"longest_wait_seconds"`
}

// Live is the service now.
type Live struct {
	At     time.Time   `json:"at"`
	Queues []LiveQueue `json:"queues"`
	// Guides counts the guides with an open console by presence
	// (available, away, busy, wrap_up).
	Guides          map[Presence]int `json:"guides"`
	CallsInProgress int              `json:"calls_in_progress"`
	CallsOffered    int              `json:"calls_offered"`
	CallbacksOpen   int              `json:"callbacks_open"`
}

// Live reads the service as it is now: one read per kind, no claims.
func (s *Service) Live(ctx context.Context) (Live, error) {
	now := s.now().UTC()
	out := Live{At: now, Guides: map[Presence]int{PresenceAvailable: 0, PresenceAway: 0, PresenceBusy: 0, PresenceWrapUp: 0}}
	queues, err := s.store.QueuesList(ctx)
	if err != nil {
		return Live{}, err
	}
	byQueue := map[string]*LiveQueue{}
	for _, q := range queues {
		byQueue[q.Name] = &LiveQueue{Queue: q.Name}
	}
	queued, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return Live{}, err
	}
	for _, e := range queued {
		lq := byQueue[e.Queue]
		if lq == nil { // a queue that was never a record: the implicit default
			lq = &LiveQueue{Queue: e.Queue}
			byQueue[e.Queue] = lq
		}
		lq.Waiting++
		lq.LongestWaitSeconds = max(lq.LongestWaitSeconds, int(now.Sub(e.JoinedAt).Seconds()))
	}
	out.Queues = make([]LiveQueue, 0, len(byQueue))
	for _, lq := range byQueue {
		out.Queues = append(out.Queues, *lq)
	}
	slices.SortFunc(out.Queues, func(a, b LiveQueue) int { return cmp.Compare(a.Queue, b.Queue) })
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return Live{}, err
	}
	for _, g := range guides {
		out.Guides[g.Presence()]++
	}
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return Live{}, err
	}
	for _, c := range live {
		if c.State == CallOffered {
			out.CallsOffered++
		} else {
			out.CallsInProgress++
		}
	}
	cbs, err := s.store.CallbacksList(ctx, "", false)
	if err != nil {
		return Live{}, err
	}
	out.CallbacksOpen = len(cbs)
	return out, nil
}
