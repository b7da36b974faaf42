package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrClosed means the queue is outside its opening hours or on a closed
// date; the error is a *ClosedError naming the next opening.
var ErrClosed = errors.New("queue: closed")

// ClosedError is the closed queue a join was refused by.
type ClosedError struct {
	Queue    string
	NextOpen *time.Time
}

func (e *ClosedError) Error() string {
	if e.NextOpen != nil {
		return fmt.Sprintf("queue %s is closed; it opens at %s", e.Queue, e.NextOpen.Format(time.RFC3339))
	}
	return fmt.Sprintf("queue %s is closed and has no opening hours ahead", e.Queue)
}

func (e *ClosedError) Unwrap() error { return ErrClosed }

// primaryLanguage is the language subtag of a BCP 47 tag: "de" for "de-CH".
func primaryLanguage(tag string) string {
	p, _, _ := strings.Cut(tag, "-")
	return strings.ToLower(p)
}

// eligible reports whether guide g may take entry e, given the
// relaxation steps e has taken. It says nothing of whether g is free.
func eligible(e Entry, g Guide) bool {
	if e.TransferGuide != "" {
		return g.ID == e.TransferGuide
	}
	if g.Queues == nil {
		return true // nobody configured this guide: a generalist
	}
	served := slices.Contains(g.Queues, e.Queue)
	skillDropped, secondOK := false, false
	for _, step := range e.Steps {
		switch {
		case step == RelaxDropSkill:
			skillDropped = true
		case step == RelaxSecondLanguage:
			secondOK = true
		case strings.HasPrefix(step, RelaxOverflow+":"):
			served = served || slices.Contains(g.Queues, strings.TrimPrefix(step, RelaxOverflow+":"))
		}
	}
	if !served {
		return false
	}
	if len(g.Languages) > 0 {
		speaks := func(lang string) bool {
			return lang != "" && slices.ContainsFunc(g.Languages, func(l string) bool { return primaryLanguage(l) == lang })
		}
		if !speaks(e.Language) && !(secondOK && speaks(e.Language2)) {
			return false
		}
	}
	if e.Skill != "" && !skillDropped && !slices.Contains(g.Skills, e.Skill) {
		return false
	}
	return true
}

// working reports whether a guide will take calls soon: online and not
// away (available, wrap-up or busy).
func working(g Guide) bool { return g.Online && g.Status != GuideAway }

// free reports whether a guide could take an offer now.
func free(g Guide) bool { return g.Online && g.Status == GuideAvailable && g.HasRoom() }

// --- handle-time estimate ---

// handleWindow is how far back the estimate looks for handled calls.
const handleWindow = 2 * time.Hour

// handlePrior is how many calls the configured average counts as, so a
// queue with few calls behind it is not estimated from one or two.
const handlePrior = 3

// handleRefresh bounds how often one node reads handled calls per queue.
const handleRefresh = 30 * time.Second

type handleStat struct {
	mean  time.Duration // accept to end
	react time.Duration // offer to accept
	// giveUp is the rate, per second of waiting, at which shoppers in line
	// leave it without a guide: shoppers ahead who give up shorten the wait.
	giveUp float64
	n      int
	at     time.Time
}

// waitPrior is the waiting, without anyone giving up, that the give-up rate
// starts from: a queue with one early leaver is not taken to lose everyone.
const waitPrior = time.Duration(handlePrior) * time.Minute

// reactPrior is the offer-to-accept time assumed until calls say better.
const reactPrior = 5 * time.Second

// handleTimes caches, per queue, the mean handle time of recent calls.
type handleTimes struct {
	mu    sync.Mutex
	stats map[string]handleStat
}

// handleTime is, for queue over handleWindow, the mean time a guide
// spends per call (accept to end) and takes to accept an offer, each
// blended with its prior (AvgCallDuration, reactPrior) as handlePrior
// calls.
func (s *Service) handleTime(ctx context.Context, tx StoreTx, queue string) handleStat {
	now := s.now()
	s.handles.mu.Lock()
	st, ok := s.handles.stats[queue]
	s.handles.mu.Unlock()
	if ok && now.Sub(st.at) < handleRefresh && !now.Before(st.at) {
		return st
	}
	calls, err := tx.CallsHandled(ctx, queue, now.Add(-handleWindow))
	if err != nil {
		if ok {
			return st
		}
		return handleStat{mean: s.cfg.AvgCallDuration, react: reactPrior}
	}
	sum := time.Duration(handlePrior) * s.cfg.AvgCallDuration
	react := time.Duration(handlePrior) * reactPrior
	n := 0
	for _, c := range calls {
		if c.AcceptedAt == nil || c.EndedAt == nil {
			continue
		}
		sum += c.EndedAt.Sub(*c.AcceptedAt)
		react += c.AcceptedAt.Sub(c.OfferedAt)
		n++
	}
	st = handleStat{mean: sum / time.Duration(n+handlePrior), react: react / time.Duration(n+handlePrior), n: n, at: now}
	// Waiting seen: up to the accept for the served, up to leaving for
	// those who gave up.
	waited := waitPrior
	for _, c := range calls {
		if c.AcceptedAt != nil && !c.JoinedAt.IsZero() {
			waited += max(c.AcceptedAt.Sub(c.JoinedAt), 0)
		}
	}
	left, err := tx.EntriesGaveUp(ctx, queue, now.Add(-handleWindow))
	if err == nil {
		for _, e := range left {
			waited += max(e.LeftAt.Sub(e.JoinedAt), 0)
		}
		st.giveUp = float64(len(left)) / waited.Seconds()
	}
	s.handles.mu.Lock()
	s.handles.stats[queue] = st
	s.handles.mu.Unlock()
	return st
}

// residualFloor is the least a call already running past the mean is
// expected to go on for, as a share of the mean: calls that have run long
// tend to run longer, not to end at once.
const residualFloor = 0.2

// waitModel estimates waits from the guides online and the calls they hold
// (see docs/routing.md): a shopper with a shoppers ahead of it that
// compete for its guides takes the (a+1)-th time one of its eligible
// working guides comes free, then the guide's usual time to accept. A
// free guide comes free now, one in wrap-up when the wrap-up ends, one
// holding an offer after accepting it and a whole call, one in a call
// when the call's expected rest is over; after that each comes free every
// handle + wrap-up. Guides are grouped by what decides eligibility, so one
// tick builds each group's release times once.
type waitModel struct {
	now    time.Time
	guides []Guide
	calls  map[string][]Call // by guide id
	handle func(queue string) (handleStat, time.Duration)
	groups map[string]*releases
	last   lastGroup // the group eta used last, and for which entry
}

type lastGroup struct {
	e      Entry
	h      handleStat
	wrapUp time.Duration
	r      *releases
}

func newWaitModel(now time.Time, guides []Guide, live []Call, handle func(queue string) (handleStat, time.Duration)) *waitModel {
	calls := make(map[string][]Call, len(live))
	for _, c := range live {
		calls[c.GuideID] = append(calls[c.GuideID], c)
	}
	return &waitModel{now: now, guides: guides, calls: calls, handle: handle, groups: map[string]*releases{}}
}

// releases hands out, soonest first, the times a group's guides come free.
// A guide of capacity n is n slots, each coming free on its own.
//
// Handing them out one by one costs the slots for each, so telling the
// k-th shopper of a long line would cost k times the slots. But once
// every slot comes free within less than one step of the others, the
// slot that comes free next is taken again only after all the others: the
// releases from then on go round the slots in that order, each round one
// step later than the one before. at then answers from that round.
type releases struct {
	guides int
	next   []time.Duration // one per slot: when it next comes free
	step   time.Duration   // handle + wrap-up: how long each call after that holds it
	out    []time.Duration
	round  []time.Duration // when set, out[len(out)+i+j·len(round)] is round[i] + j·step
}

func (r *releases) at(k int) time.Duration {
	for len(r.out) <= k {
		if r.round != nil {
			k -= len(r.out)
			return r.round[k%len(r.round)] + time.Duration(k/len(r.round))*r.step
		}
		i, hi := 0, r.next[0]
		for j, t := range r.next {
			if t < r.next[i] {
				i = j
			}
			hi = max(hi, t)
		}
		if r.step > 0 && hi-r.next[i] < r.step {
			// The round in the order the loop would pick: soonest first,
			// the lower slot first among equals.
			order := make([]int, len(r.next))
			for j := range order {
				order[j] = j
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(r.next[a], r.next[b]) })
			r.round = make([]time.Duration, len(order))
			for j, slot := range order {
				r.round[j] = r.next[slot]
			}
			continue
		}
		r.out = append(r.out, r.next[i])
		r.next[i] += r.step
	}
	return r.out[k]
}

// eta is what entry e, with ahead competing entries before it, is told;
// nil when no eligible guide is working: any number would be made up.
func (m *waitModel) eta(e Entry, ahead int) (eta *int, online int) {
	var (
		h      handleStat
		wrapUp time.Duration
		r      *releases
	)
	if l := &m.last; l.r != nil && sameEligibility(l.e, e) {
		// A line's neighbours are mostly of one kind: no key, no look-up.
		h, wrapUp, r = l.h, l.wrapUp, l.r
	} else {
		h, wrapUp = m.handle(e.Queue)
		key := eligibilityKey(e)
		var ok bool
		if r, ok = m.groups[key]; !ok {
			r = &releases{step: h.mean + wrapUp}
			for _, g := range m.guides {
				if !eligible(e, g) || !working(g) {
					continue
				}
				r.guides++
				r.next = append(r.next, m.freeIn(g, h, wrapUp)...)
			}
			m.groups[key] = r
		}
		*l = lastGroup{e: e, h: h, wrapUp: wrapUp, r: r}
	}
	online = r.guides
	if online == 0 {
		return nil, 0
	}
	// An offered shopper is told 0: a guide is looking at it right now.
	var d time.Duration
	if e.State != EntryOffered {
		d = h.react + r.at(stayAhead(ahead, h.giveUp, r))
	}
	secs := int(d.Round(time.Second).Seconds())
	return &secs, online
}

// stayAhead is how many of the ahead shoppers are still in line when their
// turn comes: each is served, on average, halfway through this shopper's
// wait w, and stays that long with probability exp(-giveUp·w/2). w
// depends on the answer, so it is found by a few rounds from the full
// count (the count only falls, and settles in two or three).
func stayAhead(ahead int, giveUp float64, r *releases) int {
	if ahead == 0 || giveUp <= 0 {
		return ahead
	}
	n := ahead
	for range 3 {
		w := r.at(n)
		n = int(math.Round(float64(ahead) * math.Exp(-giveUp*w.Seconds()/2)))
	}
	return n
}

// freeIn is, for each of guide g's slots, how long until it can take the
// next shopper: a slot without a call at once (or when the wrap-up ends),
// a slot holding a call when that call is expected to end.
func (m *waitModel) freeIn(g Guide, h handleStat, wrapUp time.Duration) []time.Duration {
	calls := m.calls[g.ID]
	out := make([]time.Duration, 0, g.Slots())
	for range max(g.Slots()-len(calls), 0) {
		switch {
		case g.Status == GuideWrapUp && g.WrapUpUntil != nil:
			out = append(out, max(g.WrapUpUntil.Sub(m.now), 0))
		case free(g):
			out = append(out, 0)
		default:
			out = append(out, h.react+h.mean+wrapUp)
		}
	}
	for _, c := range calls {
		if c.State == CallOffered || c.AcceptedAt == nil {
			out = append(out, h.react+h.mean+wrapUp)
			continue
		}
		rest := h.mean - m.now.Sub(*c.AcceptedAt)
		out = append(out, max(rest, time.Duration(residualFloor*float64(h.mean)))+wrapUp)
	}
	return out
}

// competition counts, for each entry, the entries the matcher takes
// before it (order is matchOrder's) that some working guide eligible for
// it could also take: those are the ones it really waits behind. Entries
// are grouped by what decides their eligibility, so the work is linear in
// the line times the number of such groups.
func competition(order []Entry, guides []Guide) map[string]int {
	ahead := competitionInOrder(order, guides)
	out := make(map[string]int, len(order))
	for i, e := range order {
		out[e.ID] = ahead[i]
	}
	return out
}

func eligibilityKey(e Entry) string {
	return strings.Join([]string{e.Queue, e.Language, e.Language2, e.Skill, e.TransferGuide, strings.Join(e.Steps, ",")}, "\x00")
}

// --- queue records ---

// queueRecord reads a queue; the default queue is created on first use
// when Start could not create it (a store that was down at the time).
func (s *Service) queueRecord(ctx context.Context, tx StoreTx, name string) (Queue, error) {
	q, err := tx.QueueGet(ctx, name)
	if errors.Is(err, ErrNotFound) {
		if name == DefaultQueue {
			return s.ensureDefault(ctx)
		}
		return Queue{}, fmt.Errorf("%w: queue: unknown queue %q", ErrNotFound, name)
	}
	return q, err
}

// ensureDefault creates the default queue if it is missing: open around
// the clock, no rules, so the README's commands work on a fresh install.
func (s *Service) ensureDefault(ctx context.Context) (Queue, error) {
	now := s.now()
	q, err := s.store.QueueCreate(ctx, Queue{Name: DefaultQueue, DisplayName: "Video shopping", TimeZone: "UTC", CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, ErrBadState) { // created meanwhile by another node
		return s.store.QueueGet(ctx, DefaultQueue)
	}
	return q, err
}

// CreateQueue adds a queue record.
func (s *Service) CreateQueue(ctx context.Context, q Queue) (Queue, error) {
	if err := q.Validate(); err != nil {
		return Queue{}, err
	}
	if err := s.checkOverflow(ctx, q); err != nil {
		return Queue{}, err
	}
	now := s.now()
	q.CreatedAt, q.UpdatedAt = now, now
	out, err := s.store.QueueCreate(ctx, q)
	if errors.Is(err, ErrBadState) {
		return Queue{}, fmt.Errorf("%w: name: queue %q already exists", ErrBadState, q.Name)
	}
	if err == nil {
		s.log.InfoContext(ctx, "queue created", "queue", q.Name)
	}
	return out, err
}

// UpdateQueue changes a queue record with apply, checking the result.
func (s *Service) UpdateQueue(ctx context.Context, name string, apply func(*Queue) error) (Queue, error) {
	if name == DefaultQueue {
		if _, err := s.queueRecord(ctx, s.store, name); err != nil {
			return Queue{}, err
		}
	}
	var checked Queue
	out, err := s.store.QueueUpdate(ctx, name, func(q *Queue) error {
		if err := apply(q); err != nil {
			return err
		}
		q.Name = name
		if err := q.Validate(); err != nil {
			return err
		}
		q.UpdatedAt = s.now()
		checked = *q
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Queue{}, fmt.Errorf("%w: queue: unknown queue %q", ErrNotFound, name)
	}
	if err != nil {
		return Queue{}, err
	}
	// Checked after the write: a store transaction may not call the store.
	// A target removed in between is a rule the matcher simply never meets.
	if err := s.checkOverflow(ctx, checked); err != nil {
		return Queue{}, err
	}
	s.log.InfoContext(ctx, "queue updated", "queue", name)
	return out, nil
}

func (s *Service) checkOverflow(ctx context.Context, q Queue) error {
	all, err := s.store.QueuesList(ctx)
	if err != nil {
		return err
	}
	return q.validateOverflow(func(n string) bool {
		return n == DefaultQueue || slices.ContainsFunc(all, func(o Queue) bool { return o.Name == n })
	})
}

// Queues lists the queue records.
func (s *Service) Queues(ctx context.Context) ([]Queue, error) { return s.store.QueuesList(ctx) }

// Queue returns one queue record.
func (s *Service) Queue(ctx context.Context, name string) (Queue, error) {
	return s.queueRecord(ctx, s.store, name)
}

// Status is what a shopper's widget learns before joining.
type Status struct {
	Queue       string     `json:"queue"`
	DisplayName string     `json:"display_name"`
	Open        bool       `json:"open"`
	NextOpen    *time.Time `json:"next_open_at"`
	// GuidesAvailable counts eligible guides free right now; GuidesOnline
	// those working (free, in a call or wrapping up).
	GuidesAvailable int `json:"guides_available"`
	GuidesOnline    int `json:"guides_online"`
	// ETASeconds is what a shopper joining now would wait, or nil when no
	// estimate is honest (closed, or nobody eligible online).
	ETASeconds *int `json:"eta_seconds"`
	// Callback says a callback request is the better offer: closed,
	// nobody eligible online, or the estimate passes the maximum wait.
	Callback bool `json:"callback"`
}

// QueueStatus answers GET /api/v1/queues/{name}/status for a shopper of
// the locale, second language and skill given, who has not joined yet.
func (s *Service) QueueStatus(ctx context.Context, name string, who StatusFor) (Status, error) {
	if err := who.validate(); err != nil {
		return Status{}, err
	}
	q, err := s.queueRecord(ctx, s.store, name)
	if err != nil {
		return Status{}, err
	}
	now := s.now()
	st := Status{Queue: q.Name, DisplayName: q.DisplayName, Open: q.OpenAt(now)}
	if !st.Open {
		if next, ok := q.NextOpening(now); ok {
			st.NextOpen = &next
		}
		st.Callback = true
		return st, nil
	}
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return Status{}, err
	}
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return Status{}, err
	}
	probe := Entry{ID: "probe", Queue: q.Name, Language: primaryLanguage(who.Locale), Language2: primaryLanguage(who.SecondLanguage),
		Skill: who.Skill, State: EntryWaiting, JoinedAt: now}
	for _, g := range guides {
		if eligible(probe, g) && free(g) {
			st.GuidesAvailable++
		}
	}
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return Status{}, err
	}
	// A shopper joining now goes behind everyone of its priority.
	ahead := competition(append(matchOrder(line), probe), guides)[probe.ID]
	model := newWaitModel(now, guides, live, func(string) (handleStat, time.Duration) {
		return s.handleTime(ctx, s.store, q.Name), time.Duration(q.WrapUpSeconds) * time.Second
	})
	st.ETASeconds, st.GuidesOnline = relaxedETA(probe, ahead, model, q, now)
	st.Callback = st.ETASeconds == nil || (q.MaxWaitSeconds > 0 && *st.ETASeconds > q.MaxWaitSeconds)
	return st, nil
}

// StatusFor is the shopper a queue status is read for, as the widget
// knows it before joining: what the join will carry.
type StatusFor struct {
	Locale         string
	SecondLanguage string
	Skill          string
}

func (w StatusFor) validate() error {
	switch {
	case w.Locale != "" && !localeRE.MatchString(w.Locale):
		return fmt.Errorf("%w: locale %q is not a BCP 47 tag", ErrInvalid, w.Locale)
	case w.SecondLanguage != "" && !localeRE.MatchString(w.SecondLanguage):
		return fmt.Errorf("%w: second_language %q is not a BCP 47 tag", ErrInvalid, w.SecondLanguage)
	case w.Skill != "" && !skillRE.MatchString(w.Skill):
		return fmt.Errorf("%w: skill %q must be 1-64 of a-z, 0-9, - and _", ErrInvalid, w.Skill)
	}
	return nil
}

// relaxedETA is the soonest of what e waits as it is and as each of q's
// relaxation steps still to come would let it (no sooner than the step is
// due): a shopper nobody speaks the language of, whose second language a
// guide speaks, waits for the second_language step, not for ever. The
// shoppers ahead are counted as for e itself (see docs/routing.md).
func relaxedETA(e Entry, ahead int, model *waitModel, q Queue, now time.Time) (*int, int) {
	best, online := model.eta(e, ahead)
	if len(e.Steps) >= len(q.Relax) || e.State == EntryOffered {
		return best, online
	}
	waited := now.Sub(e.JoinedAt)
	relaxed := e
	relaxed.Steps = slices.Clone(e.Steps)
	for _, r := range q.Relax[len(e.Steps):] {
		relaxed.Steps = append(relaxed.Steps, r.label())
		eta, n := model.eta(relaxed, ahead)
		if eta == nil {
			continue
		}
		due := int(max(time.Duration(r.AfterSeconds)*time.Second-waited, 0).Round(time.Second).Seconds())
		if v := max(*eta, due); best == nil || v < *best {
			best, online = &v, n
		}
	}
	return best, online
}

// --- guide profiles ---

var skillRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Profile is what an admin sets of a guide's routing.
type Profile struct {
	Name      string   `json:"name,omitempty"`
	Queues    []string `json:"queues"`
	Languages []string `json:"languages"`
	Skills    []string `json:"skills"`
	Capacity  int      `json:"capacity"`
}

// MaxCapacity bounds a guide's concurrent calls: beyond a few, one person
// cannot serve shoppers on video at once, and the console shows them all.
const MaxCapacity = 4

func (p *Profile) validate(queueExists func(string) bool) error {
	if len(p.Queues) == 0 {
		return fmt.Errorf("%w: queues: a guide must serve at least one queue", ErrInvalid)
	}
	for _, q := range p.Queues {
		if !queueExists(q) {
			return fmt.Errorf("%w: queues: unknown queue %q", ErrInvalid, q)
		}
	}
	for _, l := range p.Languages {
		if !localeRE.MatchString(l) {
			return fmt.Errorf("%w: languages: %q is not a BCP 47 tag", ErrInvalid, l)
		}
	}
	for _, k := range p.Skills {
		if !skillRE.MatchString(k) {
			return fmt.Errorf("%w: skills: %q must be 1-64 of a-z, 0-9, - and _", ErrInvalid, k)
		}
	}
	if p.Capacity == 0 {
		p.Capacity = 1
	}
	if p.Capacity < 1 || p.Capacity > MaxCapacity {
		return fmt.Errorf("%w: capacity: must be 1 to %d concurrent calls", ErrInvalid, MaxCapacity)
	}
	return nil
}

// SetProfile sets a guide's routing profile, creating the guide's record
// (away, offline) if it never connected.
func (s *Service) SetProfile(ctx context.Context, guideID string, p Profile) (Guide, error) {
	var storeErr error
	if err := p.validate(func(n string) bool {
		// queueRecord, not a list: the default queue may not exist yet
		// when an admin sets profiles before the first start.
		_, err := s.queueRecord(ctx, s.store, n)
		if err != nil && !errors.Is(err, ErrNotFound) {
			storeErr = err
		}
		return err == nil
	}); err != nil {
		if storeErr != nil {
			return Guide{}, storeErr
		}
		return Guide{}, err
	}
	if _, err := s.store.GuideGet(ctx, guideID); errors.Is(err, ErrNotFound) {
		now := s.now()
		if _, err := s.store.GuideUpsert(ctx, Guide{ID: guideID, Name: p.Name, Status: GuideAway, IdleSince: now, Capacity: 1}); err != nil {
			return Guide{}, err
		}
	} else if err != nil {
		return Guide{}, err
	}
	var out Guide
	err := s.guideChange(ctx, guideID, func(ctx context.Context, t *txn, pp *guideParties) error {
		g := *pp.g
		g.Queues, g.Languages, g.Skills, g.Capacity = slices.Clone(p.Queues), nilIfEmpty(slices.Clone(p.Languages)), nilIfEmpty(slices.Clone(p.Skills)), p.Capacity
		if p.Name != "" {
			g.Name = p.Name
		}
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		out = g
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "guide profile set", "guide_id", g.ID, "queues", g.Queues, "languages", g.Languages, "skills", g.Skills)
			s.poke()
		})
		return nil
	})
	return out, err
}

// Guide returns a guide's record.
func (s *Service) Guide(ctx context.Context, id string) (Guide, error) {
	return s.store.GuideGet(ctx, id)
}

// Declines lists a guide's latest declined offers, newest first, with the
// guide's reasons (DeclineNote; empty when none was given, or when going
// away declined the offer).
func (s *Service) Declines(ctx context.Context, guideID string, limit int) ([]Call, error) {
	return s.store.CallsDeclined(ctx, guideID, limit)
}

// PresenceHistory lists a guide's latest presence changes, newest first.
func (s *Service) PresenceHistory(ctx context.Context, guideID string, limit int) ([]PresenceRecord, error) {
	return s.store.PresenceHistory(ctx, guideID, limit)
}

// socketReasons change whether a guide is online, not its status.
var socketReasons = []string{PresenceConnected, PresenceSocketLost, PresenceNodeLost}

// notePresence records a change of g's presence from before, with reason,
// in the transaction that makes it. StatusReason keeps why the status is
// what it is (chosen, missed_offers, ...): a socket coming or going does
// not overwrite it, so a console that reconnects is still told why it was
// set away.
func (s *Service) notePresence(ctx context.Context, t *txn, before Presence, g *Guide, reason string) error {
	after := g.Presence()
	if after == before && (g.StatusReason != "" || slices.Contains(socketReasons, reason)) {
		return nil
	}
	now := s.now()
	if !slices.Contains(socketReasons, reason) {
		g.StatusReason, g.StatusSince = reason, now
	}
	return t.PresenceAppend(ctx, PresenceRecord{GuideID: g.ID, State: after, Reason: reason, At: now})
}
