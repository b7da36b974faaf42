// charts.js: small inline-SVG bar charts for the dashboard's daily series.
// Each is a <figure> with a caption, and an aria-label that says in words
// what the bars show, so a screen reader gets the chart too.

const SVG = "http://www.w3.org/2000/svg";
const W = 260;
const H = 120;
const PAD = { top: 16, right: 4, bottom: 20, left: 4 };
const FONT = 12;
// A lone day's bar stays a bar, not a slab.
const MAX_BAR = 28;
const COLORS = ["#2f6f5e", "#b3261e"];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

/**
 * barChart draws one bar per day for each series (at most two, side by
 * side). series: [{name, values: [number|null]}]; labels: the days' short
 * names; format(v) writes a value; summary is the sentence read aloud.
 */
export function barChart({ title, series, labels, format = String, summary = "" }) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  fig.append(cap);

  const n = labels.length;
  const all = series.flatMap((s) => s.values.filter((v) => v != null));
  const top = Math.max(...all, 0);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}. ${summary}`.trim() });
  svg.append(el("title", {}, `${title}. ${summary}`.trim()));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(n, 1);
  const gap = Math.min(4, slot * 0.2);
  const barW = Math.min(MAX_BAR, Math.max(1, (slot - gap) / series.length));
  const inset = (slot - barW * series.length) / 2;
  const baseY = PAD.top + plotH;
  svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: baseY + 0.5, y2: baseY + 0.5, stroke: "#8a8f98", "stroke-width": 1 }));
  series.forEach((s, si) => {
    s.values.forEach((v, i) => {
      if (v == null) return;
      const h = top > 0 ? Math.max(v > 0 ? 1.5 : 0, (v / top) * plotH) : 0;
      const x = PAD.left + i * slot + inset + si * barW;
      const bar = el("rect", { x: x.toFixed(2), y: (baseY - h).toFixed(2), width: barW.toFixed(2), height: h.toFixed(2), fill: COLORS[si % COLORS.length], rx: Math.min(2, barW / 3) });
      bar.append(el("title", {}, `${labels[i]}: ${s.name} ${format(v)}`));
      svg.append(bar);
    });
  });
  // The highest value above the plot, and day labels under it: every day
  // of a week, the first and last of a month.
  svg.append(el("text", { x: PAD.left, y: FONT, "font-size": FONT, fill: "#5d6470" }, format(top)));
  labels.forEach((label, i) => {
    if (n > 8 && i !== 0 && i !== n - 1 && i !== Math.floor(n / 2)) return;
    const x = PAD.left + i * slot + slot / 2;
    const anchor = n > 8 && i === 0 ? "start" : n > 8 && i === n - 1 ? "end" : "middle";
    svg.append(el("text", { x: anchor === "start" ? PAD.left : anchor === "end" ? W - PAD.right : x, y: H - 4, "font-size": FONT, "text-anchor": anchor, fill: "#5d6470" }, label));
  });
  fig.append(svg);
  if (series.length > 1) {
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, si) => {
      const item = document.createElement("span");
      const sw = document.createElement("span");
      sw.className = `swatch s${si}`;
      sw.setAttribute("aria-hidden", "true");
      item.append(sw, s.name);
      legend.append(item);
    });
    fig.append(legend);
  }
  return fig;
}
