// guide.js: the guide console: login, presence, offers, the calls (as the
// initiator), payment links and wrap-up notes. A guide of capacity above 1
// holds several calls at once: one is on screen (its video, context,
// payment links and transfer), the others are listed with switch and end,
// and are on hold (hold.js).
import { Signal, defaultWsUrl } from "../js/signal.js";
import { Call, fetchIceConfig } from "../js/call.js";
import { ShopSide } from "./shopside.js";
import { PeerMedia } from "./media.js";
import { ShopperContext } from "./context.js";
import { createLinks } from "./links.js";
import { ProductFeed } from "./products.js";
import { SavedReplies } from "./replies.js";
import { formatTime, initI18n, mountLocalePicker, onLocaleChange, t } from "./i18n.js";
import { OfferAlerts, mountSoundToggle } from "./alerts.js";
import { PresenceView } from "./presence.js";
import { HistoryView, fillOutcomes, saveWrapUp } from "./history.js";
import { QueueOverview } from "./lobby.js";
import { Hold } from "./hold.js";

const $ = (sel) => document.querySelector(sel);
const REFRESH_KEY = "guidecall.refresh_token";

const auth = { access: null, expiresAt: 0, timer: null, account: null };
const s = {
  signal: null,
  stream: null,
  presence: "away",
  pendingPresence: null, // chosen before the socket existed
  offers: [], // pending offers, oldest first: {offer_id, deadlineMs, ...}; the first is shown
  accepting: null, // offer_id sent as offer.accept, until call.matched or an error
  countdown: null,
  calls: new Map(), // call_id -> {id, call, peer, state, stream, links, ended}
  activeId: null, // the call on screen
  callState: "waiting",
  capacity: 1,
  notes: new Map(),
  outcomes: new Map(), // call_id -> the wrap-up outcome chosen, until saved
  transferTargets: null, // {callId, tt}: the picker's targets as last listed, drawn again in a new language
};

const active = () => s.calls.get(s.activeId) || null;
const alerts = new OfferAlerts();
const presence = new PresenceView();
const pastCalls = new HistoryView({ token: () => auth.access });
const overview = new QueueOverview({
  token: () => auth.access,
  onClaimCallbacks: () => {
    $("#callbacks-panel").scrollIntoView({ block: "start" });
    $("#callbacks-refresh").focus();
  },
});
const liveCall = (rec) => rec && rec.call && !rec.call.closed;

// The chat, product cards and cart follow the call on screen.
const shopSide = new ShopSide({
  send: (type, data) => s.signal?.send(type, data, s.activeId),
  token: () => auth.access,
});
const peerMedia = new PeerMedia();
const replies = new SavedReplies({ token: () => auth.access });
new ProductFeed({ token: () => auth.access, send: (type, data) => s.signal?.send(type, data, s.activeId), live: () => liveCall(active()) });
const links = createLinks({ token: () => auth.access, calls: () => s.calls, activeId: () => s.activeId, liveCall, showError });
// A reloaded console knows the shopper only from the server's context.
const shopperContext = new ShopperContext({
  token: () => auth.access,
  onContext: (callId, c) => {
    const rec = s.calls.get(callId);
    if (!rec) return;
    const known = rec.peer.currency;
    Object.assign(rec.peer, { name: c.name, locale: c.locale, currency: c.currency, page_url: c.page_url, customer_id: c.customer_id });
    if (!known && callId === s.activeId && !$("#pay-amount").value) $("#pay-currency").value = c.currency;
    renderCalls();
  },
});

// Only the call on screen hears and sees the guide; the others are told they wait.
const hold = new Hold({ send: (callId, onHold, before) => {
  s.signal?.send("call.hold", { on_hold: onHold }, callId);
  // A line when the hold changes, not when a reload only says it again.
  if (onHold || before !== undefined) shopSide.note(callId, onHold ? "chat.sys.held" : "chat.sys.unheld");
} });

// --- hooks for automated browser tests ---
window.guidecall = {
  state: () => s.callState,
  calls: () => [...s.calls.values()].map((r) => ({
    call_id: r.id, state: r.state, active: r.id === s.activeId, on_hold: hold.isHeld(r.id),
    // What this call's RTCRtpSenders really send, and whether its shopper's media may play.
    sending: (r.call?.pc?.getSenders() || []).filter((x) => x.track?.enabled).map((x) => x.track.kind).sort(),
    playing: (r.stream?.getTracks() || []).filter((tr) => tr.enabled).map((tr) => tr.kind).sort(),
  })),
  offers: () => s.offers.map((o) => o.offer_id),
  callbackPushes: () => s.callbackPushes || 0,
  presence: () => presence.shown(),
  wrapUpLeft: () => presence.wrapUpLeft(),
  callId: () => s.activeId,
  stats: async () => (active()?.call
    ? active().call.stats()
    : { connectionState: "new", localCandidateType: null, remoteCandidateType: null, framesDecoded: 0, framesSent: 0 }),
};

function setCallState(state) {
  s.callState = state;
  const el = $("#call-state");
  el.textContent = state; // machine state: scripts and tests read it, it is visually hidden
  el.dataset.state = state;
  renderBadge();
}

// renderBadge shows what the guide's situation is: the call's state during a
// call (until the wrap-up is done), an incoming offer, or else the presence.
function renderBadge() {
  const callLabels = {
    waiting: () => t("badge.waiting"),
    matched: () => t("badge.matched"),
    connecting: () => t("badge.connecting"),
    connected: () => t("badge.connected"),
    ended: () => t("badge.ended"),
  };
  const presenceLabels = {
    available: () => t("badge.available"),
    away: () => t("badge.away"),
    busy: () => t("badge.busy"),
    wrap_up: () => t("badge.wrap_up"),
  };
  let key;
  let text;
  if (active()) {
    key = s.callState;
    text = callLabels[key]?.() || key;
  } else if (s.offers.length) {
    key = "offer";
    text = t("offer.title");
  } else {
    key = s.presence;
    text = presenceLabels[key]?.() || key;
  }
  const badge = $("#call-state-label");
  badge.dataset.state = key;
  if (badge.textContent !== text) badge.textContent = text;
  $("#idle-hint").textContent = s.presence === "available" ? t("idle.available")
    : s.presence === "wrap_up" ? t("idle.wrap_up")
      : s.presence === "busy" ? t("idle.busy") : t("idle.away");
}

function showError(sel, text) {
  const el = $(sel);
  el.textContent = text || "";
  el.hidden = !text;
}

// --- auth ---

async function authRequest(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) {
    const err = new Error(data?.error?.message || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function acceptTokens(data) {
  auth.access = data.access_token;
  auth.account = data.account || auth.account;
  const ttl = Math.max(30, Number(data.expires_in) || 900) * 1000;
  auth.expiresAt = Date.now() + ttl;
  if (data.refresh_token) sessionStorage.setItem(REFRESH_KEY, data.refresh_token);
  clearTimeout(auth.timer);
  // Refresh at 80% of the lifetime, at least a minute early when possible.
  const delay = Math.max(10000, Math.min(ttl * 0.8, ttl - 60000));
  auth.timer = setTimeout(() => refresh(0), delay);
}

async function refresh(attempt) {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return logout(t("login.session_ended"));
  try {
    acceptTokens(await authRequest("/api/v1/auth/refresh", { refresh_token: token }));
  } catch (err) {
    if (err.status === 401 || err.status === 400 || attempt >= 5) {
      return logout(t("login.session_expired"));
    }
    // Network trouble: try again soon, while the access token may still work.
    auth.timer = setTimeout(() => refresh(attempt + 1), 5000 * (attempt + 1));
  }
}

async function onLogin(ev) {
  ev.preventDefault();
  const email = $("#email").value.trim();
  const password = $("#password").value;
  if (!email || !password) return showError("#login-error", t("login.missing"));
  showError("#login-error", "");
  $("#login-submit").disabled = true;
  alerts.askPermission(); // the click that lets a page ask, and start sound
  try {
    acceptTokens(await authRequest("/api/v1/auth/login", { email, password }));
    $("#password").value = "";
    await enterConsole();
  } catch (err) {
    showError("#login-error", err.status === 401 ? t("login.wrong") :
      err.status === 429 ? t("login.too_many") : t("login.failed", { message: err.message }));
  } finally {
    $("#login-submit").disabled = false;
  }
}

function logout(message) {
  clearTimeout(auth.timer);
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  // End the login on the server too: its tokens and TURN credentials stop.
  if (refreshToken) authRequest("/api/v1/auth/logout", { refresh_token: refreshToken }).catch(() => {});
  sessionStorage.removeItem(REFRESH_KEY);
  auth.access = null;
  for (const rec of s.calls.values()) if (liveCall(rec)) rec.call.end("hangup");
  for (const id of s.calls.keys()) shopSide.forget(id);
  s.calls.clear();
  hold.releaseAll();
  s.activeId = null;
  renderCalls();
  s.signal?.close();
  s.signal = null;
  s.pendingPresence = null;
  for (const tr of s.stream?.getTracks() || []) tr.stop();
  s.stream = null;
  s.offers = [];
  renderOffer();
  clearInterval(s.callbacksTimer);
  $("#console-view").hidden = true;
  $("#lobby-view").hidden = true;
  overview.stop();
  $("#account").hidden = true;
  $("#login-view").hidden = false;
  if (message) showError("#login-error", message);
}

// --- console ---

async function enterConsole() {
  $("#login-view").hidden = true;
  $("#console-view").hidden = false;
  $("#lobby-view").hidden = false;
  $("#account").hidden = false;
  $("#account-name").textContent = auth.account?.name || auth.account?.email || "";
  setPresence("away");
  setCallState("waiting");
  try {
    s.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    $("#local-video").srcObject = s.stream;
    showError("#media-error", "");
  } catch (err) {
    console.warn("getUserMedia failed", err);
    showError("#media-error", t("media.unavailable"));
  }
  alerts.showPermission($("#notify-hint"));
  pastCalls.load();
  overview.start();
  connectSignal();
  loadCallbacks();
  clearInterval(s.callbacksTimer);
  // callback.changed brings news at once; the slow poll covers a socket
  // that was down when it came.
  s.callbacksTimer = setInterval(() => { if (auth.access) loadCallbacks(); }, 15000);
}

function connectSignal() {
  const signal = new Signal({ url: defaultWsUrl(), token: () => auth.access });
  s.signal = signal;
  hold.attach(signal);
  if (s.pendingPresence) {
    signal.send("presence", { status: s.pendingPresence }); // queued until welcome
    s.pendingPresence = null;
  }
  signal.on("welcome", (msg) => {
    const d = msg.data || {};
    if (d.status) setPresence(d.status, d.status_reason, d.wrap_up_ms);
    setCapacity(d.capacity);
    // Every accepted call the server says this guide holds (older servers
    // send only `call`); pending offers come again as offer messages.
    const listed = (Array.isArray(d.calls) ? d.calls : d.call ? [d.call] : [])
      .filter((c) => c && c.call_id && c.state !== "ended");
    const held = new Set(listed.map((c) => c.call_id));
    for (const rec of s.calls.values()) {
      if (!liveCall(rec)) continue;
      if (d.resumed && held.has(rec.id)) rec.call.resumed();
      else rec.call.close("peer_lost");
    }
    for (const c of listed) {
      // A reload during a call: offer again from a fresh connection.
      if (!s.calls.has(c.call_id)) {
        onMatched({ call_id: c.call_id, data: { role: "guide", initiator: "guide", peer: c.peer || {} } }, { resumed: true });
      }
    }
  });
  signal.on("presence", (msg) => setPresence(msg.data?.status, msg.data?.reason, msg.data?.wrap_up_ms));
  signal.on("offer", (msg) => showOffer(msg.data || {}));
  signal.on("offer.revoked", (msg) => dropOffer(msg.data?.offer_id));
  signal.on("call.matched", (msg) => onMatched(msg));
  for (const type of ["sdp", "ice", "ice.restart", "call.peer", "call.state", "call.ended"]) {
    signal.on(type, (msg) => s.calls.get(msg.call_id)?.call?.handle(msg));
  }
  signal.on("call.peer", (msg) => {
    if (msg.call_id !== s.activeId) return;
    const d = msg.data || {};
    if (d.status === "disconnected") {
      const seconds = Math.round((d.grace_ms || 0) / 1000);
      showConnectionStatus(() => t("status.peer_lost", { seconds }));
      coverUntilNextFrame();
    } else if (d.status === "reconnected") {
      showConnectionStatus(() => t("status.peer_back"));
      // A shopper who sends no video has no frame to wait for.
      const v = $("#remote-video").srcObject;
      if (!v || !v.getVideoTracks().some((tr) => tr.readyState === "live" && !tr.muted)) $("#peer-reconnecting").hidden = true;
    }
  });
  signal.on("payment.link", (msg) => {
    const d = msg.data || {};
    const before = s.calls.get(msg.call_id)?.links.get(d.link_id)?.status;
    links.upsert(msg.call_id, d);
    if (d.status === "paid" && before !== "paid" && s.calls.has(msg.call_id)) {
      shopSide.note(msg.call_id, "chat.sys.paid", { what: d.description || d.items?.[0]?.name || "" }, { amount: d.amount, currency: d.currency });
    }
  });
  for (const type of ["chat.message", "product.card", "cart"]) signal.on(type, (msg) => shopSide.handle(msg));
  signal.on("cart", (msg) => shopperContext.cartChanged(msg.call_id));
  signal.on("media.state", (msg) => peerMedia.update(msg.call_id, msg.data));
  signal.on("callback.changed", () => {
    s.callbackPushes = (s.callbackPushes || 0) + 1;
    loadCallbacks();
    overview.load();
  });
  signal.on("error", (msg) => {
    const d = msg.data || {};
    console.warn("server error", d);
    if (d.ref === "offer.accept" && d.code === "bad_state") dropOffer(s.accepting);
    if (d.ref === "call.transfer") showError("#transfer-error", t("transfer.failed", { message: d.message || d.code }));
  });
  signal.onStatus(({ status, code }) => {
    const text = {
      connecting: () => t("status.connecting"),
      authenticating: () => t("status.authenticating"),
      ready: () => t("status.ready"),
      reconnecting: () => t("status.reconnecting"),
      closed: code === 4409 ? () => t("status.other_tab") : () => t("status.closed"),
    }[status];
    if (text) showConnectionStatus(text);
    if (status === "closed" && code === 4403 && signal === s.signal) {
      return logout(t("login.revoked"));
    }
    if (status === "closed" && code === 4401 && signal === s.signal && Date.now() - (s.lastReauth || 0) > 30000) {
      // The access token was refused: refresh it once and connect again.
      s.lastReauth = Date.now();
      refresh(0).then(() => { if (auth.access && signal === s.signal) connectSignal(); });
    }
  });
  signal.connect();
}

function setPresence(status, reason, wrapUpMs) {
  if (!["available", "away", "busy", "wrap_up"].includes(status)) return;
  s.presence = status;
  presence.set(status, reason, wrapUpMs);
  renderBadge();
}

function sendPresence(status) {
  setPresence(status); // the server confirms or corrects with a presence message
  if (!s.signal) {
    // Still starting (e.g. the camera prompt is open): connectSignal sends it.
    s.pendingPresence = status;
    return;
  }
  s.signal.send("presence", { status });
}

// --- offers ---

// setCapacity shows how many calls the guide may hold, when more than one.
function setCapacity(n) {
  s.capacity = Number(n) > 0 ? Number(n) : 1;
  const el = $("#capacity-note");
  el.textContent = s.capacity > 1 ? t("presence.capacity", { n: s.capacity }) : "";
  el.hidden = s.capacity <= 1;
}

function showOffer(d) {
  if (!d.offer_id) return;
  const now = Date.now();
  const deadlineMs = Number.isFinite(d.expires_in_ms) ? now + d.expires_in_ms : Date.parse(d.deadline) || now + 15000;
  const i = s.offers.findIndex((o) => o.offer_id === d.offer_id);
  // A resent offer (after a reconnect) replaces its older copy in place.
  if (i >= 0) s.offers[i] = { ...d, deadlineMs };
  else s.offers.push({ ...d, deadlineMs });
  if (i <= 0) renderOffer(); else renderOfferMore();
}

// dropOffer forgets one pending offer (answered, revoked or expired) and
// shows the next, if any: a second offer is never lost behind the first.
function dropOffer(id) {
  if (!id) return;
  const wasShown = s.offers[0]?.offer_id === id;
  s.offers = s.offers.filter((o) => o.offer_id !== id);
  if (s.accepting === id) s.accepting = null;
  if (wasShown) renderOffer(); else renderOfferMore();
}

function renderOfferMore() {
  const more = s.offers.length - 1;
  const el = $("#offer-more");
  el.textContent = more > 1 ? t("offer.more", { n: more }) : more === 1 ? t("offer.more_one") : "";
  el.hidden = more <= 0;
}

function renderOffer() {
  clearInterval(s.countdown);
  const offer = s.offers[0];
  renderOfferMore();
  if (!offer) {
    $("#offer").hidden = true;
    document.title = t("page.title");
    if (s.alertedOffer) alerts.done(s.alertedOffer);
    s.alertedOffer = null;
    restoreNotes();
    renderBadge();
    return;
  }
  // The offer takes the screen from wrap-up notes (kept, and back when
  // the offer is gone), so a guide never types notes into an offer.
  hideNotesForOffer();
  if (s.alertedOffer !== offer.offer_id) {
    if (s.alertedOffer) alerts.done(s.alertedOffer);
    s.alertedOffer = offer.offer_id;
    alerts.offer(offer, { inCall: [...s.calls.values()].some(liveCall) });
  }
  const sh = offer.shopper || {};
  $("#offer-title").textContent = s.calls.size > 0 ? t("offer.title_in_call") : t("offer.title");
  fillContext($("#offer-context"), [
    [t("offer.f.name"), sh.name || t("offer.anonymous")],
    [t("offer.f.customer"), sh.customer_id ? t("offer.signed_in", { id: sh.customer_id }) : ""],
    [t("offer.f.queue"), sh.queue],
    [t("offer.f.locale"), sh.locale],
    [t("common.currency"), sh.currency],
    [t("offer.f.device"), sh.device],
    [t("offer.f.page"), sh.page_url, "url"],
    [t("offer.f.waited"), sh.waited_ms != null ? t("offer.seconds_n", { n: Math.round(sh.waited_ms / 1000) }) : ""],
    [t("offer.f.skill"), sh.skill],
    [t("offer.f.priority"), sh.priority ? String(sh.priority) : ""],
    [t("offer.f.routing"), (sh.steps || []).join(", ").replace(/_/g, " ")],
    [t("offer.f.note"), sh.note],
  ]);
  $("#offer").dataset.offerId = offer.offer_id;
  $("#decline-reason").value = "";
  const answering = s.accepting === offer.offer_id;
  $("#accept-offer").disabled = answering;
  $("#decline-offer").disabled = answering;
  $("#offer").hidden = false;
  document.title = t("offer.tab_title");
  renderBadge();
  if (answering) {
    alerts.stopRepeat();
    $("#offer-countdown").textContent = "…";
    return;
  }
  const tick = () => {
    const left = Math.max(0, Math.ceil((offer.deadlineMs - Date.now()) / 1000));
    $("#offer-countdown").textContent = String(left);
    if (left <= 0) {
      $("#accept-offer").disabled = true;
      clearInterval(s.countdown);
      // offer.revoked should follow; do not leave a dead panel up if it does not.
      const id = offer.offer_id;
      setTimeout(() => dropOffer(id), 3000);
    }
  };
  tick();
  s.countdown = setInterval(tick, 250);
  // Focus moves to the offer only when no call is on screen: the guide
  // may be typing in a call.
  if (!active()) $("#accept-offer").focus();
}

function fillContext(dl, rows) {
  const parts = [];
  for (const [label, value, kind] of rows) {
    if (value == null || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (kind === "url" && /^https?:/i.test(value)) {
      const a = document.createElement("a");
      a.href = value;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = value;
      dd.append(a);
    } else {
      dd.textContent = String(value);
    }
    parts.push(dt, dd);
  }
  dl.replaceChildren(...parts);
}

// --- calls ---

// onMatched starts the call the guide accepted (or, resumed, one it held
// before a reload). A freshly accepted call comes on screen; a resumed one
// only if nothing else is.
function onMatched(msg, { resumed = false } = {}) {
  const id = msg.call_id;
  if (!id || liveCall(s.calls.get(id))) return;
  const d = msg.data || {};
  dropOffer(id);
  const rec = { id, peer: d.peer || {}, state: "matched", stream: null, links: new Map(), ended: null, resumed, call: null, since: new Date() };
  s.calls.set(id, rec);
  shopSide.forget(id);
  shopSide.note(id, resumed ? "chat.sys.back" : "chat.sys.joined");
  rec.call = new Call({
    signal: s.signal,
    callId: id,
    role: "guide",
    initiator: (d.initiator || "guide") === "guide",
    localStream: hold.streamFor(id, s.stream, { resumed }),
    getIceConfig: () => fetchIceConfig(auth.access),
    onState: (st) => {
      if (s.calls.get(id) !== rec) return;
      rec.state = st;
      if (s.activeId === id) setCallState(st);
      renderCalls();
      // The shopper's media is flowing again: drop the reconnecting cover.
      if (s.activeId === id && (st === "connected" || st === "ended")) $("#peer-reconnecting").hidden = true;
    },
    onRemoteStream: (stream) => {
      rec.stream = stream;
      hold.remote(id, stream);
      if (s.activeId === id) showRemote(stream);
    },
    onEnded: ({ reason, by }) => { if (s.calls.get(id) === rec) onEnded(rec, reason, by); },
  });
  if (!resumed || !active()) activate(id);
  else {
    hold.focus(s.activeId, [...s.calls.values()]);
    renderCalls();
  }
  renderOffer(); // its title says whether the guide is in a call
  rec.call.start();
}

function showRemote(stream) {
  const v = $("#remote-video");
  if (v.srcObject !== stream) v.srcObject = stream;
  if (stream) v.play().catch(() => {});
}

// activate puts one call on screen: its video, context, links, and either
// the live controls or, once it ended, its wrap-up.
function activate(id) {
  const rec = s.calls.get(id);
  if (!rec) return;
  if (s.activeId && s.activeId !== id) saveNote();
  s.activeId = id;
  replies.load();
  shopperContext.show(id, rec.peer);
  peerMedia.show(id);
  $("#pay-currency").value = rec.peer.currency || "EUR";
  $("#pay-amount").value = "";
  $("#pay-description").value = "";
  showError("#pay-error", "");
  showError("#transfer-error", "");
  $("#refund-status").textContent = "";
  links.render(rec);
  // Items of a call off screen were not drawn as they came: a call shown
  // before, or resumed after a reload, fetches its history (and links).
  if (shopSide.callId !== id) shopSide.start(id, rec.peer.currency, rec.resumed || rec.shown);
  if (rec.resumed || rec.shown) links.restore(rec);
  rec.shown = true;
  $("#transfer-target").replaceChildren(new Option(t("common.loading"), ""));
  s.transferTargets = null;
  $("#transfer-note").value = "";
  if ($("#transfer-details").open && !rec.ended) loadTransferTargets();
  showRemote(rec.stream);
  // Another call's reconnecting cover is not this one's.
  $("#peer-reconnecting").hidden = true;
  $("#idle-hint").hidden = true;
  $("#payment-panel").hidden = false;
  if (rec.ended) showEnded(rec);
  else {
    $("#call-view").hidden = false;
    $("#ended-view").hidden = true;
    $("#pay-send").disabled = false;
  }
  setCallState(rec.state);
  hold.focus(id, [...s.calls.values()]);
  renderCalls();
}

// renderCalls lists every call the guide holds when there is more than
// one: the one on screen is marked, the others can be switched to or ended.
function renderCalls() {
  const recs = [...s.calls.values()];
  presence.setCalls(recs.filter(liveCall).length);
  $("#calls-panel").hidden = recs.length < 2;
  $("#calls-count").textContent = recs.length > 1 ? `(${recs.length})` : "";
  const labels = { matched: t("calls.state.matched"), connecting: t("calls.state.connecting"), connected: t("calls.state.connected"), ended: t("calls.state.ended") };
  $("#calls").replaceChildren(...recs.map((rec) => {
    const li = document.createElement("li");
    li.dataset.callId = rec.id;
    li.dataset.state = rec.state;
    const on = rec.id === s.activeId;
    if (on) li.setAttribute("aria-current", "true");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = rec.peer.name || t("offer.anonymous");
    const since = document.createElement("span");
    since.className = "muted";
    since.textContent = t("calls.since", { time: formatTime(rec.since) });
    const state = document.createElement("span");
    state.className = "badge";
    state.textContent = on ? t("calls.on_screen", { state: labels[rec.state] || rec.state })
      : hold.isHeld(rec.id) ? t("calls.on_hold", { state: labels[rec.state] || rec.state }) : labels[rec.state] || rec.state;
    const parts = [who, since, state];
    if (!on) {
      const sw = document.createElement("button");
      sw.type = "button";
      sw.className = "button small primary";
      sw.dataset.action = "switch";
      sw.textContent = rec.ended ? t("calls.wrap_up") : t("calls.switch");
      sw.setAttribute("aria-label", rec.ended ? t("calls.wrap_up_label", { name: who.textContent }) : t("calls.switch_label", { name: who.textContent }));
      parts.push(sw);
    }
    if (liveCall(rec)) {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "button small danger";
      end.dataset.action = "end";
      end.textContent = t("calls.end");
      end.setAttribute("aria-label", t("calls.end_label", { name: who.textContent }));
      parts.push(end);
    }
    li.replaceChildren(...parts);
    return li;
  }));
}

function onCallsClick(ev) {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const rec = s.calls.get(button.closest("li").dataset.callId);
  if (!rec) return;
  if (button.dataset.action === "switch") activate(rec.id);
  else if (liveCall(rec)) rec.call.end("hangup");
}

const endedTexts = (by) => ({
  hangup: by === "guide" ? t("ended.by_you") : by === "shopper" ? t("ended.by_shopper") : t("ended.hangup"),
  peer_lost: t("ended.peer_lost"),
  failed: t("ended.failed"),
  transferred: t("ended.transferred"),
  server_shutdown: t("ended.server_shutdown"),
});

function onEnded(rec, reason, by) {
  rec.state = "ended";
  rec.ended = { reason, by };
  rec.stream = null;
  hold.release(rec.id);
  if (s.activeId === rec.id) {
    setCallState("ended");
    showEnded(rec);
  }
  renderCalls();
  renderOffer();
}

// Covers the shopper's last frame until a new one is shown: a reload or a
// network switch freezes the picture, and a frozen face reads as a hang.
function coverUntilNextFrame() {
  const cover = $("#peer-reconnecting");
  cover.hidden = false;
  const v = $("#remote-video");
  if (typeof v.requestVideoFrameCallback === "function") v.requestVideoFrameCallback(() => { cover.hidden = true; });
}

function showEnded(rec) {
  const { reason, by } = rec.ended;
  $("#remote-video").srcObject = null;
  $("#call-view").hidden = true;
  $("#ended-view").hidden = false;
  $("#pay-send").disabled = true;
  $("#ended-message").textContent = endedTexts(by)[reason] || t("ended.other", { reason });
  $("#wrap-up").value = s.notes.get(rec.id) || "";
  $("#wrap-up-outcome").value = s.outcomes.get(rec.id) || "";
  showError("#wrap-up-error", "");
  if (s.offers.length) hideNotesForOffer();
  else $("#wrap-up").focus();
}

// hideNotesForOffer and restoreNotes keep wrap-up notes and an offer off
// the screen at the same time.
function hideNotesForOffer() {
  const rec = active();
  if (!rec?.ended || $("#ended-view").hidden) return;
  saveNote();
  $("#ended-view").hidden = true;
  s.notesHidden = rec.id;
}

function restoreNotes() {
  const id = s.notesHidden;
  s.notesHidden = null;
  const rec = active();
  if (id && rec?.ended && rec.id === id) showEnded(rec);
}

function saveNote() {
  // Kept in memory for this tab only: there is no server endpoint for notes yet.
  const rec = active();
  if (rec?.ended) {
    s.notes.set(rec.id, $("#wrap-up").value);
    s.outcomes.set(rec.id, $("#wrap-up-outcome").value);
  }
}

// wrapUpDone closes the ended call on screen and brings up the next call
// the guide still holds, if any.
async function wrapUpDone() {
  saveNote();
  const rec = active();
  if (rec?.ended) {
    // Kept on the server with the call, so a reload or another device
    // finds them in the history; the panel stays until that worked.
    const outcome = $("#wrap-up-outcome").value;
    if (!outcome) {
      showError("#wrap-up-error", t("wrapup.need_outcome"));
      $("#wrap-up-outcome").focus();
      return;
    }
    $("#wrap-up-done").disabled = true;
    try {
      await saveWrapUp(auth.access, rec.id, outcome, $("#wrap-up").value.trim());
    } catch (err) {
      showError("#wrap-up-error", t("wrapup.save_failed", { message: err.message }));
      return;
    } finally {
      $("#wrap-up-done").disabled = false;
    }
    s.notes.delete(rec.id);
    s.outcomes.delete(rec.id);
    pastCalls.load();
  }
  peerMedia.forget(s.activeId);
  shopSide.forget(s.activeId);
  if (s.activeId) s.calls.delete(s.activeId);
  s.activeId = null;
  const next = [...s.calls.values()].find(liveCall) || [...s.calls.values()][0];
  if (next) return activate(next.id);
  $("#ended-view").hidden = true;
  $("#call-view").hidden = true;
  $("#payment-panel").hidden = true;
  shopSide.stop();
  shopperContext.stop();
  $("#idle-hint").hidden = false;
  setCallState("waiting");
  renderCalls();
  renderOffer();
}

// --- transfer ---

// loadTransferTargets fills the picker with the colleagues who could take
// the shopper on screen and the other queues, from the server.
async function loadTransferTargets() {
  const rec = active();
  if (!liveCall(rec)) return;
  const callId = rec.id;
  try {
    const tt = await api(`/api/v1/calls/${encodeURIComponent(callId)}/transfer-targets`);
    if (s.activeId !== callId) return; // switched meanwhile
    s.transferTargets = { callId, tt };
    renderTransferTargets(tt);
    showError("#transfer-error", "");
  } catch (err) {
    showError("#transfer-error", t("transfer.load_failed", { message: err.message }));
  }
}

// renderTransferTargets draws the picker from the targets as the server
// listed them, in the console's language: again after a change of it.
function renderTransferTargets(tt) {
  const sel = $("#transfer-target");
  const keep = sel.value;
  const presence = { available: t("transfer.presence.available"), busy: t("transfer.presence.busy"), wrap_up: t("transfer.presence.wrap_up") };
  const colleagues = document.createElement("optgroup");
  colleagues.label = tt.colleagues?.length ? t("transfer.colleagues") : t("transfer.colleagues_none");
  for (const g of tt.colleagues || []) {
    colleagues.append(new Option(`${g.name || g.guide_id} — ${presence[g.presence] || g.presence}`, `guide:${g.guide_id}`));
  }
  const queues = document.createElement("optgroup");
  queues.label = t("transfer.queues");
  for (const q of tt.queues || []) {
    queues.append(new Option(q.open ? (q.display_name || q.name) : t("transfer.queue_closed", { name: q.display_name || q.name }), `queue:${q.name}`));
  }
  sel.replaceChildren(new Option(t("transfer.choose"), ""), colleagues, queues);
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

// The picker in a new language: the targets listed for the call on screen,
// or the loading line while none are.
function retranslateTransfer() {
  const tt = s.transferTargets?.callId === s.activeId ? s.transferTargets.tt : null;
  if (tt) renderTransferTargets(tt);
  else $("#transfer-target").replaceChildren(new Option(t("common.loading"), ""));
}

function onTransfer(ev) {
  ev.preventDefault();
  showError("#transfer-error", "");
  const target = $("#transfer-target").value;
  const note = $("#transfer-note").value.trim();
  const rec = active();
  if (!liveCall(rec)) return showError("#transfer-error", t("common.no_live_call"));
  if (!target) return showError("#transfer-error", t("transfer.choose_error"));
  const [kind, id] = [target.slice(0, target.indexOf(":")), target.slice(target.indexOf(":") + 1)];
  const data = { note: note || undefined };
  if (kind === "queue") data.queue = id; else data.guide_id = id;
  s.signal.send("call.transfer", data, rec.id);
}

// --- callbacks ---

async function api(path, method = "GET", body) {
  const res = await fetch(path, {
    method,
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${auth.access}` },
    body: body ? JSON.stringify(body) : undefined,
    cache: "no-store",
  });
  let data = null;
  try { data = await res.json(); } catch { /* empty */ }
  if (!res.ok) throw Object.assign(new Error(data?.error?.message || `HTTP ${res.status}`), { status: res.status });
  return data;
}

async function loadCallbacks() {
  try {
    const data = await api("/api/v1/callbacks");
    renderCallbacks(data.callbacks || []);
    showError("#callbacks-error", "");
  } catch (err) {
    showError("#callbacks-error", t("callbacks.load_failed", { message: err.message }));
  }
}

function fmtTime(iso) {
  if (!iso) return "";
  return formatTime(new Date(iso), { dateStyle: "medium", timeStyle: "short" });
}

function renderCallbacks(list) {
  const me = auth.account?.id;
  $("#callbacks-empty").hidden = list.length > 0;
  const items = list.map((cb) => {
    const li = document.createElement("li");
    li.dataset.callbackId = cb.callback_id;
    li.dataset.state = cb.state;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = cb.name;
    const contact = document.createElement("span");
    contact.textContent = [cb.phone, cb.email].filter(Boolean).join(" · ");
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = cb.window_from
      ? t("callbacks.meta_window", { queue: cb.queue, asked: fmtTime(cb.created_at), from: fmtTime(cb.window_from), to: fmtTime(cb.window_to) })
      : t("callbacks.meta", { queue: cb.queue, asked: fmtTime(cb.created_at) });
    const parts = [who, contact, meta];
    if (cb.message) {
      const msg = document.createElement("p");
      msg.className = "message";
      msg.textContent = cb.message;
      parts.push(msg);
    }
    if (cb.state === "open") {
      const claim = document.createElement("button");
      claim.type = "button";
      claim.className = "button primary small";
      claim.dataset.action = "claim";
      claim.textContent = t("callbacks.claim");
      claim.setAttribute("aria-label", t("callbacks.claim_label", { name: cb.name }));
      parts.push(claim);
    } else if (cb.claimed_by === me) {
      const label = document.createElement("label");
      label.textContent = t("callbacks.outcome");
      const sel = document.createElement("select");
      sel.className = "outcome";
      label.htmlFor = sel.id = `outcome-${cb.callback_id}`;
      for (const [v, text] of [["reached", t("callbacks.o.reached")], ["no_answer", t("callbacks.o.no_answer")], ["wrong_contact", t("callbacks.o.wrong_contact")], ["not_needed", t("callbacks.o.not_needed")]]) {
        sel.append(new Option(text, v));
      }
      const note = document.createElement("input");
      note.type = "text";
      note.className = "note";
      note.maxLength = 1000;
      note.placeholder = t("callbacks.note");
      note.setAttribute("aria-label", t("callbacks.note_label", { name: cb.name }));
      const save = document.createElement("button");
      save.type = "button";
      save.className = "button small";
      save.dataset.action = "outcome";
      save.textContent = t("callbacks.save");
      const mine = document.createElement("span");
      mine.className = "badge";
      mine.textContent = t("callbacks.mine");
      parts.push(mine, label, sel, note, save);
    } else {
      const other = document.createElement("span");
      other.className = "badge";
      other.textContent = t("callbacks.other");
      parts.push(other);
    }
    li.replaceChildren(...parts);
    return li;
  });
  $("#callbacks").replaceChildren(...items);
}

async function onCallbackClick(ev) {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const li = button.closest("li");
  const id = li.dataset.callbackId;
  button.disabled = true;
  try {
    if (button.dataset.action === "claim") {
      await api(`/api/v1/callbacks/${encodeURIComponent(id)}/claim`, "POST");
    } else {
      await api(`/api/v1/callbacks/${encodeURIComponent(id)}/outcome`, "POST", {
        outcome: li.querySelector("select.outcome").value,
        note: li.querySelector("input.note").value.trim(),
      });
    }
    showError("#callbacks-error", "");
  } catch (err) {
    showError("#callbacks-error", err.status === 409 ? t("callbacks.taken") : t("callbacks.update_failed", { message: err.message }));
  }
  await loadCallbacks();
}

// --- controls and start-up ---

// showConnectionStatus keeps how the connection line is drawn, not its
// text, so a change of language draws it again.
function showConnectionStatus(text) {
  s.connectionText = text;
  $("#connection-status").textContent = text();
}

// onKey and offKey name the button's label for each state; data-i18n keeps
// it in the console's language when the guide switches language mid-call.
function toggleTrack(kind, button, onKey, offKey) {
  const tracks = kind === "audio" ? s.stream?.getAudioTracks() : s.stream?.getVideoTracks();
  if (!tracks?.length) return;
  const off = button.getAttribute("aria-pressed") !== "true";
  for (const tr of tracks) tr.enabled = !off;
  hold.sync();
  button.setAttribute("aria-pressed", String(off));
  button.dataset.i18n = off ? onKey : offKey;
  button.textContent = t(button.dataset.i18n);
}

function init() {
  setCallState("waiting");
  mountLocalePicker($("#console-locale"));
  // Text set by this module follows a change of language at once.
  fillOutcomes($("#wrap-up-outcome"));
  onLocaleChange(() => { presence.render(); renderBadge(); renderOffer(); renderCalls(); fillOutcomes($("#wrap-up-outcome")); pastCalls.render(); overview.render(); retranslateTransfer();
    if (s.connectionText) $("#connection-status").textContent = s.connectionText(); });
  initI18n();
  mountSoundToggle($("#offer-sound"), alerts);
  // Sound may start only after a gesture; a console restored by a reload
  // has had none yet.
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => alerts.unlock(), { capture: true, passive: true });
  alerts.onFocusOffer = () => $("#accept-offer").focus();
  $("#back-available").addEventListener("click", () => sendPresence("available"));
  $("#login").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", () => logout(""));
  $("#go-available").addEventListener("click", () => sendPresence("available"));
  $("#go-away").addEventListener("click", () => sendPresence("away"));
  $("#accept-offer").addEventListener("click", () => {
    const offer = s.offers[0];
    if (!offer) return;
    s.accepting = offer.offer_id;
    s.signal.send("offer.accept", { offer_id: offer.offer_id });
    renderOffer();
  });
  $("#decline-offer").addEventListener("click", () => {
    const offer = s.offers[0];
    if (!offer) return;
    const reason = $("#decline-reason").value;
    s.signal.send("offer.decline", reason ? { offer_id: offer.offer_id, reason } : { offer_id: offer.offer_id });
    dropOffer(offer.offer_id);
  });
  $("#end-call").addEventListener("click", () => active()?.call?.end("hangup"));
  $("#calls").addEventListener("click", onCallsClick);
  $("#mute").addEventListener("click", (e) => toggleTrack("audio", e.currentTarget, "call.unmute", "call.mute"));
  $("#camera").addEventListener("click", (e) => toggleTrack("video", e.currentTarget, "call.camera_on", "call.camera_off"));
  $("#payment-form").addEventListener("submit", links.submit);
  $("#pay-prefill").addEventListener("click", () => links.prefill({ cart: shopSide.lastCart, shown: shopSide.shown }));
  $("#wrap-up-done").addEventListener("click", wrapUpDone);
  $("#transfer-form").addEventListener("submit", onTransfer);
  $("#transfer-refresh").addEventListener("click", () => loadTransferTargets());
  $("#transfer-details").addEventListener("toggle", (e) => { if (e.currentTarget.open) loadTransferTargets(); });
  $("#callbacks-refresh").addEventListener("click", () => loadCallbacks());
  $("#callbacks").addEventListener("click", onCallbackClick);
  window.addEventListener("online", () => s.signal?.reconnectNow());

  // A reload keeps the session through the refresh token in sessionStorage.
  if (sessionStorage.getItem(REFRESH_KEY)) {
    authRequest("/api/v1/auth/refresh", { refresh_token: sessionStorage.getItem(REFRESH_KEY) })
      .then((data) => { acceptTokens(data); return enterConsole(); })
      .catch(() => sessionStorage.removeItem(REFRESH_KEY));
  }
}

init();
