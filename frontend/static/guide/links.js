// links.js: the payment links of the call on screen: the form that sends
// one, the list with each link's live status (payment.link messages), the
// Refund action on a paid link (the server checks the window and the
// limits, and says with each link what the guide may still refund and
// until when: refundable, refundable_until; the action turns disabled with
// the reason once either runs out), and the list read back from the server when a console reloaded
// mid-call comes back to the call (GET /api/v1/calls/{id}/payment-links).
// Links stay with their own call: a link sent in one call never appears in
// another.
import { formatMoney, itemsTotal, minorDigits, normalizeCurrency, parseMajor, toDecimalString } from "../js/money.js";
import { formatTime, locale, onLocaleChange, t } from "./i18n.js";
import { paymentStatusText } from "./history.js";

const $ = (sel) => document.querySelector(sel);

/**
 * @param {object} o
 * @param {function():string} o.token the guide's access token
 * @param {function():Map} o.calls the console's calls by id ({id, links: Map, ...})
 * @param {function():string} o.activeId the call on screen
 * @param {function(object):boolean} o.liveCall whether a call record is live
 * @param {function(string, string):void} o.showError
 */
export function createLinks({ token, calls, activeId, liveCall, showError }) {
  const active = () => calls().get(activeId()) || null;
  // The list's amounts (in the console's language), statuses and buttons
  // are drawn from code: again in a new language.
  onLocaleChange(() => { const rec = active(); if (rec) renderLinks(rec); });


  async function onPaymentSubmit(ev) {
    ev.preventDefault();
    showError("#pay-error", "");
    const rec = active();
    if (!liveCall(rec)) return showError("#pay-error", t("common.no_live_call"));
    let currency;
    try {
      currency = normalizeCurrency($("#pay-currency").value);
    } catch {
      return showError("#pay-error", t("common.currency_invalid"));
    }
    const digits = minorDigits(currency);
    const parsed = parseMajor($("#pay-amount").value, digits);
    if (!parsed.ok) {
      const msgs = {
        empty: t("pay.amount_empty"),
        format: t("pay.amount_format"),
        too_many_decimals: digits === 0 ? t("pay.amount_no_decimals", { currency })
          : digits === 1 ? t("pay.amount_decimals_one", { currency }) : t("pay.amount_decimals", { currency, n: digits }),
        too_large: t("pay.amount_too_large"),
        zero: t("pay.amount_zero"),
      };
      return showError("#pay-error", msgs[parsed.error] || t("pay.amount_invalid"));
    }
    const description = $("#pay-description").value.trim();
    if (!description) return showError("#pay-error", t("pay.description_empty"));
    const amount = parsed.amount;
    // The lines the form was filled from go with the link as long as the
    // guide did not change amount, currency or description since.
    const f = prefilled;
    const items = f && f.amount === amount && f.currency === currency && f.description === description
      ? f.items : [{ name: description, quantity: 1, unit_amount: amount }];
    const body = JSON.stringify({ amount, currency, description, items });
    const key = crypto.randomUUID(); // one key per submit; reused by the retry below
    $("#pay-send").disabled = true;
    try {
      let res;
      for (let attempt = 0; ; attempt++) {
        try {
          res = await fetch(`/api/v1/calls/${encodeURIComponent(rec.id)}/payment-links`, {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              Accept: "application/json",
              Authorization: `Bearer ${token()}`,
              "Idempotency-Key": key,
            },
            body,
          });
          break;
        } catch (err) {
          if (attempt >= 1) throw err; // a network error: same key, safe to retry once
        }
      }
      let data = null;
      try { data = await res.json(); } catch { /* empty */ }
      if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
      upsertLink(rec.id, { ...data, link_id: data.link_id || data.id });
      $("#pay-amount").value = "";
      $("#pay-description").value = "";
      $("#pay-form-source").textContent = "";
      prefilled = null;
    } catch (err) {
      showError("#pay-error", t("pay.create_failed", { message: err.message }));
    } finally {
      $("#pay-send").disabled = !liveCall(active());
    }
  }

  // upsertLink keeps a link with its own call; only the call on screen shows
  // its links, so a link sent in one call never appears in another.
  function upsertLink(callId, link) {
    if (!link.link_id) return;
    const rec = calls().get(callId) || (link.call_id && calls().get(link.call_id));
    if (!rec) return;
    rec.links.set(link.link_id, { ...(rec.links.get(link.link_id) || {}), ...link });
    if (rec.id === activeId()) renderLinks(rec);
  }

  function renderLinks(rec) {
    if (rec.id !== shownCall) {
      // Another call on screen: what the form was filled from was not its.
      shownCall = rec.id;
      prefilled = null;
      $("#pay-form-source").textContent = "";
    }
    const forms = new Map();
    for (const f of document.querySelectorAll("#payment-links li[data-link-id] .refund-form")) {
      if (rec.links.has(f.closest("li").dataset.linkId)) forms.set(f.closest("li").dataset.linkId, f);
    }
    const items = [...rec.links.values()].reverse().map((merged) => {
      const li = document.createElement("li");
      li.dataset.linkId = merged.link_id;
      li.dataset.status = merged.status || "open";
      if (merged.refund_requested) li.dataset.refundRequested = String(merged.refund_requested);
      let amountText = "";
      try { amountText = formatMoney(merged.amount, merged.currency, locale()); } catch { amountText = `${merged.amount} ${merged.currency}`; }
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = merged.description || merged.items?.[0]?.name || merged.link_id;
      const amount = document.createElement("strong");
      amount.textContent = amountText;
      const status = document.createElement("span");
      status.className = "badge";
      status.dataset.status = li.dataset.status;
      status.textContent = paymentStatusText(li.dataset.status) + (li.dataset.status === "paid" ? " ✓" : "");
      const parts = [what, amount, status];
      if (merged.checkout_url && /^https?:/i.test(merged.checkout_url)) {
        const a = document.createElement("a");
        a.href = merged.checkout_url;
        a.target = "_blank";
        a.rel = "noopener";
        a.dataset.i18n = "pay.checkout";
        a.textContent = t("pay.checkout");
        parts.push(a);
      }
      let closed = "";
      if (merged.status === "paid" || merged.status === "partially_refunded") {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "button small refund-open";
        b.dataset.i18n = "refund.open";
        b.textContent = t("refund.open");
        b.setAttribute("aria-label", t("refund.open_label", { what: what.textContent }));
        closed = refundClosed(merged);
        if (closed) {
          // Disabled with the reason beside it, as the server would answer.
          b.disabled = true;
          const why = document.createElement("span");
          why.className = "muted refund-reason";
          why.id = `refund-reason-${merged.link_id}`;
          why.dataset.reason = closed;
          why.textContent = closed === "none_left" ? t("refund.none_left")
            : t("refund.window_over", { when: formatTime(new Date(merged.refundable_until), { dateStyle: "medium", timeStyle: "short" }) });
          b.setAttribute("aria-describedby", why.id);
          parts.push(b, why);
        } else {
          b.addEventListener("click", () => openRefund(li, merged));
          parts.push(b);
        }
      }
      li.replaceChildren(...parts);
      // An open refund form outlives the update its own refund causes, not
      // the end of what may be refunded.
      const form = forms.get(merged.link_id);
      if (form && !closed) li.append(form);
      return li;
    });
    $("#payment-links").replaceChildren(...items);
    scheduleWindowEnd(rec);
  }

  // refundClosed says why the guide may no longer refund a paid link, from
  // what the server said of it: "none_left" once everything is refunded or
  // asked back, "window" once its refund window has ended, "" while it may.
  function refundClosed(link) {
    if (Number.isSafeInteger(link.refundable) && link.refundable <= 0) return "none_left";
    const until = Date.parse(link.refundable_until || "");
    if (Number.isFinite(until) && until <= Date.now()) return "window";
    return "";
  }

  // The list is drawn again when the next refund window of the call on
  // screen ends, so its Refund action turns disabled then, not at the next
  // update.
  let windowTimer = null;
  function scheduleWindowEnd(rec) {
    clearTimeout(windowTimer);
    windowTimer = null;
    const now = Date.now();
    const next = Math.min(...[...rec.links.values()]
      .map((l) => Date.parse(l.refundable_until || ""))
      .filter((u) => Number.isFinite(u) && u > now));
    if (!Number.isFinite(next)) return;
    windowTimer = setTimeout(() => { const cur = active(); if (cur) renderLinks(cur); }, Math.min(next - now + 250, 2 ** 31 - 1));
  }

  // openRefund shows a small form under the link: an amount (empty refunds
  // everything left) and a confirm button. The server checks the window,
  // the limits and what is left; its answer is shown as it is.
  function openRefund(li, link) {
    if (li.querySelector(".refund-form")) return;
    const form = document.createElement("form");
    form.className = "refund-form";
    const id = `refund-amount-${link.link_id}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = t("refund.amount_label", { currency: link.currency });
    const input = document.createElement("input");
    input.id = id;
    input.type = "text";
    input.inputMode = "decimal";
    input.autocomplete = "off";
    const send = document.createElement("button");
    send.type = "submit";
    send.className = "button small danger refund-send";
    send.dataset.i18n = "refund.send";
    send.textContent = t("refund.send");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button small";
    cancel.dataset.i18n = "common.cancel";
    cancel.textContent = t("common.cancel");
    cancel.addEventListener("click", () => form.remove());
    // The answer goes to the panel's status line, which no update of the
    // list replaces.
    const msg = $("#refund-status");
    msg.textContent = "";
    form.append(label, input, send, cancel);
    const key = crypto.randomUUID(); // one refund per form; a retry reuses it
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let amount = 0;
      if (input.value.trim() !== "") {
        const parsed = parseMajor(input.value, minorDigits(link.currency));
        if (!parsed.ok) {
          msg.textContent = t("refund.amount_invalid");
          return;
        }
        amount = parsed.amount;
      }
      send.disabled = true;
      try {
        const res = await fetch(`/api/v1/calls/${encodeURIComponent(link.call_id || activeId())}/payment-links/${encodeURIComponent(link.link_id)}/refunds`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token()}`, "Idempotency-Key": key },
          body: JSON.stringify({ amount }),
        });
        let data = null;
        try { data = await res.json(); } catch { /* empty */ }
        if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
        let text = "";
        try { text = formatMoney(data.refund.amount, link.currency, locale()); } catch { text = String(data.refund.amount); }
        form.closest("li")?.setAttribute("data-refund-requested", String(data.refund.seq));
        msg.textContent = t("refund.sent", { amount: text });
        form.remove();
        // What is left to refund now, as the server counts it; not the
        // status, which a payment.link of the provider's answer may
        // already have moved on.
        if (data.link?.id) {
          upsertLink(data.link.call_id || link.call_id || activeId(), {
            link_id: data.link.id, refundable: data.link.refundable, refundable_until: data.link.refundable_until, refund_requested: data.refund.seq,
          });
        }
      } catch (err) {
        msg.textContent = t("refund.failed", { message: err.message });
        send.disabled = false;
      }
    });
    li.append(form);
    input.focus();
  }


  // prefill fills the form from the shopper's cart (what it chose to buy)
  // or, while the cart is empty, from the product cards shown in this call:
  // the lines in the form's currency, their total and a description.
  let prefilled = null;
  let shownCall = null;
  function prefill({ cart, shown }) {
    showError("#pay-error", "");
    let currency;
    try { currency = normalizeCurrency($("#pay-currency").value); } catch { currency = ""; }
    const fromCart = (cart?.lines || []).filter((l) => l.currency === currency);
    const lines = fromCart.length ? fromCart.map((l) => ({ ...l, quantity: l.quantity || 1 }))
      : (shown || []).filter((p) => p.currency === currency).map((p) => ({ ...p, quantity: 1 }));
    if (!lines.length) return showError("#pay-error", t("links.prefill_none", { currency: currency || "?" }));
    const items = lines.map((l) => ({
      name: (l.variant ? `${l.name} (${l.variant})` : l.name).slice(0, 200), quantity: l.quantity, unit_amount: l.price,
    }));
    let amount;
    try { amount = itemsTotal(items); } catch { return showError("#pay-error", t("links.prefill_too_large")); }
    const description = items.map((it) => (it.quantity > 1 ? `${it.quantity} × ${it.name}` : it.name)).join(", ").slice(0, 200);
    $("#pay-amount").value = toDecimalString(amount, minorDigits(currency));
    $("#pay-description").value = description;
    $("#pay-form-source").textContent = t(fromCart.length ? "links.prefill_from_cart" : "links.prefill_from_shown", { count: items.length });
    prefilled = { amount, currency, description, items };
  }

  // restore reads the call's links back from the server: a reloaded
  // console knows none of them, though the shopper still sees them.
  async function restore(rec) {
    try {
      const res = await fetch(`/api/v1/calls/${encodeURIComponent(rec.id)}/payment-links`, {
        headers: { Accept: "application/json", Authorization: `Bearer ${token()}` },
        cache: "no-store",
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error(body?.error?.message || `HTTP ${res.status}`);
      for (const l of body.links || []) {
        if (rec.links.has(l.id)) continue; // a live payment.link is newer
        upsertLink(rec.id, { ...l, link_id: l.id, description: l.description || "", items: l.items || [] });
      }
    } catch (err) {
      console.warn("payment links not restored", err);
    }
  }

  return { submit: onPaymentSubmit, upsert: upsertLink, render: renderLinks, restore, prefill };
}
