package queue

import "context"

// Visit is what the guide of a call sees of its shopper beside the call's
// items: the entry (page, locale, currency, device, customer) and the calls
// the same signed-in customer had before this one. It is read from the
// store each time, so a reloaded console gets it back whole.
type Visit struct {
	Call     Call
	Entry    Entry
	Previous []Call
}

// maxPreviousCalls bounds the "spoke before" list.
const maxPreviousCalls = 10

// Visit returns the shopper's visit of a call, to its guide only (a call
// in wrap-up included): ErrNotParty otherwise, whether or not the call
// exists.
func (s *Service) Visit(ctx context.Context, guideID, callID string) (Visit, error) {
	c, err := s.Call(ctx, PartyGuide, guideID, callID)
	if err != nil {
		return Visit{}, err
	}
	e, err := s.store.EntryGet(ctx, c.EntryID)
	if err != nil {
		return Visit{}, err
	}
	v := Visit{Call: c, Entry: e}
	if e.CustomerID == "" {
		return v, nil
	}
	calls, err := s.store.CallsOfCustomer(ctx, e.CustomerID, maxPreviousCalls+1)
	if err != nil {
		return Visit{}, err
	}
	for _, p := range calls {
		if p.ID != c.ID && len(v.Previous) < maxPreviousCalls {
			v.Previous = append(v.Previous, p)
		}
	}
	return v, nil
}
