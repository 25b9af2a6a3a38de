"""Workshop (issues 13, 22): simulated participants, each its own page and address (bench.room_client: a light
load generator), change a random setting every 2-5 s against one app server; three of them also run curves, fine-tuning and size & speed. Run with
the settings they reach already in the server's store (the slider grid, warm) and, for comparison, without."""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.room_client import Endpoints, Participant, argument_list, client
from bench.common import (free_port, machine_reference, mnist_dir, percentile, profiling_traces, record,
                          start_script, stop, wait_for_server)

UPDATE_P95_TARGET_S, ERRORS_TARGET = 1.0, 0
THINK_S = (2.0, 5.0)         # a participant's pause between two changes
CLIENT_TIMEOUT_S = 120.0     # per HTTP request; the event stream gets heartbeats every 15 s
MODELS = ["lenet", "convnet", "mlp"]
AMOUNTS = [round(0.05 * i, 2) for i in range(1, 20)]              # 0.05 .. 0.95
# The page's defaults (app.py), in /update's argument order; participants change model, method, amount, scope.
DEFAULT = {"model": "lenet", "method": "l1_unstructured", "amount": 0.5, "threshold": 0.05, "scope": "global",
           "per_type": False, "conv_amount": 0.2, "linear_amount": 0.4, "layer_types": ["conv", "linear"],
           "calibration_size": 256, "norm": "L1", "seed": 0}
HEAVY = [("/curves", ["amount"]), ("/finetune", [100]), ("/size", [])]   # participants 0, 1, 2 (UI defaults)
UPDATE = "/update"


@dataclass
class Workshop:
    """What the participants saw: seconds per call by endpoint, and the errors."""

    participants: int
    seconds: float
    grid: str = "grid warm"                                 # whether the settings were in the store
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    by_model: dict[str, list[float]] = field(default_factory=dict)   # /update seconds by model
    server: list[dict] = field(default_factory=list)        # gradio's profiling traces of the run
    server_log: str = ""                                    # the end of the server's output
    cpu_s: dict[str, float] = field(default_factory=dict)   # CPU seconds used during the run, by side

    async def call(self, page: Participant, api_name: str, args: list) -> None:
        start = time.perf_counter()
        try:
            await page.call(api_name, args)
        except Exception as err:  # noqa: BLE001  (counted: the target is none)
            self.errors.append(f"{api_name} {args[:3]}: {type(err).__name__}: {str(err)[:200]}")
        seconds = time.perf_counter() - start
        self.latencies.setdefault(api_name, []).append(seconds)
        if api_name == UPDATE:
            self.by_model.setdefault(args[0], []).append(seconds)


def changed(setting: dict, rng: random.Random, methods: list[str]) -> dict:
    """The setting with one of model, method, amount, scope changed to a different value."""
    choices = {"model": MODELS, "method": methods, "amount": AMOUNTS, "scope": ["local", "global"]}
    key = rng.choice(list(choices))
    return {**setting, key: rng.choice([v for v in choices[key] if v != setting[key]])}


def device(index: int) -> str:
    """The address a participant arrives from, as each device in a room does: the server (uvicorn) trusts
    X-Forwarded-For from 127.0.0.1, so per-address limits see 30 devices, not one."""
    return f"10.13.{(index + 2) // 250}.{(index + 2) % 250}"


def update_args(setting: dict, defaults: list) -> list:
    """/update's arguments: the setting, then the defaults of any arguments after it (controls that the
    participants leave alone)."""
    return argument_list(setting, defaults)


async def participant(index: int, page: Participant, run: Workshop, start_at: float, methods: list[str]) -> None:
    """One person: open the page (an /update), then every 2-5 s change one setting; the first three
    also run their heavy tab after each change."""
    rng = random.Random(index)
    defaults = page.endpoints.defaults[UPDATE]
    setting = {**DEFAULT, "model": MODELS[index % len(MODELS)]}
    await asyncio.sleep(max(0.0, start_at - time.monotonic()) + rng.uniform(0, 2))   # not all in the same instant
    await run.call(page, UPDATE, update_args(setting, defaults))
    deadline = start_at + run.seconds
    while time.monotonic() + 2 < deadline:
        await asyncio.sleep(min(rng.uniform(*THINK_S), max(0.0, deadline - time.monotonic())))
        setting = changed(setting, rng, methods)
        await run.call(page, UPDATE, update_args(setting, defaults))
        if index < len(HEAVY):
            api_name, args = HEAVY[index]
            await run.call(page, api_name, argument_list(dict(enumerate(args)), page.endpoints.defaults[api_name]))


async def room(url: str, run: Workshop, methods: list[str], warmed: Any = None) -> None:
    """The presenter's warm-up (the page once per model: checkpoints loaded), `warmed()`, then every
    participant at once."""
    async with client(CLIENT_TIMEOUT_S) as http:
        endpoints = await Endpoints.read(http, url)
        presenter = Participant(http, endpoints, device(-1))
        for model in MODELS:
            await presenter.call(UPDATE, update_args({**DEFAULT, "model": model}, endpoints.defaults[UPDATE]))
        if warmed is not None:
            warmed()
        start_at = time.monotonic() + 1.0
        pages = [Participant(http, endpoints, device(i)) for i in range(run.participants)]
        await asyncio.gather(*(participant(i, page, run, start_at, methods) for i, page in enumerate(pages)))


GRID_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pruning-lab-bench" / "workshop"


def warm_grid(directory: Path = GRID_CACHE) -> dict:
    """The store of a server whose slider grid has reached every setting the participants pick (each
    model x method x scope at the 0.05 amount steps, the threshold and N:M defaults), measured here
    once (minutes) and kept for later runs; what it holds."""
    os.environ["PRUNING_LAB_DATA_DIR"] = mnist_dir()
    from pruning import default_eval_set, runtime
    from pruning.grid import GridFiller
    from pruning.store import MeasurementStore
    runtime.start()
    store = MeasurementStore(directory / "measurements.sqlite")
    filler = GridFiller(store, default_eval_set(), MODELS)
    filler.settings = [c for c in filler.settings if (c.amount in AMOUNTS or not c.method_entry.uses_amount)
                       and c.threshold == DEFAULT["threshold"] and c.nm == "2:4"]
    started = time.perf_counter()
    filler.start()
    while filler.status().running:            # the thread ends when every setting is in the store
        time.sleep(1.0)
    return {"settings": len(filler.settings), "entries": len(store), "mb": round(store.size_bytes() / 2**20, 2),
            "fill_s": round(time.perf_counter() - started, 1)}


def workshop(quick: bool = False, participants: int | None = None, seconds: float | None = None,
             watch: Any = None, cache: Path | None = None) -> Workshop:
    """Start `python app.py`, warm it up, then all participants at once for the run's length; `watch`
    (e.g. bench.room_soak's RSS sampler) is started with the server's pid after the warm-up and
    finished after the participants leave, before the server stops."""
    from pruning import list_methods
    run = Workshop(participants=participants or (8 if quick else 30), seconds=seconds or (20.0 if quick else 120.0))
    with tempfile.TemporaryDirectory(prefix="workshop-") as temp:
        port, log = free_port(), Path(temp) / "server.log"
        server = start_script(["app.py", "--port", str(port), "--no-precompute"], port, log,   # nothing else runs
                              env={"PRUNING_LAB_DATA_DIR": mnist_dir(), "GRADIO_TEMP_DIR": str(Path(temp) / "g"),
                                   "PRUNING_LAB_CACHE_DIR": str(cache or Path(temp) / "cache")})
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for_server(url, server, log)
            marks = {}

            def warmed() -> None:                               # after the warm-up, before the participants
                marks.update(traces=len(profiling_traces(url)), cpu=cpu_seconds(server.pid))
                if watch is not None:
                    watch.start(server.pid)
            asyncio.run(room(url, run, list_methods(), warmed))
            warm_traces, cpu_before = marks["traces"], marks["cpu"]
            run.cpu_s = {who: round(after - before, 1) for (who, after), before
                         in zip(cpu_seconds(server.pid).items(), cpu_before.values())}
            run.server = [t for t in profiling_traces(url)[warm_traces:] if t["fn_name"] == UPDATE.strip("/")]
            if watch is not None:
                watch.finish()
        finally:
            stop(server)
            run.server_log = log.read_text(errors="replace")[-3000:]
    return run


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of the server with its child processes, and of this process
    (the participants' clients): how much of the machine each side got."""
    import psutil

    def used(process: psutil.Process) -> float:
        return sum(process.cpu_times()[:2])
    server = psutil.Process(server_pid)
    return {"server": used(server) + sum(used(child) for child in server.children(recursive=True)),
            "participants": used(psutil.Process())}


def metrics(run: Workshop) -> list[dict]:
    who = f"{run.participants} participants, {run.seconds:.0f} s, {run.grid}"
    updates = run.latencies.get(UPDATE) or [float("nan")]
    by_model = {model: {"n": len(times), "p50": round(statistics.median(times), 3),
                         "p95": round(percentile(times, 0.95), 3)} for model, times in run.by_model.items()}
    rows = [record(f"workshop: /update latency p50 ({who})", updates, "s", None,
                   per_second=round(len(updates) / run.seconds, 2), by_model=by_model, cpu_s=run.cpu_s),
            record(f"workshop: /update latency p95 ({who})", [percentile(updates, 0.95)], "s",
                   UPDATE_P95_TARGET_S),
            record(f"workshop: errors ({who})", [float(len(run.errors))], "count", ERRORS_TARGET,
                   first_errors=run.errors[:5])]
    rows.append(capacity(run, len(updates)))
    for part in ("queue_wait", "fn_call"):                         # where /update's time went, server side
        seconds = [t[f"{part}_ms"] / 1000 for t in run.server]
        if seconds:
            rows.append(record(f"  workshop: /update server {part.replace('_', ' ')} (p50; p95 in extra)",
                               seconds, "s", None, p95=round(percentile(seconds, 0.95), 3)))
    for api_name, _ in HEAVY:
        if run.latencies.get(api_name):
            rows.append(record(f"  workshop: {api_name} heavy-tab latency, wait + run (1 participant; p95 in extra)",
                               run.latencies[api_name], "s", None, p95=round(percentile(run.latencies[api_name], 0.95), 2)))
    return rows


def capacity(run: Workshop, updates: int) -> dict:
    """The CPU the room asks for against the cores there are: participants / mean think time changes a
    second, each costing what the server spent per /update served (heavy tabs included). Above 1, no
    scheduling meets a latency target: the queue, not the code, sets the p95."""
    per_update = run.cpu_s.get("server", 0.0) / max(1, updates)
    asked = run.participants / statistics.mean(THINK_S) * per_update
    return record(f"  workshop: CPU the room asks / cores ({run.participants} participants)",
                  [asked / (os.cpu_count() or 1)], "x", None, server_cpu_s_per_update=round(per_update, 3),
                  changes_asked_per_s=round(run.participants / statistics.mean(THINK_S), 2))


def run(quick: bool = False) -> list[dict]:
    """The room of 30 and of 100 with the grid warm (quick: 8), then 30 (quick: 8) without it."""
    reference, grid = machine_reference(), warm_grid()
    rows = [reference, record("workshop: store at the participants' grid", [grid["mb"]], "MB", None, **grid)]
    for participants in ((8,) if quick else (30, 100)):
        rows += metrics(workshop(quick, participants, cache=GRID_CACHE))
    cold = workshop(quick, 8 if quick else 30)
    cold.grid = "grid cold (empty store)"
    return rows + metrics(cold)


if __name__ == "__main__":
    from bench.__main__ import print_table
    print("grid:", warm_grid())
    count = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--participants=")), None)
    outcome = workshop("--quick" in sys.argv, count, cache=None if "--cold" in sys.argv else GRID_CACHE)
    print({name: len(times) for name, times in outcome.latencies.items()}, "calls;",
          len(outcome.errors), "errors")
    for error in outcome.errors[:6]:
        print("ERROR", error)
    if outcome.errors:
        print("server output (end):\n" + outcome.server_log)
    rows = metrics(outcome)
    print_table(rows)
    print("/update by model:", rows[0]["by_model"], "; CPU seconds used:", outcome.cpu_s)
