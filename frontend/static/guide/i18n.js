// i18n.js (console): the guide console's own catalogs, in
// ../locales/console/<lang>.json, apart from the widget's so that neither
// page loads the other's strings. The language is the guide's explicit
// choice (the picker in the header, remembered in this browser) or else the
// browser's; en fills any key a catalog lacks.
import { LANGUAGES, interpolate, pickLanguage } from "../js/i18n.js";

export { LANGUAGES };
const FALLBACK = "en";
const RTL = new Set(["ar", "he"]);
const CHOICE_KEY = "guidecall.console.locale";

let messages = {};
let fallback = {};
let current = FALLBACK;
let loaded = false;
const listeners = new Set();
const cache = new Map();

/** t translates key, filling {name} placeholders from vars. */
export function t(key, vars) {
  const template = messages[key] ?? fallback[key];
  if (template == null) {
    // Before the first catalog arrives the page shows its English markup;
    // text set from code is drawn again once it is here (onLocaleChange).
    if (loaded) console.warn("i18n: no message for", key);
    return key;
  }
  return interpolate(template, vars);
}

/** The language now shown, and its writing direction. */
export const locale = () => current;
export const direction = () => (RTL.has(current) ? "rtl" : "ltr");

/** Calls fn after every change of language (to re-render dynamic text). */
export function onLocaleChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function storedChoice() {
  try { return localStorage.getItem(CHOICE_KEY) || ""; } catch { return ""; }
}

/** The guide's explicit choice, or "" to follow the browser. */
export const chosenLocale = () => (LANGUAGES.includes(storedChoice()) ? storedChoice() : "");

function browserTags() {
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

async function catalog(lang) {
  if (!cache.has(lang)) {
    const load = (async () => {
      const res = await fetch(new URL(`../locales/console/${lang}.json`, import.meta.url), { headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`console catalog ${lang}: HTTP ${res.status}`);
      return res.json();
    })();
    cache.set(lang, load);
    load.catch(() => cache.delete(lang)); // a failed fetch may be tried again
  }
  return cache.get(lang);
}

/**
 * Loads the chosen (or browser's) language and applies it to the page.
 * A catalog that fails to load leaves en in place rather than no text.
 */
export async function initI18n() {
  await useLanguage(chosenLocale() || pickLanguage(browserTags()));
}

/** setLocale remembers the guide's choice ("" = the browser's) and applies it. */
export async function setLocale(lang) {
  try {
    if (lang && LANGUAGES.includes(lang)) localStorage.setItem(CHOICE_KEY, lang);
    else localStorage.removeItem(CHOICE_KEY);
  } catch { /* private mode: the choice lasts this page */ }
  await useLanguage(lang && LANGUAGES.includes(lang) ? lang : pickLanguage(browserTags()));
}

async function useLanguage(lang) {
  try { fallback = await catalog(FALLBACK); } catch (e) { console.warn(e); }
  let own = fallback;
  if (lang !== FALLBACK) {
    try { own = await catalog(lang); } catch (e) { console.warn(e); own = null; }
  }
  current = own ? lang : FALLBACK;
  messages = own || fallback;
  loaded = true;
  applyI18n(document);
  for (const fn of listeners) {
    try { fn(current); } catch (e) { console.error(e); }
  }
}

/**
 * Fills elements marked with data-i18n (text), data-i18n-placeholder,
 * data-i18n-aria-label and data-i18n-title, and sets lang and dir on the
 * document.
 */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  if (root === document) {
    document.documentElement.lang = current;
    document.documentElement.dir = direction();
  }
}

/**
 * Fills a <select> with "the browser's language" and every catalog, each
 * named in its own language (an autonym reads the same in every locale),
 * and switches the console when the guide picks one.
 */
export function mountLocalePicker(select) {
  const render = () => {
    const options = [new Option(t("locale.browser"), "")];
    for (const lang of LANGUAGES) {
      let name = lang;
      try { name = new Intl.DisplayNames([lang], { type: "language" }).of(lang) || lang; } catch { /* old browser */ }
      const opt = new Option(name, lang);
      opt.lang = lang;
      options.push(opt);
    }
    select.replaceChildren(...options);
    select.value = chosenLocale();
  };
  render();
  onLocaleChange(render);
  select.addEventListener("change", () => setLocale(select.value));
}

/** Formats a time of day in the console's language. */
export function formatTime(date, opts = { timeStyle: "short" }) {
  try { return new Intl.DateTimeFormat(current, opts).format(date); } catch { return date.toISOString(); }
}
