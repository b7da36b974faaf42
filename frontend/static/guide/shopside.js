// shopside.js: the guide console's side of chat, product cards and the
// shopper's cart (docs/protocol.md, "Chat, product cards and the cart").
import { formatMoney, minorDigits, normalizeCurrency, parseMajor } from "../js/money.js";

const $ = (sel) => document.querySelector(sel);
const locale = navigator.language || "en";
const money = (amount, cur) => { try { return formatMoney(amount, cur, locale); } catch { return `${amount} ${cur}`; } };

export class ShopSide {
  /** @param {{send: function(string, object):void, token: function():string}} o */
  constructor({ send, token }) {
    this.send = send;
    this.token = token;
    this.callId = null;
    this.seen = new Set();
    this.shown = []; // product cards of this call, for the payment form
    this.lastCart = null;
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
    $("#shopper-cart").textContent = "Nothing shared yet.";
    $("#product-currency").value = currency || "EUR";
    $("#shop-panel").hidden = false;
    if (restore) this.restore(callId);
  }

  stop() {
    this.callId = null;
    $("#shop-panel").hidden = true;
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
    who.textContent = d.from === "guide" ? "You: " : "Shopper: ";
    li.append(who, String(d.text || ""));
    if (d.image_url) {
      const a = document.createElement("a");
      a.href = d.image_url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = " [image]";
      li.append(a);
    }
    $("#guide-chat-log").append(li);
  }

  product(d) {
    this.shown.push(d);
    const li = document.createElement("li");
    li.textContent = `${d.name}${d.variant ? ` (${d.variant})` : ""}, ${money(d.price, d.currency)}`;
    $("#shared-products").append(li);
  }

  cart(d) {
    this.lastCart = d;
    const el = $("#shopper-cart");
    const parts = [];
    if (d.viewing) parts.push(`Looking at: ${d.viewing.name}${d.viewing.variant ? ` (${d.viewing.variant})` : ""}, ${money(d.viewing.price, d.viewing.currency)}`);
    const lines = d.lines || [];
    parts.push(lines.length
      ? `Cart: ${lines.map((l) => `${l.quantity} × ${l.name}${l.variant ? ` (${l.variant})` : ""}`).join(", ")}`
      : "Cart: empty");
    el.textContent = parts.join(" · ");
  }

  shareProduct() {
    const err = $("#product-error");
    err.hidden = true;
    let currency;
    try { currency = normalizeCurrency($("#product-currency").value); } catch {
      err.textContent = "Currency must be an ISO 4217 code like EUR.";
      err.hidden = false;
      return;
    }
    const price = parseMajor($("#product-price").value, minorDigits(currency));
    const name = $("#product-name").value.trim();
    if (!name || !price.ok) {
      err.textContent = !name ? "Give the product a name." : "Price: a number like 129.00.";
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
