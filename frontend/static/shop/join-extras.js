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

const SKILL = /^[a-z0-9_-]{1,64}$/;
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function joinExtras({ settings = {}, config = globalThis.guidecallConfig, search = "" } = {}) {
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
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
