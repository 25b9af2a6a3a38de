// Before a drag: remember the text (or, with an attribute, the watched element's attribute: the app's
// accuracy panel numbers each server answer in data-answer, since its drag preview changes the text before
// any answer), and stamp performance.now() the moment the DOM holds a new one (the observer's callback runs
// right after the mutation, before paint). offset: page clock -> epoch ms.
([selector, needle, attribute]) => {
  const p = window.__probe, element = () => document.querySelector(selector) || {getAttribute: () => null};
  const text = () => element().textContent || '';
  const mark = () => attribute ? element().getAttribute(attribute) : text();
  const old = mark();
  Object.assign(p, {up: null, change: null, sent: null, chunks: [], offset: Date.now() - performance.now()});
  p.done = new Promise(resolve => { p.resolve = resolve; });
  if (p.observer) p.observer.disconnect();
  p.observer = new MutationObserver(() => {
    if (p.change === null && mark() !== old && text().includes(needle)) {
      p.change = performance.now(); p.observer.disconnect(); p.resolve(true); }
  });
  p.observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: !!attribute});
}
