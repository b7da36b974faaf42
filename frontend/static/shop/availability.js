// availability.js: before and instead of a call, the queue's status (for
// the join's skill and second language: join-extras.js, loaded only when
// the page names one; the host hears queue-open / queue-closed) and the
// callback form. shop.js calls the exports; all in the shadow root.

const state = { root: null, api: null, queue: "default", t: (k) => k, locale: "en", emit: () => {}, status: null, entryId: null, onSent: null, onOpen: null };
const $ = (sel) => state.root.querySelector(sel);

/** Reads the queue's status and adapts the launcher: closed or nobody online offers a callback. */
export async function initAvailability({ root, api, queue = "default", t, locale, emit, onOpen, settings = {} }) {
  Object.assign(state, { root, api, queue, t, locale, emit, onOpen });
  $("#callback-form").addEventListener("submit", onSubmit);
  $("#callback-instead").addEventListener("click", () => openCallback({ entryId: state.entryId }));
  $("#callback-launch").addEventListener("click", () => openCallback({}));
  try {
    const x = settings.skill || settings.secondLanguage || globalThis.guidecallConfig || /[?&](skill|second_l)/.test(location.search)
      ? (await import("./join-extras.js")).forStatus(settings) : {};
    const q = new URLSearchParams({ locale, ...x });
    const res = await fetch(api(`api/v1/queues/${encodeURIComponent(queue)}/status?${q}`),
      { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!res.ok) return;
    renderStatus(await res.json());
  } catch (err) {
    console.warn("guidecall: queue status", err);
  }
}

function renderStatus(st) {
  state.status = st;
  const note = $("#availability");
  if (!st.open) {
    note.textContent = st.next_open_at
      ? state.t("availability.closed", { when: formatWhen(st.next_open_at) })
      : state.t("availability.closed_no_hours");
  } else if (st.eta_seconds == null) {
    note.textContent = state.t("availability.no_guide");
  } else {
    note.textContent = "";
  }
  note.hidden = !note.textContent;
  note.dataset.eta = st.eta_seconds ?? "none";
  $("#callback-launch").hidden = !st.callback;
  // A closed queue takes no calls: the join buttons give way to the callback.
  for (const b of state.root.querySelectorAll("#precall-view .join-buttons [data-mode]")) b.hidden = !st.open;
  state.emit(st.open ? "queue-open" : "queue-closed", {
    queue: state.queue, nextOpenAt: st.next_open_at || null, etaSeconds: st.eta_seconds ?? null, callback: !!st.callback,
  });
}

function formatWhen(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  const opts = sameDay ? { hour: "2-digit", minute: "2-digit" } : { weekday: "long", hour: "2-digit", minute: "2-digit" };
  try { return new Intl.DateTimeFormat(state.locale, opts).format(d); } catch { return d.toLocaleString(); }
}

/** Called with each queue.position: offers the callback while waiting when the server says so. */
export function onQueuePosition(data, entryId) {
  state.entryId = entryId;
  $("#callback-instead").hidden = !data?.callback;
}

/** Called when a join is refused as closed (409 queue_closed). */
export function onJoinClosed(body) {
  renderStatus({ ...(state.status || {}), open: false, next_open_at: body?.error?.next_open_at || null, callback: true });
  openCallback({});
}

/** Opens the callback form; with entryId the shopper leaves the line when it is sent. */
export function openCallback({ entryId = null, onSent = null } = {}) {
  state.entryId = entryId;
  state.onSent = onSent;
  $("#callback-error").hidden = true;
  $("#callback-done").hidden = true;
  $("#callback-form").hidden = false;
  state.onOpen?.("callback");
  $("#callback-name").focus();
}

function localToISO(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const err = $("#callback-error");
  const fail = (text) => { err.textContent = text; err.hidden = false; };
  const body = {
    name: $("#callback-name").value.trim(),
    phone: $("#callback-phone").value.trim() || undefined,
    email: $("#callback-email").value.trim() || undefined,
    message: $("#callback-message").value.trim() || undefined,
    locale: state.locale,
    window_from: localToISO($("#callback-from").value),
    window_to: localToISO($("#callback-to").value),
    entry_id: state.entryId || undefined,
  };
  if (!body.name) return fail(state.t("callback.need_name"));
  if (!body.phone && !body.email) return fail(state.t("callback.need_contact"));
  $("#callback-send").disabled = true;
  try {
    const res = await fetch(state.api(`api/v1/queues/${encodeURIComponent(state.queue)}/callbacks`), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch { /* empty */ }
    if (!res.ok) return fail(state.t("callback.error", { message: data?.error?.message || `HTTP ${res.status}` }));
    $("#callback-form").hidden = true;
    $("#callback-done").hidden = false;
    $("#callback-done").dataset.callbackId = data?.callback_id || "";
    $("#callback-instead").hidden = true;
    $("#callback-launch").hidden = true;
    state.emit("callback-requested", { callbackId: data?.callback_id || null });
    state.onSent?.(data);
  } catch (e) {
    fail(state.t("callback.error", { message: e.message }));
  } finally {
    $("#callback-send").disabled = false;
  }
}
