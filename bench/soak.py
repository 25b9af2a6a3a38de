"""Soak: 1,000 mixed requests against one `python app.py` process; its resident memory after warm-up
must not grow by more than 50 MB. Also: errors, latency under load, the worst-case request, temp files."""
from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from gradio_client import Client, handle_file

from bench.common import ROOT, free_port, mnist_dir, record, stop, wait_for_http

WORKERS, SESSIONS_PER_WORKER = 4, 2          # 8 sessions, 4 requests in flight (the app runs 2 at a time)
MODELS = ["mlp"] * 4 + ["lenet"] * 4 + ["convnet"] * 2
METHODS = ["l1_unstructured"] * 4 + ["ln_structured"] * 2 + ["random_unstructured", "random_structured",
                                                            "threshold", "gradient", "taylor", "activation"]
DEFAULT = ["lenet", "l1_unstructured", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 256, "L1", 0]
WORST_CASE = ["convnet", "gradient", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 1024, "L1"]
RSS_GROWTH_TARGET_MB, WORST_CASE_TARGET_S = 50.0, 10.0


@dataclass
class Soak:
    """What one soak run saw."""

    requests: int
    warmup: int
    curve: list[tuple[int, float]] = field(default_factory=list)   # (requests done, server RSS MB)
    latencies: list[float] = field(default_factory=list)           # seconds per request, all requests
    errors: list[str] = field(default_factory=list)
    worst_case: list[float] = field(default_factory=list)          # seconds, WORST_CASE on an idle server
    temp_files: int = 0
    temp_mb: float = 0.0
    server_log: str = ""                                            # the end of the server's output

    def rss_at(self, done: int) -> float:
        return next(rss for count, rss in self.curve if count >= done)

    @property
    def growth_mb(self) -> float:
        """RSS at the end minus RSS after warm-up."""
        return self.curve[-1][1] - self.rss_at(self.warmup)


def random_request(rng: random.Random, sketch_path: str) -> tuple[list, str]:
    """(inputs, api name): mostly /update with a random setting (a drawn digit now and then), or /resample."""
    if rng.random() < 0.1:
        return [], "/resample"
    sketch = ({"background": None, "layers": [], "composite": handle_file(sketch_path)}
              if rng.random() < 0.25 else None)
    scope = rng.choice(["local", "global"])
    return [rng.choice(MODELS), rng.choice(METHODS), rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]),
            rng.choice([0.02, 0.05, 0.1]), scope, False, 0.2, 0.4, ["conv", "linear"],
            rng.choice([64, 256]), rng.choice(["L1", "L2"]), rng.randrange(3), sketch], "/update"


def drawn_digit(directory: Path) -> str:
    """A PNG of a thick "7" drawn on a white 280x280 canvas, as the sketchpad would send it."""
    from PIL import Image, ImageDraw
    image = Image.new("RGB", (280, 280), "white")
    ImageDraw.Draw(image).line([(70, 60), (210, 60), (120, 230)], fill="black", width=22)
    path = directory / "seven.png"
    image.save(path)
    return str(path)


def start_server(port: int, temp: str, log: Path) -> subprocess.Popen:
    """`python app.py` on `port` with its uploads and outputs in `temp`, its output into `log`."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "PRUNING_LAB_DATA_DIR": mnist_dir(), "GRADIO_TEMP_DIR": temp}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def soak(quick: bool = False) -> Soak:
    """Start the app in its own process, send the requests from WORKERS threads, sample its RSS."""
    result = Soak(requests=200 if quick else 1000, warmup=50 if quick else 200)
    every = 50 if quick else 100
    with tempfile.TemporaryDirectory(prefix="soak-") as temp, tempfile.TemporaryDirectory() as logs:
        port, log = free_port(), Path(logs) / "server.log"
        process = start_server(port, temp, log)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for_http(url, process)
            server = psutil.Process(process.pid)
            result.curve.append((0, server.memory_info().rss / 2**20))
            sketch_path = drawn_digit(Path(tempfile.mkdtemp(dir=temp)))
            counter, lock = iter(range(1, result.requests + 1)), threading.Lock()

            def worker(seed: int) -> None:
                rng = random.Random(seed)
                clients = [Client(url, verbose=False) for _ in range(SESSIONS_PER_WORKER)]
                for client in clients:                       # every session starts with a setting
                    client.predict(*DEFAULT, None, api_name="/update")
                while True:
                    with lock:
                        done = next(counter, None)
                    if done is None:
                        return
                    inputs, api_name = random_request(rng, sketch_path)
                    start = time.perf_counter()
                    try:
                        rng.choice(clients).predict(*inputs, api_name=api_name)
                    except Exception as err:  # noqa: BLE001  (counted)
                        result.errors.append(f"{api_name} {inputs[:5]}: {err}")
                    with lock:
                        result.latencies.append(time.perf_counter() - start)
                        if done % every == 0:
                            result.curve.append((done, server.memory_info().rss / 2**20))

            threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(WORKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            result.curve.sort()
            idle = Client(url, verbose=False)
            for seed in range(10, 12 if quick else 13):      # a new seed each time: really recomputed
                start = time.perf_counter()
                idle.predict(*WORST_CASE, seed, None, api_name="/update")
                result.worst_case.append(time.perf_counter() - start)
            files = [p for p in Path(temp).rglob("*") if p.is_file()]
            result.temp_files, result.temp_mb = len(files), sum(p.stat().st_size for p in files) / 2**20
        finally:
            stop(process)
            result.server_log = log.read_text(errors="replace")[-4000:]
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def metrics(result: Soak) -> list[dict]:
    latencies = result.latencies
    curve = [[done, round(rss, 1)] for done, rss in result.curve]
    return [
        record(f"soak: server RSS growth after {result.warmup}-request warm-up ({result.requests} requests)",
               [result.growth_mb], "MB", RSS_GROWTH_TARGET_MB, rss_curve_mb=curve),
        record("soak: errors", [float(len(result.errors))], "count", 0.0, first_errors=result.errors[:3]),
        record(f"soak: latency p50, {WORKERS} clients", [statistics.median(latencies)], "s", None),
        record(f"soak: latency p95, {WORKERS} clients", [percentile(latencies, 0.95)], "s", None),
        record("soak: worst-case request (convnet gradient, 1,024 calib.)", result.worst_case, "s",
               WORST_CASE_TARGET_S),
        record("soak: files left in the gradio temp dir", [float(result.temp_files)], "count", None,
               temp_mb=round(result.temp_mb, 2)),
    ]


def run(quick: bool = False) -> list[dict]:
    return metrics(soak(quick))


if __name__ == "__main__":
    from bench.__main__ import print_table
    outcome = soak("--quick" in sys.argv)
    print("requests done, server RSS (MB)")
    for done, rss in outcome.curve:
        print(f"{done:>13}  {rss:8.1f}")
    for error in outcome.errors[:5]:
        print("ERROR", error)
    if outcome.errors:
        print("server output (end):\n" + outcome.server_log)
    print_table(metrics(outcome))
