// Before a drag: remember the text, and stamp performance.now() the moment the DOM holds a new one
// (the observer's callback runs right after the mutation, before paint). offset: page clock -> epoch ms.
([selector, needle]) => {
  const p = window.__probe, text = () => (document.querySelector(selector) || {}).textContent || '';
  const old = text();
  Object.assign(p, {up: null, change: null, sent: null, chunks: [], offset: Date.now() - performance.now()});
  p.done = new Promise(resolve => { p.resolve = resolve; });
  if (p.observer) p.observer.disconnect();
  p.observer = new MutationObserver(() => {
    const now = text();
    if (p.change === null && now !== old && now.includes(needle)) {
      p.change = performance.now(); p.observer.disconnect(); p.resolve(true); }
  });
  p.observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}
