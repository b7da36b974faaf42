package callflow

import (
	"context"
	"errors"
	"fmt"

	"guidecall/internal/auth"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
)

// identities turns tokens into signaling identities.
type identities struct {
	issuer   *auth.Issuer
	accounts auth.AccountStore
}

func (a identities) Authenticate(ctx context.Context, token string) (signaling.Identity, error) {
	c, err := a.issuer.VerifyLive(ctx, token, auth.KindAccess)
	if err != nil {
		return signaling.Identity{}, err
	}
	return a.fromClaims(ctx, c)
}

func (a identities) fromClaims(ctx context.Context, c *auth.Claims) (signaling.Identity, error) {
	switch c.Role {
	case protocol.RoleShopper:
		if c.EntryID == "" {
			return signaling.Identity{}, errors.New("shopper token without an entry")
		}
		return signaling.Identity{Address: shopper(c.EntryID)}, nil
	case protocol.RoleGuide, protocol.RoleAdmin:
		acct, err := a.accounts.AccountByID(ctx, c.Subject)
		if err != nil {
			return signaling.Identity{}, fmt.Errorf("account %s: %w", c.Subject, err)
		}
		if acct.Disabled {
			return signaling.Identity{}, fmt.Errorf("account %s: %w", c.Subject, auth.ErrRevoked)
		}
		// Admins take calls too, as guides: a socket speaks for a side of a call.
		return signaling.Identity{Address: guide(acct.ID), Name: acct.Name}, nil
	}
	return signaling.Identity{}, fmt.Errorf("role %q cannot open a socket", c.Role)
}

func shopper(entryID string) signaling.Address {
	return signaling.Address{Role: protocol.RoleShopper, ID: entryID}
}

func guide(guideID string) signaling.Address {
	return signaling.Address{Role: protocol.RoleGuide, ID: guideID}
}

// otherParty is the address of the side of c that p is not.
func otherParty(c queue.Call, p queue.Party) signaling.Address {
	if p == queue.PartyShopper {
		return guide(c.GuideID)
	}
	return shopper(c.EntryID)
}

// protocolError maps queue errors to what a client is told.
func protocolError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNotParty), errors.Is(err, queue.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotInCall, "that call is not yours")
	case errors.Is(err, queue.ErrBadState):
		return protocol.Errorf(protocol.CodeBadState, "%v", err)
	case errors.Is(err, queue.ErrInvalid):
		return protocol.Errorf(protocol.CodeBadMessage, "%v", err)
	case errors.Is(err, queue.ErrUnavailable):
		return protocol.Errorf(protocol.CodeUnavailable, "the service is briefly unavailable; retry")
	}
	return err
}
