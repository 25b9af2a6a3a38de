() => {
  // The drag preview: while the amount slider moves, the bars, global sparsity and accuracy follow the
  // thumb from the measured grid points the server sent (#grid-data); where there is no point, or the
  // setting has changed since the server's last answer, the last numbers stay, dimmed. No round trip.
  if (window.pruningLabPreview) return;
  window.pruningLabPreview = true;
  const q = (selector, root = document) => root.querySelector(selector);
  let changedAt = null;        // the answer number shown when another control changed (null: none pending)

  const domLine = () => {
    const model = q("#model-dropdown input"), method = q("#method-dropdown input");
    const scope = q("#scope-radio input:checked");
    return model && method && scope ? `${model.value}|${method.value}|${scope.value}` : null;
  };
  const grid = () => {
    const holder = q("#grid-data [data-grid]");
    if (!holder) return null;
    try { return { line: holder.dataset.line, ...JSON.parse(holder.dataset.grid) }; } catch (e) { return null; }
  };
  const dim = (on) => {
    for (const id of ["#accuracy-panel", "#sparsity-chart"]) { const el = q(id); if (el) el.classList.toggle("pl-stale", on); }
  };
  const count = (n) => n.toLocaleString("en-US");
  const paint = (panel, chart, p, totals) => {
    const [after, change, tone, global, nonzero, layers] = p;
    const value = q(".pl-after-value", panel);
    value.textContent = `${after}%`;
    value.className = `pl-after-value pl-${tone}`;
    q(".pl-change", panel).textContent = `(${change} points)`;
    chart.querySelectorAll(".pl-row").forEach((row, i) => {
      if (!layers[i]) return;
      q(".pl-after", row).style.width = `${layers[i][0]}%`;
      q(".pl-value b", row).textContent = `${layers[i][0]}%`;
      q(".pl-value small", row).textContent = `${count(layers[i][1])} / ${count(totals[i])} zero`;
    });
    const [globalText, nonzeroText] = chart.querySelectorAll(".pl-summary b");
    globalText.textContent = `${global}%`;
    nonzeroText.textContent = count(nonzero);
  };
  const show = (raw) => {
    const panel = q("#accuracy-panel"), chart = q("#sparsity-chart"), data = grid();
    if (!panel || !chart) return;
    const step = Math.round(Number(raw) * 100);         // the slider's 0.01 steps: 0 .. 99
    panel.dataset.preview = (step / 100).toFixed(2);
    const current = data && data.points && data.line === panel.dataset.line && data.line === domLine()
      && (changedAt === null || changedAt !== panel.dataset.answer);
    const p = current ? data.points[step] : undefined;
    if (p) paint(panel, chart, p, data.totals);
    dim(!p);
  };
  document.addEventListener("input", (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !target.closest("#controls")) return;
    if (target.closest("#amount-slider")) { show(target.value); return; }
    changedAt = (q("#accuracy-panel") || {dataset: {}}).dataset.answer;   // an advanced option moved
    dim(true);
  }, true);
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof Element && target.closest("#controls") && !target.closest("#amount-slider")) {
      changedAt = (q("#accuracy-panel") || {dataset: {}}).dataset.answer;
      dim(true);
    }
  }, true);
  // Keys move the thumb without a pointer: answer them like a release (Gradio listens for pointerup).
  const KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"]);
  document.addEventListener("keyup", (event) => {
    const target = event.target;
    if (KEYS.has(event.key) && target instanceof Element && target.matches("#amount-slider input[type=range]")) {
      target.dispatchEvent(new PointerEvent("pointerup", { bubbles: true }));
    }
  }, true);
}
