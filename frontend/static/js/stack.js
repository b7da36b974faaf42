// stack.js: at phone widths (admin.css, the console's lobby.css) each row
// of a table stands as a card of "column: value" lines instead of a row
// wider than the screen. The column's name comes from the cell's
// data-label, which this module keeps equal to the header of its column:
// one observer labels every row whichever module renders it, tables added
// later included, and relabels after a translation changes a header.
// Shared by the admin dashboard and the guide console.

/** Labels the body cells of table with their column headers. */
function label(table) {
  const heads = [...(table.tHead?.rows[0]?.cells ?? [])].map((th) => th.textContent.trim());
  for (const body of table.tBodies) {
    for (const tr of body.rows) {
      let col = 0;
      for (const td of tr.cells) {
        // A cell across columns (an empty table's message) has no label.
        const name = td.colSpan > 1 ? "" : heads[col] ?? "";
        if (td.dataset.label !== name) td.dataset.label = name;
        col += td.colSpan;
      }
    }
  }
}

/**
 * Labels every table under root now and whenever a table is added under
 * root or its rows or headers change. Returns the observer (disconnect()
 * stops it).
 */
export function labelTables(root) {
  root.querySelectorAll("table").forEach(label);
  const seen = new MutationObserver((records) => {
    const element = (node) => (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    const tables = new Set();
    for (const r of records) {
      const inside = element(r.target)?.closest("table");
      if (inside) tables.add(inside);
      for (const node of r.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        if (node.matches("table")) tables.add(node);
        node.querySelectorAll("table").forEach((t) => tables.add(t));
      }
    }
    tables.forEach(label);
  });
  // Only children and text: the labels this writes (attributes) do not
  // wake it again.
  seen.observe(root, { childList: true, characterData: true, subtree: true });
  return seen;
}
