// products.js: the merchant's product feed in the console: search it
// (GET /api/v1/products?q=) and show a result to the shopper in one click
// (product.share), or fill the card form from a product page's Open Graph
// data (POST /api/v1/products/preview; the server fetches only the shop's
// own origins).
import { formatMoney } from "../js/money.js";
import { locale, onLocaleChange, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
// Prices in the console's language; a change of language draws them again.
const money = (amount, cur) => { try { return formatMoney(amount, cur, locale()); } catch { return `${amount} ${cur}`; } };

export class ProductFeed {
  /** @param {{token: function():string, send: function(string, object):void, live: function():boolean}} o */
  constructor({ token, send, live }) {
    Object.assign(this, { token, send, live });
    this.results = [];
    $("#product-search-form").addEventListener("submit", (e) => { e.preventDefault(); this.search(); });
    $("#product-results").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-index]");
      if (b) this.share(b, this.results[Number(b.dataset.index)]);
    });
    $("#product-preview").addEventListener("click", () => this.preview());
    onLocaleChange(() => this.render());
  }

  async request(path, body) {
    const res = await fetch(path, {
      method: body ? "POST" : "GET",
      headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${this.token()}` },
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
    return data;
  }

  async search() {
    const q = $("#product-search").value.trim();
    const status = $("#product-search-status");
    status.textContent = t("products.searching");
    try {
      const data = await this.request(`/api/v1/products?q=${encodeURIComponent(q)}`);
      this.results = data.products || [];
      status.textContent = this.results.length ? t("products.found", { count: this.results.length }) : t("products.none");
      this.render();
    } catch (err) {
      this.results = [];
      this.render();
      status.textContent = t("products.failed", { error: err.message });
    }
  }

  render() {
    $("#product-results").replaceChildren(...this.results.map((p, i) => {
      const li = document.createElement("li");
      li.dataset.productId = p.product_id;
      const name = document.createElement("span");
      name.className = "what";
      name.textContent = p.variant ? `${p.name} (${p.variant})` : p.name;
      const price = document.createElement("strong");
      price.textContent = money(p.price, p.currency);
      const show = document.createElement("button");
      show.type = "button";
      show.className = "button small primary";
      show.dataset.index = String(i);
      show.textContent = t("products.show");
      show.setAttribute("aria-label", t("products.show_named", { name: name.textContent }));
      li.append(name, price, show);
      return li;
    }));
  }

  share(button, p) {
    if (!p || !this.live()) return;
    const body = { product_id: p.product_id, name: p.name, price: p.price, currency: p.currency };
    for (const k of ["variant", "url", "image_url"]) if (p[k]) body[k] = p[k];
    this.send("product.share", body);
    button.textContent = t("products.shown");
    button.disabled = true;
  }

  async preview() {
    const err = $("#product-preview-error");
    err.hidden = true;
    const url = $("#product-preview-url").value.trim();
    if (!url) return;
    $("#product-preview").disabled = true;
    try {
      const p = await this.request("/api/v1/products/preview", { url });
      $("#product-name").value = p.name || "";
      if (p.price_amount) $("#product-price").value = p.price_amount;
      if (p.currency) $("#product-currency").value = p.currency;
      $("#product-url").value = p.url || url;
      $("#product-image").value = p.image_url || "";
      $("#product-id").value = p.product_id || "";
      $("#product-name").focus();
    } catch (e) {
      err.textContent = t("products.preview_failed", { error: e.message });
      err.hidden = false;
    } finally {
      $("#product-preview").disabled = false;
    }
  }
}
