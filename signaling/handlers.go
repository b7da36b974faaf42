package signaling

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"guidecall/protocol"
)

// Handler applies one client message that is not relayed. Errors it
// returns reach the sender as protocol errors: return a *protocol.Error to
// choose the code.
type Handler func(ctx context.Context, who Identity, m protocol.Envelope) error

// Route checks that a relayed message names who's own live call and
// returns the party to pass it to. It may record progress (the first SDP
// of a call). Its errors reach the sender like a Handler's.
type Route func(ctx context.Context, who Identity, m protocol.Envelope) (Address, error)

// registry maps each client message type to its handler and the roles that
// may send it. Who may send what is declared where the handler is, so the
// hub enforces exactly what the wiring registered.
type registry struct {
	mu     sync.RWMutex
	byType map[protocol.Type]registered
	route  Route
}

type registered struct {
	fn    Handler
	roles []protocol.Role
}

func newRegistry() registry { return registry{byType: make(map[protocol.Type]registered)} }

// Handle registers fn for messages of type t from parties of the given
// roles; a message no handler takes from the sender's role is refused with
// unknown_type. Register before the hub serves. Registering a type twice,
// a relayed type, auth (the hub's own) or no role is a wiring mistake and
// panics.
func (h *Hub) Handle(t protocol.Type, fn Handler, roles ...protocol.Role) {
	r := &h.handlers
	r.mu.Lock()
	defer r.mu.Unlock()
	switch _, dup := r.byType[t]; {
	case t == protocol.TypeAuth || t.Relayed():
		panic(fmt.Sprintf("signaling: Handle(%q): the hub handles it itself", t))
	case fn == nil || len(roles) == 0:
		panic(fmt.Sprintf("signaling: Handle(%q) needs a func and at least one role", t))
	case dup:
		panic(fmt.Sprintf("signaling: Handle(%q) registered twice", t))
	}
	r.byType[t] = registered{fn: fn, roles: slices.Clone(roles)}
}

// Relay sets the route every relayed message (sdp, ice, ice.restart) from
// either party passes. Without one, relayed messages are refused with
// unknown_type. Setting it twice panics.
func (h *Hub) Relay(route Route) {
	r := &h.handlers
	r.mu.Lock()
	defer r.mu.Unlock()
	if route == nil || r.route != nil {
		panic("signaling: Relay needs one route, set once")
	}
	r.route = route
}

// handler is the handler of t for a sender of role, if one is registered.
func (r *registry) handler(t protocol.Type, role protocol.Role) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.byType[t]
	if !ok || !slices.Contains(reg.roles, role) {
		return nil, false
	}
	return reg.fn, true
}

func (r *registry) relayRoute() Route {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.route
}
