package signaling_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"guidecall/protocol"
	"guidecall/signaling"
)

func TestHandleRefusesWiringMistakes(t *testing.T) {
	t.Parallel()
	hub, err := signaling.NewHub(signaling.Config{Auth: fakeAuth{}, Sessions: newFakeController(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	nop := func(context.Context, signaling.Identity, protocol.Envelope) error { return nil }
	hub.Handle(protocol.TypeCallEnd, nop, protocol.RoleGuide)
	for name, register := range map[string]func(){
		"twice":        func() { hub.Handle(protocol.TypeCallEnd, nop, protocol.RoleShopper) },
		"auth":         func() { hub.Handle(protocol.TypeAuth, nop, protocol.RoleShopper) },
		"relayed type": func() { hub.Handle(protocol.TypeSDP, nop, protocol.RoleShopper) },
		"no role":      func() { hub.Handle(protocol.TypeQueueCancel, nop) },
		"no func":      func() { hub.Handle(protocol.TypeQueueCancel, nil, protocol.RoleShopper) },
		"no route":     func() { hub.Relay(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			register()
		})
	}
}

// A hub with no route refuses relayed messages instead of passing them on.
func TestRelayNeedsARoute(t *testing.T) {
	t.Parallel()
	ctrl := newFakeController()
	hub, err := signaling.NewHub(signaling.Config{Auth: fakeAuth{}, Sessions: ctrl, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t, hub, ctrl)
	a := e.connect(t, "tok-a")
	a.send(msg(protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: "v=0"}))
	a.expectError(protocol.CodeUnknownType, protocol.TypeSDP)
	// Nor are unregistered types handled.
	a.send(msg(protocol.TypeQueueCancel, "", nil))
	a.expectError(protocol.CodeUnknownType, protocol.TypeQueueCancel)
}

// serve serves hub over loopback as newEnv does, without registering the
// fake's handlers.
func serve(t *testing.T, hub *signaling.Hub, ctrl *fakeController) *env {
	t.Helper()
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
	})
	return &env{t: t, hub: hub, ctrl: ctrl, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}
