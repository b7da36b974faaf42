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
  const loaded = new Promise((resolve) => tag.addEventListener("load", () => resolve(window.guidecall), { once: true }));
  document.head.append(tag);
  return loaded;
}

async function init() {
  // The button works from the first moment: a click before the loader
  // arrived opens the widget once it has.
  const loading = widget();
  document.querySelector("#call-guide").addEventListener("click", () => loading.then((g) => g.open()));
  try { (await loadTranslator()).apply(document); } catch (err) { console.warn(err); }
  const amount = renderPrice();
  const gc = await loading;
  const product = { id: "merino-sneaker", name: document.querySelector("#product-title").textContent, price: amount, currency };
  const share = () => gc.setContext({ currency, product, variant: size() && `EU ${size()}`, cart: bag.slice() });
  share();
  for (const r of document.querySelectorAll('input[name="size"]')) r.addEventListener("change", share);
  const addToBag = (item) => {
    bag.push(item);
    document.querySelector("#bag-status").textContent = `${bag.length} × ${item.name}`;
    share();
  };
  document.querySelector("#add-to-bag").addEventListener("click", () => addToBag({ ...product, variant: size(), quantity: 1 }));
  gc.on("product-added-to-cart", (e) => addToBag({ ...e.product, quantity: e.quantity || 1 }));
  // The floating launcher only while the page's own call button is out of
  // view; when the queue is closed the page's button goes and the widget's
  // launcher (which leads to the callback form) stays.
  let closed = false;
  let teaserInView = false;
  const launcher = () => gc.showLauncher(closed || !teaserInView);
  gc.on("queue-closed", () => {
    closed = true;
    document.body.dataset.queueOpen = "false";
    document.querySelector("#call-guide").hidden = true;
    launcher();
  });
  gc.on("queue-open", () => { document.body.dataset.queueOpen = "true"; });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      for (const e of entries) teaserInView = e.isIntersecting;
      launcher();
    }).observe(document.querySelector(".guide-teaser"));
  }
}

init();
