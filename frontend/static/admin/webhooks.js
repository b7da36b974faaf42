// webhooks.js: the dashboard's merchant webhooks section: endpoints (add,
// its secret shown once; edit; enable, disable; delete), the delivery log
// with each delivery's attempts, and replay (/api/v1/admin/webhooks/...).

import { clearErrors, showField, formError, wordOf } from "./forms.js";

const $ = (sel) => document.querySelector(sel);
const BASE = "/api/v1/admin/webhooks";
const ENDPOINT_FIELDS = ["url", "events", "description"];
let api;
let t;
let editing = null;
let endpoints = [];

const statusName = {
  pending: () => t("admin.wh.status.pending"), succeeded: () => t("admin.wh.status.succeeded"),
  failed: () => t("admin.wh.status.failed"), canceled: () => t("admin.wh.status.canceled"),
};

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "button small";
  b.textContent = text;
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

// Buttons in the tables report to the section's own line.
async function act(fn) {
  formError("#wh-error", "");
  try {
    await fn();
  } catch (err) {
    formError("#wh-error", err.message);
  }
}

function fillEndpointForm(e) {
  editing = e ? e.id : null;
  $("#endpoint-form-title").textContent = e ? t("admin.wh.edit", { url: e.url }) : t("admin.wh.new");
  $("#w-url").value = e?.url || "";
  $("#w-events").value = (e?.events || []).join(", ");
  $("#w-description").value = e?.description || "";
  $("#endpoint-secret").hidden = true;
  clearErrors($("#endpoint-form"));
  formError("#endpoint-form-error", "");
}

async function loadEndpoints() {
  endpoints = (await api(`${BASE}/endpoints`)).endpoints || [];
  $("#wh-endpoints tbody").replaceChildren(...endpoints.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.endpoint = e.id;
    cell(tr, e.description ? `${e.url} (${e.description})` : e.url);
    cell(tr, e.events?.length ? e.events.join(", ") : t("admin.wh.every_event"));
    cell(tr, e.enabled ? t("admin.wh.enabled") : t("admin.wh.disabled"));
    const td = cell(tr, "");
    td.append(
      button(t("admin.edit"), t("admin.wh.edit", { url: e.url }), () => { fillEndpointForm(e); $("#w-url").focus(); }),
      button(e.enabled ? t("admin.wh.disable") : t("admin.wh.enable"), null, () => act(async () => {
        await api(`${BASE}/endpoints/${encodeURIComponent(e.id)}`, { method: "PATCH", body: { enabled: !e.enabled } });
        await loadEndpoints();
      })),
      button(t("admin.wh.delete"), t("admin.wh.delete_endpoint", { url: e.url }), () => act(async () => {
        await api(`${BASE}/endpoints/${encodeURIComponent(e.id)}`, { method: "DELETE" });
        if (editing === e.id) fillEndpointForm(null);
        await loadEndpoints();
        $("#wh-status").textContent = t("admin.wh.deleted", { url: e.url });
      })),
    );
    return tr;
  }));
}

async function saveEndpoint(ev) {
  ev.preventDefault();
  clearErrors($("#endpoint-form"));
  formError("#endpoint-form-error", "");
  $("#endpoint-form-status").textContent = "";
  const body = {
    url: $("#w-url").value.trim(), description: $("#w-description").value.trim(),
    events: $("#w-events").value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  let saved;
  try {
    saved = editing
      ? await api(`${BASE}/endpoints/${encodeURIComponent(editing)}`, { method: "PATCH", body })
      : await api(`${BASE}/endpoints`, { method: "POST", body });
  } catch (err) {
    const field = wordOf(err.message, ENDPOINT_FIELDS);
    if (!field || !showField("w", field, err.message)) formError("#endpoint-form-error", err.message);
    return;
  }
  const created = !editing;
  fillEndpointForm(saved);
  if (created && saved.secret) {
    // The API returns the secret only when the endpoint is created.
    $("#endpoint-secret-value").textContent = saved.secret;
    $("#endpoint-secret").hidden = false;
  }
  $("#endpoint-form-status").textContent = t("admin.saved", { name: saved.url });
  await loadEndpoints();
}

const urlOf = (id) => endpoints.find((e) => e.id === id)?.url || id;

async function loadDeliveries() {
  const ds = (await api(`${BASE}/deliveries?limit=50`)).deliveries || [];
  $("#wh-deliveries tbody").replaceChildren(...ds.map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.delivery = d.id;
    tr.dataset.event = d.event_type;
    cell(tr, d.event_type);
    cell(tr, urlOf(d.endpoint_id));
    cell(tr, (statusName[d.status] || (() => d.status))());
    cell(tr, String(d.attempts), "num");
    cell(tr, d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "–");
    const td = cell(tr, "");
    td.append(button(t("admin.wh.details"), t("admin.wh.details_of", { event: d.event_type }), () => act(() => showDelivery(d.id))));
    // The API replays only deliveries that gave up or were canceled.
    if (d.status === "failed" || d.status === "canceled") {
      td.append(button(t("admin.wh.replay"), t("admin.wh.replay_of", { event: d.event_type }), () => act(async () => {
        await api(`${BASE}/deliveries/${encodeURIComponent(d.id)}/replay`, { method: "POST" });
        $("#wh-status").textContent = t("admin.wh.replayed", { event: d.event_type });
        await loadDeliveries();
        await showDelivery(d.id);
      })));
    }
    return tr;
  }));
}

async function showDelivery(id) {
  const d = await api(`${BASE}/deliveries/${encodeURIComponent(id)}`);
  const box = $("#delivery-detail");
  box.dataset.delivery = d.id;
  $("#delivery-detail-title").textContent = t("admin.wh.attempts_of", { event: d.event_type, url: urlOf(d.endpoint_id) });
  $("#delivery-attempts tbody").replaceChildren(...(d.attempt_log || []).map((a) => {
    const tr = document.createElement("tr");
    cell(tr, String(a.n), "num");
    cell(tr, new Date(a.at).toLocaleString(t.lang));
    cell(tr, a.status_code ? String(a.status_code) : t("admin.wh.no_answer"), "num");
    cell(tr, String(a.duration_ms), "num");
    cell(tr, a.error || a.response || "");
    return tr;
  }));
  box.hidden = false;
}

/** loadWebhooks fills the section; its errors go to the caller. */
export async function loadWebhooks() {
  await loadEndpoints();
  await loadDeliveries();
}

export function initWebhooks(request, translate) {
  api = request;
  t = translate;
  fillEndpointForm(null);
  $("#endpoint-form").addEventListener("submit", saveEndpoint);
  $("#endpoint-new").addEventListener("click", () => fillEndpointForm(null));
  $("#wh-refresh").addEventListener("click", () => act(async () => {
    await loadDeliveries();
    const open = $("#delivery-detail");
    if (!open.hidden) await showDelivery(open.dataset.delivery);
  }));
}
