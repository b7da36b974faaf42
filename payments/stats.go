package payments

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"
)

// Revenue is what the links of one currency brought in, in its minor unit:
// the amounts of the links paid, what was refunded of them since, and the
// difference.
type Revenue struct {
	Currency  string `json:"currency"`
	PaidLinks int    `json:"paid_links"`
	Paid      int64  `json:"paid"`
	Refunded  int64  `json:"refunded"`
	Net       int64  `json:"net"`
}

// ProviderFigures are one provider's links: how many it was given, how
// many reached an outcome (paid, whatever was refunded since, or expired,
// canceled, failed), how many of those were paid, and that share (nil
// before any outcome).
type ProviderFigures struct {
	Provider    string   `json:"provider"`
	Links       int      `json:"links"`
	Outcomes    int      `json:"outcomes"`
	Paid        int      `json:"paid"`
	SuccessRate *float64 `json:"success_rate"`
}

// Figures are payments' part of the dashboard for a window or one day,
// in currency and provider order.
type Figures struct {
	Revenue   []Revenue         `json:"revenue"`
	Providers []ProviderFigures `json:"providers"`
}

// Stats are the figures of the links of a set of calls, in total and by
// the day each call belongs to, and which of those calls had a link paid.
type Stats struct {
	Totals    Figures
	Days      map[string]Figures
	PaidCalls []string
}

// outcome reports whether a link's payment has been decided.
func (s LinkStatus) outcome() bool {
	return s.settled() || s == StatusExpired || s == StatusCanceled || s == StatusFailed
}

// Stats reads the links created after since and keeps those whose call
// dayOf names (a link belongs to its call's day; payments does not know
// calls, so the caller says which count).
func (s *Service) Stats(ctx context.Context, since time.Time, dayOf func(callID string) (day string, ok bool)) (Stats, error) {
	links, err := s.store.LinksCreatedSince(ctx, since, "")
	if err != nil {
		return Stats{}, err
	}
	return ComputeStats(links, dayOf), nil
}

type figureSums struct {
	revenue   map[string]*Revenue
	providers map[string]*ProviderFigures
}

func (f *figureSums) add(l Link) {
	if f.revenue == nil {
		f.revenue, f.providers = map[string]*Revenue{}, map[string]*ProviderFigures{}
	}
	p := f.providers[l.Provider]
	if p == nil {
		p = &ProviderFigures{Provider: l.Provider}
		f.providers[l.Provider] = p
	}
	p.Links++
	if l.Status.outcome() {
		p.Outcomes++
	}
	if !l.Status.settled() {
		return
	}
	p.Paid++
	r := f.revenue[l.Currency]
	if r == nil {
		r = &Revenue{Currency: l.Currency}
		f.revenue[l.Currency] = r
	}
	r.PaidLinks++
	r.Paid += l.Amount
	r.Refunded += l.RefundedAmount
	r.Net = r.Paid - r.Refunded
}

func (f *figureSums) figures() Figures {
	out := Figures{Revenue: []Revenue{}, Providers: []ProviderFigures{}}
	for _, r := range f.revenue {
		out.Revenue = append(out.Revenue, *r)
	}
	for _, p := range f.providers {
		if p.Outcomes > 0 {
			rate := math.Round(float64(p.Paid)/float64(p.Outcomes)*10000) / 10000
			p.SuccessRate = &rate
		}
		out.Providers = append(out.Providers, *p)
	}
	slices.SortFunc(out.Revenue, func(a, b Revenue) int { return cmp.Compare(a.Currency, b.Currency) })
	slices.SortFunc(out.Providers, func(a, b ProviderFigures) int { return cmp.Compare(a.Provider, b.Provider) })
	return out
}

// ComputeStats folds links into figures; links whose call dayOf does not
// name are left out.
func ComputeStats(links []Link, dayOf func(callID string) (string, bool)) Stats {
	var total figureSums
	days := map[string]*figureSums{}
	paid := map[string]bool{}
	for _, l := range links {
		day, ok := dayOf(l.CallID)
		if !ok {
			continue
		}
		total.add(l)
		if days[day] == nil {
			days[day] = &figureSums{}
		}
		days[day].add(l)
		if l.Status.settled() {
			paid[l.CallID] = true
		}
	}
	st := Stats{Totals: total.figures(), Days: map[string]Figures{}}
	for d, sums := range days {
		st.Days[d] = sums.figures()
	}
	for id := range paid {
		st.PaidCalls = append(st.PaidCalls, id)
	}
	slices.Sort(st.PaidCalls)
	return st
}
