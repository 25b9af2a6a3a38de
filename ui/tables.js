() => {
  // Tables that fit: every cell of a text table (Markdown's, in the tabs) is labelled with its column's
  // header (data-label), and a table wider than its box, words kept whole, is shown stacked instead
  // (one card per row, "header  value" per line; style.css .pl-stack). Checked again when a table's text
  // or its box's width changes. The confusion tables are sized by style.css and left alone here.
  if (window.pruningLabTables) return;
  window.pruningLabTables = true;
  const fit = (table) => {
    const box = table.closest("div");                       // Markdown wraps its table in an inline span
    if (!box || box.clientWidth === 0) return;               // in a hidden tab: checked once it shows
    const key = `${box.clientWidth}|${table.textContent.length}|${table.rows.length}`;
    if (table.dataset.fitKey === key) return;
    table.dataset.fitKey = key;
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.cells].forEach((cell, i) => { if (heads[i] && cell.dataset.label !== heads[i]) cell.dataset.label = heads[i]; });
    }
    table.classList.remove("pl-stack");
    if (table.offsetWidth > box.clientWidth + 1) table.classList.add("pl-stack");
  };
  const all = () => document.querySelectorAll("#result-tabs .prose table").forEach((t) => { if (!t.closest(".pl-confusion")) fit(t); });
  let queued = false;
  const soon = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; all(); }); } };
  new MutationObserver(soon).observe(document.body, { childList: true, subtree: true, characterData: true,
    attributes: true, attributeFilter: ["class", "style", "aria-selected"] });
  window.addEventListener("resize", soon);
  soon();
}
