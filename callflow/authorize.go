package callflow

import (
	"errors"
	"fmt"
	"net/http"

	"guidecall/internal/auth"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
)

// callAuthorizer lets the guide of a connected call create links, and
// either party read them.
func callAuthorizer(issuer *auth.Issuer, q *queue.Service) payments.CallAuthorizer {
	return func(r *http.Request, callID string) (string, error) {
		tok, ok := auth.BearerToken(r)
		if !ok {
			return "", fmt.Errorf("%w: bearer token required", payments.ErrUnauthorized)
		}
		claims, err := issuer.Verify(tok, "access")
		if err != nil {
			return "", fmt.Errorf("%w: %w", payments.ErrUnauthorized, err)
		}
		party, id := queue.PartyGuide, claims.Subject
		if claims.Role == protocol.RoleShopper {
			party, id = queue.PartyShopper, claims.EntryID
		}
		call, err := q.Call(r.Context(), party, id, callID)
		switch {
		case errors.Is(err, queue.ErrUnavailable):
			// Not the caller's fault: payments answers 503 and it retries.
			return "", fmt.Errorf("%w: call %s: %w", payments.ErrUnavailable, callID, err)
		case err != nil:
			// The queue's reason stays out of the answer, which a stranger reads.
			return "", fmt.Errorf("%w: not a party of call %s", payments.ErrForbidden, callID)
		}
		switch payments.RequestAction(r) {
		case payments.ActionRefund:
			// During the call or after it; the refund window is payments'.
			if party != queue.PartyGuide {
				return "", fmt.Errorf("%w: only the guide refunds", payments.ErrForbidden)
			}
		case payments.ActionCreate:
			if party != queue.PartyGuide {
				return "", fmt.Errorf("%w: only the guide sends payment links", payments.ErrForbidden)
			}
			if call.State != queue.CallConnected {
				return "", fmt.Errorf("%w: call %s is %s, not connected", payments.ErrForbidden, call.ID, call.State)
			}
		}
		return string(party) + ":" + id, nil
	}
}
