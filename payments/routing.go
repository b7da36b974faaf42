package payments

import (
	"fmt"
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
	coolDown time.Duration
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
	}
}

// candidates are the providers to try for a new link in currency, in
// order: those whose breaker is open go last, so a provider that is down
// costs the guide no time while another can issue the link, and is still
// tried when every one is down.
func (s *Service) candidates(currency string) []Provider {
	names, ok := s.routing.Routes[currency]
	if !ok {
		names = s.routing.Routes["*"]
	}
	if len(names) == 0 {
		return []Provider{s.providers[0]}
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
