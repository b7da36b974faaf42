// join-extras.js: what the host page tells the widget about its shopper,
// forwarded with the join: the product area (skill), a second language the
// shopper speaks, and a customer token the merchant signed (its priority is
// the server's to verify; the widget only passes it on).
//
// The host page says it in one of three ways, first found wins per field:
//   <script src=".../widget.js" data-skill="running"
//           data-second-language="de" data-customer-token="eyJ…" async>
//   (widget.js hands these on as settings.skill, .secondLanguage and
//   .customerToken; the panel module has no script tag of its own)
//   window.guidecallConfig = { skill, secondLanguage, customerToken }
//   ?skill=running&second_language=de in the page address (never the token:
//   an address ends up in logs and referrers)
// and, read from the browser itself, the kind of device (phone, tablet,
// desktop) for the guide's context panel. cartValue() adds up the page's
// setContext cart for the guides' queue overview.

const SKILL = /^[a-z0-9_-]{1,64}$/;
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The kind of device from its user agent: a coarse class the guide can act
 * on ("hold the phone up to the light"), never the user agent itself.
 */
export function deviceClass(ua = "", touchPoints = 0) {
  if (/iPad|Tablet|PlayBook|Silk|Android(?!.*Mobile)/i.test(ua)) return "tablet";
  // iPadOS reports itself as a Mac; only the touch screen tells.
  if (/Macintosh/.test(ua) && touchPoints > 1) return "tablet";
  if (/Mobi|iPhone|iPod|Android|Windows Phone/i.test(ua)) return "phone";
  return "desktop";
}

/**
 * The cart's value in minor units of currency, for the join's cart_value:
 * undefined when the page gave no cart, or when a line has no whole price
 * or another currency (a sum across currencies would mislead the guide).
 * A customer token's cart_value claim, when there is one, goes before it.
 */
export function cartValue(cart, currency) {
  if (!Array.isArray(cart) || typeof currency !== "string") return undefined;
  let sum = 0;
  for (const l of cart.slice(0, 50)) {
    if (!l || !Number.isSafeInteger(l.price) || l.price < 0) return undefined;
    if (String(l.currency || "").toUpperCase() !== currency.toUpperCase()) return undefined;
    sum += l.price * Math.min(Math.max(1, l.quantity | 0), 999);
  }
  return Number.isSafeInteger(sum) && sum <= 1e12 ? sum : undefined;
}

export function joinExtras({ settings = {}, config = globalThis.guidecallConfig, search = "", nav = globalThis.navigator } = {}) {
  const tag = settings && typeof settings === "object" ? settings : {};
  const cfg = config && typeof config === "object" ? config : {};
  const url = new URLSearchParams(search);
  const pick = (re, ...values) => {
    for (const v of values) {
      if (typeof v === "string" && re.test(v.trim())) return v.trim();
    }
    return undefined;
  };
  const out = {
    skill: pick(SKILL, tag.skill, cfg.skill, url.get("skill")),
    second_language: pick(LANGUAGE, tag.secondLanguage, cfg.secondLanguage, url.get("second_language")),
    customer_token: pick(TOKEN, tag.customerToken, cfg.customerToken),
    device: nav ? deviceClass(String(nav.userAgent || ""), Number(nav.maxTouchPoints) || 0) : undefined,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

// forStatus is what GET /api/v1/queues/{name}/status takes of the above,
// so the widget's status speaks of the guides who could take this shopper.
export function forStatus(settings) {
  const { skill, second_language } = joinExtras({ settings, search: location.search });
  return { ...(skill && { skill }), ...(second_language && { second_language }) };
}
