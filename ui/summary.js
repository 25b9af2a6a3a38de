() => {
  // The phone's summary: where the result column sits under the controls (a narrow screen), a compact copy
  // of the headline (accuracy before -> after, global sparsity, one bar per layer) stands just under the
  // amount slider and scope, and stays at the top while the rest of the controls scroll (never over the slider). It mirrors #accuracy-panel and
  // #sparsity-chart as the page shows them: the server's answers, the drag preview's repaints and their
  // dimming (.pl-stale). It carries no copy of their ids. A tap on it opens the Result tab at the panel.
  if (window.pruningLabSummary) return;
  window.pruningLabSummary = true;
  const q = (selector, root = document) => root.querySelector(selector);
  const text = (selector, root) => { const el = q(selector, root); return el ? el.textContent.trim() : ""; };
  const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const mirror = document.createElement("div");
  mirror.id = "phone-summary";
  mirror.className = "pl-mini";
  mirror.setAttribute("aria-hidden", "true");       // the panel itself is what a screen reader reads
  mirror.hidden = true;
  let shown = null;

  const html = (panel, chart) => {
    const value = q(".pl-after-value", panel);
    if (!value) return "";
    const before = (text(".pl-big", panel).split("→")[0] || "").trim();
    const tone = [...value.classList].find((c) => /^pl-(good|warn|bad)$/.test(c)) || "";
    const change = text(".pl-change", panel).replace(/[()]|\s*points/g, "");
    const [global] = chart ? chart.querySelectorAll(".pl-summary b") : [];
    const bars = chart ? [...chart.querySelectorAll(".pl-row")].map((row) => {
      const name = (q(".pl-name", row) || { firstChild: null }).firstChild;
      const bar = q(".pl-after", row), after = text(".pl-value b", row);
      return `<span class="pl-mini-layer"><span class="pl-mini-track"><span class="pl-mini-fill" ` +
        `style="height:${esc(bar ? bar.style.width : "0%")}"></span></span>` +
        `<small>${esc(name ? name.textContent : "")}</small><small class="pl-mini-value">${esc(after)}</small></span>`;
    }).join("") : "";
    return `<div class="pl-mini-head"><span class="pl-mini-accuracy">${esc(before)} → ` +
      `<b class="${tone}">${esc(value.textContent)}</b> <small>(${esc(change)})</small></span>` +
      `<span class="pl-mini-sparsity">global sparsity <b>${esc(global ? global.textContent : "")}</b></span></div>` +
      `<div class="pl-mini-bars">${bars}</div>`;
  };
  const place = () => {
    const anchor = (q("#amount-slider") || q("#scope-radio") || { closest: () => null }).closest("#controls > *");
    if (anchor && anchor.nextElementSibling !== mirror) anchor.after(mirror);
  };
  // Whether the result tabs sit under the controls, not beside them: measured when either box changes size
  // (a ResizeObserver runs after layout, so reading positions there forces none; the row wraps only when
  // the boxes' widths change), not on every answer.
  let stacked = false;
  const watched = new WeakSet();
  const sizes = new ResizeObserver(() => {
    const controls = q("#controls"), tabs = q("#result-tabs");
    stacked = !!(controls && tabs) && tabs.getBoundingClientRect().top >= controls.getBoundingClientRect().bottom - 1;
    soon();
  });
  const watch = () => [q("#controls"), q("#result-tabs")].forEach((box) => {
    if (box && !watched.has(box)) { watched.add(box); sizes.observe(box); }
  });
  const update = () => {
    const panel = q("#accuracy-panel"), chart = q("#sparsity-chart");
    watch();
    place();
    const made = panel ? html(panel, chart) : "";
    if (made !== shown) { mirror.innerHTML = made; shown = made; }
    const stale = !!panel && (panel.classList.contains("pl-stale") || (chart && chart.classList.contains("pl-stale")));
    if (mirror.classList.contains("pl-stale") !== stale) mirror.classList.toggle("pl-stale", stale);
    const hide = !made || !stacked;
    if (mirror.hidden !== hide) mirror.hidden = hide;
  };
  let queued = false;
  const soon = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; update(); }); } };
  new MutationObserver(soon).observe(document.body, {
    childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["class", "style"] });
  window.addEventListener("resize", soon);
  document.addEventListener("input", soon, true);    // the drag preview repaints on input: follow at once
  mirror.addEventListener("click", () => {
    const tab = [...document.querySelectorAll("#result-tabs [role=tab]")].find((b) => b.textContent.trim() === "Result");
    if (tab && tab.getAttribute("aria-selected") !== "true") tab.click();
    setTimeout(() => { const panel = q("#accuracy-panel"); if (panel) panel.scrollIntoView({ block: "start" }); }, 50);
  });
  update();
}
