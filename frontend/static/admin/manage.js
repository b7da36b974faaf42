// manage.js: the dashboard's management sections (payments.js and
// webhooks.js hold two more; forms.js their shared form helpers): queues (name, hours,
// wrap-up, offer timeout, longest wait, relaxation steps) and guides (add
// an account, its queues, languages, skills, capacity; disable, enable).
// The API names the field a refusal is for first in its message; the
// form shows the message beside that input.

import { formatMoney } from "../js/money.js";
import { initPayments, loadPayments } from "./payments.js";
import { initWebhooks, loadWebhooks } from "./webhooks.js";
import { fieldOf, clearErrors, aboutField, showField, formError } from "./forms.js";

const $ = (sel) => document.querySelector(sel);
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
// Keys chosen at run time are spelled out, so a test can find them.
const dayName = {
  mon: () => t("admin.day.mon"), tue: () => t("admin.day.tue"), wed: () => t("admin.day.wed"), thu: () => t("admin.day.thu"),
  fri: () => t("admin.day.fri"), sat: () => t("admin.day.sat"), sun: () => t("admin.day.sun"),
};
const presenceName = {
  available: () => t("admin.presence.available"), away: () => t("admin.presence.away"), busy: () => t("admin.presence.busy"),
  wrap_up: () => t("admin.presence.wrap_up"), offline: () => t("admin.presence.offline"),
};

let api;
let t;
const state = { queues: [], editingQueue: null, editingGuide: null };

// --- queues ---

const QUEUE_FIELDS = ["name", "display_name", "time_zone", "wrap_up_seconds", "offer_timeout_seconds", "max_wait_seconds", "relax",
  ...WEEKDAYS.map((d) => `hours.${d}`), "hours"];

function spansText(spans) {
  return (spans || []).map((s) => `${s.open}-${s.close}`).join(", ");
}

function hoursSummary(q) {
  if (!q.hours) return t("admin.queues.always");
  return WEEKDAYS.filter((d) => q.hours[d]?.length).map((d) => `${dayName[d]()} ${spansText(q.hours[d])}`).join(" · ") || t("admin.queues.never");
}

function buildHours() {
  const grid = $("#q-hours");
  grid.replaceChildren();
  for (const d of WEEKDAYS) {
    const label = document.createElement("label");
    label.htmlFor = `q-hours.${d}`;
    label.textContent = dayName[d]();
    const input = document.createElement("input");
    input.type = "text";
    input.id = `q-hours.${d}`;
    input.autocomplete = "off";
    input.placeholder = "09:00-18:00";
    input.setAttribute("aria-describedby", `q-hours-hint q-hours.${d}-error`);
    const err = document.createElement("p");
    err.className = "field-error";
    err.id = `q-hours.${d}-error`;
    err.hidden = true;
    const cell = document.createElement("div");
    cell.append(input, err);
    grid.append(label, cell);
  }
}

const hoursInput = (d) => document.getElementById(`q-hours.${d}`);

function readHours() {
  const hours = {};
  let any = false;
  for (const d of WEEKDAYS) {
    const text = hoursInput(d).value.trim();
    if (!text) continue;
    any = true;
    hours[d] = text.split(",").map((part) => {
      const m = /^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$/.exec(part);
      if (!m) throw Object.assign(new Error(t("admin.queues.hours_bad")), { field: `hours.${d}` });
      return { open: m[1].padStart(5, "0"), close: m[2].padStart(5, "0") };
    });
  }
  return any ? hours : null;
}

function fillQueueForm(q) {
  state.editingQueue = q ? q.name : null;
  $("#queue-form-title").textContent = q ? t("admin.queues.edit", { name: q.name }) : t("admin.queues.new");
  $("#q-name").value = q?.name || "";
  $("#q-name").disabled = !!q;
  $("#q-display_name").value = q?.display_name || "";
  $("#q-time_zone").value = q?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("#q-wrap_up_seconds").value = q?.wrap_up_seconds ?? 30;
  $("#q-offer_timeout_seconds").value = q?.offer_timeout_seconds ?? 15;
  $("#q-max_wait_seconds").value = q?.max_wait_seconds ?? 0;
  $("#q-relax").value = q?.relax?.length ? JSON.stringify(q.relax) : "";
  for (const d of WEEKDAYS) hoursInput(d).value = spansText(q?.hours?.[d]);
  clearErrors($("#queue-form"));
  formError("#queue-form-error", "");
}

async function loadQueues() {
  const data = await api("/api/v1/admin/queues");
  state.queues = data.queues || [];
  $("#queues-table tbody").replaceChildren(...state.queues.map((q) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    const cells = [q.display_name && q.display_name !== q.name ? `${q.display_name} (${q.name})` : q.name, q.time_zone, hoursSummary(q), String(q.wrap_up_seconds)];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    const td = document.createElement("td");
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "button small";
    edit.textContent = t("admin.edit");
    edit.setAttribute("aria-label", t("admin.queues.edit", { name: q.name }));
    edit.addEventListener("click", () => { fillQueueForm(q); $("#q-display_name").focus(); });
    td.append(edit);
    tr.append(td);
    return tr;
  }));
  renderQueueChecks();
}

async function saveQueue(ev) {
  ev.preventDefault();
  const form = $("#queue-form");
  clearErrors(form);
  formError("#queue-form-error", "");
  $("#queue-form-status").textContent = "";
  const num = (id) => Number($(id).value || 0);
  let body;
  try {
    const relaxText = $("#q-relax").value.trim();
    let relax = [];
    if (relaxText) {
      try { relax = JSON.parse(relaxText); } catch { throw Object.assign(new Error(t("admin.queues.relax_bad")), { field: "relax" }); }
    }
    body = {
      display_name: $("#q-display_name").value.trim(), time_zone: $("#q-time_zone").value.trim(),
      hours: readHours(), wrap_up_seconds: num("#q-wrap_up_seconds"), offer_timeout_seconds: num("#q-offer_timeout_seconds"),
      max_wait_seconds: num("#q-max_wait_seconds"), relax,
    };
  } catch (err) {
    if (!showField("q", err.field, err.message)) formError("#queue-form-error", err.message);
    return;
  }
  const editing = state.editingQueue;
  try {
    if (editing) {
      await api(`/api/v1/admin/queues/${encodeURIComponent(editing)}`, { method: "PATCH", body });
    } else {
      if (!body.hours) delete body.hours;
      await api("/api/v1/admin/queues", { method: "POST", body: { name: $("#q-name").value.trim(), ...body } });
    }
  } catch (err) {
    const field = fieldOf(err.message, QUEUE_FIELDS);
    if (!field || !showField("q", field, aboutField(err.message, field))) formError("#queue-form-error", err.message);
    return;
  }
  const name = editing || $("#q-name").value.trim();
  await loadQueues();
  fillQueueForm(state.queues.find((q) => q.name === name));
  $("#queue-form-status").textContent = t("admin.saved", { name });
}

// --- guides ---

const GUIDE_FIELDS = ["name", "email", "password", "queues", "languages", "skills", "capacity"];

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function renderQueueChecks(selected) {
  const box = $("#g-queues");
  const chosen = new Set(selected || [...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(...state.queues.map((q) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = q.name;
    input.checked = chosen.has(q.name);
    label.append(input, q.display_name || q.name);
    return label;
  }));
  box.setAttribute("aria-describedby", "g-queues-error");
}

function fillGuideForm(g) {
  state.editingGuide = g ? g.account.id : null;
  $("#guide-form-title").textContent = g ? t("admin.guides.edit", { name: g.account.name }) : t("admin.guides.new");
  $("#guide-account-fields").hidden = !!g;
  for (const id of ["#g-name", "#g-email", "#g-password"]) $(id).value = "";
  const p = g?.profile;
  renderQueueChecks(p?.queues || []);
  $("#g-languages").value = (p?.languages || []).join(", ");
  $("#g-skills").value = (p?.skills || []).join(", ");
  $("#g-capacity").value = p?.capacity || 1;
  clearErrors($("#guide-form"));
  formError("#guide-form-error", "");
}

async function loadGuides() {
  const data = await api("/api/v1/admin/accounts");
  const guides = (data.accounts || []).filter((a) => a.role === "guide");
  const rows = await Promise.all(guides.map(async (account) => {
    try {
      const g = await api(`/api/v1/admin/guides/${encodeURIComponent(account.id)}`);
      return { account, profile: g.guide, presence: g.presence };
    } catch (err) {
      if (err.status === 404) return { account, profile: null, presence: "offline" };
      throw err;
    }
  }));
  $("#guides-table tbody").replaceChildren(...rows.map((g) => {
    const tr = document.createElement("tr");
    tr.dataset.guide = g.account.email;
    const queues = g.profile?.queues ? g.profile.queues.join(", ") : t("admin.guides.every_queue");
    const langs = g.profile?.languages?.length ? g.profile.languages.join(", ") : t("admin.guides.any_language");
    const st = g.account.disabled ? t("admin.guides.disabled") : (presenceName[g.presence] || presenceName.offline)();
    // Name and address each isolated (<bdi>): in Arabic an English name
    // or the address's brackets would otherwise be reordered with the
    // text around them.
    const who = document.createElement("td");
    const name = document.createElement("bdi");
    name.textContent = g.account.name;
    const email = document.createElement("bdi");
    email.textContent = `<${g.account.email}>`;
    who.append(name, " ", email);
    tr.append(who);
    for (const c of [queues, langs, st]) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    const td = document.createElement("td");
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "button small";
    edit.textContent = t("admin.edit");
    edit.setAttribute("aria-label", t("admin.guides.edit", { name: g.account.name }));
    edit.addEventListener("click", () => { fillGuideForm(g); $("#g-languages").focus(); });
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "button small";
    toggle.textContent = g.account.disabled ? t("admin.guides.enable") : t("admin.guides.disable");
    toggle.addEventListener("click", async () => {
      try {
        await api(`/api/v1/admin/accounts/${encodeURIComponent(g.account.id)}/${g.account.disabled ? "enable" : "disable"}`, { method: "POST" });
        await loadGuides();
      } catch (err) {
        formError("#guide-form-error", err.message);
      }
    });
    td.append(edit, toggle);
    tr.append(td);
    return tr;
  }));
}

async function saveGuide(ev) {
  ev.preventDefault();
  const form = $("#guide-form");
  clearErrors(form);
  formError("#guide-form-error", "");
  $("#guide-form-status").textContent = "";
  const profile = {
    queues: [...$("#g-queues").querySelectorAll("input:checked")].map((i) => i.value),
    languages: list($("#g-languages").value), skills: list($("#g-skills").value), capacity: Number($("#g-capacity").value || 1),
  };
  const fail = (err) => {
    const field = fieldOf(err.message, GUIDE_FIELDS);
    if (!field || !showField("g", field, aboutField(err.message, field))) formError("#guide-form-error", err.message);
  };
  let id = state.editingGuide;
  const name = id ? "" : $("#g-name").value.trim();
  if (!id) {
    try {
      const a = await api("/api/v1/admin/accounts", { method: "POST", body: { email: $("#g-email").value.trim(), name, password: $("#g-password").value } });
      id = a.id;
      // The account exists now: a refused profile is corrected, not re-created.
      fillGuideForm({ account: a, profile: { ...profile, queues: profile.queues } });
      $("#g-languages").value = profile.languages.join(", ");
      $("#g-skills").value = profile.skills.join(", ");
      $("#g-capacity").value = profile.capacity;
    } catch (err) {
      return fail(err);
    }
  }
  try {
    await api(`/api/v1/admin/guides/${encodeURIComponent(id)}`, { method: "PUT", body: profile });
  } catch (err) {
    await loadGuides();
    return fail(err);
  }
  await loadGuides();
  $("#guide-form-status").textContent = t("admin.saved", { name: name || $("#guide-form-title").textContent });
}

// --- the product feed (the catalog's admin API) ---

async function loadProducts() {
  const data = await api("/api/v1/admin/products");
  const products = data.products || [];
  $("#products-count").textContent = t("admin.products.count", { n: String(products.length) });
  $("#products-table tbody").replaceChildren(...products.slice(0, 200).map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.product = p.product_id;
    for (const [text, cls] of [[p.product_id], [p.name], [p.variant || ""], [formatMoney(p.price, p.currency, t.lang), "num"]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }));
}

async function saveFeed(ev) {
  ev.preventDefault();
  const form = $("#feed-form");
  clearErrors(form);
  $("#feed-status").textContent = "";
  const file = $("#p-file").files?.[0];
  const text = file ? await file.text() : $("#p-text").value;
  if (!text.trim()) return showField("p", "feed", t("admin.products.empty"));
  const csv = file ? /\.csv$/i.test(file.name) || file.type === "text/csv" : !/^\s*[[{]/.test(text);
  try {
    const res = await api("/api/v1/admin/products", { method: "PUT", raw: text, contentType: csv ? "text/csv" : "application/json" });
    $("#feed-status").textContent = t("admin.products.saved", { n: String(res.products) });
    await loadProducts();
  } catch (err) {
    // invalid_feed names the row and the field; the feed stayed as it was.
    showField("p", "feed", err.message);
    document.getElementById(file ? "p-file" : "p-text").setAttribute("aria-invalid", "true");
  }
}

// --- sections ---

function showSection() {
  const name = (location.hash || "#figures").slice(1);
  const known = ["figures", "queues", "guides", "products", "payments", "webhooks"].includes(name) ? name : "figures";
  for (const el of document.querySelectorAll("[data-section]")) el.hidden = el.dataset.section !== known;
  for (const a of document.querySelectorAll(".tabs a")) {
    if (a.dataset.view === known) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const loads = { queues: loadQueues, guides: () => loadQueues().then(loadGuides), products: loadProducts, payments: loadPayments, webhooks: loadWebhooks };
  const where = { queues: "#queue-form-error", guides: "#guide-form-error", products: "#p-feed-error", payments: "#rollout-form-error", webhooks: "#wh-error" };
  loads[known]?.().catch((err) => formError(where[known], err.message));
}

/**
 * initManagement wires the sections; request(path, {method, body}) sends
 * with the admin's token, translate is the dashboard's t.
 */
export function initManagement(request, translate) {
  api = request;
  t = translate;
  buildHours();
  fillQueueForm(null);
  $("#queue-form").addEventListener("submit", saveQueue);
  $("#queue-new").addEventListener("click", () => fillQueueForm(null));
  $("#guide-form").addEventListener("submit", saveGuide);
  $("#guide-new").addEventListener("click", () => fillGuideForm(null));
  $("#feed-form").addEventListener("submit", saveFeed);
  initPayments(request, translate);
  initWebhooks(request, translate);
  window.addEventListener("hashchange", showSection);
  return { show: showSection, ready: () => state };
}
