// admin.js: the admin dashboard: an admin's login (guides are refused),
// the service now, and the figures of today, the last 7 or 30 days (or a
// window given as ?from=YYYY-MM-DD&to=YYYY-MM-DD) as tiles, small charts,
// two tables and a CSV export, all from GET /api/v1/admin/stats.
import { applyTranslations, interpolate, pickLanguage } from "../js/i18n.js";
import { formatMoney } from "../js/money.js";
import { barChart } from "./charts.js";
import { toCSV } from "./csv.js";
import { initManagement } from "./manage.js";
import { labelTables } from "../js/stack.js";

const $ = (sel) => document.querySelector(sel);
const REFRESH_KEY = "guidecall.admin.refresh_token";
const RTL = new Set(["ar", "he"]);
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const auth = { access: null, timer: null, account: null };
const view = { days: 1, queue: "", custom: null, stats: null, timer: null, loads: 0, manage: null };
let t = (key, params) => interpolate(key, params);

// --- hooks for automated browser tests ---
window.guidecallAdmin = {
  stats: () => view.stats,
  loads: () => view.loads,
};

// --- localization: the dashboard's own catalogs, beside the widget's ---

async function catalog(lang) {
  const res = await fetch(new URL(`../locales/admin/${lang}.json`, import.meta.url), { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`catalog ${lang}: HTTP ${res.status}`);
  return res.json();
}

async function loadTranslator() {
  const tags = navigator.languages?.length ? navigator.languages : [navigator.language];
  const lang = pickLanguage(tags);
  let messages = {};
  try { messages = await catalog("en"); } catch (e) { console.warn(e); }
  if (lang !== "en") {
    try { messages = { ...messages, ...(await catalog(lang)) }; } catch (e) { console.warn(e); }
  }
  const tr = (key, params) => interpolate(messages[key] ?? key, params);
  tr.lang = lang;
  tr.dir = RTL.has(lang) ? "rtl" : "ltr";
  return tr;
}

// --- formatting ---

const num = (v, digits = 0) => new Intl.NumberFormat(t.lang, { maximumFractionDigits: digits }).format(v);
const pct = (v) => (v == null ? "–" : new Intl.NumberFormat(t.lang, { style: "percent", maximumFractionDigits: 1 }).format(v));

function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return t("admin.fmt.seconds", { n: num(s) });
  if (s < 3600 && s % 60 === 0) return t("admin.fmt.whole_minutes", { m: num(s / 60) });
  if (s < 3600) return t("admin.fmt.minutes", { m: num(Math.floor(s / 60)), s: num(s % 60) });
  return t("admin.fmt.hours", { h: num(Math.floor(s / 3600)), m: num(Math.floor((s % 3600) / 60)) });
}

function dayLabel(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(t.lang, { day: "numeric", month: "short", timeZone: "UTC" }).format(Date.UTC(y, m - 1, d));
}

function isoDay(date) {
  const p = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}`;
}

// --- auth ---

// request sends JSON (body), or raw text of contentType (raw: the product feed).
async function request(path, { method = "GET", body, raw, contentType, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (raw != null) headers["Content-Type"] = contentType;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: raw != null ? raw : body ? JSON.stringify(body) : undefined, cache: "no-store" });
  let data = null;
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) {
    const err = new Error(data?.error?.message || `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data?.error?.code;
    throw err;
  }
  return data;
}

function showError(sel, text) {
  const el = $(sel);
  el.textContent = text || "";
  el.hidden = !text;
}

function acceptTokens(data) {
  auth.access = data.access_token;
  auth.account = data.account || auth.account;
  if (data.refresh_token) sessionStorage.setItem(REFRESH_KEY, data.refresh_token);
  const ttl = Math.max(30, Number(data.expires_in) || 900) * 1000;
  clearTimeout(auth.timer);
  auth.timer = setTimeout(() => refresh(0), Math.max(10000, Math.min(ttl * 0.8, ttl - 60000)));
}

async function refresh(attempt) {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return logout(t("admin.login.ended"));
  try {
    acceptTokens(await request("/api/v1/auth/refresh", { method: "POST", body: { refresh_token: token } }));
  } catch (err) {
    if (err.status === 401 || err.status === 400 || attempt >= 5) return logout(t("admin.login.expired"));
    auth.timer = setTimeout(() => refresh(attempt + 1), 5000 * (attempt + 1));
  }
}

// A guide's tokens open the console, not this: the login is ended at once.
function admitted() {
  if (auth.account?.role === "admin") return true;
  logout(t("admin.login.not_admin"));
  return false;
}

async function onLogin(ev) {
  ev.preventDefault();
  const email = $("#email").value.trim();
  const password = $("#password").value;
  if (!email || !password) return showError("#login-error", t("admin.login.missing"));
  showError("#login-error", "");
  $("#login-submit").disabled = true;
  try {
    acceptTokens(await request("/api/v1/auth/login", { method: "POST", body: { email, password } }));
    $("#password").value = "";
    if (admitted()) enterDashboard();
  } catch (err) {
    showError("#login-error", err.status === 401 ? t("admin.login.wrong")
      : err.status === 429 ? t("admin.login.too_many") : t("admin.login.failed", { message: err.message }));
  } finally {
    $("#login-submit").disabled = false;
  }
}

function logout(message) {
  clearTimeout(auth.timer);
  clearTimeout(view.timer);
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (token) request("/api/v1/auth/logout", { method: "POST", body: { refresh_token: token } }).catch(() => {});
  sessionStorage.removeItem(REFRESH_KEY);
  auth.access = null;
  auth.account = null;
  $("#dashboard-view").hidden = true;
  $("#account").hidden = true;
  $("#login-view").hidden = false;
  showError("#login-error", message || "");
}

// --- the dashboard ---

function windowOf() {
  if (view.custom) return view.custom;
  const today = new Date();
  const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (view.days - 1));
  return { from: isoDay(from), to: isoDay(today) };
}

async function enterDashboard() {
  $("#login-view").hidden = true;
  $("#dashboard-view").hidden = false;
  $("#account").hidden = false;
  $("#account-name").textContent = auth.account?.name || auth.account?.email || "";
  loadQueues();
  view.manage.show();
  await load();
}

async function loadQueues() {
  try {
    const data = await request("/api/v1/admin/queues", { token: auth.access });
    const select = $("#queue-filter");
    for (const q of data.queues || []) {
      if ([...select.options].some((o) => o.value === q.name)) continue;
      const opt = document.createElement("option");
      opt.value = q.name;
      opt.textContent = q.display_name || q.name;
      select.append(opt);
    }
    select.value = view.queue;
  } catch (err) {
    console.warn("queues", err);
  }
}

async function load() {
  clearTimeout(view.timer);
  const w = windowOf();
  const q = new URLSearchParams({ from: w.from, to: w.to, tz: zone });
  if (view.queue) q.set("queue", view.queue);
  try {
    const stats = await request(`/api/v1/admin/stats?${q}`, { token: auth.access });
    view.stats = stats;
    showError("#stats-error", "");
    render(stats, w);
    view.loads++;
  } catch (err) {
    if (err.status === 401) return refresh(0).then(() => auth.access && load());
    if (err.status === 403) return logout(t("admin.login.not_admin"));
    showError("#stats-error", t("admin.stats.failed", { message: err.message }));
  }
  // Today moves fast; a month's figures do not.
  if (auth.access) view.timer = setTimeout(load, view.days === 1 && !view.custom ? 20000 : 60000);
}

function tile(label, value, detail, { figure, warn } = {}) {
  const li = document.createElement("li");
  li.className = warn ? "tile warn" : "tile";
  const l = document.createElement("span");
  l.className = "label";
  l.textContent = label;
  const v = document.createElement("span");
  v.className = "value";
  v.textContent = value;
  if (figure) v.dataset.figure = figure;
  li.append(l, v);
  if (detail) {
    const d = document.createElement("span");
    d.className = "detail";
    d.textContent = detail;
    li.append(d);
  }
  return li;
}

function renderLive(live) {
  const waiting = live.queues.reduce((n, q) => n + q.waiting, 0);
  const longest = live.queues.reduce((n, q) => Math.max(n, q.longest_wait_seconds), 0);
  $("#live-tiles").replaceChildren(
    tile(t("admin.live.waiting"), num(waiting), null, { figure: "live.waiting" }),
    tile(t("admin.live.longest"), waiting ? duration(longest) : "–", null, { figure: "live.longest", warn: longest >= 120 }),
    tile(t("admin.live.available"), num(live.guides.available), null, { figure: "live.available" }),
    tile(t("admin.live.busy"), num(live.guides.busy), t("admin.live.busy_detail", { wrap_up: num(live.guides.wrap_up), away: num(live.guides.away) }), { figure: "live.busy" }),
    tile(t("admin.live.in_progress"), num(live.calls_in_progress), t("admin.live.offers_out", { n: num(live.calls_offered) }), { figure: "live.in_progress" }),
    tile(t("admin.live.callbacks"), num(live.callbacks_open), null, { figure: "live.callbacks" }),
  );
  $("#live-queues").replaceChildren(...live.queues.map((q) => {
    const li = document.createElement("li");
    li.textContent = t("admin.live.queue", { queue: q.queue, n: num(q.waiting) });
    return li;
  }));
  $("#live-at").textContent = t("admin.live.at", { time: new Date(live.at).toLocaleTimeString(t.lang) });
}

function renderFigures(f) {
  const answeredShare = f.offered ? f.answered / f.offered : null;
  $("#figure-tiles").replaceChildren(
    tile(t("admin.fig.offered"), num(f.offered), t("admin.fig.callbacks", { n: num(f.callbacks) }), { figure: "offered" }),
    tile(t("admin.fig.answered"), num(f.answered), t("admin.fig.of_offered", { share: pct(answeredShare) }), { figure: "answered" }),
    tile(t("admin.fig.abandoned"), num(f.abandoned), f.abandoned
      ? t("admin.fig.abandoned_after", { mean: duration(f.abandon_wait_seconds.mean), p90: duration(f.abandon_wait_seconds.p90) }) : null,
    { figure: "abandoned", warn: f.offered > 0 && f.abandoned / f.offered > 0.2 }),
    tile(t("admin.fig.wait"), f.wait_seconds.count ? duration(f.wait_seconds.mean) : "–",
      f.wait_seconds.count ? t("admin.fig.p90", { v: duration(f.wait_seconds.p90) }) : null, { figure: "wait" }),
    tile(t("admin.fig.handle"), f.handle_seconds.count ? duration(f.handle_seconds.mean) : "–",
      f.handle_seconds.count ? t("admin.fig.p90", { v: duration(f.handle_seconds.p90) }) : null, { figure: "handle" }),
    tile(t("admin.fig.conversion"), pct(f.conversion),
      t("admin.fig.conversion_detail", { n: num(f.converted_calls), of: num(f.answered_calls) }), { figure: "conversion" }),
    tile(t("admin.fig.rating"), f.rating.count ? `${num(f.rating.mean, 2)} / 5` : "–",
      t("admin.fig.rating_detail", { n: num(f.rating.count) }), { figure: "rating" }),
    tile(t("admin.fig.quality"), f.quality.reports ? t("admin.fmt.ms", { n: num(f.quality.rtt_ms.mean, 1) }) : "–",
      f.quality.reports ? t("admin.fig.quality_detail", { p90: num(f.quality.rtt_ms.p90, 1), lost: num(f.quality.packets_lost), freezes: num(f.quality.freezes) }) : null,
      { figure: "quality" }),
  );
}

function renderTables(f) {
  const cell = (text, cls) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  };
  const empty = (cols, text) => {
    const tr = document.createElement("tr");
    tr.className = "empty-row";
    const td = cell(text);
    td.colSpan = cols;
    tr.append(td);
    return tr;
  };
  const rev = f.revenue.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.currency = r.currency;
    tr.append(cell(r.currency), cell(formatMoney(r.paid, r.currency, t.lang), "num"),
      cell(formatMoney(r.refunded, r.currency, t.lang), "num"), cell(formatMoney(r.net, r.currency, t.lang), "num"));
    return tr;
  });
  $("#revenue-table tbody").replaceChildren(...(rev.length ? rev : [empty(4, t("admin.revenue.none"))]));
  const prov = f.providers.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.provider = p.provider;
    tr.append(cell(p.provider), cell(num(p.links), "num"), cell(`${num(p.paid)} / ${num(p.outcomes)}`, "num"), cell(pct(p.success_rate), "num"));
    return tr;
  });
  $("#providers-table tbody").replaceChildren(...(prov.length ? prov : [empty(4, t("admin.providers.none"))]));
}

function renderCharts(stats) {
  const days = stats.days;
  const labels = days.map((d) => dayLabel(d.day));
  const sum = (xs) => xs.reduce((a, b) => a + (b || 0), 0);
  const charts = [];
  const answered = days.map((d) => d.answered);
  const abandoned = days.map((d) => d.abandoned);
  charts.push(barChart({
    title: t("admin.chart.shoppers"), labels, format: (v) => num(v),
    series: [{ name: t("admin.fig.answered"), values: answered }, { name: t("admin.fig.abandoned"), values: abandoned }],
    summary: t("admin.chart.shoppers_summary", { answered: num(sum(answered)), abandoned: num(sum(abandoned)), days: num(days.length) }),
  }));
  const waits = days.map((d) => (d.wait_seconds.count ? d.wait_seconds.p90 : null));
  charts.push(barChart({
    title: t("admin.chart.wait"), labels, format: duration,
    series: [{ name: t("admin.fig.wait"), values: waits }],
    summary: t("admin.chart.max", { v: duration(Math.max(0, ...waits.filter((v) => v != null))) }),
  }));
  const conv = days.map((d) => d.conversion);
  charts.push(barChart({
    title: t("admin.chart.conversion"), labels, format: pct,
    series: [{ name: t("admin.fig.conversion"), values: conv }],
    summary: t("admin.chart.overall", { v: pct(stats.totals.conversion) }),
  }));
  // Revenue in the currency that brought the most; others are in the table.
  const main = [...stats.totals.revenue].sort((a, b) => b.paid_links - a.paid_links || a.currency.localeCompare(b.currency))[0];
  if (main) {
    const net = days.map((d) => d.revenue.find((r) => r.currency === main.currency)?.net ?? 0);
    charts.push(barChart({
      title: t("admin.chart.revenue", { currency: main.currency }), labels, format: (v) => formatMoney(v, main.currency, t.lang),
      series: [{ name: main.currency, values: net }],
      summary: t("admin.chart.total", { v: formatMoney(main.net, main.currency, t.lang) }),
    }));
  }
  const ratings = days.map((d) => (d.rating.count ? d.rating.mean : null));
  charts.push(barChart({
    title: t("admin.chart.rating"), labels, format: (v) => num(v, 2),
    series: [{ name: t("admin.fig.rating"), values: ratings }],
    summary: t("admin.chart.overall", { v: stats.totals.rating.count ? num(stats.totals.rating.mean, 2) : "–" }),
  }));
  $("#charts").replaceChildren(...charts);
}

function render(stats, w) {
  renderLive(stats.live);
  renderFigures(stats.totals);
  renderCharts(stats);
  renderTables(stats.totals);
  $("#period-range").textContent = w.from === w.to
    ? t("admin.period.range_one", { day: dayLabel(w.from), zone: stats.time_zone })
    : t("admin.period.range", { from: dayLabel(w.from), to: dayLabel(w.to), zone: stats.time_zone });
}

function exportCSV() {
  if (!view.stats) return;
  const w = windowOf();
  const blob = new Blob([toCSV(view.stats)], { type: "text/csv;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `guidecall-${view.queue || "all"}-${w.from}-${w.to}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function choosePeriod(days) {
  view.days = days;
  view.custom = null;
  for (const b of document.querySelectorAll("[data-days]")) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
  load();
}

async function main() {
  t = await loadTranslator();
  labelTables(document);
  applyTranslations(document, t);
  const params = new URLSearchParams(location.search);
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (day.test(params.get("from") || "") && day.test(params.get("to") || "")) {
    view.custom = { from: params.get("from"), to: params.get("to") };
    for (const b of document.querySelectorAll("[data-days]")) b.setAttribute("aria-pressed", "false");
  }
  view.queue = params.get("queue") || "";
  $("#login").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", () => logout(""));
  for (const b of document.querySelectorAll("[data-days]")) b.addEventListener("click", () => choosePeriod(Number(b.dataset.days)));
  $("#queue-filter").addEventListener("change", (ev) => { view.queue = ev.target.value; load(); });
  $("#export-csv").addEventListener("click", exportCSV);
  view.manage = initManagement((path, opts = {}) => request(path, { ...opts, token: auth.access }), t);
  if (sessionStorage.getItem(REFRESH_KEY)) {
    await refresh(0);
    if (auth.access && admitted()) enterDashboard();
  }
}

main();
