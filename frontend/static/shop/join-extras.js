// join-extras.js: what the host page tells the widget about its shopper,
// forwarded with the join: the product area (skill), a second language the
// shopper speaks, and a customer token the merchant signed (its priority is
// the server's to verify; the widget only passes it on).
//
// The host page says it in one of three ways, first found wins per field:
//   window.guidecallConfig = { skill, secondLanguage, customerToken }
//   <script type="module" src=".../shop.js" data-skill="running"
//           data-second-language="de" data-customer-token="eyJ…">
//   ?skill=running&second_language=de in the page address (never the token:
//   an address ends up in logs and referrers)

const SKILL = /^[a-z0-9_-]{1,64}$/;
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function joinExtras({ config = globalThis.guidecallConfig, script = null, search = "" } = {}) {
  const cfg = config && typeof config === "object" ? config : {};
  const data = script?.dataset || {};
  const url = new URLSearchParams(search);
  const pick = (re, ...values) => {
    for (const v of values) {
      if (typeof v === "string" && re.test(v.trim())) return v.trim();
    }
    return undefined;
  };
  const out = {
    skill: pick(SKILL, cfg.skill, data.skill, url.get("skill")),
    second_language: pick(LANGUAGE, cfg.secondLanguage, data.secondLanguage, url.get("second_language")),
    customer_token: pick(TOKEN, cfg.customerToken, data.customerToken),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

// widgetScript is the widget's own script tag, where a host page puts its
// data attributes (a module script has no document.currentScript).
export function widgetScript(doc = document) {
  return doc.querySelector('script[src$="shop.js"][data-skill], script[src$="shop.js"][data-second-language], script[src$="shop.js"][data-customer-token]')
    || doc.querySelector('script[src$="shop.js"]');
}
