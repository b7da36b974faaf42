// context.js: the shopper's context panel of the call on screen: page,
// what it looks at, its cart with its value, locale, currency, device, the
// signed-in customer and its previous calls. Read from the server
// (GET /api/v1/calls/{id}/context), which keeps it with the call, so a
// console reloaded mid-call shows it again; refreshed when the shopper's
// page shares a new cart.
import { formatMoney } from "../js/money.js";
import { locale, onLocaleChange, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
// Amounts and dates in the console's language, drawn again after a change.
const money = (amount, cur) => { try { return formatMoney(amount, cur, locale()); } catch { return `${amount} ${cur}`; } };
const when = (iso) => { try { return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)); } catch { return iso || ""; } };
const minutes = (s) => (s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`);

export class ShopperContext {
  /** @param {{token: function():string, onContext: function(string, object):void}} o */
  constructor({ token, onContext }) {
    this.token = token;
    this.onContext = onContext || (() => {});
    this.callId = null;
    this.last = null;
    this.peer = {};
    onLocaleChange(() => { if (this.callId) this.render(this.last || this.peer); });
  }

  /** Shows the call's context: what the offer said at once, then the server's. */
  show(callId, peer = {}) {
    this.callId = callId;
    this.last = null;
    this.peer = { name: peer.name, locale: peer.locale, currency: peer.currency, page_url: peer.page_url, device: peer.device, customer_id: peer.customer_id };
    this.render(this.peer);
    return this.load();
  }

  async load() {
    const callId = this.callId;
    if (!callId) return null;
    try {
      const res = await fetch(`/api/v1/calls/${encodeURIComponent(callId)}/context`, {
        headers: { Authorization: `Bearer ${this.token()}`, Accept: "application/json" },
        cache: "no-store",
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error(body?.error?.message || `HTTP ${res.status}`);
      if (callId !== this.callId) return null;
      this.last = body;
      this.render(body);
      $("#call-context").dataset.loaded = "true";
      this.onContext(callId, body);
      return body;
    } catch (err) {
      if (callId === this.callId) this.render({ ...(this.last || {}), error: err.message });
      return null;
    }
  }

  /** A cart message of the call on screen: the server has it; read again. */
  cartChanged(callId) {
    if (callId === this.callId) this.load();
  }

  stop() {
    this.callId = null;
    $("#call-context").replaceChildren();
    delete $("#call-context").dataset.loaded;
  }

  render(c) {
    const rows = [];
    const row = (key, value, kind) => { if (value != null && value !== "") rows.push([t(key), value, kind]); };
    row("context.name", c.name || t("context.anonymous"));
    row("context.transfer_note", c.transfer_note);
    row("context.page", c.page_url, "url");
    if (c.viewing) row("context.viewing", `${c.viewing.name}${c.viewing.variant ? ` (${c.viewing.variant})` : ""}, ${money(c.viewing.price, c.viewing.currency)}`);
    if (c.cart) {
      const lines = c.cart.lines || [];
      const value = (c.cart.totals || []).map((tt) => money(tt.amount, tt.currency)).join(" + ");
      row("context.cart", lines.length
        ? `${lines.map((l) => `${l.quantity} × ${l.name}${l.variant ? ` (${l.variant})` : ""}`).join(", ")} — ${t("context.cart_value", { count: c.cart.count, value })}`
        : t("context.cart_empty"));
    }
    row("context.locale", c.locale);
    row("context.currency", c.currency);
    const devices = { phone: t("context.device.phone"), tablet: t("context.device.tablet"), desktop: t("context.device.desktop") };
    if (devices[c.device]) row("context.device", devices[c.device]);
    if (c.customer_id) {
      row("context.customer", `${c.customer_id} · ${c.returning ? t("context.returning") : t("context.new_customer")}`);
      const prev = c.previous_calls || [];
      row("context.previous", prev.length ? prev : t("context.previous_none"), prev.length ? "calls" : "");
    }
    const dl = $("#call-context");
    const parts = [];
    for (const [label, value, kind] of rows) {
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
      } else if (kind === "calls") {
        const ul = document.createElement("ul");
        ul.className = "previous-calls";
        for (const p of value) {
          const li = document.createElement("li");
          li.textContent = t("context.previous_call", {
            when: when(p.accepted_at),
            duration: minutes(p.duration_seconds || 0),
            rating: p.rating ? t("context.rating", { rating: p.rating }) : "",
          });
          ul.append(li);
        }
        dd.append(ul);
      } else {
        dd.textContent = String(value);
      }
      parts.push(dt, dd);
    }
    if (c.error) {
      const p = document.createElement("dd");
      p.className = "error";
      p.textContent = t("context.unavailable", { error: c.error });
      parts.push(p);
    }
    dl.replaceChildren(...parts);
  }
}
