"""Shared benchmark helpers: timing with warm-up, medians, A/B alternation, result records."""
from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT / "data" / "mnist"          # the shipped official test split


def mnist_dir() -> str:
    """The official MNIST test split for benchmarks ($PRUNING_LAB_DATA_DIR, else the shipped data/mnist)."""
    return os.environ.get("PRUNING_LAB_DATA_DIR") or str(DEFAULT_MNIST)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Seconds per call, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    return [timed(fn) for _ in range(repeats)]


def alternate(a: Callable[[], object], b: Callable[[], object], repeats: int,
              warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time A and B alternately in one run (A, B, A, B, ...) so drift hits both alike."""
    for _ in range(warmup):
        a()
        b()
    samples_a, samples_b = [], []
    for _ in range(repeats):
        samples_a.append(timed(a))
        samples_b.append(timed(b))
    return samples_a, samples_b



def alternated_speedups(dense, shrunk, x, repeats: int, evaluate=None) -> tuple[list[float], list[float], list[float]]:
    """Passes of two models over x (`evaluate`, default pruning.evaluate.logits), alternated: dense
    seconds, shrunk seconds, and the per-pair speed-ups dense / shrunk."""
    from pruning.evaluate import logits
    evaluate = evaluate or logits
    dense_s, shrunk_s = alternate(lambda: evaluate(dense, x), lambda: evaluate(shrunk, x), repeats)
    return dense_s, shrunk_s, [d / s for d, s in zip(dense_s, shrunk_s)]

def record(name: str, samples: list[float], unit: str, target: float | None, scale: float = 1.0,
           higher_is_better: bool = False, **extra) -> dict:
    """One result row: median/min/max in `unit` (samples * scale), target and pass/fail."""
    values = [s * scale for s in samples]
    median = statistics.median(values)
    passed = None if target is None else (median >= target if higher_is_better else median <= target)
    target_text = None if target is None else f"{'>=' if higher_is_better else '<='} {target:g} {unit}"
    return {"name": name, "median": median, "min": min(values), "max": max(values), "unit": unit,
            "n": len(values), "target": target_text, "passed": passed, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int, env: dict | None = None) -> subprocess.Popen:
    """`python app.py` on a free port, in its own process (output discarded)."""
    full_env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                **(env or {})}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120.0) -> float:
    """Seconds until `url` answers 200 (polling every 20 ms); raises if the process dies or times out."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# --- browser and served-app helpers (browser_latency, workshop) ---
import json  # noqa: E402  (appended section)
import shutil  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's Chromium, headless and quiet (no background downloads, no QUIC): see ../shared/FACTS.md
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def start_script(args: list[str], port: int, log: Path, env: dict | None = None) -> subprocess.Popen:
    """`python *args` from the repository root, serving on 127.0.0.1:`port`, with gradio's per-event
    profiling on (GET /gradio_api/profiling/traces) and its output into `log`."""
    full_env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_PROFILING": "1", **(env or {})}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)


def profiling_traces(url: str) -> list[dict]:
    """Gradio's per-event server timings (queue_wait_ms, preprocess_ms, fn_call_ms, postprocess_ms,
    total_ms, fn_name, session_hash, timestamp = wall clock at dequeue) of a server run with
    GRADIO_PROFILING=1."""
    with urllib.request.urlopen(url.rstrip("/") + "/gradio_api/profiling/traces", timeout=30) as response:
        return json.loads(response.read())


def event_outputs(url: str, api_name: str) -> list[str]:
    """The outputs of a served Gradio app's event `api_name`, named from its config (label, else elem_id,
    else type); [] if it has no such event."""
    with urllib.request.urlopen(url.rstrip("/") + "/config", timeout=30) as response:
        config = json.loads(response.read())
    components = {c["id"]: c["props"] | {"type": c["type"]} for c in config["components"]}
    event = next((d for d in config["dependencies"] if d.get("api_name") == api_name), {"outputs": []})
    return [components[i].get("label") or components[i].get("elem_id") or components[i]["type"]
            for i in event["outputs"]]


def machine_speed(eval_set, repeats: int) -> dict:
    """A fixed reference in the same run: one plain eager pass of the pretrained lenet over the set.
    The shared 2-core machine's speed drifts by tens of percent within an hour: compare runs by it."""
    from models import get_model_entry
    from pruning.checkpoint import load_pretrained
    from pruning.evaluate import plain_logits, prepared_inputs
    x = prepared_inputs(eval_set, get_model_entry("lenet").input_padding)
    model = load_pretrained("lenet")[0]
    samples = repeat(lambda: plain_logits(model, x), repeats, warmup=1)
    return record("reference: plain eager lenet pass over the set (machine speed)", samples, "ms", None,
                  scale=1000)


def machine_reference() -> dict:
    """The machine-speed row (one plain eager lenet pass over the benchmarks' set), for
    suites that time the served app: on the shared machine, compare runs through it. Three passes
    (after one warm-up) either way: a pass takes 0.1-0.4 s on a quiet machine, seconds on a loaded one."""
    from pruning import default_eval_set
    return machine_speed(default_eval_set(mnist_dir()), 3)


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> float:
    """wait_for_http, and if the server never serves, the end of its output in the error."""
    try:
        return wait_for_http(url, process, timeout)
    except (RuntimeError, TimeoutError) as err:
        raise RuntimeError(f"{err}; its output ends:\n{log.read_text(errors='replace')[-2000:]}") from None


DATA_URL = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")


def output_sizes(target) -> list[dict]:
    """Per output of the event: median JSON bytes, how often it was re-sent unchanged, and the median
    bytes of inline images (data: URLs) in it that the previous event had already sent."""
    names = target.output_names
    trials = [t for t in target.trials if len(t.outputs) == len(names)]   # the stream was read
    pairs = list(zip(trials, trials[1:]))
    return [{"output": name, "bytes": statistics.median(len(t.outputs[i].encode()) for t in trials),
             "unchanged": sum(a.outputs[i] == b.outputs[i] for a, b in pairs), "of": len(pairs),
             "images_resent_bytes": statistics.median([resent_images(a.outputs[i], b.outputs[i])
                                                       for a, b in pairs] or [0])}
            for i, name in enumerate(names)]


def resent_images(previous: str, current: str) -> int:
    """Bytes of the data: URLs in `current` that were already in `previous`."""
    seen = set(DATA_URL.findall(previous))
    return sum(len(url) for url in DATA_URL.findall(current) if url in seen)
