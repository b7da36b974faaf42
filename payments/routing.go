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

// ParseRoutes reads "EUR/NL=adyen,stripe;EUR=stripe,sandbox;*=stripe"
// (the --payment-routes flag): per currency, or currency and the
// shopper's country (which wins over the currency alone), an ordered list.
// --stripe-payment-methods has the same syntax.
func ParseRoutes(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for part := range strings.SplitSeq(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		key, list, ok := strings.Cut(part, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("payments: route %q: want CURRENCY[/COUNTRY]=provider,provider", part)
		}
		cur, err := ParseRouteKey(key)
		if err != nil {
			return nil, fmt.Errorf("payments: route %q: %w", part, err)
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
func (s *Service) candidates(ctx context.Context, currency, country, linkID string) []Provider {
	names, ok := s.routing.Routes[currency+"/"+country]
	if !ok || country == "" {
		names, ok = s.routing.Routes[currency]
	}
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

// ParseRouteKey normalizes "*", "EUR" or "EUR/NL" (a currency and an ISO
// 3166-1 alpha-2 country, upper case), as routes and a provider's
// per-currency or per-country settings are keyed.
func ParseRouteKey(key string) (string, error) {
	if key == "*" {
		return key, nil
	}
	cur, country, hasCountry := strings.Cut(key, "/")
	c, err := NormalizeCurrency(strings.TrimSpace(cur))
	if err != nil {
		return "", err
	}
	if !hasCountry {
		return c, nil
	}
	country = strings.ToUpper(strings.TrimSpace(country))
	if len(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z' {
		return "", fmt.Errorf("%w: country %q is not two letters (ISO 3166-1 alpha-2)", ErrInvalidLink, country)
	}
	return c + "/" + country, nil
}
