"""Browser latency (issues 13, 22): amount slider released -> the server's answer in the page, timed inside
headless Chromium, for the app (a setting the server has measured: a grid setting; and one measured for
the first time) and for a minimal Gradio app, alternated in one run; and where an event's time goes."""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (CHROMIUM, CHROMIUM_FLAGS, event_outputs, output_sizes, free_port, machine_reference, mnist_dir,
                          profiling_traces, record, start_script, stop, wait_for_server)

RATIO_TARGET = 1.3           # app (lenet) / minimal app, median of per-round ratios
SETTLE_MS = 600              # after the text changed: the rest of the outputs render, the stream closes
DRAG = (0.5, 0.6)            # fractions of the slider's track: the drag goes there and back, alternately
FIRST_TIME_END = (0.65, 0.015)  # first-time page: each round's drag ends further on (a setting never measured)
# The minimal app: what Gradio itself costs (one slider .release -> one Markdown, the app's queue settings)
MINIMAL_APP = """
import gradio as gr
with gr.Blocks(analytics_enabled=False) as demo:
    amount = gr.Slider(0, 0.99, value=0.5, step=0.01, label="Amount", elem_id="amount-slider")
    shown = gr.Markdown("amount 0.50", elem_id="minimal-output")
    amount.release(lambda value: f"amount {value:.2f}", amount, shown)
demo.queue(max_size=64, default_concurrency_limit=2)
demo.launch()
"""
# In the page before its own scripts (what it stamps and why: the file's comments), and before a drag
PROBE_JS = (Path(__file__).parent / "browser_probe.js").read_text()   # stamps, stream tee, long tasks
ARM_JS = "\n".join(line for line in (Path(__file__).parent / "browser_arm.js").read_text().splitlines()
                   if not line.startswith("//")).strip()                # waits for the new text
WAIT_JS = "ms => Promise.race([window.__probe.done, new Promise(r => setTimeout(() => r(false), ms))])"
NETWORK_EVENTS = ["Network.requestWillBeSent", "Network.dataReceived"]
# One event's steps, in order (gradio's own work around the function is counted before it, as one step)
TIMELINE = ["client: mouse-up -> request sent", "request sent -> queued (HTTP)", "server: queue wait",
            "server: gradio around the function", "server: function", "server done -> answer in the page",
            "browser: answer -> text changed"]
PAGE_METRICS = {"ScriptDuration": "script", "TaskDuration": "task", "LayoutDuration": "layout",
                "RecalcStyleDuration": "style"}


@dataclass
class Trial:
    """One drag, as the page, the network (CDP) and the server saw it. Times in epoch ms (the page's clock,
    set against the wall clock at each drag); sizes in bytes."""

    up: float
    change: float
    page_ms: dict[str, float]                        # main-thread work during the event, by kind
    long_task_ms: float = 0.0                        # long tasks after the response arrived
    sent: int = 0                                    # request bodies to /gradio_api/ (the inputs)
    received: int = 0                                # response bodies from /gradio_api/ (the SSE stream)
    request_at: float | None = None                  # queue/join sent
    response_at: float | None = None                 # the process_completed message in page scripts' hands
    outputs: list[str] = field(default_factory=list)  # each output's JSON, as sent
    session: str | None = None
    server: dict | None = None                       # gradio's profiling trace of this event
    round: int = 0                                   # rounds pair the pages' trials for ratios

    @property
    def latency(self) -> float:
        return self.change - self.up


@dataclass
class Target:
    """A page to drag on: the text to watch, its network events (CDP, in arrival order), its trials."""

    name: str
    page: object
    cdp: object
    selector: str
    needle: str
    url: str
    attribute: str | None = None                             # watched instead of the text (the app's answer number)
    net: list = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)   # the event's outputs, named by the app's config
    misses: int = 0


def open_target(context, name: str, url: str, selector: str, needle: str, model: str | None = None,
                attribute: str | None = None) -> Target:
    """A new page on `url`, probed and listened to, shown once `selector` holds `needle` (for `model`)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    target = Target(name, page, cdp, selector, needle, url, attribute)
    for domain in ("Network", "Performance"):
        cdp.send(f"{domain}.enable")
    for method in NETWORK_EVENTS:
        cdp.on(method, lambda params, method=method: target.net.append((method, params)))
    page.add_init_script(PROBE_JS)
    page.goto(url)
    has_text = "([s, n]) => (document.querySelector(s) || {}).textContent?.includes(n)"
    page.wait_for_function(has_text, arg=[selector, needle], timeout=120_000)
    if model:                                                  # the panel names the model: "(convnet)."
        page.get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name=model).click()
        page.wait_for_function(has_text, arg=[selector, f"({model})"], timeout=120_000)
    page.wait_for_timeout(SETTLE_MS)
    target.output_names = event_outputs(url, "update_page" if selector == "#accuracy-panel" else "lambda")
    return target


def drag(page, start: float, end: float) -> None:
    """The same short drag on every page: from `start` to `end` (fractions of the amount slider's track)."""
    box = page.locator("#amount-slider input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + end * box["width"], y, steps=5)
    page.mouse.up()


def page_metrics(cdp) -> dict[str, float]:
    values = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {short: 1000 * values[name] for name, short in PAGE_METRICS.items()}


def one_trial(target: Target, start: float, end: float) -> Trial | None:
    """Drag, wait until the page saw the new text, let it settle; None if the text never changed."""
    page, mark = target.page, len(target.net)
    page.bring_to_front()
    before = page_metrics(target.cdp)
    page.evaluate(ARM_JS, [target.selector, target.needle, target.attribute])
    drag(page, start, end)
    changed = page.evaluate(WAIT_JS, 60_000)             # no polling: the observer resolves it
    if not changed:
        target.misses += 1
        return None
    page.wait_for_timeout(SETTLE_MS)
    probe = page.evaluate("() => window.__probe")
    after = page_metrics(target.cdp)
    epoch = probe["offset"]                                     # page clock -> epoch ms
    trial = Trial(up=epoch + probe["up"], change=epoch + probe["change"],
                  page_ms={kind: after[kind] - before[kind] for kind in after},
                  request_at=None if probe["sent"] is None else epoch + probe["sent"])
    add_network(trial, target.net[mark:])
    outputs, arrived = completed_message(probe["chunks"])
    trial.outputs = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in outputs]
    if arrived is not None:
        trial.response_at = epoch + arrived
        trial.long_task_ms = sum(d for s, d in probe["longTasks"] if s + d >= arrived and s <= probe["change"])
    return trial


def add_network(trial: Trial, events: list) -> None:
    """Bytes each way to /gradio_api/ (request and response bodies, as CDP saw them); the stream's session."""
    urls = {}
    for method, params in events:
        if method == "Network.requestWillBeSent":
            url = urls[params["requestId"]] = params["request"]["url"]
            if "/gradio_api/" in url:
                trial.sent += len(params["request"].get("postData", "").encode())
            if "/queue/data" in url:
                trial.session = url.split("session_hash=")[-1]
        elif method == "Network.dataReceived" and "/gradio_api/" in urls.get(params["requestId"], ""):
            trial.received += params["dataLength"]


def completed_message(chunks: list) -> tuple[list, float | None]:
    """The process_completed message's output data from the stream's chunks [(page time, text)], and
    when the chunk that completed it reached the page's scripts (None: not seen)."""
    text = ""
    for at, chunk in chunks:
        text += chunk
        for line in text.split("\n")[:-1]:                          # whole lines only
            if line.startswith("data: ") and '"process_completed"' in line:
                return json.loads(line[len("data: "):]).get("output", {}).get("data") or [], at
    return [], None


def match_server_traces(target: Target) -> None:
    """Each trial's own event in gradio's profiling traces (same session, dequeued within the trial:
    a drag fires no other queued event)."""
    traces = profiling_traces(target.url)
    for trial in target.trials:
        found = [t for t in traces if t["session_hash"] == trial.session
                 and trial.up <= 1000 * t["timestamp"] <= trial.change]
        trial.server = found[-1] if found else None


def measure(quick: bool) -> list[Target]:
    """Both servers, one browser, three pages; rounds of minimal, app lenet grid, app lenet first-time drags."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    rounds = 3 if quick else 15
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as temp:
        (Path(temp) / "minimal.py").write_text(MINIMAL_APP)
        ports = free_port(), free_port()
        servers = [start_script([str(Path(temp) / "minimal.py")], ports[0], Path(temp) / "minimal.log"),
                   start_script(["app.py", "--port", str(ports[1]), "--no-precompute"], ports[1],
                                Path(temp) / "app.log",       # its own empty store: first-time is first-time
                                env={"PRUNING_LAB_DATA_DIR": mnist_dir(), "PRUNING_LAB_CACHE_DIR": temp})]
        try:
            minimal, app = (f"http://127.0.0.1:{port}/" for port in ports)
            for url, server, log in zip((minimal, app), servers, ("minimal.log", "app.log")):
                wait_for_server(url, server, Path(temp) / log)
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(Path(temp) / "profile"), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
                    viewport={"width": 1280, "height": 900})
                targets = [open_target(context, "minimal", minimal, "#minimal-output [data-testid=markdown]",
                                       "amount"),
                           open_target(context, "app lenet grid", app, "#accuracy-panel", "%",
                                       attribute="data-answer"),
                           open_target(context, "app lenet first-time", app, "#accuracy-panel", "%",
                                       attribute="data-answer")]
                for i in range(rounds + 1):                            # round 0: warm-up, not kept
                    start, end = DRAG if i % 2 == 0 else DRAG[::-1]
                    for target in targets:                             # grid: the two settings, measured in round 0
                        if "first-time" in target.name:
                            start, end = DRAG[0], FIRST_TIME_END[0] + FIRST_TIME_END[1] * i
                        trial = one_trial(target, start, end)
                        if trial is not None and i > 0:
                            trial.round = i
                            target.trials.append(trial)
                context.close()
            for target in targets:
                match_server_traces(target)
        finally:
            for server in servers:
                stop(server)
    return targets


def segments(trial: Trial) -> dict[str, float]:
    """Where one event's time went, in ms: the TIMELINE steps (they add up to the latency), then the page's
    main-thread work; what could not be measured is left out."""
    server, sent, arrived = trial.server, trial.request_at, trial.response_at
    steps = [trial.up, sent]
    if server:
        dequeued = 1000 * server["timestamp"]
        steps += [dequeued - server["queue_wait_ms"], dequeued, dequeued + server["total_ms"] - server["fn_call_ms"],
                  dequeued + server["total_ms"]]
    steps += [arrived, trial.change]
    out = {}
    if None not in steps and len(steps) == len(TIMELINE) + 1:
        out = {name: b - a for name, a, b in zip(TIMELINE, steps, steps[1:])}
    out["browser: long tasks after the answer"] = trial.long_task_ms
    out.update({f"page main thread: {kind}": ms for kind, ms in trial.page_ms.items()})
    return out


def target_rows(target: Target) -> list[dict]:
    trials = target.trials
    rows = [record(f"browser: {target.name}, release -> text changed", [t.latency for t in trials], "ms", None,
                   misses=target.misses)]
    parts: dict[str, list[float]] = {}
    for trial in trials:
        for part, ms in segments(trial).items():
            parts.setdefault(part, []).append(ms)
    rows += [record(f"  {target.name}: {part}", values, "ms", None) for part, values in parts.items()]
    rows.append(record(f"  {target.name}: bytes sent per event", [t.sent for t in trials], "B", None))
    rows.append(record(f"  {target.name}: bytes received per event", [t.received for t in trials], "B", None,
                       outputs=output_sizes(target)))
    return rows


def rows_of(targets: list[Target]) -> list[dict]:
    minimal, *apps = targets
    rows = [row for target in targets for row in target_rows(target)]
    base = {t.round: t.latency for t in minimal.trials}
    for app, target in zip(apps, (RATIO_TARGET, None)):
        ratios = [t.latency / base[t.round] for t in app.trials if t.round in base]   # same round
        medians = statistics.median(t.latency for t in app.trials) / statistics.median(base.values())
        rows.append(record(f"browser: {app.name} / minimal (per-round ratio)", ratios, "x", target,
                           ratio_of_medians=round(medians, 3)))
    return rows


def run(quick: bool = False) -> list[dict]:
    reference = machine_reference()
    targets = measure(quick)
    if missing := [t.name for t in targets if not t.trials]:
        raise RuntimeError(f"the text never changed after a drag on: {', '.join(missing)}")
    return [reference, *rows_of(targets)]


if __name__ == "__main__":
    from bench.__main__ import print_table
    result = run("--quick" in sys.argv)
    print_table(result)
    for output in (output for row in result for output in row.get("outputs", [])):
        print(output)
