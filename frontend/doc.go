// Package frontend serves guidecall's browser pages from files embedded in
// the binary, so `go run ./cmd/guidecall` needs no build step and no
// separate web server.
//
// # What it owns
//
//   - static/shop/: a demo product page with the shopper call widget
//     (queue, WebRTC call, localized payment cards).
//   - static/guide/: the guide console (login, presence, offers, calls,
//     payment links, wrap-up notes).
//   - static/js/: plain ES modules shared by both pages: signal.js (the
//     WebSocket client of docs/protocol.md), call.js (the RTCPeerConnection
//     lifecycle), money.js (integer minor units, no floats) and i18n.js.
//   - static/css/ and static/locales/ (en, de, fr, es, ja catalogs).
//
// Serving: every reference a page or module makes to another file is
// rewritten once, at start-up, to carry "?v=<content hash>" (so a change
// anywhere down the import graph changes every URL on the way to it);
// such URLs are cached for a year as immutable, while the entry points
// (the pages, and whatever is asked for without ?v=, such as a widget
// loader on a merchant's site) are "no-cache" and revalidated by ETag.
// Text files are served gzipped to clients that accept it. Modules must
// not import each other in a cycle.
//
// # What it does not own
//
// No API or WebSocket endpoint lives here; the pages speak to /api/v1 as
// described in docs/api.md and docs/protocol.md. [Handler] is mounted by the
// HTTP wiring (package app) at the root of the site.
package frontend
