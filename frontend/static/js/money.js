// money.js: amounts are integers in the currency's minor unit (EUR cents,
// JPY yen, KWD fils). Nothing here uses floating point arithmetic: amounts
// are parsed from and printed to decimal strings, and Intl.NumberFormat is
// given the exact decimal string. All functions are pure.

const MAX_DIGITS = 15; // keeps every amount inside Number.MAX_SAFE_INTEGER

/** Number of minor digits of an ISO 4217 currency (EUR 2, JPY 0, KWD 3). */
export function minorDigits(currency) {
  const code = normalizeCurrency(currency);
  return new Intl.NumberFormat("en", { style: "currency", currency: code })
    .resolvedOptions().maximumFractionDigits;
}

/** Upper-cases and checks a currency code; throws RangeError if unknown. */
export function normalizeCurrency(currency) {
  const code = String(currency || "").trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) throw new RangeError(`not an ISO 4217 code: ${currency}`);
  // Throws RangeError for codes Intl does not accept.
  new Intl.NumberFormat("en", { style: "currency", currency: code });
  return code;
}

/**
 * Parses a decimal text in major units ("49.99", "49,99", "1000") into an
 * integer amount in minor units, by string manipulation only.
 * Returns {ok:true, amount} or {ok:false, error} where error is one of
 * "empty", "format", "too_many_decimals", "too_large", "zero".
 */
export function parseMajor(text, digits) {
  const s = String(text ?? "").trim();
  if (s === "") return { ok: false, error: "empty" };
  // One optional decimal mark ("." or ","), no signs, no exponents, no
  // thousands separators: "1,000" is read as 1.000 and refused for EUR.
  const m = /^(\d*)(?:[.,](\d*))?$/.exec(s);
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) return { ok: false, error: "format" };
  const whole = m[1] || "0";
  const frac = m[2] ?? "";
  // Strict: "49.990" is refused for EUR, "1000.5" and "1000.0" for JPY.
  if (frac.length > digits) return { ok: false, error: "too_many_decimals" };
  const minorText = (whole + frac.padEnd(digits, "0")).replace(/^0+(?=\d)/, "");
  if (minorText.length > MAX_DIGITS) return { ok: false, error: "too_large" };
  const amount = Number.parseInt(minorText, 10); // integer digits only
  if (amount === 0) return { ok: false, error: "zero" };
  return { ok: true, amount };
}

/** Formats an integer minor amount as a plain decimal string: 4999,2 → "49.99". */
export function toDecimalString(amount, digits) {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amount must be an integer: ${amount}`);
  const negative = amount < 0;
  let s = String(negative ? -amount : amount);
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return negative ? `-${s}` : s;
}

/**
 * Formats an integer minor amount for a locale: (4999, "EUR", "de-DE") →
 * "49,99 €". The exact decimal string is handed to Intl, never a float.
 */
export function formatMoney(amount, currency, locale) {
  const code = normalizeCurrency(currency);
  const text = toDecimalString(amount, minorDigits(code));
  let nf;
  try {
    nf = new Intl.NumberFormat(locale || "en", { style: "currency", currency: code });
  } catch {
    nf = new Intl.NumberFormat("en", { style: "currency", currency: code });
  }
  return nf.format(text);
}

/** Sum of items' quantity × unit_amount, with integer checks. */
export function itemsTotal(items) {
  let total = 0;
  for (const it of items || []) {
    const q = it.quantity ?? 1;
    if (!Number.isSafeInteger(q) || !Number.isSafeInteger(it.unit_amount)) {
      throw new RangeError("item amounts must be integers");
    }
    total += q * it.unit_amount;
  }
  if (!Number.isSafeInteger(total)) throw new RangeError("total too large");
  return total;
}
