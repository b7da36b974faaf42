// Package frontend serves guidecall's browser pages from files embedded in
// the binary, so `go run ./cmd/guidecall` needs no build step and no
// separate web server.
//
// # What it owns
//
//   - static/widget.js: the one tag merchants put on their pages. It
//     defines window.guidecall (open, close, on, setContext, identify,
//     showLauncher) and mounts the shopper widget, static/shop/shop.js with
//     panel.js and, once a call starts, incall.js, into a Shadow DOM: pre-call
//     choices (video, camera off, audio only, preview), denial ways out,
//     the wait, the call (minimisable), chat, product cards, payment cards,
//     the summary and the rating. The session lives in the host page's
//     sessionStorage, so a reload comes back into the same place.
//   - static/shop/index.html and demo.js: the demo product page, a plain
//     host page using that same tag.
//   - static/guide/: the guide console (login, presence, offers, calls,
//     payment links, wrap-up notes). Outside a call: i18n.js (its own
//     catalogs, static/locales/console/, fourteen like the widget's, picked
//     in the header), alerts.js (chime and desktop notification of an
//     offer), presence.js (busy, wrap-up countdown, the way back after an
//     automatic away), history.js (the wrap-up saved with the call and the
//     history of past calls) and lobby.js (the queue overview).
//   - static/admin/: the admin dashboard (an admin's login, the service
//     now, today / 7 / 30 days as tiles, inline-SVG charts, tables and a
//     CSV export, from GET /api/v1/admin/stats) and its management:
//     manage.js (queues, guides, the product feed), payments.js (providers'
//     figures, rollouts, risk limits), webhooks.js (merchant endpoints, the
//     delivery log, replay) and forms.js (refusals shown beside their
//     field); at phone widths admin.css draws its tables' rows stacked,
//     labelled by js/stack.js;
//     with its own fourteen catalogs in static/locales/admin/ so the widget
//     never loads them.
//   - static/js/: plain ES modules shared by the pages: signal.js (the
//     WebSocket client of docs/protocol.md), call.js (the RTCPeerConnection
//     lifecycle), money.js (integer minor units, no floats), i18n.js and
//     stack.js (each table cell labelled with its column, for the stacked
//     rows of the dashboard's tables and the console's queue overview at
//     phone widths).
//   - static/css/ (app.css for the pages, widget.css inside the widget's
//     shadow root) and static/locales/: fourteen catalogs (en, zh-CN, ja,
//     ko, th, id, vi, ar, he, de, nl, fr, es, pt-BR), ar and he right to
//     left.
//
// [HandlerFor] answers the merchant origins of --allowed-origins with CORS
// on everything but pages (module scripts and fetched catalogs need it)
// and lets them frame the pages.
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
