// csv.js: the dashboard's figures as CSV (RFC 4180), one row per day and
// one for the whole window, in the API's units (seconds, minor units).

const quote = (v) => {
  const s = v == null ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const COLUMNS = [
  ["offered", (f) => f.offered],
  ["answered", (f) => f.answered],
  ["abandoned", (f) => f.abandoned],
  ["callbacks", (f) => f.callbacks],
  ["abandon_wait_mean_s", (f) => f.abandon_wait_seconds.mean],
  ["abandon_wait_p90_s", (f) => f.abandon_wait_seconds.p90],
  ["wait_mean_s", (f) => f.wait_seconds.mean],
  ["wait_p90_s", (f) => f.wait_seconds.p90],
  ["handle_mean_s", (f) => f.handle_seconds.mean],
  ["handle_p90_s", (f) => f.handle_seconds.p90],
  ["answered_calls", (f) => f.answered_calls],
  ["converted_calls", (f) => f.converted_calls],
  ["conversion", (f) => f.conversion],
  ["rating_count", (f) => f.rating.count],
  ["rating_mean", (f) => f.rating.mean],
  ["quality_calls", (f) => f.quality.calls_reported],
  ["rtt_mean_ms", (f) => f.quality.rtt_ms.mean],
  ["rtt_p90_ms", (f) => f.quality.rtt_ms.p90],
  ["packets_lost", (f) => f.quality.packets_lost],
  ["freezes", (f) => f.quality.freezes],
];

/** toCSV writes the answer of GET /api/v1/admin/stats as CSV text. */
export function toCSV(stats) {
  const currencies = [...new Set(stats.totals.revenue.map((r) => r.currency))].sort();
  const providers = [...new Set(stats.totals.providers.map((p) => p.provider))].sort();
  const header = ["day", ...COLUMNS.map(([name]) => name),
    ...currencies.flatMap((c) => [`paid_${c}`, `refunded_${c}`, `net_${c}`]),
    ...providers.flatMap((p) => [`links_${p}`, `paid_links_${p}`, `success_rate_${p}`])];
  const row = (day, f) => {
    const rev = Object.fromEntries(f.revenue.map((r) => [r.currency, r]));
    const prov = Object.fromEntries(f.providers.map((p) => [p.provider, p]));
    return [day, ...COLUMNS.map(([, get]) => get(f)),
      ...currencies.flatMap((c) => [rev[c]?.paid ?? 0, rev[c]?.refunded ?? 0, rev[c]?.net ?? 0]),
      ...providers.flatMap((p) => [prov[p]?.links ?? 0, prov[p]?.paid ?? 0, prov[p]?.success_rate ?? ""])];
  };
  const lines = [header, ...stats.days.map((d) => row(d.day, d)), row("total", stats.totals)];
  return lines.map((l) => l.map(quote).join(",")).join("\r\n") + "\r\n";
}
