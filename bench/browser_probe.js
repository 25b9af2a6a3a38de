// Injected into every page before its own scripts (bench/browser_latency.py: PROBE_JS), all on the page's
// performance.now() clock: the mouse-up (capture phase: before Gradio's handlers), every long task (> 50 ms),
// when the event was sent (fetch of queue/join), and each chunk of the event stream (queue/data) as page
// scripts get it. The stream is teed: our branch is read first, so its stamp precedes Gradio's handling.
const probe = window.__probe = {up: null, change: null, sent: null, chunks: [], longTasks: []};
document.addEventListener('pointerup', e => { probe.up = e.timeStamp; }, true);
new PerformanceObserver(list => { for (const t of list.getEntries())
  probe.longTasks.push([t.startTime, t.duration]); }).observe({type: 'longtask', buffered: true});
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const url = String(args[0]?.url || args[0]);
  if (url.includes('/queue/join')) probe.sent = performance.now();
  const response = await realFetch(...args);
  if (!url.includes('/queue/data') || !response.body) return response;
  const [ours, theirs] = response.body.tee();
  (async () => { const reader = ours.getReader(), decoder = new TextDecoder();
    for (;;) { const {done, value} = await reader.read(); if (done) break;
      probe.chunks.push([performance.now(), decoder.decode(value, {stream: true})]); } })();
  return new Response(theirs, {status: response.status, statusText: response.statusText, headers: response.headers});
};
