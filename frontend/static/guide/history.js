// history.js: the wrap-up saved with the call (outcome code and notes, on
// the server, so a reload or another device finds them) and the guide's
// history of past calls: outcome, duration, payments, rating and notes,
// searchable by text and date.
import { locale, t } from "./i18n.js";
import { formatMoney } from "../js/money.js";

const $ = (sel) => document.querySelector(sel);

// The codes the server accepts (queue.Outcomes), in the order offered,
// with their labels.
const OUTCOME_LABELS = {
  sold: () => t("wrapup.outcome.sold"),
  follow_up: () => t("wrapup.outcome.follow_up"),
  no_sale: () => t("wrapup.outcome.no_sale"),
  not_interested: () => t("wrapup.outcome.not_interested"),
  other: () => t("wrapup.outcome.other"),
};
export const OUTCOMES = Object.keys(OUTCOME_LABELS);
const outcomeLabel = (code) => OUTCOME_LABELS[code]?.() ?? code;

async function api(method, path, token, body) {
  const res = await fetch(path, {
    method,
    headers: { Accept: "application/json", Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
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

/** Saves a call's wrap-up; the server answers with what it kept. */
export function saveWrapUp(token, callId, outcome, notes) {
  return api("PUT", `/api/v1/calls/${encodeURIComponent(callId)}/wrap-up`, token, { outcome, notes });
}

/** Fills the outcome <select> in the console's language. */
export function fillOutcomes(select, { blank = true } = {}) {
  const value = select.value;
  const options = blank ? [new Option(t("wrapup.outcome.choose"), "")] : [];
  for (const code of OUTCOMES) options.push(new Option(outcomeLabel(code), code));
  select.replaceChildren(...options);
  select.value = value;
}

function fmtDate(iso) {
  const d = new Date(iso);
  try { return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d); } catch { return d.toISOString(); }
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  return s >= 3600
    ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function money(amount, currency) {
  try { return formatMoney(amount, currency, locale()); } catch { return `${amount} ${currency}`; }
}

// The payment statuses the history names; another shows as the server sent it.
const PAYMENT_STATUSES = {
  open: () => t("history.payment.open"),
  processing: () => t("history.payment.processing"),
  paid: () => t("history.payment.paid"),
  expired: () => t("history.payment.expired"),
  canceled: () => t("history.payment.canceled"),
  failed: () => t("history.payment.failed"),
  partially_refunded: () => t("history.payment.partially_refunded"),
  refunded: () => t("history.payment.refunded"),
};

/** paymentStatusText names a payment link's status in the console's language. */
export const paymentStatusText = (status) => PAYMENT_STATUSES[status]?.() ?? status.replace(/_/g, " ");

export class HistoryView {
  constructor({ token }) {
    this.token = token;
    this.calls = [];
    this.loading = null;
    this.status = null; // {key, vars} of the status line
    $("#history-form").addEventListener("submit", (ev) => { ev.preventDefault(); this.load(); });
  }

  query() {
    const p = new URLSearchParams();
    const q = $("#history-q").value.trim();
    if (q) p.set("q", q);
    if ($("#history-from").value) p.set("from", $("#history-from").value);
    if ($("#history-to").value) p.set("to", $("#history-to").value);
    return p.toString();
  }

  async load() {
    const token = this.token();
    if (!token) return;
    this.setStatus("history.loading");
    try {
      const qs = this.query();
      const data = await api("GET", `/api/v1/guide/calls${qs ? `?${qs}` : ""}`, token);
      this.calls = data.calls || [];
      this.render();
      if (this.calls.length) this.setStatus("history.count", { n: this.calls.length }); else this.setStatus("history.empty");
    } catch (err) {
      this.setStatus("history.error", { message: err.message });
    }
  }

  // The status line keeps its message key, not its text, so render() (on
  // a change of language) writes it again in the new language.
  setStatus(key, vars) {
    this.status = { key, vars };
    $("#history-status").textContent = t(key, vars);
  }

  render() {
    $("#history-list").replaceChildren(...this.calls.map((c) => this.row(c)));
    if (this.status) $("#history-status").textContent = t(this.status.key, this.status.vars);
  }

  row(c) {
    const li = document.createElement("li");
    li.className = "history-call";
    li.dataset.callId = c.call_id;
    const head = document.createElement("div");
    head.className = "history-head";
    const who = document.createElement("strong");
    who.textContent = c.shopper?.name || t("offer.anonymous");
    const when = document.createElement("span");
    when.className = "muted";
    when.textContent = c.accepted_at ? fmtDate(c.accepted_at) : "";
    const outcome = document.createElement("span");
    outcome.className = "badge";
    outcome.dataset.outcome = c.outcome || "";
    outcome.textContent = c.outcome ? outcomeLabel(c.outcome) : t("history.no_outcome");
    head.append(who, when, outcome);

    const facts = document.createElement("dl");
    facts.className = "context";
    const fact = (label, value) => {
      if (value == null || value === "") return;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
      facts.append(dt, dd);
    };
    fact(t("history.duration"), fmtDuration(c.duration_seconds));
    fact(t("history.queue"), c.queue);
    fact(t("history.locale"), c.shopper?.locale);
    fact(t("history.rating"), c.rating ? t("history.rating_value", { n: c.rating }) + (c.rating_comment ? ` · “${c.rating_comment}”` : "") : "");
    if (c.payments?.length) {
      const ul = document.createElement("ul");
      ul.className = "history-payments";
      for (const p of c.payments) {
        const item = document.createElement("li");
        item.dataset.status = p.status;
        const status = PAYMENT_STATUSES[p.status]?.() ?? p.status;
        const refunded = p.refunded_amount > 0 ? ` · ${t("history.refunded", { amount: money(p.refunded_amount, p.currency) })}` : "";
        item.textContent = `${money(p.amount, p.currency)} · ${status}${p.description ? ` · ${p.description}` : ""}${refunded}`;
        ul.append(item);
      }
      fact(t("history.payments"), ul);
    } else {
      fact(t("history.payments"), t("history.no_payments"));
    }
    fact(t("history.page"), c.shopper?.page_url);
    li.append(head, facts);
    if (c.notes) {
      const notes = document.createElement("p");
      notes.className = "history-notes";
      notes.textContent = c.notes;
      li.append(notes);
    }
    return li;
  }
}
