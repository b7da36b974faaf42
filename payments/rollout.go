package payments

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// Rollout defaults.
const (
	DefaultRolloutWindow    = 24 * time.Hour
	DefaultRolloutMinSample = 20
	DefaultRolloutMargin    = 0.10
)

// Rollout gives a new provider a share of the new links of one currency,
// and stops by itself when its success rate (paid ÷ links that reached a
// final state, over Window) falls Margin below the incumbent's, once both
// have MinSample final links.
type Rollout struct {
	Currency  string  `json:"currency"`
	Provider  string  `json:"provider"`  // the new one
	Incumbent string  `json:"incumbent"` // compared against
	Percent   int     `json:"percent"`   // of new links, 0..100
	Margin    float64 `json:"margin,omitempty"`
	MinSample int     `json:"min_sample,omitempty"`
	WindowSec int64   `json:"window_seconds,omitempty"`
	// Stopped and StopReason are set when it stopped itself (or an admin
	// set Percent to 0).
	Stopped    bool      `json:"stopped"`
	StopReason string    `json:"stop_reason,omitempty"`
	StoppedAt  time.Time `json:"stopped_at,omitzero"`
}

func (r Rollout) window() time.Duration {
	if r.WindowSec <= 0 {
		return DefaultRolloutWindow
	}
	return time.Duration(r.WindowSec) * time.Second
}

// ProviderStats are one provider's links over a window.
type ProviderStats struct {
	Provider string `json:"provider"`
	Links    int    `json:"links"`
	Final    int    `json:"final"` // paid (refunded too), expired, canceled or failed
	Paid     int    `json:"paid"`
	Failed   int    `json:"failed"`
	// SuccessRate is Paid ÷ Final, 0 without final links.
	SuccessRate float64 `json:"success_rate"`
	// MedianSecondsToPaid is from creation to payment, over paid links.
	MedianSecondsToPaid float64 `json:"median_seconds_to_paid"`
	// CreateErrors counts failed creates seen by this node since it
	// started (failed-over ones too, which leave no link behind).
	CreateErrors int64 `json:"create_errors"`
	// BreakerOpen: this node sends it no new links for now, after failed
	// creates; like CreateErrors it is this node's view.
	BreakerOpen bool `json:"breaker_open"`
}

// statsOf computes ProviderStats from links.
func statsOf(links []Link) map[string]*ProviderStats {
	out := map[string]*ProviderStats{}
	toPaid := map[string][]float64{}
	for _, l := range links {
		st := out[l.Provider]
		if st == nil {
			st = &ProviderStats{Provider: l.Provider}
			out[l.Provider] = st
		}
		st.Links++
		switch {
		case l.Status.settled():
			st.Final++
			st.Paid++
			if l.PaidAt != nil {
				// PaidAt is the provider's, often in whole seconds, so a
				// link paid within a second can read as paid before it
				// was created.
				toPaid[l.Provider] = append(toPaid[l.Provider], max(0, l.PaidAt.Sub(l.CreatedAt).Seconds()))
			}
		case l.Status == StatusFailed:
			st.Final++
			st.Failed++
		case l.Status == StatusExpired || l.Status == StatusCanceled:
			st.Final++
		}
	}
	for name, st := range out {
		if st.Final > 0 {
			st.SuccessRate = float64(st.Paid) / float64(st.Final)
		}
		st.MedianSecondsToPaid = median(toPaid[name])
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ { // small n: insertion sort
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ProviderStats returns, per configured provider, its links of currency
// (all currencies if empty) created within window.
func (s *Service) ProviderStats(ctx context.Context, currency string, window time.Duration) ([]ProviderStats, error) {
	links, err := s.store.LinksCreatedSince(ctx, s.now().Add(-window), currency)
	if err != nil {
		return nil, fmt.Errorf("payments: provider stats: %w", err)
	}
	by := statsOf(links)
	out := make([]ProviderStats, 0, len(s.providers))
	for _, p := range s.providers {
		st := ProviderStats{Provider: p.Name()}
		if got := by[p.Name()]; got != nil {
			st = *got
		}
		st.CreateErrors = s.breakers.errors(p.Name())
		st.BreakerOpen = s.breakers.open(p.Name(), s.now())
		out = append(out, st)
	}
	return out, nil
}

// rolloutFirst reports whether link id goes to the rollout's provider:
// the link id hashed into 100 buckets, so the share holds over many links
// and a replay of one link picks the same.
func rolloutFirst(r Rollout, linkID string) bool {
	if r.Stopped || r.Percent <= 0 {
		return false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(linkID))
	return int(h.Sum32()%100) < r.Percent
}

// checkRollout stops r if its provider does worse than the incumbent by
// the margin, and returns it as it now is.
func (s *Service) checkRollout(ctx context.Context, r Rollout) (Rollout, error) {
	if r.Stopped || r.Percent <= 0 {
		return r, nil
	}
	links, err := s.store.LinksCreatedSince(ctx, s.now().Add(-r.window()), r.Currency)
	if err != nil {
		return r, err
	}
	by := statsOf(links)
	nw, inc := by[r.Provider], by[r.Incumbent]
	minSample := r.MinSample
	if minSample <= 0 {
		minSample = DefaultRolloutMinSample
	}
	margin := r.Margin
	if margin <= 0 {
		margin = DefaultRolloutMargin
	}
	if nw == nil || inc == nil || nw.Final < minSample || inc.Final < minSample {
		return r, nil
	}
	if nw.SuccessRate >= inc.SuccessRate-margin {
		return r, nil
	}
	r.Stopped, r.StoppedAt = true, s.now().UTC()
	r.StopReason = fmt.Sprintf("%s success rate %.1f%% (%d/%d) fell more than %.0f points below %s's %.1f%% (%d/%d) over %s",
		r.Provider, 100*nw.SuccessRate, nw.Paid, nw.Final, 100*margin, r.Incumbent, 100*inc.SuccessRate, inc.Paid, inc.Final, r.window())
	if err := s.saveRollout(ctx, r); err != nil {
		return r, err
	}
	s.log.Warn("payment provider rollout stopped itself", "currency", r.Currency, "provider", r.Provider,
		"incumbent", r.Incumbent, "reason", r.StopReason)
	return r, nil
}

func (s *Service) saveRollout(ctx context.Context, r Rollout) error {
	all, err := s.store.Rollouts(ctx)
	if err != nil {
		return err
	}
	all[r.Currency] = r
	return s.store.SetRollouts(ctx, all)
}

// SetRollout starts, changes or (Percent 0) ends the rollout of a currency.
func (s *Service) SetRollout(ctx context.Context, r Rollout) (Rollout, error) {
	cur, err := NormalizeCurrency(r.Currency)
	if err != nil {
		return Rollout{}, err
	}
	r.Currency = cur
	if _, ok := s.byName[r.Provider]; !ok {
		return Rollout{}, fmt.Errorf("%w: %q", ErrUnknownProvider, r.Provider)
	}
	if _, ok := s.byName[r.Incumbent]; !ok || r.Incumbent == r.Provider {
		return Rollout{}, fmt.Errorf("%w: incumbent %q must be another configured provider", ErrInvalidLink, r.Incumbent)
	}
	if r.Percent < 0 || r.Percent > 100 || r.Margin < 0 || r.Margin > 1 || r.MinSample < 0 || r.WindowSec < 0 {
		return Rollout{}, fmt.Errorf("%w: percent 0..100, margin 0..1, min_sample and window_seconds not negative", ErrInvalidLink)
	}
	r.Stopped, r.StopReason, r.StoppedAt = r.Percent == 0, "", time.Time{}
	if r.Stopped {
		r.StopReason = "set to 0% by an admin"
	}
	if err := s.saveRollout(ctx, r); err != nil {
		return Rollout{}, fmt.Errorf("payments: set rollout: %w", err)
	}
	return r, nil
}

// ProviderRoutes serves providers' figures and rollouts to admins; the
// wiring mounts it at /api/v1/admin/payment-providers.
//
//	GET /?currency=EUR&window_seconds=86400   per provider: links, success rate, median time to paid, errors; the rollouts
//	PUT /rollouts                             start, change or end one currency's rollout (Rollout as JSON)
func (s *Service) ProviderRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		window := DefaultRolloutWindow
		if v := r.URL.Query().Get("window_seconds"); v != "" {
			var sec int64
			if _, err := fmt.Sscan(v, &sec); err != nil || sec <= 0 {
				writeError(w, fmt.Errorf("%w: window_seconds", errBadRequest))
				return
			}
			window = time.Duration(sec) * time.Second
		}
		stats, err := s.ProviderStats(r.Context(), r.URL.Query().Get("currency"), window)
		if err != nil {
			writeError(w, err)
			return
		}
		rollouts, err := s.store.Rollouts(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"providers": stats, "rollouts": rollouts})
	})
	r.Put("/rollouts", func(w http.ResponseWriter, r *http.Request) {
		var ro Rollout
		if err := decodeBody(http.MaxBytesReader(w, r.Body, 4<<10), &ro); err != nil {
			writeError(w, err)
			return
		}
		ro, err := s.SetRollout(r.Context(), ro)
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, ro)
	})
	return r
}
