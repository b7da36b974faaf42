// shopside.js: the guide console's side of chat, product cards and the
// shopper's cart (docs/protocol.md, "Chat, product cards and the cart"),
// and the call's system lines in the chat (the shopper joined, on hold,
// a product shown, a link paid). A system line keeps its message key and
// parameters, never its text, so a change of language draws it again.
import { formatMoney, minorDigits, normalizeCurrency, parseMajor } from "../js/money.js";
import { locale as consoleLocale, onLocaleChange, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
// Amounts in the console's language, as they are drawn: a change of
// language draws them again.
const money = (amount, cur) => { try { return formatMoney(amount, cur, consoleLocale()); } catch { return `${amount} ${cur}`; } };
const MAX_SYSTEM_LINES = 200; // per call: a bound, not a limit a call meets

export class ShopSide {
  /** @param {{send: function(string, object):void, token: function():string}} o */
  constructor({ send, token }) {
    this.send = send;
    this.token = token;
    this.callId = null;
    this.seen = new Set();
    this.shown = []; // product cards of this call, for the payment form
    this.lastCart = null;
    // callId -> the call's system lines {key, vars, money, at}, kept while
    // the call is off screen so that switching back draws them again.
    this.system = new Map();
    this.specs = new WeakMap(); // a system line's element -> its spec
    // The cart line, the products shown and the system lines are drawn
    // from code, so they are drawn again in a new language.
    onLocaleChange(() => {
      this.cart(this.lastCart);
      $("#shared-products").replaceChildren(...this.shown.map((d) => this.productLine(d)));
      for (const li of document.querySelectorAll("#guide-chat-log li.chat-system")) {
        const spec = this.specs.get(li);
        if (spec) li.textContent = this.systemText(spec);
      }
    });
    $("#guide-chat-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = $("#guide-chat-input").value.trim();
      const image = $("#guide-chat-image").value.trim();
      if (!this.callId || (!text && !image)) return;
      this.send("chat.send", image ? { text, image_url: image } : { text });
      $("#guide-chat-input").value = "";
      $("#guide-chat-image").value = "";
    });
    $("#product-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.shareProduct();
    });
  }

  /** A new call (or the same one after a reload, restore=true). */
  start(callId, currency, restore) {
    this.callId = callId;
    this.seen.clear();
    this.shown = [];
    this.lastCart = null;
    $("#guide-chat-log").replaceChildren();
    $("#shared-products").replaceChildren();
    for (const spec of this.system.get(callId) || []) this.drawSystem(spec);
    this.cart(null);
    $("#product-currency").value = currency || "EUR";
    $("#shop-panel").hidden = false;
    if (restore) this.restore(callId);
  }

  stop() {
    this.callId = null;
    $("#shop-panel").hidden = true;
  }

  /** Forgets a call's system lines (its record is gone). */
  forget(callId) {
    this.system.delete(callId);
  }

  /**
   * Adds a system line to a call's chat: key is a console message, vars its
   * parameters, amount {amount, currency} one formatted into {amount} as
   * it is drawn. Drawn at once when the call is on screen.
   */
  note(callId, key, vars = {}, amount = null, at = Date.now()) {
    if (!callId) return;
    const spec = { key, vars, amount, at };
    const list = this.system.get(callId) || [];
    list.push(spec);
    if (list.length > MAX_SYSTEM_LINES) list.shift();
    this.system.set(callId, list);
    if (callId === this.callId) this.drawSystem(spec);
  }

  systemText(spec) {
    const vars = { ...spec.vars };
    if (spec.amount) vars.amount = money(spec.amount.amount, spec.amount.currency);
    return t(spec.key, vars);
  }

  drawSystem(spec) {
    const li = document.createElement("li");
    li.className = "chat-line chat-system";
    li.dataset.key = spec.key;
    li.textContent = this.systemText(spec);
    this.specs.set(li, spec);
    this.place(li, spec.at);
  }

  // place puts a chat line in time order: a call's history restored after
  // a switch or a reload arrives after its system lines were drawn.
  place(li, at) {
    const log = $("#guide-chat-log");
    const ms = Number.isFinite(at) ? at : Date.now();
    li.dataset.at = String(ms);
    const later = [...log.children].find((el) => Number(el.dataset.at) > ms);
    log.insertBefore(li, later || null);
  }

  async restore(callId) {
    try {
      const res = await fetch(`/api/v1/calls/${encodeURIComponent(callId)}/items`, {
        headers: { Authorization: `Bearer ${this.token()}`, Accept: "application/json" },
      });
      if (!res.ok) throw new Error(`items: HTTP ${res.status}`);
      const body = await res.json();
      if (callId === this.callId) for (const it of body.items || []) this.handle({ ...it, call_id: callId });
    } catch (err) {
      console.warn("chat and cards not restored", err);
    }
  }

  handle(msg) {
    if (msg.call_id !== this.callId) return;
    const d = msg.data || {};
    if (d.item_id && this.seen.has(d.item_id)) return;
    if (d.item_id) this.seen.add(d.item_id);
    if (msg.type === "chat.message") this.chat(d);
    if (msg.type === "product.card") this.product(d);
    if (msg.type === "cart") this.cart(d);
  }

  chat(d) {
    const li = document.createElement("li");
    li.className = `chat-line from-${d.from === "guide" ? "guide" : "shopper"}`;
    const who = document.createElement("strong");
    // data-i18n: the speaker follows a change of language like the page does.
    who.dataset.i18n = d.from === "guide" ? "chat.from_guide" : "chat.from_shopper";
    who.textContent = t(who.dataset.i18n);
    li.append(who, " ", String(d.text || ""));
    if (d.image_url) {
      const a = document.createElement("a");
      a.href = d.image_url;
      a.target = "_blank";
      a.rel = "noopener";
      a.dataset.i18n = "chat.image_link";
      a.textContent = t("chat.image_link");
      li.append(" ", a);
    }
    this.place(li, Date.parse(d.sent_at || ""));
  }

  productLine(d) {
    const li = document.createElement("li");
    li.textContent = `${d.name}${d.variant ? ` (${d.variant})` : ""}, ${money(d.price, d.currency)}`;
    return li;
  }

  product(d) {
    this.shown.push(d);
    $("#shared-products").append(this.productLine(d));
    // In the chat too, where the guide reads the call's course. Not kept
    // with the call's system lines: the card comes back with its history.
    const spec = { key: "chat.sys.product", vars: { product: d.variant ? `${d.name} (${d.variant})` : String(d.name || "") },
      amount: { amount: d.price, currency: d.currency }, at: Date.parse(d.sent_at || "") };
    this.drawSystem(spec);
  }

  cart(d) {
    this.lastCart = d;
    const el = $("#shopper-cart");
    if (!d) {
      el.textContent = t("shop.nothing_yet");
      return;
    }
    const parts = [];
    if (d.viewing) parts.push(t("shop.looking_at", { product: `${d.viewing.name}${d.viewing.variant ? ` (${d.viewing.variant})` : ""}, ${money(d.viewing.price, d.viewing.currency)}` }));
    const lines = d.lines || [];
    parts.push(lines.length
      ? t("shop.cart", { lines: lines.map((l) => `${l.quantity} × ${l.name}${l.variant ? ` (${l.variant})` : ""}`).join(", ") })
      : t("shop.cart_empty"));
    el.textContent = parts.join(" · ");
  }

  shareProduct() {
    const err = $("#product-error");
    err.hidden = true;
    let currency;
    try { currency = normalizeCurrency($("#product-currency").value); } catch {
      err.textContent = t("common.currency_invalid");
      err.hidden = false;
      return;
    }
    const price = parseMajor($("#product-price").value, minorDigits(currency));
    const name = $("#product-name").value.trim();
    if (!name || !price.ok) {
      err.textContent = !name ? t("product.name_empty") : t("product.price_invalid");
      err.hidden = false;
      return;
    }
    const body = { product_id: $("#product-id").value.trim() || name.toLowerCase().replace(/\s+/g, "-").slice(0, 60), name, price: price.amount, currency };
    const variant = $("#product-variant").value.trim();
    const url = $("#product-url").value.trim();
    const image = $("#product-image").value.trim();
    if (variant) body.variant = variant;
    if (url) body.url = url;
    if (image) body.image_url = image;
    this.send("product.share", body);
    $("#product-form").reset();
    $("#product-currency").value = currency;
  }
}
