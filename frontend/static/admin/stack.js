// stack.js: at phone widths (admin.css) each row of the dashboard's
// tables stands as a card of "column: value" lines instead of a row wider
// than the screen. The column's name comes from the cell's data-label,
// which this module keeps equal to the header of its column: one observer
// labels every row whichever module renders it, and relabels after a
// translation changes a header.

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

/** Labels every table under root now and whenever its rows or headers change. */
export function labelTables(root) {
  const tables = [...root.querySelectorAll("table")];
  tables.forEach(label);
  const seen = new MutationObserver((records) => {
    const element = (node) => (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    for (const table of new Set(records.map((r) => element(r.target)?.closest("table")))) {
      if (table) label(table);
    }
  });
  // Only children and text: the labels this writes (attributes) do not
  // wake it again.
  for (const table of tables) seen.observe(table, { childList: true, characterData: true, subtree: true });
  return seen;
}
