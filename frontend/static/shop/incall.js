// incall.js: what the shopper widget shows inside a call besides the video:
// chat with the guide, the guide's product cards (Add to cart goes to the
// host page's own cart through the product-added-to-cart event), and the
// shopper's cart shared with the guide, and the notice that the guide put
// the call on hold (call.hold). Loaded with the call, not before.
import { formatMoney } from "../js/money.js";

const safeURL = (s) => (typeof s === "string" && /^https?:\/\//i.test(s) ? s : "");

export class InCall {
  /**
   * @param {object} o
   * @param {ShadowRoot} o.root
   * @param {function(string, object=):string} o.t
   * @param {string} o.locale
   * @param {function(string, object):void} o.send sends a call message
   * @param {function(string, object):void} o.emit fires a host page event
   */
  constructor({ root, t, locale, send, emit }) {
    Object.assign(this, { root, t, locale, send, emit });
    this.seen = new Set(); // item ids, so a restore after live messages adds nothing twice
    this.products = [];
    this.lastCart = "";
    const $ = (s) => root.querySelector(s);
    this.$ = $;
    $("#chat").hidden = false;
    this.onSubmit = (e) => {
      e.preventDefault();
      const input = $("#chat-input");
      const text = input.value.trim();
      if (!text) return;
      this.send("chat.send", { text: text.slice(0, 2000) });
      input.value = "";
    };
    $("#chat-form").addEventListener("submit", this.onSubmit);
  }

  /** A message the socket delivered (or a stored item from a restore). */
  handle(msg) {
    const d = msg.data || {};
    if (d.item_id && this.seen.has(d.item_id)) return;
    if (d.item_id) this.seen.add(d.item_id);
    if (msg.type === "chat.message") this.addChat(d);
    else if (msg.type === "product.card") this.addProduct(d);
    else if (msg.type === "call.hold") this.hold(d.on_hold === true);
  }

  /**
   * Shows or clears "your guide will be right back": the guide is in
   * another call and sends this one neither picture nor sound meanwhile.
   */
  hold(on) {
    let note = this.$("#hold-note");
    if (!note && !on) return;
    if (!note) {
      note = document.createElement("p");
      note.id = "hold-note";
      note.className = "audio-only-note hold-note";
      note.setAttribute("role", "status");
      note.textContent = this.t("call.on_hold");
      this.$("#videos").append(note);
    }
    note.hidden = !on;
    this.$("#gc").dataset.hold = on ? "on" : "";
  }

  /** Puts back the call's items after a reload. */
  restore(items) {
    for (const it of items || []) this.handle(it);
  }

  /** Shares what the shopper looks at and has in its cart, when it changed. */
  shareCart(context) {
    const product = (p) => (p && p.name && p.currency ? {
      product_id: String(p.id ?? p.product_id ?? ""),
      name: String(p.name),
      variant: p.variant ? String(p.variant) : undefined,
      price: Number.isSafeInteger(p.price) ? p.price : 0,
      currency: String(p.currency).toUpperCase(),
      url: safeURL(p.url) || undefined,
      image_url: safeURL(p.image) || undefined,
    } : null);
    const viewing = product(context.product && { ...context.product, variant: context.variant ?? context.product.variant });
    const lines = (Array.isArray(context.cart) ? context.cart : [])
      .map((l) => ({ ...product(l), quantity: Math.min(Math.max(1, l.quantity | 0), 999) }))
      .filter((l) => l.name)
      .slice(0, 50);
    const body = { viewing, lines };
    const key = JSON.stringify(body);
    if (key === this.lastCart) return;
    this.lastCart = key;
    this.send("cart.update", body);
  }

  /**
   * Tells the guide whether the microphone and camera are on (media.state):
   * a muted track sends silence and a camera turned off black frames, which
   * the guide cannot tell from a fault. Sent when it changed, or always
   * with force (a connection that came up again may be a reloaded console).
   */
  mediaState(stream, force) {
    const on = (tracks) => (tracks || []).some((tr) => tr.enabled && tr.readyState === "live");
    const body = { audio: on(stream?.getAudioTracks()), video: on(stream?.getVideoTracks()) };
    const key = JSON.stringify(body);
    if (!force && key === this.lastMedia) return;
    this.lastMedia = key;
    this.send("media.state", body);
  }

  money(amount, currency) {
    try { return formatMoney(amount, currency, this.locale); } catch { return `${amount} ${currency}`; }
  }

  addChat(d) {
    const li = document.createElement("li");
    li.className = `chat-line from-${d.from === "guide" ? "guide" : "shopper"}`;
    const who = document.createElement("span");
    who.className = "chat-who";
    who.textContent = this.t(d.from === "guide" ? "chat.guide" : "chat.you");
    const text = document.createElement("span");
    text.className = "chat-text";
    // Links the guide sends become links; nothing else is markup.
    for (const part of String(d.text || "").split(/(https?:\/\/[^\s]+)/)) {
      if (/^https?:\/\//.test(part)) {
        const a = document.createElement("a");
        a.href = part;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = part;
        text.append(a);
      } else if (part) {
        text.append(part);
      }
    }
    li.append(who, text);
    const img = safeURL(d.image_url);
    if (img) {
      const pic = document.createElement("img");
      pic.src = img;
      pic.alt = this.t("chat.image");
      pic.loading = "lazy";
      li.append(pic);
    }
    this.$("#chat-log").append(li);
    li.scrollIntoView?.({ block: "nearest" });
  }

  addProduct(d) {
    this.products.push(d);
    const card = document.createElement("article");
    card.className = "product-card";
    card.dataset.itemId = d.item_id || "";
    card.setAttribute("aria-label", d.name || "");
    const img = safeURL(d.image_url);
    if (img) {
      const pic = document.createElement("img");
      pic.src = img;
      pic.alt = "";
      card.append(pic);
    }
    const body = document.createElement("div");
    const name = document.createElement("h3");
    name.textContent = d.name || "";
    body.append(name);
    if (d.variant) {
      const v = document.createElement("p");
      v.className = "variant";
      v.textContent = d.variant;
      body.append(v);
    }
    const price = document.createElement("p");
    price.className = "price";
    price.textContent = this.money(d.price, d.currency);
    body.append(price);
    const actions = document.createElement("div");
    actions.className = "card-actions";
    const url = safeURL(d.url);
    if (url) {
      const view = document.createElement("a");
      view.className = "button small";
      view.href = url;
      view.target = "_blank";
      view.rel = "noopener";
      view.textContent = this.t("product.view");
      actions.append(view);
    }
    const add = document.createElement("button");
    add.type = "button";
    add.className = "button small primary add-to-cart";
    add.textContent = this.t("product.add");
    add.addEventListener("click", () => {
      const product = { id: d.product_id, name: d.name, variant: d.variant, price: d.price, currency: d.currency, url, image: img };
      this.emit("product-added-to-cart", { product, quantity: 1 });
      add.textContent = this.t("product.added");
      add.disabled = true;
    });
    actions.append(add);
    body.append(actions);
    card.append(body);
    this.$("#product-cards").prepend(card);
  }

  /** The names of the products shown, for the summary after the call. */
  shown() {
    return this.products.map((p) => (p.variant ? `${p.name} (${p.variant})` : p.name));
  }

  close() {
    this.hold(false);
    this.$("#chat-form").removeEventListener("submit", this.onSubmit);
    this.$("#chat").hidden = true;
  }
}
