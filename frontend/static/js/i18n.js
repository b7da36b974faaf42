// i18n.js: tiny message catalogs loaded from ../locales/{lang}.json.

// Catalogs are named by their BCP 47 tag; a region is part of the name only
// where the language is written differently per region.
export const LANGUAGES = ["en", "zh-CN", "ja", "ko", "th", "id", "vi", "ar", "he", "de", "nl", "fr", "es", "pt-BR"];
const FALLBACK = "en";
const RTL = new Set(["ar", "he"]);

/**
 * Picks a supported catalog for BCP 47 tags: the exact tag first
 * ("pt-BR"), else the first catalog of the same language ("pt-PT" → pt-BR,
 * "zh" → zh-CN, "de-AT" → de). The legacy "iw" is Hebrew.
 */
export function pickLanguage(tags, supported = LANGUAGES) {
  const lower = supported.map((s) => s.toLowerCase());
  for (const tag of tags || []) {
    const t = String(tag || "").replace(/_/g, "-").toLowerCase();
    const exact = lower.indexOf(t);
    if (exact >= 0) return supported[exact];
    let primary = t.split("-")[0];
    if (primary === "iw") primary = "he";
    const same = lower.findIndex((s) => s.split("-")[0] === primary);
    if (same >= 0) return supported[same];
  }
  return FALLBACK;
}

/** Replaces {name} placeholders with params[name]. */
export function interpolate(template, params = {}) {
  return String(template).replace(/\{(\w+)\}/g, (whole, key) =>
    Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole);
}

async function fetchCatalog(lang) {
  const url = new URL(`../locales/${lang}.json`, import.meta.url);
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`catalog ${lang}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Loads the catalog for the first matching language, or en when that one
 * cannot be had. Every catalog has every key of en (the frontend tests
 * check it), so a shopper downloads one catalog, not two. Returns a
 * translator: t(key, params) plus t.lang and t.apply(root).
 */
export async function loadTranslator(tags = navigator.languages?.length ? navigator.languages : [navigator.language]) {
  const lang = pickLanguage(tags);
  let own = {};
  try { own = await fetchCatalog(lang); } catch (e) { console.warn(e); }
  let base = {};
  if (lang !== FALLBACK && !Object.keys(own).length) {
    try { base = await fetchCatalog(FALLBACK); } catch (e) { console.warn(e); }
  }
  const messages = { ...base, ...own };
  const t = (key, params) => interpolate(messages[key] ?? key, params);
  t.lang = Object.keys(own).length || lang === FALLBACK ? lang : FALLBACK;
  t.dir = RTL.has(t.lang) ? "rtl" : "ltr";
  t.has = (key) => Object.prototype.hasOwnProperty.call(messages, key);
  t.apply = (root = document) => applyTranslations(root, t);
  return t;
}

/**
 * Fills elements marked with data-i18n (text), data-i18n-placeholder,
 * data-i18n-aria-label and data-i18n-title.
 */
export function applyTranslations(root, t) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  if (root === document) {
    document.documentElement.lang = t.lang;
    document.documentElement.dir = t.dir || "ltr";
  }
}
