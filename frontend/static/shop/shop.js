// shop.js: the shopper call widget, mounted by ../widget.js into a Shadow
// DOM on the merchant's page. It reads nothing of the host page: settings
// come from the tag's data attributes, context from guidecall.setContext().
//
// The shopper's session (token, entry, call, chosen media) lives in
// sessionStorage of the host page's origin, never in a URL: a reload or a
// reopened tab within the server's reconnect grace comes back into the same
// place in line or the same call, with its payment links.
import { Signal } from "../js/signal.js";
import { loadTranslator } from "../js/i18n.js";
import { PANEL_HTML } from "./panel.js";
import { initAvailability, onJoinClosed, onQueuePosition } from "./availability.js";

const BASE = new URL("../", import.meta.url).href;
const api = (path) => new URL(path.replace(/^\//, ""), BASE).href;

// Media per join mode: what we send. "listen" sends nothing.
const MEDIA = {
  video: { audio: true, video: true },
  "camera-off": { audio: true, video: false },
  audio: { audio: true, video: false },
  listen: null,
};

/**
 * Mounts the widget into root (a ShadowRoot). Returns the panel API the
 * loader forwards window.guidecall calls to.
 */
export async function mount({ root, settings, emit }) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = api("css/widget.css");
  const styled = new Promise((resolve) => { link.onload = resolve; link.onerror = resolve; });
  root.append(link);
  const tpl = document.createElement("template");
  tpl.innerHTML = PANEL_HTML;
  root.append(tpl.content.cloneNode(true));
  await styled;
  const $ = (sel) => root.querySelector(sel);

  const tags = settings.locale && settings.locale !== "auto"
    ? [settings.locale]
    : (navigator.languages?.length ? navigator.languages : [navigator.language]);
  let t = (k) => k;
  try { t = await loadTranslator(tags); } catch (err) { console.warn("guidecall:", err); }
  const locale = tags[0] || "en";
  const gc = $("#gc");
  gc.lang = t.lang || "en";
  gc.dir = t.dir || "ltr";
  t.apply?.(root);

  const storageKey = `guidecall:${settings.queue}`;
  const context = { currency: settings.currency || "EUR", product: null, variant: null, cart: null };
  let customerToken = "";
  // money.js comes with the call: payment cards and the summary need it,
  // the page before the call does not.
  let moneyLib = null;
  const session = {
    phase: "idle", // idle | precall | denied | starting | queued | call | ended
    mode: "video",
    token: null,
    entryId: null,
    wsUrl: null,
    signal: null,
    stream: null, // what we send, only from the match on (or a preview)
    preview: null,
    call: null,
    callId: null,
    callState: "idle",
    cards: new Map(), // link_id → latest payment.link data
    incall: null, // chat, product cards and cart (incall.js), from the match on
    early: [], // chat and cards that came before incall.js did
    pendingCall: [], // call messages that came before the Call existed
    minimised: false,
    devices: { video: null, audio: null }, // picked in the preview
    opener: null, // focus returns here on close
  };

  // --- persistence ---

  function save() {
    if (!session.token) return;
    const value = {
      token: session.token, entryId: session.entryId, wsUrl: session.wsUrl, mode: session.mode,
      callId: session.callId, expiresAt: session.expiresAt, devices: session.devices,
    };
    try { sessionStorage.setItem(storageKey, JSON.stringify(value)); } catch { /* storage off: no resume */ }
  }
  function forget() {
    try { sessionStorage.removeItem(storageKey); } catch { /* nothing kept */ }
  }
  function stored() {
    try {
      const v = JSON.parse(sessionStorage.getItem(storageKey) || "null");
      if (v && v.token && v.expiresAt > Date.now()) return v;
    } catch { /* unreadable: start over */ }
    forget();
    return null;
  }

  // --- state and views ---

  function setCallState(state) {
    session.callState = state;
    const el = $("#call-state");
    el.textContent = state;
    el.dataset.state = state;
    const label = $("#call-state-label");
    label.dataset.state = state;
    label.textContent = state === "idle" ? "" : t(`badge.${state}`);
    label.hidden = state === "idle";
    setStatus(state === "idle" ? "" : t(`state.${state}`));
    updateMini();
  }

  function setStatus(text) {
    const el = $("#call-status");
    if (el.textContent !== text) el.textContent = text;
  }

  const VIEWS = ["precall-view", "denied-view", "queue-view", "call-view", "ended-view", "callback-view"];
  function show(view) {
    // Keep the focus in the panel.
    const lost = root.activeElement?.closest(".view");
    for (const id of VIEWS) $(`#${id}`).hidden = id !== view;
    if (lost?.hidden) focusFirst();
    const running = view === "queue-view" || view === "call-view";
    $("#close-widget").hidden = running;
    // Only something running is worth keeping small; otherwise close.
    $("#minimise").hidden = !running;
    gc.dataset.view = view || "";
    updateMini();
  }

  function showError(key, params) {
    const el = $("#widget-error");
    if (!key) { el.hidden = true; el.textContent = ""; return; }
    el.textContent = t(key, params);
    el.hidden = false;
  }

  function openPanel() {
    session.opener = root.activeElement || document.activeElement;
    $("#call-widget").hidden = false;
    $("#launcher").hidden = true;
    setMinimised(false);
  }

  function closePanel() {
    $("#call-widget").hidden = true;
    $("#mini-restore").hidden = true;
    $("#launcher").hidden = !settings.launcher;
    const back = session.opener;
    session.opener = null;
    if (back && typeof back.focus === "function" && back.isConnected) back.focus();
    else if (settings.launcher) $("#launcher").focus();
  }

  function focusFirst() {
    const target = root.querySelector(".view:not([hidden]) button:not([hidden]):not(:disabled), .view:not([hidden]) input");
    (target || $("#widget-title")).focus?.();
  }

  function setMinimised(on) {
    session.minimised = on;
    gc.classList.toggle("minimised", on);
    $("#minimise").setAttribute("aria-expanded", String(!on));
    const inCall = session.phase === "call";
    // In a call the panel shrinks to the video; otherwise to a pill.
    $("#call-widget").hidden = on && !inCall;
    $("#restore").hidden = !(on && inCall);
    $("#mini-restore").hidden = !(on && !inCall);
    updateMini();
    if (on) (inCall ? $("#restore") : $("#mini-restore")).focus();
  }

  function updateMini() {
    const pos = $("#queue-position").textContent;
    $("#mini-text").textContent = session.phase === "queued" && pos ? pos : t(`state.${session.callState}`);
  }

  // --- joining ---

  // The note before the camera: how long the node keeps shopper data and the
  // merchant's privacy notice (GET /api/v1/privacy).
  async function showPrivacy() {
    try {
      const res = await fetch(api("api/v1/privacy"), { headers: { Accept: "application/json" } });
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
      console.warn("guidecall: privacy settings", err);
    }
  }

  function precall() {
    if (session.phase === "queued" || session.phase === "call" || session.phase === "starting") {
      openPanel();
      return;
    }
    resetSession();
    session.phase = "precall";
    openPanel();
    showError(null);
    $("#precall-form").hidden = !settings.precall;
    setCallState("idle");
    show("precall-view");
    focusFirst();
  }

  async function togglePreview() {
    const btn = $("#preview-toggle");
    if (session.preview) {
      stopStream(session.preview);
      session.preview = null;
      $("#preview-video").srcObject = null;
      $("#preview").hidden = true;
      $("#device-pickers").hidden = true;
      btn.setAttribute("aria-pressed", "false");
      return;
    }
    try {
      session.preview = await navigator.mediaDevices.getUserMedia(constraints({ audio: true, video: true }));
    } catch (err) {
      return denied(err, "video");
    }
    $("#preview-video").srcObject = session.preview;
    $("#preview").hidden = false;
    btn.setAttribute("aria-pressed", "true");
    fillDevicePickers().catch((err) => console.warn("guidecall: no device list", err));
  }

  // The devices the shopper picked in the preview, for the call's media.
  function constraints(want) {
    if (!want) return null;
    const pick = (on, id) => (on ? (id ? { deviceId: { exact: id } } : true) : false);
    return { audio: pick(want.audio, session.devices.audio), video: pick(want.video, session.devices.video) };
  }

  async function fillDevicePickers() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const current = (kind) => session.preview?.getTracks().find((tr) => tr.kind === kind)?.getSettings().deviceId;
    for (const [sel, kind, track] of [["#camera-select", "videoinput", "video"], ["#mic-select", "audioinput", "audio"]]) {
      const list = devices.filter((d) => d.kind === kind);
      const el = $(sel);
      el.replaceChildren(...list.map((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.textContent = d.label || `${t(kind === "videoinput" ? "precall.camera" : "precall.microphone")} ${i + 1}`;
        o.selected = d.deviceId === current(track);
        return o;
      }));
    }
    $("#device-pickers").hidden = false;
  }

  async function pickDevice() {
    session.devices = { video: $("#camera-select").value || null, audio: $("#mic-select").value || null };
    stopStream(session.preview);
    try {
      session.preview = await navigator.mediaDevices.getUserMedia(constraints({ audio: true, video: true }));
      $("#preview-video").srcObject = session.preview;
    } catch (err) {
      session.preview = null;
      denied(err, "video");
    }
  }

  // Asks for the permissions the mode needs, then lets go of the devices:
  // the camera light stays off through the wait. Returns false when refused.
  async function checkPermission(mode) {
    const want = MEDIA[mode];
    if (!want) return true;
    if (mode === "video" && session.preview) return true;
    try {
      const s = await navigator.mediaDevices.getUserMedia(constraints(want));
      stopStream(s);
      return true;
    } catch (err) {
      denied(err, mode);
      return false;
    }
  }

  function denied(err, mode) {
    console.warn("guidecall: getUserMedia failed", err);
    session.phase = "denied";
    const blocked = err?.name === "NotAllowedError" || err?.name === "SecurityError";
    const missing = err?.name === "NotFoundError" || err?.name === "OverconstrainedError";
    $("#denied-text").textContent = t(blocked ? "denied.blocked" : missing ? "denied.missing" : "denied.failed");
    $("#denied-help").textContent = blocked ? t(browserHelpKey()) : "";
    // Audio only is no way out when the microphone is what failed.
    $("#denied-audio").hidden = mode === "audio" || mode === "camera-off";
    show("denied-view");
    focusFirst();
  }

  function browserHelpKey() {
    const ua = navigator.userAgent;
    if (/Firefox\//.test(ua)) return "denied.help_firefox";
    if (/Safari\//.test(ua) && !/Chrom(e|ium)\//.test(ua)) return "denied.help_safari";
    return "denied.help_chrome";
  }

  async function join(mode) {
    if (session.phase !== "precall" && session.phase !== "denied") return;
    session.mode = mode;
    showError(null);
    session.phase = "starting";
    if (!(await checkPermission(mode))) return;
    show("queue-view");
    setCallState("waiting");
    $("#queue-position").textContent = t("queue.joining");
    let answer;
    // Loaded at join, not with the widget: it counts against no page's load.
    const extras = await import("./join-extras.js")
      .then((m) => ({ ...m.joinExtras({ settings, search: location.search }), cart_value: m.cartValue(context.cart, context.currency) }))
      .catch((err) => { console.warn("guidecall: join extras", err); return {}; });
    try {
      const res = await fetch(api("api/v1/queue"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          queue: settings.queue,
          locale,
          currency: context.currency,
          page_url: location.href,
          name: settings.precall ? ($("#shopper-name").value.trim() || undefined) : undefined,
          ...extras,
          customer_token: customerToken || extras.customer_token,
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
      console.error("guidecall:", err);
      session.phase = "precall";
      if (err.closed) {
        setCallState("idle");
        onJoinClosed(err.closed);
        return;
      }
      show("precall-view");
      setCallState("idle");
      showError(err.key || "error.queue");
      return;
    }
    session.token = answer.token;
    session.entryId = answer.entry_id;
    session.wsUrl = answer.ws_url;
    session.expiresAt = Date.now() + (answer.expires_in || 7200) * 1000;
    session.phase = "queued";
    save();
    $("#queue-position").textContent = t("queue.waiting");
    connectSignal();
    $("#cancel-queue").focus();
  }

  /** Comes back into the stored session after a reload. */
  function resume(s) {
    Object.assign(session, { token: s.token, entryId: s.entryId, wsUrl: s.wsUrl, mode: s.mode || "video", expiresAt: s.expiresAt });
    if (s.devices) session.devices = s.devices;
    session.phase = "queued";
    session.resuming = true;
    openPanel();
    show("queue-view");
    setCallState("waiting");
    $("#queue-position").textContent = t("queue.resuming");
    connectSignal();
  }

  function positionText(position, etaSeconds) {
    if (position <= 1 && etaSeconds != null && etaSeconds < 30) return t("queue.next");
    // Nobody eligible online: no made-up number.
    if (etaSeconds == null) return t("queue.position_no_guide", { position });
    if (etaSeconds < 60) return t("queue.position_soon", { position });
    return t("queue.position_eta", { position, minutes: Math.ceil(etaSeconds / 60) });
  }

  function connectSignal() {
    const signal = new Signal({ url: session.wsUrl, token: () => session.token });
    session.signal = signal;

    signal.on("welcome", (msg) => {
      const d = msg.data || {};
      const resuming = session.resuming;
      session.resuming = false;
      if (d.resumed && session.call && !session.call.closed) {
        session.call.resumed();
        refreshPaymentLinks();
      } else if (d.call && d.call.call_id && d.call.state !== "ended" && !session.call) {
        // Matched while away, or this page was reloaded mid-call.
        onMatched({ call_id: d.call.call_id, data: { role: "shopper", initiator: "guide", peer: d.call.peer || {} } }, { fresh: true });
      } else if (resuming && session.phase === "queued") {
        $("#queue-position").textContent = t("queue.waiting");
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
      updateMini();
    });
    signal.on("queue.requeued", (msg) => {
      const d = msg.data || {};
      if (session.call) { session.call.close("requeued"); session.call = null; }
      session.callId = null;
      session.incall?.hold(false);
      save();
      stopMedia();
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
    signal.on("call.matched", (msg) => onMatched(msg, { fresh: false }));
    for (const type of ["sdp", "ice", "ice.restart", "call.peer", "call.state", "call.ended"]) {
      signal.on(type, (msg) => {
        // The guide's offer may come while this page still takes its
        // camera and loads the call's code: keep it for the Call.
        if (!session.call && msg.call_id && msg.call_id === session.callId) session.pendingCall.push(msg);
        else session.call?.handle(msg);
      });
    }
    signal.on("call.peer", (msg) => {
      const st = msg.data?.status;
      if (st === "disconnected") setStatus(t("call.peer_lost_wait"));
      if (st === "reconnected") {
        setStatus(t(`state.${session.callState}`));
        session.incall?.mediaState(session.stream, true); // a reloaded console knows nothing
      }
    });
    signal.on("payment.link", (msg) => upsertCard(msg.data || {}));
    for (const type of ["chat.message", "product.card", "call.hold"]) {
      signal.on(type, (msg) => {
        if (msg.call_id !== session.callId) return;
        if (session.incall) session.incall.handle(msg);
        else session.early.push(msg); // before the in-call module arrived
      });
    }
    signal.on("error", (msg) => {
      const d = msg.data || {};
      console.warn("guidecall: server error", d);
      // The server refused the socket: this entry is over (a stored session
      // that outlived its call). Retrying would only be refused again.
      if (d.ref === "auth" && signal === session.signal) {
        signal.close();
        finish(t(d.code === "unavailable" ? "ended.lost" : "ended.generic"));
      }
    });
    signal.onStatus(({ status, code }) => {
      if (status === "reconnecting") setStatus(t("signal.reconnecting"));
      if (status === "ready" && session.phase !== "ended") setStatus(t(`state.${session.callState}`));
      if (status === "closed" && session.phase !== "ended" && session.phase !== "idle") {
        finish(t(code === 4401 ? "ended.expired" : "ended.lost"));
      }
    });
    signal.connect();
  }

  async function onMatched(msg, { fresh }) {
    if (session.call && !session.call.closed && session.callId === msg.call_id) return;
    const d = msg.data || {};
    session.phase = "call";
    session.callId = msg.call_id;
    save();
    show("call-view");
    setCallState("matched");
    const peerName = d.peer?.name;
    $("#peer-name").textContent = peerName ? t("call.with", { name: peerName }) : t("call.with_guide");
    $("#audio-only-note").hidden = session.mode !== "audio";
    gc.dataset.mode = session.mode;
    emit("call-started", { callId: msg.call_id });
    if (!session.minimised) focusFirst();

    // The call's code is not part of what every page view loads.
    const [{ Call, fetchIceConfig }, { InCall }, money, stream] = await Promise.all([
      import("../js/call.js"), import("./incall.js"), import("../js/money.js"), startMedia(),
    ]);
    moneyLib = money;
    session.stream = stream;
    if (session.callId === msg.call_id && !session.incall) {
      const callId = msg.call_id;
      session.incall = new InCall({
        root, t, locale, emit,
        send: (type, data) => session.signal?.send(type, data, callId),
      });
      for (const m of session.early.splice(0)) session.incall.handle(m);
      session.incall.shareCart(context);
      if (fresh) restoreItems(callId);
    }
    showCamera();
    $("#fullscreen").hidden = !document.fullscreenEnabled || session.mode === "audio";
    offerCameraSwitch();
    $("#mute").hidden = !session.stream?.getAudioTracks().length;
    if (session.callId !== msg.call_id || session.phase !== "call") {
      stopMedia();
      return;
    }

    const call = new Call({
      signal: session.signal,
      callId: msg.call_id,
      role: "shopper",
      initiator: d.initiator === "shopper",
      localStream: session.stream,
      fresh,
      audioOnly: session.mode === "audio",
      getIceConfig: () => fetchIceConfig(session.token, { url: api("api/v1/ice-servers") }),
      onState: (s) => {
        if (call !== session.call) return;
        setCallState(s);
        if (s === "connected") session.incall?.mediaState(session.stream, true);
      },
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
    for (const m of session.pendingCall.splice(0)) call.handle(m);
    watchQuality(call);
    if (fresh) refreshPaymentLinks();
  }

  // The devices for the chosen mode, taken when the guide is there. A
  // refusal now (permission revoked during the wait) degrades to listening.
  async function startMedia() {
    if (session.mode === "video" && session.preview) {
      const s = session.preview;
      session.preview = null;
      $("#preview-video").srcObject = null;
      return s;
    }
    stopStream(session.preview);
    session.preview = null;
    const want = MEDIA[session.mode];
    if (!want) return null;
    try {
      return await navigator.mediaDevices.getUserMedia(constraints(want));
    } catch (err) {
      console.warn("guidecall: media refused at the start of the call", err);
      showError("error.media_in_call");
      return null;
    }
  }

  // Phones have a front and a back camera: offer the other one when there is
  // more than one and we are sending video.
  async function offerCameraSwitch() {
    const btn = $("#switch-camera");
    btn.hidden = true;
    if (!session.stream?.getVideoTracks().length || !navigator.mediaDevices?.enumerateDevices) return;
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    btn.hidden = cams.length < 2;
  }

  // Camera off or audio only: the camera button turns it on.
  function showCamera() {
    const cam = !!session.stream?.getVideoTracks().length;
    $("#local-video").srcObject = cam ? session.stream : null;
    $("#local-video").hidden = !cam;
    $("#camera").hidden = !session.stream;
    $("#camera").setAttribute("aria-pressed", String(!cam));
    $("#camera").textContent = t(cam ? "widget.camera_off" : "widget.camera_on");
  }

  async function cameraOn() {
    try {
      const s = await navigator.mediaDevices.getUserMedia(constraints({ video: true }));
      session.call.addVideo(s.getVideoTracks()[0]);
      session.mode = gc.dataset.mode = "video";
      save();
      $("#audio-only-note").hidden = true;
      showCamera();
      session.incall?.mediaState(session.stream);
      offerCameraSwitch();
    } catch (err) {
      console.warn("guidecall: camera not turned on", err);
      showError("error.media_in_call");
    }
  }

  async function switchCamera() {
    const old = session.stream?.getVideoTracks()[0];
    if (!old) return;
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    const current = old.getSettings().deviceId;
    const next = cams[(cams.findIndex((c) => c.deviceId === current) + 1) % cams.length];
    if (!next || next.deviceId === current) return;
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { deviceId: { exact: next.deviceId } } });
      const track = s.getVideoTracks()[0];
      const sender = session.call?.pc?.getSenders().find((x) => x.track?.kind === "video");
      if (sender) await sender.replaceTrack(track);
      session.stream.removeTrack(old);
      old.stop();
      session.stream.addTrack(track);
      $("#local-video").srcObject = session.stream;
    } catch (err) {
      console.warn("guidecall: camera switch failed", err);
    }
  }

  // The connection-quality bars: round-trip time and inbound loss from
  // getStats() every two seconds while a call is up. Only the label
  // changes, nothing is announced, so it does not chatter.
  function watchQuality(call) {
    let last = null;
    const tick = async () => {
      if (call !== session.call || call.closed || !call.pc) return;
      let rtt = null;
      let lost = 0;
      let received = 0;
      const report = await call.pc.getStats();
      report.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime;
        if (s.type === "inbound-rtp") { lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
      });
      const dLost = last ? lost - last.lost : 0;
      const dRecv = last ? received - last.received : 0;
      last = { lost, received };
      const loss = dLost + dRecv > 0 ? (100 * dLost) / (dLost + dRecv) : 0;
      const level = call.state !== "connected" ? "poor"
        : rtt == null ? "" : rtt > 0.4 || loss > 5 ? "poor" : rtt > 0.2 || loss > 2 ? "fair" : "good";
      session.quality = { level, rttMs: rtt == null ? null : Math.round(rtt * 1000), lossPct: Math.round(loss * 10) / 10 };
      const el = $("#quality");
      el.dataset.level = level;
      el.hidden = !level;
      if (level) el.setAttribute("aria-label", t(`quality.${level}`));
    };
    clearInterval(session.qualityTimer);
    session.qualityTimer = setInterval(() => tick().catch(() => {}), 2000);
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen?.();
    else $("#videos").requestFullscreen?.().catch((err) => console.warn("guidecall: no full screen", err));
  }

  async function restoreItems(callId) {
    try {
      const res = await fetch(api(`api/v1/calls/${encodeURIComponent(callId)}/items`), {
        headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
      });
      if (!res.ok) throw new Error(`items: HTTP ${res.status}`);
      const body = await res.json();
      if (session.callId === callId) session.incall?.restore(body.items);
    } catch (err) {
      console.warn("guidecall: chat and cards not restored", err);
    }
  }

  function summarise() {
    const lines = [];
    for (const name of session.incall?.shown() || []) lines.push(t("summary.shown", { name }));
    for (const link of session.cards.values()) {
      if (link.status === "paid") lines.push(t("summary.paid", { amount: money(link.amount, link.currency || context.currency) }));
    }
    const list = $("#summary-list");
    list.replaceChildren(...lines.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    $("#summary").hidden = lines.length === 0;
  }

  async function rate(e) {
    e.preventDefault();
    const picked = root.querySelector('input[name="rating"]:checked');
    if (!picked || !session.ratedCall) return;
    $("#rating-submit").disabled = true;
    try {
      const res = await fetch(api(`api/v1/calls/${encodeURIComponent(session.ratedCall)}/rating`), {
        method: "POST",
        headers: { Authorization: `Bearer ${session.ratingToken}`, "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ rating: Number(picked.value), comment: $("#rating-comment").value.trim() }),
      });
      if (!res.ok) throw new Error(`rating: HTTP ${res.status}`);
      $("#rating-form").hidden = true;
      $("#rating-done").hidden = false;
      $("#rating-done").focus?.();
    } catch (err) {
      console.warn("guidecall:", err);
      showError("error.rating");
    } finally {
      $("#rating-submit").disabled = false;
    }
  }

  function endedText(reason, by) {
    if (reason === "hangup") return t(by === "shopper" ? "ended.by_you" : "ended.by_guide");
    return t.has?.(`ended.${reason}`) ? t(`ended.${reason}`) : t("ended.generic");
  }

  function finish(text) {
    if (session.phase === "ended") return;
    const wasCall = !!session.callId;
    session.phase = "ended";
    forget();
    setCallState("ended");
    setMinimised(false);
    show("ended-view");
    $("#ended-message").textContent = text;
    stopMedia();
    $("#remote-video").srcObject = null;
    clearInterval(session.qualityTimer);
    $("#quality").hidden = true;
    summarise();
    session.incall?.close();
    // The token outlives the stored session for the rating only.
    session.ratedCall = wasCall ? session.callId : null;
    session.ratingToken = session.token;
    $("#rating-form").hidden = !wasCall;
    $("#rating-done").hidden = true;
    if (wasCall) emit("call-ended", { callId: session.callId });
    focusFirst();
    // Keep the socket a moment so late payment updates still land.
    const signal = session.signal;
    setTimeout(() => { if (session.signal === signal && session.phase === "ended") signal?.close(); }, 60000);
  }

  function stopStream(s) {
    for (const track of s?.getTracks() || []) track.stop();
  }

  function stopMedia() {
    stopStream(session.stream);
    session.stream = null;
    $("#local-video").srcObject = null;
  }

  function resetSession() {
    session.signal?.close();
    session.call?.close("reset");
    Object.assign(session, { token: null, entryId: null, signal: null, call: null, callId: null, wsUrl: null });
    session.cards.clear();
    session.incall?.close();
    session.incall = null;
    session.early = [];
    session.pendingCall = [];
    $("#payment-cards").replaceChildren();
    $("#product-cards").replaceChildren();
    $("#chat-log").replaceChildren();
    $("#summary").hidden = true;
    $("#rating-form").reset();
    $("#rating-form").hidden = true;
    $("#rating-done").hidden = true;
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
      const res = await fetch(api(`api/v1/calls/${encodeURIComponent(session.callId)}/payment-links`), {
        headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
      });
      if (!res.ok) return;
      const body = await res.json();
      const links = Array.isArray(body) ? body : body.links || body.payment_links || [];
      for (const l of links) upsertCard({ ...l, link_id: l.link_id || l.id });
    } catch (err) {
      console.warn("guidecall: payment links refresh failed", err);
    }
  }

  function upsertCard(link) {
    if (!link.link_id) return;
    const before = session.cards.get(link.link_id);
    const merged = { ...(before || {}), ...link };
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
    if (merged.status === "paid" && before?.status !== "paid") {
      emit("payment-paid", { linkId: link.link_id, amount: merged.amount, currency: merged.currency });
    }
  }

  function money(amount, cur) {
    try { return moneyLib.formatMoney(amount, cur, locale); } catch { return `${amount} ${cur}`; }
  }

  function renderCard(card, link) {
    const cur = link.currency || context.currency;
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
      try { price.textContent = money(moneyLib.itemsTotal([it]), cur); } catch { price.textContent = ""; }
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
    if (st === "paid") status.textContent = t("pay.paid");
    else if (st !== "open") status.textContent = t(`pay.status.${st}`);

    const parts = [title];
    if (items.length) parts.push(list);
    parts.push(total);
    if (st === "open" && link.checkout_url && /^https?:/i.test(link.checkout_url)) {
      const a = document.createElement("a");
      a.className = "pay-button button primary";
      a.href = link.checkout_url;
      // Phones pay in this tab and resume on return; wider screens in a new one.
      if (!matchMedia("(max-width: 480px)").matches) {
        a.target = "_blank";
        a.rel = "noopener";
      }
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
    session.incall?.mediaState(session.stream);
  }

  $("#launcher").hidden = !settings.launcher;
  $("#launcher").addEventListener("click", precall);
  $("#mini-restore").addEventListener("click", () => { setMinimised(false); focusFirst(); });
  $("#restore").addEventListener("click", () => { setMinimised(false); focusFirst(); });
  $("#minimise").addEventListener("click", () => setMinimised(true));
  $("#preview-toggle").addEventListener("click", togglePreview);
  $("#camera-select").addEventListener("change", pickDevice);
  $("#mic-select").addEventListener("change", pickDevice);
  for (const b of root.querySelectorAll("#precall-view [data-mode], #denied-view [data-mode]")) {
    b.addEventListener("click", () => {
      if (session.phase === "denied") session.phase = "precall";
      join(b.dataset.mode);
    });
  }
  $("#denied-retry").addEventListener("click", () => { session.phase = "precall"; show("precall-view"); focusFirst(); });
  $("#cancel-queue").addEventListener("click", cancelQueue);
  $("#end-call").addEventListener("click", () => {
    if (session.call) session.call.end("hangup");
    else finish(t("ended.by_you"));
  });
  $("#mute").addEventListener("click", (e) => toggleTrack("audio", e.currentTarget, "widget.unmute", "widget.mute"));
  $("#camera").addEventListener("click", (e) => (session.stream?.getVideoTracks().length
    ? toggleTrack("video", e.currentTarget, "widget.camera_on", "widget.camera_off")
    : cameraOn()));
  $("#close-widget").addEventListener("click", () => {
    session.signal?.close();
    stopStream(session.preview);
    session.preview = null;
    session.phase = "idle";
    closePanel();
  });
  $("#call-again").addEventListener("click", precall);
  $("#switch-camera").addEventListener("click", switchCamera);
  $("#fullscreen").addEventListener("click", toggleFullscreen);
  $("#rating-form").addEventListener("submit", rate);
  $("#continue-shopping").addEventListener("click", () => { session.phase = "idle"; closePanel(); });
  $("#call-widget").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.stopPropagation();
    if (session.phase === "queued" || session.phase === "call") setMinimised(true);
    else if (session.phase !== "starting") $("#close-widget").click();
  });
  window.addEventListener("online", () => session.signal?.reconnectNow());
  // Back from the checkout tab: show the payment's outcome at once, even if
  // the socket missed it while the page slept.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session.phase === "call") refreshPaymentLinks();
  });
  setCallState("idle");
  showPrivacy();
  initAvailability({
    root, api, queue: settings.queue, t, locale, emit, settings,
    // The callback form is a view of the panel.
    onOpen: () => {
      openPanel();
      show("callback-view");
    },
  });

  const saved = stored();
  if (saved) resume(saved);

  return {
    open: () => { if (session.minimised) setMinimised(false); else precall(); },
    close: () => {
      if (session.phase === "queued" || session.phase === "call") setMinimised(true);
      else $("#close-widget").click();
    },
    setContext: (ctx = {}) => {
      if (ctx.currency) {
        // The ISO 4217 shape only: the server checks the code itself.
        if (/^[A-Za-z]{3}$/.test(String(ctx.currency))) context.currency = String(ctx.currency).toUpperCase();
      }
      for (const k of ["product", "variant", "cart"]) if (k in ctx) context[k] = ctx[k];
      session.incall?.shareCart(context);
    },
    // A page with its own call button in view can hide the floating one.
    showLauncher: (on = true) => {
      settings.launcher = !!on;
      if ($("#call-widget").hidden && $("#mini-restore").hidden) $("#launcher").hidden = !settings.launcher;
    },
    // A signed-in customer: the merchant's backend signed this token; it
    // goes with the next join and the server verifies it.
    identify: (token) => { customerToken = typeof token === "string" ? token : ""; },
    state: () => session.callState,
    stats: async () => (session.call
      ? { ...(await session.call.stats()), quality: session.quality || null }
      : { connectionState: "new", localCandidateType: null, remoteCandidateType: null, framesDecoded: 0, framesSent: 0 }),
    restartIce: () => session.call?.restart("test", { force: true }),
    // The kinds of device this page holds live right now (camera light check).
    media: () => [session.stream, session.preview]
      .flatMap((st) => st?.getTracks() || [])
      .filter((tr) => tr.readyState === "live")
      .map((tr) => tr.kind)
      .sort(),
  };
}
