// lobby.js: the queue overview, who waits in the guide's queues and for
// how long. Polled every few seconds with If-None-Match (the server
// answers 304 while nothing moved; see docs/api.md for why it is not
// pushed); the waits count up between polls against the server's clock
// (its Date header), so a wrong clock on the guide's machine does not skew
// them.
import { locale, t } from "./i18n.js";
import { clock } from "./presence.js";
import { formatMoney } from "../js/money.js";
import { labelTables } from "../js/stack.js";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 5000;

// The cart value in the console's language and the shopper's currency
// (minor units from the server); a dash when the shopper's page said none.
function cartValue(e) {
  if (!Number.isSafeInteger(e.cart_value)) return "—";
  try { return formatMoney(e.cart_value, e.currency, locale()); } catch { return `${e.cart_value} ${e.currency}`; }
}

export class QueueOverview {
  constructor({ token, onClaimCallbacks }) {
    this.token = token;
    this.etag = "";
    this.data = null;
    this.skew = 0; // server time - local time, ms
    this.poller = null;
    this.ticker = null;
    this.onClaimCallbacks = onClaimCallbacks;
    $("#overview-callbacks").addEventListener("click", () => this.onClaimCallbacks?.());
    // At phone widths (lobby.css) each waiting shopper is a card of
    // "column: value" lines, named from the cells' data-label.
    labelTables($("#overview-queues"));
  }

  start() {
    this.stop();
    this.etag = "";
    this.load();
    this.poller = setInterval(() => this.load(), POLL_MS);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  stop() {
    clearInterval(this.poller);
    clearInterval(this.ticker);
    this.poller = this.ticker = null;
  }

  async load() {
    const token = this.token();
    if (!token) return;
    try {
      const res = await fetch("/api/v1/guide/queue", {
        headers: { Accept: "application/json", Authorization: `Bearer ${token}`, ...(this.etag ? { "If-None-Match": this.etag } : {}) },
        cache: "no-store",
      });
      const date = Date.parse(res.headers.get("Date") || "");
      if (Number.isFinite(date)) this.skew = date - Date.now();
      if (res.status === 304) return;
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.data = await res.json();
      this.etag = res.headers.get("ETag") || "";
      $("#overview-error").hidden = true;
      this.render();
    } catch (err) {
      const el = $("#overview-error");
      el.textContent = t("overview.error", { message: err.message });
      el.hidden = false;
    }
  }

  waited(joinedAt) {
    return Math.max(0, (Date.now() + this.skew - Date.parse(joinedAt)) / 1000);
  }

  // tick moves the waits on without asking the server.
  tick() {
    for (const el of document.querySelectorAll("#overview-queues [data-joined-at]")) {
      el.textContent = clock(this.waited(el.dataset.joinedAt));
    }
  }

  render() {
    const d = this.data;
    if (!d) return;
    const cbs = d.callbacks_open || 0;
    const button = $("#overview-callbacks");
    button.hidden = cbs === 0;
    button.textContent = t("overview.callbacks", { n: cbs });
    const total = d.queues.reduce((n, q) => n + q.waiting, 0);
    $("#overview-summary").textContent = total ? t("overview.waiting_total", { n: total }) : t("overview.nobody");
    $("#overview-queues").replaceChildren(...d.queues.map((q) => this.queue(q)));
  }

  queue(q) {
    const section = document.createElement("section");
    section.className = "overview-queue";
    section.dataset.queue = q.queue;
    const h = document.createElement("h3");
    h.textContent = t("overview.queue", { queue: q.queue, n: q.waiting });
    section.append(h);
    if (!q.entries.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = t("overview.queue_empty");
      section.append(p);
      return section;
    }
    const table = document.createElement("table");
    table.className = "overview-table";
    const caption = document.createElement("caption");
    caption.className = "visually-hidden";
    caption.textContent = t("overview.caption", { queue: q.queue });
    const head = document.createElement("tr");
    for (const label of [t("overview.col.position"), t("overview.col.shopper"), t("overview.col.waited"), t("overview.col.language"), t("overview.col.cart"), t("overview.col.page"), t("overview.col.priority")]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = label;
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const e of q.entries) {
      const tr = document.createElement("tr");
      tr.dataset.entryId = e.entry_id;
      tr.dataset.state = e.state;
      const cell = (content) => {
        const td = document.createElement("td");
        if (content instanceof Node) td.append(content); else td.textContent = content;
        tr.append(td);
        return td;
      };
      cell(String(e.position));
      const who = document.createElement("span");
      const tags = [];
      if (e.state === "offered") tags.push(t("overview.offered"));
      if (e.for_you) tags.push(t("overview.for_you"));
      else if (e.transferred) tags.push(t("overview.transferred"));
      if (e.signed_in) tags.push(t("overview.signed_in"));
      if (e.skill) tags.push(e.skill);
      who.textContent = (e.name || t("offer.anonymous")) + (tags.length ? ` (${tags.join(", ")})` : "");
      cell(who);
      const waited = document.createElement("span");
      waited.dataset.joinedAt = e.joined_at;
      waited.className = "tabular";
      waited.textContent = clock(this.waited(e.joined_at));
      cell(waited);
      cell(e.locale || e.language || "");
      const cart = cell(cartValue(e));
      cart.className = "tabular overview-cart";
      cart.dataset.cartValue = Number.isSafeInteger(e.cart_value) ? String(e.cart_value) : "";
      if (/^https?:/i.test(e.page_url || "")) {
        const a = document.createElement("a");
        a.href = e.page_url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = e.page_url.replace(/^https?:\/\//i, "");
        cell(a);
      } else {
        cell(e.page_url || "");
      }
      cell(e.priority ? String(e.priority) : "—");
      tbody.append(tr);
    }
    table.append(caption, thead, tbody);
    const wrap = document.createElement("div");
    wrap.className = "table-scroll";
    // A region that may scroll sideways (a narrow window above phone
    // width) must be reachable by keyboard.
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", caption.textContent);
    wrap.append(table);
    section.append(wrap);
    return section;
  }
}
