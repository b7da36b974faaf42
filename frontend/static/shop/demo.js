// demo.js: the demo product page, a plain host page of the widget. It uses
// only what any merchant page has: the one tag and window.guidecall.
import { formatMoney, minorDigits, normalizeCurrency, parseMajor } from "../js/money.js";
import { loadTranslator } from "../js/i18n.js";

// Demo catalogue prices in major units per currency (parsed, never floats).
const PRICES = { EUR: "129", USD: "139", GBP: "115", CHF: "125", JPY: "19800", SEK: "1495", KWD: "42.500" };

const params = new URLSearchParams(location.search);
const locale = navigator.language || "en";
let currency = "EUR";
try { currency = normalizeCurrency(params.get("currency") || "EUR"); } catch { currency = "EUR"; }
const bag = [];

function renderPrice() {
  const major = PRICES[currency] ?? "129";
  const digits = minorDigits(currency);
  const text = major.includes(".") ? major : (digits ? `${major}.${"0".repeat(digits)}` : major);
  const parsed = parseMajor(text, digits);
  const el = document.querySelector("#price");
  if (parsed.ok) {
    el.textContent = formatMoney(parsed.amount, currency, locale);
    el.dataset.amount = String(parsed.amount);
  }
  return parsed.ok ? parsed.amount : null;
}

function size() {
  return document.querySelector('input[name="size"]:checked')?.value || null;
}

// The merchant's one tag, as any page has it; only data-queue comes from
// ?queue= here. The loader defines window.guidecall when it runs (async).
function widget() {
  const queue = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(params.get("queue") || "") ? params.get("queue") : "default";
  const tag = document.createElement("script");
  tag.src = "/widget.js";
  tag.async = true;
  tag.dataset.queue = queue;
  tag.dataset.locale = "auto";
  const loaded = new Promise((resolve, reject) => {
    tag.addEventListener("load", () => resolve(window.guidecall), { once: true });
    tag.addEventListener("error", () => reject(new Error(`guidecall: ${tag.src} did not load`)), { once: true });
  });
  document.head.append(tag);
  return loaded;
}

async function init(ready) {
  const loading = widget();
  let t = (key) => key;
  try {
    t = await loadTranslator();
    t.apply(document);
  } catch (err) { console.warn(err); }
  const amount = renderPrice();
  const gc = await loading;
  const product = { id: "merino-sneaker", name: document.querySelector("#product-title").textContent, price: amount, currency };
  const share = () => gc.setContext({ currency, product, variant: size() && `EU ${size()}`, cart: bag.slice() });
  share();
  ready(gc);
  for (const r of document.querySelectorAll('input[name="size"]')) r.addEventListener("change", share);
  const addToBag = (item) => {
    bag.push(item);
    document.querySelector("#bag-status").textContent = `${bag.length} × ${item.name}`;
    share();
  };
  document.querySelector("#add-to-bag").addEventListener("click", () => addToBag({ ...product, variant: size(), quantity: 1 }));
  gc.on("product-added-to-cart", (e) => addToBag({ ...e.product, quantity: e.quantity || 1 }));
  // The floating launcher only while the page's own call button is out of
  // view (on a phone it would cover the teaser's heading). When the queue
  // is closed the page's button asks for a callback instead: the widget's
  // panel then offers the callback form.
  let teaserInView = false;
  const launcher = () => gc.showLauncher(!teaserInView);
  gc.on("queue-closed", () => {
    document.body.dataset.queueOpen = "false";
    const label = document.querySelector("#call-guide span");
    label.dataset.i18n = "callback.open";
    label.textContent = t("callback.open");
  });
  gc.on("queue-open", () => { document.body.dataset.queueOpen = "true"; });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      for (const e of entries) teaserInView = e.isIntersecting;
      launcher();
    }).observe(document.querySelector(".guide-teaser"));
  }
}

// The page's button is there from the first paint, long before the loader
// has run and the page has told the widget its context (most of all on
// fresh TLS connections): a click then opens the widget once both are done
// instead of going nowhere.
const widgetReady = new Promise((resolve, reject) => {
  init(resolve).catch((err) => {
    console.error(err);
    reject(err);
  });
});
document.querySelector("#call-guide").addEventListener("click", () => {
  widgetReady.then((gc) => gc.open(), () => { /* logged above */ });
});
