// replies.js: saved chat replies in the console: the merchant's (kept by
// admins) and the guide's own, from GET /api/v1/replies; Insert puts one
// in the message box for the guide to send or edit, Save keeps the message
// being written as one of the guide's own.
import { onLocaleChange, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);

export class SavedReplies {
  /** @param {{token: function():string}} o */
  constructor({ token }) {
    this.token = token;
    this.merchant = [];
    this.mine = [];
    $("#reply-insert").addEventListener("click", () => this.insert());
    $("#reply-save").addEventListener("click", () => this.save());
    onLocaleChange(() => this.render());
  }

  async request(method, body) {
    const res = await fetch("/api/v1/replies", {
      method,
      headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${this.token()}` },
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
    return data;
  }

  async load() {
    try {
      const data = await this.request("GET");
      this.merchant = data.merchant || [];
      this.mine = data.mine || [];
      this.render();
    } catch (err) {
      $("#reply-status").textContent = t("replies.failed", { error: err.message });
    }
  }

  render() {
    const sel = $("#reply-picker");
    const keep = sel.value;
    const group = (label, list) => {
      const g = document.createElement("optgroup");
      g.label = label;
      for (const r of list) g.append(new Option(r.title, r.reply_id));
      return g;
    };
    const parts = [new Option(t("replies.choose"), "")];
    if (this.merchant.length) parts.push(group(t("replies.shop"), this.merchant));
    if (this.mine.length) parts.push(group(t("replies.mine"), this.mine));
    sel.replaceChildren(...parts);
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }

  insert() {
    const id = $("#reply-picker").value;
    const r = [...this.merchant, ...this.mine].find((x) => x.reply_id === id);
    if (!r) return;
    // The message box is one line; a reply written on several reads as one.
    const input = $("#guide-chat-input");
    input.value = r.text.replace(/\s*\n\s*/g, " ");
    input.focus();
  }

  async save() {
    const text = $("#guide-chat-input").value.trim();
    const status = $("#reply-status");
    if (!text) {
      status.textContent = t("replies.empty");
      return;
    }
    const words = text.split(/\s+/).slice(0, 6).join(" ");
    const title = words.length > 60 ? `${words.slice(0, 59)}…` : words;
    try {
      await this.request("POST", { title, text });
      status.textContent = t("replies.saved", { title });
      await this.load();
    } catch (err) {
      status.textContent = t("replies.failed", { error: err.message });
    }
  }
}
