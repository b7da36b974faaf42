// strings.js: the English text of the console's in-call panels (shopper
// context, media state, restored links, product search, saved replies), in
// one place so the console's catalogs can take them over: t(key, vars)
// has the shape of the console's localization, and {name} in a text is
// replaced by vars.name.
const en = {
  "media.muted": "Shopper muted",
  "media.camera_off": "Camera off",
  "media.muted_camera_off": "Shopper muted · Camera off",
  "context.title": "Shopper",
  "context.name": "Name",
  "context.anonymous": "Anonymous shopper",
  "context.page": "Page",
  "context.viewing": "Looking at",
  "context.cart": "Cart",
  "context.cart_empty": "empty",
  "context.cart_value": "{count} items · {value}",
  "context.locale": "Locale",
  "context.currency": "Currency",
  "context.device": "Device",
  "context.device.phone": "Phone",
  "context.device.tablet": "Tablet",
  "context.device.desktop": "Desktop",
  "context.customer": "Customer",
  "context.returning": "Returning customer",
  "context.new_customer": "First call",
  "context.previous": "Previous calls",
  "context.previous_none": "none",
  "context.previous_call": "{when} · {duration}{rating}",
  "context.rating": " · rated {rating}/5",
  "products.searching": "Searching…",
  "products.found": "{count} found.",
  "products.none": "No product matches.",
  "products.failed": "Search failed: {error}",
  "products.show": "Show",
  "products.show_named": "Show {name} to the shopper",
  "products.shown": "Shown ✓",
  "products.preview_failed": "Could not read that page: {error}",
  "context.unavailable": "The shopper's details could not be loaded: {error}",
};

export function t(key, vars = {}) {
  const text = en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}
