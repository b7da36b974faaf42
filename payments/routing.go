package payments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Routing defaults.
const (
	DefaultBreakerCoolDown = 30 * time.Second
	DefaultCreateTimeout   = 4 * time.Second
)

// RoutingConfig orders the providers that may issue a new link.
type RoutingConfig struct {
	// Routes maps a currency (ISO code) to the providers to try, in order;
	// "*" is every other currency. Empty: the first provider of
	// Config.Providers only, with no failover.
	Routes map[string][]string
	// BreakerCoolDown is how long a provider whose create failed is
	// skipped (DefaultBreakerCoolDown if zero); after it, the next link
	// tries it again.
	BreakerCoolDown time.Duration
	// CreateTimeout bounds one provider's create, so a hanging provider
	// fails over within seconds (DefaultCreateTimeout if zero).
	CreateTimeout time.Duration
}

// ParseRoutes reads "EUR=stripe,sandbox;JPY=sandbox;*=stripe" (the
// --payment-routes flag).
func ParseRoutes(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for part := range strings.SplitSeq(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		cur, list, ok := strings.Cut(part, "=")
		cur = strings.TrimSpace(cur)
		if !ok || cur == "" {
			return nil, fmt.Errorf("payments: route %q: want CURRENCY=provider,provider", part)
		}
		if cur != "*" {
			c, err := NormalizeCurrency(cur)
			if err != nil {
				return nil, fmt.Errorf("payments: route %q: %w", part, err)
			}
			cur = c
		}
		for p := range strings.SplitSeq(list, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out[cur] = append(out[cur], p)
			}
		}
		if len(out[cur]) == 0 {
			return nil, fmt.Errorf("payments: route %q names no provider", part)
		}
	}
	return out, nil
}

// breakers remember, per provider, until when its creates are skipped.
type breakers struct {
	mu       sync.Mutex
	openTill map[string]time.Time
	errs     map[string]int64
	coolDown time.Duration
}

func (b *breakers) errors(name string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.errs[name]
}

func (b *breakers) open(name string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Before(b.openTill[name])
}

func (b *breakers) record(name string, ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		delete(b.openTill, name)
	} else {
		b.openTill[name] = now.Add(b.coolDown)
		b.errs[name]++
	}
}

// candidates are the providers to try for a new link in currency, in
// order: those whose breaker is open go last, so a provider that is down
// costs the guide no time while another can issue the link, and is still
// tried when every one is down.
//
// A running rollout of the currency puts its provider first for its share
// of links (by link id), and is checked, and stopped if it does worse
// than its incumbent, on the way.
func (s *Service) candidates(ctx context.Context, currency, linkID string) []Provider {
	names, ok := s.routing.Routes[currency]
	if !ok {
		names = s.routing.Routes["*"]
	}
	if len(names) == 0 {
		names = []string{s.providers[0].Name()}
	}
	if rollouts, err := s.store.Rollouts(ctx); err != nil {
		s.log.Warn("read payment rollouts; routing without them", "err", err)
	} else if r, ok := rollouts[currency]; ok {
		if r, err = s.checkRollout(ctx, r); err != nil {
			s.log.Warn("check payment rollout", "currency", currency, "err", err)
		}
		others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == r.Provider })
		if rolloutFirst(r, linkID) {
			names = append([]string{r.Provider}, others...)
		} else if len(others) > 0 {
			names = others
		}
	}
	now := s.now()
	var closed, open []Provider
	for _, n := range names {
		p, ok := s.byName[n]
		if !ok {
			continue // checked by NewService
		}
		if s.breakers.open(n, now) {
			open = append(open, p)
		} else {
			closed = append(closed, p)
		}
	}
	return append(closed, open...)
}
