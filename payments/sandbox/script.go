package sandbox

import (
	"context"
	"encoding/json"
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
}

func (s Script) validate() error {
	if s.CreateDelayMS < 0 || s.CreateDelayMS > 60_000 || s.WebhookDelayMS < 0 || s.WebhookDelayMS > 3_600_000 ||
		s.Duplicates < 0 || s.Duplicates > 10 {
		return errors.New("sandbox: create_delay_ms 0..60000, webhook_delay_ms 0..3600000, duplicates 0..10")
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
	}
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
//	GET /   the script in force
//	PUT /   replace it (Script as JSON)
func (sb *Sandbox) ScriptRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { httpjson.Write(w, http.StatusOK, sb.CurrentScript()) })
	r.Put("/", func(w http.ResponseWriter, r *http.Request) {
		var s Script
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		if err := sb.SetScript(s); err != nil {
			httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_script", err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, sb.CurrentScript())
	})
	return r
}
