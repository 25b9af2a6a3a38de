() => {
  // The accuracy curves (ui/curves.py). A tap or click on a plot reads the points near it in a label
  // drawn on the plot (touch has no hover titles). The view is dimmed, saying what to press, once the
  // page's model is not the one it was drawn for; its star once the page's setting has moved on.
  if (window.pruningLabCurves) return;
  window.pruningLabCurves = true;
  const NS = "http://www.w3.org/2000/svg";
  const NEAR = 12;                                    // plot units around a tap that count as "on" a point
  const READABLE = ".pl-point, .pl-star, .pl-pinned";
  const centre = (el) => {
    if (el.dataset.x) return [Number(el.dataset.x), Number(el.dataset.y)];
    const box = el.getBBox();
    return [box.x + box.width / 2, box.y + box.height / 2];
  };
  const lines = (el) => {                           // "method · scope · amount" / "sparsity · accuracy"
    const text = (el.querySelector("title") || {}).textContent || "";
    const cut = text.indexOf(" · sparsity");
    return cut < 0 ? [text] : [text.slice(0, cut), text.slice(cut + 3)];
  };
  const label = (svg, points) => {
    svg.querySelectorAll(".pl-tip").forEach((old) => old.remove());
    if (!points.length) return;
    const tip = document.createElementNS(NS, "g");
    tip.setAttribute("class", "pl-tip");
    tip.setAttribute("pointer-events", "none");
    const box = document.createElementNS(NS, "rect");
    tip.appendChild(box);
    points.flatMap((p) => lines(p.el)).forEach((line, i) => {
      const text = document.createElementNS(NS, "text");
      text.setAttribute("x", "5");
      text.setAttribute("y", String(14 + 14 * i));
      text.textContent = line;
      tip.appendChild(text);
    });
    svg.appendChild(tip);                                 // last: above every line, marker and pin
    const size = tip.getBBox(), view = svg.viewBox.baseVal, [x, y] = points[0].at;
    box.setAttribute("width", String(size.width + 10));
    box.setAttribute("height", String(size.height + 8));
    box.setAttribute("rx", "3");
    const left = Math.max(2, Math.min(x - size.width / 2, view.width - size.width - 12));
    const top = y - size.height - 16 > 2 ? y - size.height - 16 : Math.min(y + 12, view.height - size.height - 10);
    tip.setAttribute("transform", `translate(${left.toFixed(1)},${top.toFixed(1)})`);
  };
  document.addEventListener("click", (event) => {
    const svg = event.target instanceof Element ? event.target.closest("#pl-curves svg.pl-curve-panel") : null;
    document.querySelectorAll("#pl-curves .pl-tip").forEach((tip) => { if (tip.ownerSVGElement !== svg) tip.remove(); });
    if (!svg) return;
    const tap = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
    const near = [...svg.querySelectorAll(READABLE)]
      .filter((el) => el.getClientRects().length > 0)            // a method ticked off is not drawn
      .map((el) => { const at = centre(el); return { el, at, d: Math.hypot(at[0] - tap.x, at[1] - tap.y) }; })
      .filter((p) => p.d <= NEAR).sort((a, b) => a.d - b.d).slice(0, 3);
    label(svg, near);
  });
  // Keys: a plot takes the focus (Tab); arrows step through its visible points left to right, Home/End
  // go to the ends, Escape closes the label. What the label says is also read out (a polite live region).
  const STEP = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  document.addEventListener("keydown", (event) => {
    const svg = event.target instanceof Element ? event.target.closest("#pl-curves svg.pl-curve-panel") : null;
    if (!svg || !(event.key in STEP || ["Home", "End", "Escape"].includes(event.key))) return;
    event.preventDefault();
    if (event.key === "Escape") { label(svg, []); return; }
    const points = [...svg.querySelectorAll(READABLE)].filter((el) => el.getClientRects().length > 0)
      .map((el) => ({ el, at: centre(el) })).sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]);
    if (!points.length) return;
    const was = Number(svg.dataset.cursor ?? -1);
    const next = event.key === "Home" ? 0 : event.key === "End" ? points.length - 1
      : Math.max(0, Math.min(points.length - 1, was < 0 ? 0 : was + STEP[event.key]));
    svg.dataset.cursor = String(next);
    label(svg, [points[next]]);
    const view = svg.closest("#pl-curves");
    let said = view.querySelector(".pl-curve-said");
    if (!said) {
      said = document.createElement("span");
      said.className = "pl-curve-said";
      said.setAttribute("aria-live", "polite");
      view.appendChild(said);
    }
    said.textContent = lines(points[next].el).join(", ");
  });
  const model = () => {                                // the page's model: its dropdown, else its last answer
    const input = document.querySelector("#model-dropdown input");
    const panel = document.querySelector("#accuracy-panel");
    return (input && input.value) || (panel && panel.dataset.line ? panel.dataset.line.split("|")[0] : null);
  };
  const mark = () => {
    const panel = document.querySelector("#accuracy-panel");
    document.querySelectorAll("#pl-curves[data-model]").forEach((view) => {
      const now = model(), star = view.querySelector(".pl-star[data-setting]");
      const old = !!now && now !== view.dataset.model;
      const moved = !old && !!star && !!panel && !!panel.dataset.setting && star.dataset.setting !== panel.dataset.setting;
      view.classList.toggle("pl-curves-old", old);
      view.classList.toggle("pl-star-moved", moved);
      const text = old ? ` — the model is now ${now}: ${view.dataset.again} to update`
        : moved ? ` — ★ shows an earlier setting: ${view.dataset.again} to move it` : "";
      const note = view.querySelector(".pl-curves-stale");
      if (note && note.textContent !== text) note.textContent = text;
    });
  };
  document.addEventListener("input", mark, true);
  document.addEventListener("change", mark, true);
  new MutationObserver(mark).observe(document.body, { childList: true, subtree: true, characterData: true });
  mark();
}
