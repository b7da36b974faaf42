// forms.js: what the dashboard's forms share: finding the field an API
// refusal is about and showing the message beside that input.

const $ = (sel) => document.querySelector(sel);

/** The field a refusal names: the earliest of fields in the message. */
export function fieldOf(message, fields) {
  let best = null;
  let at = Infinity;
  for (const f of fields) {
    const re = new RegExp(`(^|[\\s:])${f.replace(/[.[\]]/g, "\\$&")}(?=[:.\\[])`);
    const m = re.exec(message);
    if (m && m.index < at) {
      at = m.index;
      best = f;
    }
  }
  return best;
}

/**
 * The field a refusal is about when the API names it as a word in its
 * sentence ("incumbent \"x\" must be ...", "percent 0..100"): the earliest
 * of fields.
 */
export function wordOf(message, fields) {
  let best = null;
  let at = Infinity;
  for (const f of fields) {
    const m = new RegExp(`(^|[^\\w.])${f}(?![\\w])`).exec(message);
    if (m && m.index < at) {
      at = m.index;
      best = f;
    }
  }
  return best;
}

export function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) { p.textContent = ""; p.hidden = true; }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// What the API said about a field, without the prefixes before its name.
export function aboutField(message, field) {
  const i = message.indexOf(`${field}: `);
  return i >= 0 ? message.slice(i + field.length + 2) : message;
}

export function showField(prefix, field, text) {
  // Ids hold dots (q-hours.mon): looked up by id, not as selectors.
  const err = document.getElementById(`${prefix}-${field}-error`);
  const input = document.getElementById(`${prefix}-${field}`);
  if (!err) return false;
  err.textContent = text;
  err.hidden = false;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  return true;
}

export function formError(sel, text) {
  const el = $(sel);
  el.textContent = text || "";
  el.hidden = !text;
}
