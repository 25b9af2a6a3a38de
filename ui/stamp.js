() => {
  // Stale views: every view made for one setting carries a stamp (<p class="pl-for" data-setting>);
  // when the page's current setting (the accuracy panel's data-setting, or a control moved since its
  // last answer) differs, the stamp's view is dimmed and the stamp says what to press to update it.
  if (window.pruningLabStamps) return;
  window.pruningLabStamps = true;
  let pending = false;                    // a control moved and the server has not answered yet
  const current = () => { const p = document.querySelector("#accuracy-panel"); return p ? p.dataset.setting : null; };
  const view = (stamp) => stamp.closest(".block") || stamp.parentElement;
  const mark = () => {
    const now = current();
    document.querySelectorAll(".pl-for[data-setting]").forEach((stamp) => {
      const stale = pending || (now !== null && now !== undefined && stamp.dataset.setting !== now);
      view(stamp).classList.toggle("pl-view-stale", stale);
      const note = stamp.querySelector(".pl-for-stale");
      const text = stale ? ` — the setting has changed: ${stamp.dataset.again} to update` : "";
      if (note && note.textContent !== text) note.textContent = text;   // unchanged: no mutation, no loop
    });
  };
  const moved = (event) => {
    const target = event.target;
    if (target instanceof Element && target.closest("#controls")) { pending = true; mark(); }
  };
  document.addEventListener("input", moved, true);
  document.addEventListener("change", moved, true);
  new MutationObserver(() => {
    const panel = document.querySelector("#accuracy-panel");
    const answer = panel ? panel.dataset.answer : null;
    if (answer !== window.pruningLabStampAnswer) { window.pruningLabStampAnswer = answer; pending = false; }
    mark();
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
