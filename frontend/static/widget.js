// widget.js: the one tag a merchant puts on a page.
//
//   <script src="https://HOST/widget.js" data-queue="default" data-locale="auto" async></script>
//
// A classic script (document.currentScript names the tag, its data
// attributes are the settings). It defines window.guidecall at once, so the
// host page may call it before the panel module arrives (calls are kept and
// replayed), then imports the panel into a Shadow DOM of its own: no style
// leaks either way and the widget never reads the host page's DOM; the page
// tells it what it needs through data attributes and setContext().
(() => {
  "use strict";
  if (window.guidecall && window.guidecall.version) return; // loaded twice
  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(".", script.src).href;
  const data = script.dataset;
  const settings = {
    queue: data.queue || "default",
    locale: data.locale || "auto",
    currency: data.currency || "",
    precall: data.precall !== "off",
    launcher: data.launcher !== "off",
    // Forwarded with the join (shop/join-extras.js checks their shape).
    skill: data.skill || "",
    secondLanguage: data.secondLanguage || "",
    customerToken: data.customerToken || "",
  };

  const listeners = new Map();
  const pending = [];
  let panel = null;
  const call = (name, args) => {
    if (panel) return panel[name](...args);
    pending.push([name, args]);
    return undefined;
  };
  const api = {
    version: 1,
    open: (...a) => call("open", a),
    close: (...a) => call("close", a),
    setContext: (...a) => call("setContext", a),
    identify: (...a) => call("identify", a),
    showLauncher: (...a) => call("showLauncher", a),
    on(event, fn) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(fn);
      return () => listeners.get(event)?.delete(fn);
    },
    off(event, fn) { listeners.get(event)?.delete(fn); },
    // For automated tests and support: the machine state and the call's stats.
    state: () => (panel ? panel.state() : "idle"),
    stats: async () => (panel ? panel.stats() : { connectionState: "new", framesDecoded: 0, framesSent: 0 }),
    restartIce: (...a) => call("restartIce", a),
    media: () => (panel ? panel.media() : []),
    get root() { return shadow; },
  };
  const emit = (event, detail) => {
    for (const fn of listeners.get(event) || []) {
      try { fn(detail); } catch (err) { console.error("guidecall: handler for", event, err); }
    }
  };
  // The page's stub's calls (README).
  const early = Array.isArray(window.guidecall?.q) ? window.guidecall.q : [];
  window.guidecall = api;
  for (const [name, args] of early) api[name]?.(...args);

  const host = document.createElement("guidecall-widget");
  // No inline style here: a merchant's style-src CSP would refuse it. The
  // shadow root's own sheet resets the host (:host { all: initial }).
  const shadow = host.attachShadow({ mode: "open" });
  const mount = () => {
    document.body.append(host);
    import(new URL("shop/shop.js", base).href)
      .then((m) => m.mount({ root: shadow, settings, emit, api }))
      .then((p) => {
        panel = p;
        for (const [name, args] of pending.splice(0)) panel[name](...args);
        emit("ready", {});
      })
      .catch((err) => console.error("guidecall: the widget did not load", err));
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
