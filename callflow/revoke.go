package callflow

import (
	"context"
	"time"

	"guidecall/internal/auth"
	"guidecall/queue"
)

// noticeTURNRevoke is the hub notice that revokes one TURN credential id
// on every node: a credential handed out by one node works on all of
// them, so each must refuse it.
const noticeTURNRevoke = "turn.revoke"

// ShopperTURNTTL bounds a shopper's TURN credentials: about a long call;
// the client renews them through /api/v1/ice-servers while its call lasts.
const ShopperTURNTTL = 20 * time.Minute

// shopperTURNID names a shopper's TURN credentials for one call, so ending
// the call revokes exactly them.
func shopperTURNID(entryID, callID string) string { return entryID + "." + callID }

// guideTURNID names a guide's TURN credentials for one login.
func guideTURNID(accountID, family string) string { return accountID + "." + family }

// Notice handles the hub's cluster-wide notices; the app passes it as
// signaling.Config.Notices.
func (f *Flow) Notice(topic, value string) {
	if topic == noticeTURNRevoke && value != "" {
		f.cfg.TURN.Revoke(value)
	}
}

// CallEnded revokes the shopper's TURN credentials of a finished call on
// every node; the app subscribes it to the queue.
func (f *Flow) CallEnded(ctx context.Context, e queue.Event) {
	fin, ok := e.(queue.CallFinished)
	if !ok {
		return
	}
	id := shopperTURNID(fin.Call.EntryID, fin.Call.ID)
	if err := f.hub.Notice(ctx, noticeTURNRevoke, id); err != nil {
		// This node at least refuses them; the others see the credential
		// expire with its short TTL.
		f.cfg.TURN.Revoke(id)
		f.log.WarnContext(ctx, "could not revoke TURN credentials cluster-wide", "call_id", fin.Call.ID, "entry_id", fin.Call.EntryID, "err", err)
		return
	}
	f.log.DebugContext(ctx, "TURN credentials of the call revoked", "call_id", fin.Call.ID, "entry_id", fin.Call.EntryID)
}

// AuthEvent acts on auth's events: a login that ended loses its TURN
// credentials, and a disabled account loses its sockets, on every node.
// The app subscribes it to auth.Service.
func (f *Flow) AuthEvent(ctx context.Context, e auth.Event) {
	rev, ok := e.(auth.SessionsRevoked)
	if !ok {
		return
	}
	for _, fam := range rev.Families {
		if err := f.hub.Notice(ctx, noticeTURNRevoke, guideTURNID(rev.AccountID, fam)); err != nil {
			f.cfg.TURN.Revoke(guideTURNID(rev.AccountID, fam))
			f.log.WarnContext(ctx, "could not revoke TURN credentials cluster-wide", "guide_id", rev.AccountID, "err", err)
		}
	}
	if rev.Disabled {
		if err := f.hub.Disconnect(ctx, guide(rev.AccountID), rev.Reason); err != nil {
			f.log.ErrorContext(ctx, "could not close the sockets of a disabled account", "guide_id", rev.AccountID, "err", err)
		}
	}
}
