package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// ErrRiskLimit is returned for a link or refund over a limit an admin set
// (422 risk_limit, with the limit in the message for the guide to see).
var ErrRiskLimit = errors.New("payments: over a risk limit")

// RiskLimits are what an admin allows guides: zero or absent means no
// limit. Amounts are minor units of the currency they are keyed by.
type RiskLimits struct {
	// MaxAmount is the largest link amount per currency.
	MaxAmount map[string]int64 `json:"max_amount,omitempty"`
	// MaxLinksPerCall bounds the links of one call (failed ones do not
	// count).
	MaxLinksPerCall int `json:"max_links_per_call,omitempty"`
	// RefundAdminAbove: a refund above this amount, per currency, needs an
	// admin.
	RefundAdminAbove map[string]int64 `json:"refund_admin_above,omitempty"`
}

// normalized checks l and returns it with upper-case currency codes.
func (l RiskLimits) normalized() (RiskLimits, error) {
	norm := func(name string, m map[string]int64) (map[string]int64, error) {
		if len(m) == 0 {
			return nil, nil
		}
		out := make(map[string]int64, len(m))
		for cur, v := range m {
			c, err := NormalizeCurrency(cur)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLink, name, err)
			}
			if v <= 0 || v > MaxAmount {
				return nil, fmt.Errorf("%w: %s %s must be between 1 and %d minor units", ErrInvalidLink, name, c, MaxAmount)
			}
			out[c] = v
		}
		return out, nil
	}
	var err error
	if l.MaxAmount, err = norm("max_amount", l.MaxAmount); err != nil {
		return RiskLimits{}, err
	}
	if l.RefundAdminAbove, err = norm("refund_admin_above", l.RefundAdminAbove); err != nil {
		return RiskLimits{}, err
	}
	if l.MaxLinksPerCall < 0 {
		return RiskLimits{}, fmt.Errorf("%w: max_links_per_call must not be negative", ErrInvalidLink)
	}
	return l, nil
}

// RiskLimits returns the limits in force.
func (s *Service) RiskLimits(ctx context.Context) (RiskLimits, error) {
	l, err := s.store.RiskLimits(ctx)
	if err != nil {
		return RiskLimits{}, fmt.Errorf("payments: risk limits: %w", err)
	}
	return l, nil
}

// SetRiskLimits replaces the limits; every node applies them to the next
// link or refund.
func (s *Service) SetRiskLimits(ctx context.Context, l RiskLimits, by string) (RiskLimits, error) {
	l, err := l.normalized()
	if err != nil {
		return RiskLimits{}, err
	}
	if err := s.store.SetRiskLimits(ctx, l); err != nil {
		return RiskLimits{}, fmt.Errorf("payments: set risk limits: %w", err)
	}
	s.log.Info("payment risk limits set", "by", by, "max_amount", l.MaxAmount, "max_links_per_call", l.MaxLinksPerCall,
		"refund_admin_above", l.RefundAdminAbove)
	return l, nil
}

// checkLinkLimits refuses a new link above the largest amount, and
// returns the most links its call may have, which the store checks as it
// inserts the link (Store.LinkCreateWithin), so that concurrent creates
// cannot pass it together.
func (s *Service) checkLinkLimits(ctx context.Context, p CreateLinkParams) (maxPerCall int, err error) {
	lim, err := s.RiskLimits(ctx)
	if err != nil {
		return 0, err
	}
	if max, ok := lim.MaxAmount[p.Currency]; ok && p.Amount > max {
		return 0, fmt.Errorf("%w: %s is above the largest link allowed, %s", ErrRiskLimit,
			Money{Amount: p.Amount, Currency: p.Currency}, Money{Amount: max, Currency: p.Currency})
	}
	return lim.MaxLinksPerCall, nil
}

// checkRefundLimits refuses a guide's refund above what needs an admin.
func (s *Service) checkRefundLimits(ctx context.Context, l Link, amount int64, admin bool) error {
	if admin {
		return nil
	}
	lim, err := s.RiskLimits(ctx)
	if err != nil {
		return err
	}
	if above, ok := lim.RefundAdminAbove[l.Currency]; ok && amount > above {
		return fmt.Errorf("%w: a refund above %s needs an admin", ErrForbidden, Money{Amount: above, Currency: l.Currency})
	}
	return nil
}

// RiskRoutes serves the limits to admins; the wiring mounts it at
// /api/v1/admin/payment-limits behind the admin's token.
//
//	GET /   the limits in force
//	PUT /   replace them: {"max_amount": {"EUR": 50000}, "max_links_per_call": 5, "refund_admin_above": {"EUR": 10000}}
func (s *Service) RiskRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		l, err := s.RiskLimits(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, l)
	})
	r.Put("/", func(w http.ResponseWriter, r *http.Request) {
		var l RiskLimits
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCreateBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
			return
		}
		l, err := s.SetRiskLimits(r.Context(), l, strings.TrimSpace(r.Header.Get("X-Request-Id")))
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, l)
	})
	return r
}
