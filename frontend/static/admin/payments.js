// payments.js: the dashboard's payments section: each provider's figures
// and breaker (GET /api/v1/admin/payment-providers), the gradual rollouts
// with their stop reasons (PUT .../rollouts) and the risk limits
// (GET/PUT /api/v1/admin/payment-limits).

import { clearErrors, showField, formError, aboutField, wordOf } from "./forms.js";

const $ = (sel) => document.querySelector(sel);
let api;
let t;

const ROLLOUT_FIELDS = ["incumbent", "provider", "currency", "percent", "margin", "min_sample"];
const LIMIT_FIELDS = ["max_amount", "refund_admin_above", "max_links_per_call"];

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

const percent = (x) => new Intl.NumberFormat(t.lang, { style: "percent", maximumFractionDigits: 1 }).format(x);
const seconds = (x) => t("admin.pay.seconds", { n: new Intl.NumberFormat(t.lang, { maximumFractionDigits: 0 }).format(x) });

function fillSelect(sel, names, chosen) {
  const el = $(sel);
  const keep = chosen ?? el.value;
  el.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) el.value = keep;
}

async function loadProviders() {
  const data = await api("/api/v1/admin/payment-providers");
  const providers = data.providers || [];
  $("#pay-providers tbody").replaceChildren(...providers.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.provider = p.provider;
    cell(tr, p.provider);
    cell(tr, String(p.links), "num");
    cell(tr, p.final ? `${percent(p.success_rate)} (${p.paid}/${p.final})` : "–", "num");
    cell(tr, p.paid ? seconds(p.median_seconds_to_paid) : "–", "num");
    cell(tr, String(p.create_errors), "num");
    cell(tr, p.breaker_open ? t("admin.pay.breaker_open") : t("admin.pay.breaker_closed"));
    return tr;
  }));
  const names = providers.map((p) => p.provider);
  fillSelect("#r-provider", names);
  fillSelect("#r-incumbent", names, $("#r-incumbent").value || names.find((n) => n !== $("#r-provider").value));
  const rollouts = Object.values(data.rollouts || {}).sort((a, b) => a.currency.localeCompare(b.currency));
  $("#pay-rollouts tbody").replaceChildren(...rollouts.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.currency = r.currency;
    cell(tr, r.currency);
    cell(tr, r.provider);
    cell(tr, r.incumbent);
    cell(tr, String(r.percent), "num");
    cell(tr, r.stopped ? t("admin.pay.stopped", { reason: r.stop_reason || "" }) : t("admin.pay.running"));
    const td = cell(tr, "");
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "button small";
    edit.textContent = t("admin.edit");
    edit.setAttribute("aria-label", t("admin.pay.edit_rollout", { currency: r.currency }));
    edit.addEventListener("click", () => { fillRollout(r); $("#r-percent").focus(); });
    td.append(edit);
    if (!r.stopped) {
      const stop = document.createElement("button");
      stop.type = "button";
      stop.className = "button small";
      stop.textContent = t("admin.pay.stop");
      stop.setAttribute("aria-label", t("admin.pay.stop_rollout", { currency: r.currency }));
      stop.addEventListener("click", () => putRollout({ ...r, percent: 0 }));
      td.append(stop);
    }
    return tr;
  }));
}

function fillRollout(r) {
  $("#r-currency").value = r.currency;
  $("#r-provider").value = r.provider;
  $("#r-incumbent").value = r.incumbent;
  $("#r-percent").value = r.percent;
  $("#r-margin").value = r.margin ? Math.round(r.margin * 100) : "";
  $("#r-min_sample").value = r.min_sample || "";
}

async function putRollout(body) {
  const form = $("#rollout-form");
  clearErrors(form);
  formError("#rollout-form-error", "");
  $("#rollout-form-status").textContent = "";
  try {
    const r = await api("/api/v1/admin/payment-providers/rollouts", { method: "PUT", body });
    $("#rollout-form-status").textContent = r.stopped ? t("admin.pay.rollout_stopped", { currency: r.currency })
      : t("admin.pay.rollout_saved", { currency: r.currency, percent: String(r.percent) });
  } catch (err) {
    // Rollouts share the links' refusal ("payments: invalid payment link:
    // percent 0..100 ..."); beside the field only the sentence about it.
    const about = err.message.replace(/^payments: (invalid payment link: )?/, "");
    const field = wordOf(about, ROLLOUT_FIELDS);
    if (!field || !showField("r", field, about)) formError("#rollout-form-error", err.message);
    return;
  }
  await loadProviders();
}

function saveRollout(ev) {
  ev.preventDefault();
  const num = (id) => Number($(id).value || 0);
  return putRollout({
    currency: $("#r-currency").value.trim().toUpperCase(), provider: $("#r-provider").value, incumbent: $("#r-incumbent").value,
    percent: num("#r-percent"), margin: num("#r-margin") / 100, min_sample: num("#r-min_sample"),
  });
}

// Amounts per currency as "EUR=50000, USD=60000".
function amountsText(m) {
  return Object.entries(m || {}).sort().map(([c, v]) => `${c}=${v}`).join(", ");
}

function readAmounts(field) {
  const out = {};
  for (const part of $(`#l-${field}`).value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]{3})\s*[=:\s]\s*(\d+)$/.exec(part);
    if (!m) throw Object.assign(new Error(t("admin.pay.amounts_bad", { part })), { field });
    out[m[1].toUpperCase()] = Number(m[2]);
  }
  return out;
}

function fillLimits(l) {
  $("#l-max_amount").value = amountsText(l.max_amount);
  $("#l-refund_admin_above").value = amountsText(l.refund_admin_above);
  $("#l-max_links_per_call").value = l.max_links_per_call || 0;
}

async function loadLimits() {
  fillLimits(await api("/api/v1/admin/payment-limits"));
}

async function saveLimits(ev) {
  ev.preventDefault();
  const form = $("#limits-form");
  clearErrors(form);
  formError("#limits-form-error", "");
  $("#limits-form-status").textContent = "";
  let body;
  try {
    body = { max_amount: readAmounts("max_amount"), refund_admin_above: readAmounts("refund_admin_above"),
      max_links_per_call: Number($("#l-max_links_per_call").value || 0) };
  } catch (err) {
    showField("l", err.field, err.message);
    return;
  }
  try {
    fillLimits(await api("/api/v1/admin/payment-limits", { method: "PUT", body }));
    $("#limits-form-status").textContent = t("admin.pay.limits_saved");
  } catch (err) {
    const field = wordOf(err.message, LIMIT_FIELDS);
    if (!field || !showField("l", field, aboutField(err.message, field))) formError("#limits-form-error", err.message);
  }
}

/** loadPayments fills the section; its errors go to the caller. */
export function loadPayments() {
  return Promise.all([loadProviders(), loadLimits()]);
}

export function initPayments(request, translate) {
  api = request;
  t = translate;
  $("#rollout-form").addEventListener("submit", saveRollout);
  $("#limits-form").addEventListener("submit", saveLimits);
}
