package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
	"guidecall/webhook"
)

// badKeyName signs webhooks with a secret the receiver does not have.
const badKeyName = "sandbox-bad-signature"

// Script is how the sandbox misbehaves, for demos and tests: each field
// applies to every checkout and webhook of this Sandbox from now on, until
// set again (FailNextCreate to the next create only). It belongs to one
// node: in a cluster, script the node that serves the checkout.
type Script struct {
	// FailNextCreate makes the next create fail, as a provider outage.
	FailNextCreate bool `json:"fail_next_create"`
	// CreateDelayMS holds every create back this long (a slow provider);
	// the payments service's create timeout then fails it over.
	CreateDelayMS int `json:"create_delay_ms"`
	// WebhookDelayMS holds each webhook back before its first attempt
	// (late); the n-th duplicate waits n+1 times as long.
	WebhookDelayMS int `json:"webhook_delay_ms"`
	// Duplicates delivers every webhook this many more times, same event id.
	Duplicates int `json:"duplicates"`
	// BadSignature signs webhooks with a wrong secret: the service refuses
	// them with 400, and reconciliation heals the link.
	BadSignature bool `json:"bad_signature"`
	// DropWebhooks never sends them: reconciliation heals the link.
	DropWebhooks bool `json:"drop_webhooks"`
	// ExpireAfterMS lets every new checkout expire this long after it is
	// made (sooner than the link's own expiry): its page then refuses
	// payment, and a payment.expired webhook is sent when it comes.
	ExpireAfterMS int `json:"expire_after_ms"`
	// HoldWebhooks keeps every webhook back, on this node, until Release
	// sends them one by one in the order asked: true out-of-order
	// delivery (a refund before the payment it refunds, a payment after a
	// later failure). Held webhooks are lost with the process.
	HoldWebhooks bool `json:"hold_webhooks"`
}

func (s Script) validate() error {
	if s.CreateDelayMS < 0 || s.CreateDelayMS > 60_000 || s.WebhookDelayMS < 0 || s.WebhookDelayMS > 3_600_000 ||
		s.Duplicates < 0 || s.Duplicates > 10 || s.ExpireAfterMS < 0 || s.ExpireAfterMS > 86_400_000 {
		return errors.New("sandbox: create_delay_ms 0..60000, webhook_delay_ms 0..3600000, duplicates 0..10, expire_after_ms 0..86400000")
	}
	return nil
}

// SetScript replaces the sandbox's script.
func (sb *Sandbox) SetScript(s Script) error {
	if err := s.validate(); err != nil {
		return err
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.failNext = nil
	if s.FailNextCreate {
		sb.failNext = errors.New("scripted outage")
	}
	sb.createDelay = time.Duration(s.CreateDelayMS) * time.Millisecond
	sb.delay = time.Duration(s.WebhookDelayMS) * time.Millisecond
	sb.dupes = s.Duplicates
	sb.badSignature = s.BadSignature
	sb.dropWebhooks = s.DropWebhooks
	sb.expireAfter = time.Duration(s.ExpireAfterMS) * time.Millisecond
	sb.hold = s.HoldWebhooks
	if s.BadSignature && sb.cfg.Outbox != nil {
		sb.cfg.Outbox.SetKey(badKeyName, webhook.Key{Header: SignatureHeader, Secret: []byte("not-the-sandbox-secret")})
	}
	sb.log.Info("sandbox script set", "script", fmt.Sprintf("%+v", s))
	return nil
}

// CurrentScript is the script in force.
func (sb *Sandbox) CurrentScript() Script {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return Script{
		FailNextCreate: sb.failNext != nil, CreateDelayMS: int(sb.createDelay / time.Millisecond),
		WebhookDelayMS: int(sb.delay / time.Millisecond), Duplicates: sb.dupes,
		BadSignature: sb.badSignature, DropWebhooks: sb.dropWebhooks,
		ExpireAfterMS: int(sb.expireAfter / time.Millisecond), HoldWebhooks: sb.hold,
	}
}

// Release sends up to count of the held webhooks (each with its scripted
// duplicates), the newest first when newestFirst, and returns how many it
// sent and how many are still held. Sending one at a time, and the next
// once the first arrived, is what orders their delivery: webhooks sent
// together may arrive in any order.
func (sb *Sandbox) Release(ctx context.Context, count int, newestFirst bool) (released, held int, err error) {
	if sb.cfg.Outbox == nil {
		return 0, 0, errors.New("sandbox: no outbox to send held webhooks through")
	}
	for released < count {
		sb.mu.Lock()
		if len(sb.held) == 0 {
			sb.mu.Unlock()
			break
		}
		var group []webhook.Delivery
		if newestFirst {
			group, sb.held = sb.held[len(sb.held)-1], sb.held[:len(sb.held)-1]
		} else {
			group, sb.held = sb.held[0], sb.held[1:]
		}
		sb.mu.Unlock()
		for i, d := range group {
			if err := sb.cfg.Outbox.Enqueue(ctx, d); err != nil {
				sb.mu.Lock()
				rest := group[i:]
				if newestFirst {
					sb.held = append(sb.held, rest)
				} else {
					sb.held = append([][]webhook.Delivery{rest}, sb.held...)
				}
				sb.mu.Unlock()
				return released, sb.heldCount(), fmt.Errorf("sandbox: send held webhook: %w", err)
			}
		}
		sb.log.Info("sandbox held webhook released", append([]any{"newest_first", newestFirst}, group[0].Attrs...)...)
		released++
	}
	return released, sb.heldCount(), nil
}

func (sb *Sandbox) heldCount() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.held)
}

// ReleaseRequest is the body of POST /release.
type ReleaseRequest struct {
	// Count is how many held webhooks to send; 1 if absent.
	Count int `json:"count"`
	// Order is "newest" (the default: the most recent outcome's first)
	// or "oldest".
	Order string `json:"order"`
}

// ReleaseResult answers POST /release.
type ReleaseResult struct {
	Released int `json:"released"`
	Held     int `json:"held"`
}

// waitCreateDelay sleeps the scripted create delay, or until ctx ends.
func (sb *Sandbox) waitCreateDelay(ctx context.Context) error {
	sb.mu.Lock()
	d := sb.createDelay
	sb.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ScriptRoutes serves the script to admins; the wiring mounts it at
// /api/v1/admin/sandbox/script behind the admin's token.
//
//	GET  /          the script in force
//	PUT  /          replace it (Script as JSON)
//	POST /release   send held webhooks (ReleaseRequest), answer ReleaseResult
func (sb *Sandbox) ScriptRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { httpjson.Write(w, http.StatusOK, sb.CurrentScript()) })
	r.Put("/", func(w http.ResponseWriter, r *http.Request) {
		var s Script
		if !decodeScriptBody(w, r, &s) {
			return
		}
		if err := sb.SetScript(s); err != nil {
			httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_script", err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, sb.CurrentScript())
	})
	r.Post("/release", func(w http.ResponseWriter, r *http.Request) {
		var req ReleaseRequest
		if !decodeScriptBody(w, r, &req) {
			return
		}
		if req.Count == 0 {
			req.Count = 1
		}
		if req.Count < 1 || req.Count > 1000 {
			httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_release", "count: 1..1000")
			return
		}
		if req.Order != "" && req.Order != "newest" && req.Order != "oldest" {
			httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_release", `order: "newest" or "oldest"`)
			return
		}
		released, held, err := sb.Release(r.Context(), req.Count, req.Order != "oldest")
		if err != nil {
			sb.log.Warn("sandbox release of held webhooks", "released", released, "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "outbox_unavailable", err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, ReleaseResult{Released: released, Held: held})
	})
	return r
}

// decodeScriptBody decodes a small JSON object body into v, or answers
// 400 (413 for a big one) and returns false.
func decodeScriptBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, 4<<10), v, true)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
		return false
	case err != nil:
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}
