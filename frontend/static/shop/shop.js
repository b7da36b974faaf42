// shop.js: the demo product page and the shopper call widget.
import { joinExtras, widgetScript } from "./join-extras.js";
import { Signal, defaultWsUrl } from "../js/signal.js";
import { Call, fetchIceConfig } from "../js/call.js";
import { formatMoney, minorDigits, normalizeCurrency, parseMajor, itemsTotal } from "../js/money.js";
import { loadTranslator } from "../js/i18n.js";
import { initAvailability, onJoinClosed, onQueuePosition } from "./availability.js";

const $ = (sel) => document.querySelector(sel);

// Demo catalogue prices in major units per currency (parsed, never floats).
const PRICES = { EUR: "129", USD: "139", GBP: "115", CHF: "125", JPY: "19800", SEK: "1495", KWD: "42.500" };

const params = new URLSearchParams(location.search);
// The demo page joins ?queue= (default "default"), so one page shows every queue.
const queueName = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(params.get("queue") || "") ? params.get("queue") : "default";
const locale = navigator.language || "en";
let currency = "EUR";
try { currency = normalizeCurrency(params.get("currency") || "EUR"); } catch { currency = "EUR"; }

let t = (k) => k;
const session = {
  phase: "idle", // idle | starting | queued | call | ended
  token: null,
  entryId: null,
  signal: null,
  stream: null,
  call: null,
  callId: null,
  callState: "waiting",
  cards: new Map(), // link_id → latest payment.link data
};

// --- hooks for automated browser tests ---
window.guidecall = {
  state: () => session.callState,
  stats: async () => (session.call
    ? session.call.stats()
    : { connectionState: "new", localCandidateType: null, remoteCandidateType: null, framesDecoded: 0, framesSent: 0 }),
};

function setCallState(state) {
  session.callState = state;
  const el = $("#call-state");
  el.textContent = state; // machine state: scripts and tests read it, it is visually hidden
  el.dataset.state = state;
  const label = $("#call-state-label");
  label.dataset.state = state;
  label.dataset.i18n = `badge.${state}`;
  label.textContent = t(`badge.${state}`);
  label.title = t(`state.${state}`);
  $("#call-status").textContent = t(`state.${state}`);
}

// The call launcher is #call-guide in the guide teaser; #call-guide-fab floats
// only while the teaser is scrolled out of view and no widget is open.
const launcher = { hidden: false, teaserInView: true };

function setLauncherHidden(hidden) {
  launcher.hidden = hidden;
  $("#call-guide").hidden = hidden;
  updateFab();
}

function updateFab() {
  $("#call-guide-fab").hidden = launcher.hidden || launcher.teaserInView || document.body.dataset.queueOpen === "false";
}

function watchTeaser() {
  const teaser = $(".guide-teaser");
  if (!teaser || !("IntersectionObserver" in window)) {
    launcher.teaserInView = false; // no observer: always offer the floating button
    updateFab();
    return;
  }
  new IntersectionObserver((entries) => {
    for (const e of entries) launcher.teaserInView = e.isIntersecting;
    updateFab();
  }).observe(teaser);
}

function show(view) {
  for (const id of ["queue-view", "call-view", "ended-view"]) $(`#${id}`).hidden = id !== view;
  // Closing is offered whenever nothing is running.
  $("#close-widget").hidden = view === "queue-view" || view === "call-view";
}

function showError(key, params) {
  const el = $("#widget-error");
  if (!key) { el.hidden = true; el.textContent = ""; return; }
  el.textContent = t(key, params);
  el.hidden = false;
}

// --- product page ---

function renderPrice() {
  const major = PRICES[currency] ?? "129";
  const digits = minorDigits(currency);
  // The table has whole amounts; pad them to the currency's minor unit.
  const text = major.includes(".") ? major : (digits ? `${major}.${"0".repeat(digits)}` : major);
  const parsed = parseMajor(text, digits);
  const el = $("#price");
  if (parsed.ok) {
    el.textContent = formatMoney(parsed.amount, currency, locale);
    el.dataset.amount = String(parsed.amount);
    el.dataset.currency = currency;
  }
}

// --- queue ---

function positionText(position, etaSeconds) {
  if (position <= 1 && etaSeconds != null && etaSeconds < 30) return t("queue.next");
  if (etaSeconds == null) return t("queue.position_no_guide", { position }); // nobody eligible online: no made-up number
  if (etaSeconds < 60) return t("queue.position_soon", { position });
  return t("queue.position_eta", { position, minutes: Math.ceil(etaSeconds / 60) });
}

async function startCall() {
  if (session.phase !== "idle" && session.phase !== "ended") return;
  resetSession();
  session.phase = "starting";
  $("#call-widget").hidden = false;
  setLauncherHidden(true);
  showError(null);
  show("queue-view");
  setCallState("waiting");
  $("#queue-position").textContent = t("widget.camera_prompt");

  try {
    session.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (err) {
    console.warn("getUserMedia failed", err);
    showError(err?.name === "NotAllowedError" ? "error.media_denied" : "error.media");
    session.phase = "idle";
    show(null);
    setLauncherHidden(false);
    return;
  }
  $("#local-video").srcObject = session.stream;

  $("#queue-position").textContent = t("queue.joining");
  let answer;
  try {
    const res = await fetch("/api/v1/queue", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        queue: queueName,
        locale,
        currency,
        page_url: location.href,
        name: $("#shopper-name").value.trim() || undefined,
        ...joinExtras({ script: widgetScript(), search: location.search }),
      }),
    });
    if (res.status === 429) throw Object.assign(new Error("rate limited"), { key: "error.too_often" });
    if (res.status === 409) {
      const body = await res.json().catch(() => null);
      if (body?.error?.code === "queue_closed") throw Object.assign(new Error("closed"), { closed: body });
    }
    if (!res.ok) throw new Error(`queue: HTTP ${res.status}`);
    answer = await res.json();
  } catch (err) {
    console.error(err);
    stopMedia();
    session.phase = "idle";
    show(null);
    if (err.closed) {
      $("#call-widget").hidden = true;
      onJoinClosed(err.closed);
      return;
    }
    showError(err.key || "error.queue");
    setLauncherHidden(false);
    return;
  }

  session.token = answer.token;
  session.entryId = answer.entry_id;
  session.phase = "queued";
  $("#queue-position").textContent = t("queue.waiting");
  connectSignal(answer.ws_url || defaultWsUrl());
}

function connectSignal(url) {
  const signal = new Signal({ url, token: () => session.token });
  session.signal = signal;

  signal.on("welcome", (msg) => {
    const d = msg.data || {};
    if (d.resumed && session.call && !session.call.closed) {
      session.call.resumed();
      refreshPaymentLinks();
    } else if (d.call && d.call.call_id && !session.call) {
      // We were matched while disconnected.
      onMatched({ call_id: d.call.call_id, data: { role: "shopper", initiator: "guide", peer: d.call.peer || {} } });
    }
  });
  signal.on("queue.position", (msg) => {
    const d = msg.data || {};
    if (session.phase !== "queued") return;
    // A transferred shopper keeps hearing why it waits again.
    $("#queue-position").textContent = session.transferred
      ? `${t("queue.transferred")} ${positionText(d.position, d.eta_seconds)}`
      : positionText(d.position, d.eta_seconds);
    onQueuePosition(d, session.entryId);
  });
  signal.on("queue.requeued", (msg) => {
    const d = msg.data || {};
    if (session.call) { session.call.close("requeued"); session.call = null; }
    session.callId = null;
    $("#remote-video").srcObject = null;
    session.phase = "queued";
    session.transferred = d.reason === "transferred";
    show("queue-view");
    setCallState("waiting");
    $("#queue-position").textContent = d.reason === "transferred"
      ? t("queue.transferred")
      : `${t("queue.requeued")} ${positionText(d.position ?? 1, d.eta_seconds)}`;
  });
  signal.on("queue.left", (msg) => {
    const reason = msg.data?.reason || "canceled";
    const key = { canceled: "ended.canceled", callback: "callback.sent" }[reason] || "ended.left";
    finish(t(key, { reason }));
  });
  signal.on("call.matched", onMatched);
  for (const type of ["sdp", "ice", "ice.restart", "call.peer", "call.state", "call.ended"]) {
    signal.on(type, (msg) => session.call?.handle(msg));
  }
  signal.on("call.peer", (msg) => {
    const st = msg.data?.status;
    if (st === "disconnected") $("#call-status").textContent = t("call.peer_lost_wait");
    if (st === "reconnected") $("#call-status").textContent = t(`state.${session.callState}`);
  });
  signal.on("payment.link", (msg) => upsertCard(msg.data || {}));
  signal.on("error", (msg) => console.warn("server error", msg.data));
  signal.onStatus(({ status }) => {
    if (status === "reconnecting") $("#call-status").textContent = t("signal.reconnecting");
    if (status === "ready" && session.phase !== "ended") $("#call-status").textContent = t(`state.${session.callState}`);
    if (status === "closed" && session.phase !== "ended" && session.phase !== "idle") {
      finish(t("ended.lost"));
    }
  });
  signal.connect();
}

function onMatched(msg) {
  if (session.call && !session.call.closed && session.callId === msg.call_id) return;
  const d = msg.data || {};
  session.phase = "call";
  session.callId = msg.call_id;
  show("call-view");
  setCallState("matched");
  const peerName = d.peer?.name;
  $("#peer-name").textContent = peerName ? t("call.with", { name: peerName }) : t("call.with_guide");

  const call = new Call({
    signal: session.signal,
    callId: msg.call_id,
    role: "shopper",
    initiator: d.initiator === "shopper",
    localStream: session.stream,
    getIceConfig: () => fetchIceConfig(session.token),
    onState: (s) => { if (call === session.call) setCallState(s); },
    onRemoteStream: (stream) => {
      const v = $("#remote-video");
      if (v.srcObject !== stream) v.srcObject = stream;
      v.play().catch(() => {});
    },
    onEnded: ({ reason, by }) => {
      if (call !== session.call || reason === "requeued") return;
      finish(endedText(reason, by));
    },
  });
  session.call = call;
  call.start();
}

function endedText(reason, by) {
  if (reason === "hangup") return t(by === "shopper" ? "ended.by_you" : "ended.by_guide");
  return t.has?.(`ended.${reason}`) ? t(`ended.${reason}`) : t("ended.generic");
}

function finish(text) {
  if (session.phase === "ended") return;
  session.phase = "ended";
  setCallState("ended");
  show("ended-view");
  $("#ended-message").textContent = text;
  stopMedia();
  $("#remote-video").srcObject = null;
  // Keep the socket a moment so late payment updates still land.
  const signal = session.signal;
  setTimeout(() => { if (session.signal === signal && session.phase === "ended") signal?.close(); }, 60000);
}

function stopMedia() {
  for (const track of session.stream?.getTracks() || []) track.stop();
  session.stream = null;
  $("#local-video").srcObject = null;
}

function resetSession() {
  session.signal?.close();
  session.call?.close("reset");
  Object.assign(session, { token: null, entryId: null, signal: null, call: null, callId: null });
  session.cards.clear();
  $("#payment-cards").replaceChildren();
  for (const id of ["#mute", "#camera"]) $(id).setAttribute("aria-pressed", "false");
  $("#mute").textContent = t("widget.mute");
  $("#camera").textContent = t("widget.camera_off");
}

function cancelQueue() {
  if (session.phase === "queued" && session.signal) {
    session.signal.send("queue.cancel");
    // The server answers queue.left; do not leave the shopper hanging if it does not.
    setTimeout(() => { if (session.phase === "queued") finish(t("ended.canceled")); }, 3000);
  } else {
    finish(t("ended.canceled"));
  }
  $("#cancel-queue").disabled = true;
  setTimeout(() => { $("#cancel-queue").disabled = false; }, 3000);
}

// --- payment cards ---

async function refreshPaymentLinks() {
  if (!session.callId || !session.token) return;
  try {
    const res = await fetch(`/api/v1/calls/${encodeURIComponent(session.callId)}/payment-links`, {
      headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
    });
    if (!res.ok) return;
    const body = await res.json();
    const links = Array.isArray(body) ? body : body.links || body.payment_links || [];
    for (const l of links) upsertCard({ ...l, link_id: l.link_id || l.id });
  } catch (err) {
    console.warn("payment links refresh failed", err);
  }
}

function upsertCard(link) {
  if (!link.link_id) return;
  const merged = { ...(session.cards.get(link.link_id) || {}), ...link };
  session.cards.set(link.link_id, merged);
  const container = $("#payment-cards");
  let card = container.querySelector(`.payment-card[data-link-id="${CSS.escape(link.link_id)}"]`);
  if (!card) {
    card = document.createElement("article");
    card.className = "payment-card";
    card.dataset.linkId = link.link_id;
    card.setAttribute("aria-label", t("pay.title"));
    container.prepend(card);
  }
  card.dataset.status = merged.status || "open";
  renderCard(card, merged);
}

function money(amount, cur) {
  try { return formatMoney(amount, cur, locale); } catch { return `${amount} ${cur}`; }
}

function renderCard(card, link) {
  const cur = link.currency || currency;
  const items = Array.isArray(link.items) ? link.items : [];
  const title = document.createElement("h3");
  title.textContent = t("pay.title");

  const list = document.createElement("ul");
  list.className = "items";
  for (const it of items) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = (it.quantity ?? 1) > 1 ? `${it.quantity} × ${it.name}` : it.name;
    const price = document.createElement("span");
    try { price.textContent = money(itemsTotal([it]), cur); } catch { price.textContent = ""; }
    li.append(name, price);
    list.append(li);
  }

  const total = document.createElement("p");
  total.className = "total";
  const label = document.createElement("span");
  label.textContent = t("pay.total");
  const amount = document.createElement("strong");
  amount.className = "amount";
  amount.textContent = money(link.amount, cur);
  total.append(label, amount);

  const status = document.createElement("p");
  status.className = "pay-status";
  const st = link.status || "open";
  if (st === "paid") {
    status.textContent = t("pay.paid");
  } else if (st !== "open") {
    status.textContent = t(`pay.status.${st}`);
  }

  const parts = [title];
  if (items.length) parts.push(list);
  parts.push(total);
  if (st === "open" && link.checkout_url && /^https?:/i.test(link.checkout_url)) {
    const a = document.createElement("a");
    a.className = "pay-button button primary";
    a.href = link.checkout_url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = t("pay.button");
    parts.push(a);
  }
  if (status.textContent) parts.push(status);
  card.replaceChildren(...parts);
}

// --- controls ---

function toggleTrack(kind, button, onKey, offKey) {
  const tracks = kind === "audio" ? session.stream?.getAudioTracks() : session.stream?.getVideoTracks();
  if (!tracks?.length) return;
  const off = button.getAttribute("aria-pressed") !== "true";
  for (const tr of tracks) tr.enabled = !off;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = t(off ? onKey : offKey);
}

// showPrivacy fills the note under the call button from the node's
// privacy settings: how long shopper data is kept and the merchant's notice.
async function showPrivacy() {
  try {
    const res = await fetch("/api/v1/privacy", { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const p = await res.json();
    const days = Math.round(Number(p.retention_days) || 0);
    if (days > 0) {
      const text = $("#privacy-text");
      text.dataset.i18n = "shop.privacy.note";
      text.textContent = t("shop.privacy.note", { days });
    }
    const url = typeof p.notice_url === "string" ? p.notice_url : "";
    if (/^https?:\/\//.test(url)) {
      const link = $("#privacy-link");
      link.href = url;
      link.hidden = false;
    }
  } catch (err) {
    console.warn("privacy settings", err);
  }
}

// The floating button is a shortcut to the teaser, not to the camera: the
// privacy note sits under the teaser's button and is read before the
// camera is asked for.
function goToTeaser() {
  const teaser = $(".guide-teaser");
  teaser.scrollIntoView({ behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth", block: "center" });
  $("#call-guide").focus({ preventScroll: true });
}

async function init() {
  try { t = await loadTranslator(); t.apply(document); } catch (err) { console.warn(err); }
  setCallState("waiting");
  renderPrice();
  showPrivacy();
  $("#call-guide").addEventListener("click", startCall);
  $("#call-guide-fab").addEventListener("click", goToTeaser);
  watchTeaser();
  initAvailability({ queue: queueName, t, locale });
  $("#cancel-queue").addEventListener("click", cancelQueue);
  $("#end-call").addEventListener("click", () => {
    if (session.call) session.call.end("hangup");
    else finish(t("ended.by_you"));
  });
  $("#mute").addEventListener("click", (e) => toggleTrack("audio", e.currentTarget, "widget.unmute", "widget.mute"));
  $("#camera").addEventListener("click", (e) => toggleTrack("video", e.currentTarget, "widget.camera_on", "widget.camera_off"));
  $("#close-widget").addEventListener("click", () => {
    session.signal?.close();
    $("#call-widget").hidden = true;
    setLauncherHidden(false);
    session.phase = "idle";
  });
  window.addEventListener("online", () => session.signal?.reconnectNow());
}

init();
