"""Soak: 1,000 mixed requests against one `python app.py` process; its resident memory after warm-up
must not grow by more than 50 MB. Also: errors, latency under load, the worst-case /update, temp files."""
from __future__ import annotations

import base64
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from gradio_client import Client
from PIL import Image, ImageDraw

from bench.common import ROOT, free_port, mnist_dir, record, stop, wait_for_http

WORKERS, SESSIONS_PER_WORKER = 4, 2          # 8 sessions, 4 requests in flight (the app runs 2 at a time)
MODELS = ["mlp"] * 4 + ["lenet"] * 4 + ["convnet"] * 2
METHODS = ["l1_unstructured"] * 4 + ["ln_structured"] * 2 + ["random_unstructured", "random_structured",
                                                            "threshold", "gradient", "taylor", "activation"]
DEFAULT = ["lenet", "l1_unstructured", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 256, "L1", 0]
WORST_CASE = ["convnet", "gradient", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 1024, "L1"]
RSS_GROWTH_TARGET_MB, WORST_CASE_TARGET_S = 50.0, 10.0
# The server: `python app.py`, plus a SIGUSR1 handler that hands glibc's free heap back to the kernel
# (malloc_trim), so that idle RSS can be read both as the kernel sees it and without free heap pages.
SERVER = """
import ctypes, runpy, signal, sys
libc = ctypes.CDLL("libc.so.6")
signal.signal(signal.SIGUSR1, lambda *_: libc.malloc_trim(0))
sys.argv = ["app.py"]
runpy.run_path("app.py", run_name="__main__")
"""


@dataclass
class Soak:
    """What one soak run saw. RSS is sampled with no request in flight (idle): after the warm-up (every
    model x method, by every worker at once) and then after every `every` of the `requests` requests;
    each time as it is, then after malloc_trim (without the allocator's free heap: the leak signal)."""

    requests: int
    every: int
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (done, idle RSS, trimmed) MB
    started_mb: float = 0.0                                         # idle RSS before any request
    peak_mb: float = 0.0                                            # highest RSS seen (sampled every 0.2 s)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # api name -> seconds, after warm-up
    errors: list[str] = field(default_factory=list)
    worst_case: list[float] = field(default_factory=list)          # seconds, WORST_CASE on an idle server
    temp_files: int = 0
    temp_mb: float = 0.0
    server_log: str = ""                                            # the end of the server's output

    @property
    def growth_mb(self) -> float:
        """Idle RSS after malloc_trim: the median of the last three samples minus the median of the first
        three (right after the warm-up), in MB. One sample moves by tens of MB with what the last block
        happened to allocate (allocator fragmentation); a median of three does not."""
        trimmed = [rss for _, _, rss in self.curve]
        return statistics.median(trimmed[-3:]) - statistics.median(trimmed[:3])


@dataclass
class Session:
    """One simulated user: a gradio_client session with its own drawing."""

    client: Client
    sketch_path: str


def drawn_digit(path: Path, variant: int) -> str:
    """A PNG of a thick "7" on a white 280x280 canvas, of a different shape for every session (so that
    no two sessions get the same 28x28 digit: gradio stores equal output images under one file name)."""
    image = Image.new("RGB", (280, 280), "white")
    corner, foot = (210 - 9 * variant, 60 + 4 * variant), (110 + 11 * variant, 235 - 6 * variant)
    ImageDraw.Draw(image).line([(70, 60), corner, foot], fill="black", width=16 + 3 * (variant % 4))
    image.save(path)
    return str(path)


def data_url(path: str) -> str:
    """The drawing as the page's pad sends it: a PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def random_request(rng: random.Random, session: Session) -> tuple[list, str]:
    """(inputs, api name): mostly /update with a random setting (the session's drawing now and then);
    sometimes a new digit sample, a short fine-tuning, the weights view or an export."""
    draw = rng.random()
    if draw < 0.10:
        return [], "/resample"
    if draw < 0.13:
        return [rng.choice([10, 30])], "/finetune"
    if draw < 0.15:
        return [None], "/inspect"
    if draw < 0.17:
        return [rng.random() < 0.5], "/export"
    if rng.random() < 0.2:
        return [data_url(session.sketch_path)], "/draw"
    return [rng.choice(MODELS), rng.choice(METHODS), rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]),
            rng.choice([0.02, 0.05, 0.1]), rng.choice(["local", "global"]), False, 0.2, 0.4,
            ["conv", "linear"], rng.choice([64, 256]), rng.choice(["L1", "L2"]), rng.randrange(3)], "/update"


def start_server(port: int, temp: str, log: Path) -> subprocess.Popen:
    """`python app.py` on `port`, its temporary files (gradio's, exports) in `temp`, its output into `log`."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "PRUNING_LAB_DATA_DIR": mnist_dir(), "GRADIO_TEMP_DIR": str(Path(temp) / "gradio"), "TMPDIR": temp}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def send(result: Soak, lock: threading.Lock, rng: random.Random, sessions: list[Session], count: int) -> None:
    """`count` random requests from one worker thread, each from one of its sessions."""
    for _ in range(count):
        session = rng.choice(sessions)
        inputs, api_name = random_request(rng, session)
        start = time.perf_counter()
        try:
            session.client.predict(*inputs, api_name=api_name)
        except Exception as err:  # noqa: BLE001  (counted)
            with lock:
                result.errors.append(f"{api_name} {inputs[:5]}: {err}")
        with lock:
            result.latencies.setdefault(api_name, []).append(time.perf_counter() - start)


def warm_up(result: Soak, lock: threading.Lock, session: Session) -> None:
    """Every model with every method once, with the session's drawing; then every other endpoint once."""
    calls = [([model, method, *DEFAULT[2:]], "/update")
             for model in dict.fromkeys(MODELS) for method in dict.fromkeys(METHODS)]
    calls.append(([data_url(session.sketch_path)], "/draw"))
    others = [([], "/resample"), ([10], "/finetune"), ([None], "/inspect"), ([True], "/export")]
    for inputs, api_name in calls + others:
        try:
            session.client.predict(*inputs, api_name=api_name)
        except Exception as err:  # noqa: BLE001  (counted)
            with lock:
                result.errors.append(f"warm-up {api_name} {inputs[:2]}: {err}")


def idle_rss(server: psutil.Process) -> tuple[float, float]:
    """(RSS, RSS after malloc_trim) in MB, with no request in flight."""
    time.sleep(1.0)
    rss = server.memory_info().rss / 2**20
    server.send_signal(signal.SIGUSR1)
    time.sleep(1.0)
    return rss, server.memory_info().rss / 2**20


def in_parallel(jobs: list[tuple]) -> None:
    threads = [threading.Thread(target=job, args=args) for job, *args in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def load_phase(result: Soak, url: str, server: psutil.Process, drawings: Path) -> None:
    """Warm-up, then the requests in blocks of `every` from WORKERS threads; idle RSS after each block."""
    result.started_mb = server.memory_info().rss / 2**20
    workers = [(random.Random(worker), [Session(Client(url, verbose=False),
                                                drawn_digit(drawings / f"{worker}-{i}.png", 2 * worker + i))
                                        for i in range(SESSIONS_PER_WORKER)]) for worker in range(WORKERS)]
    lock, stopped = threading.Lock(), threading.Event()
    in_parallel([(warm_up, result, lock, session) for _, sessions in workers for session in sessions])

    def watch_peak() -> None:
        while not stopped.wait(0.2):
            result.peak_mb = max(result.peak_mb, server.memory_info().rss / 2**20)

    threading.Thread(target=watch_peak, daemon=True).start()
    for done in range(0, result.requests + 1, result.every):
        if done:
            in_parallel([(send, result, lock, rng, sessions, result.every // WORKERS) for rng, sessions in workers])
        result.curve.append((done, *idle_rss(server)))
    stopped.set()


def soak(quick: bool = False, requests: int | None = None) -> Soak:
    """Start the app in its own process, run the load, then time the worst-case request alone."""
    every = 40 if quick else 100
    result = Soak(requests=requests or (200 if quick else 1000), every=every)
    with tempfile.TemporaryDirectory(prefix="soak-") as temp, tempfile.TemporaryDirectory() as own:
        port, log = free_port(), Path(own) / "server.log"
        process = start_server(port, temp, log)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for_http(url, process)
            load_phase(result, url, psutil.Process(process.pid), Path(own))
            idle = Client(url, verbose=False)
            for seed in range(10, 12 if quick else 13):      # a new seed each time: really recomputed
                start = time.perf_counter()
                try:
                    idle.predict(*WORST_CASE, seed, api_name="/update")
                    result.worst_case.append(time.perf_counter() - start)
                except Exception as err:  # noqa: BLE001  (counted)
                    result.errors.append(f"worst case, seed {seed}: {err}")
            files = [p for p in Path(temp).rglob("*") if p.is_file()]      # gradio's files, exports
            result.temp_files, result.temp_mb = len(files), sum(p.stat().st_size for p in files) / 2**20
        finally:
            stop(process)
            result.server_log = log.read_text(errors="replace")[-4000:]
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def metrics(result: Soak) -> list[dict]:
    updates = result.latencies.get("/update", [float("nan")])
    heavy = result.latencies.get("/finetune", [float("nan")])
    curve = [[done, round(rss, 1), round(trimmed, 1)] for done, rss, trimmed in result.curve]
    return [
        record(f"soak: idle RSS growth, {result.requests} requests after warm-up (trimmed)",
               [result.growth_mb], "MB", RSS_GROWTH_TARGET_MB, rss_curve_mb=curve,
               rss_started_mb=round(result.started_mb, 1), rss_peak_mb=round(result.peak_mb, 1)),
        record("soak: errors", [float(len(result.errors))], "count", 0.0, first_errors=result.errors[:3]),
        record(f"soak: /update latency p50, {WORKERS} clients", [statistics.median(updates)], "s", None),
        record(f"soak: /update latency p95, {WORKERS} clients", [percentile(updates, 0.95)], "s", None),
        record(f"soak: /finetune (10-30 steps) latency p50, {WORKERS} clients", [statistics.median(heavy)], "s",
               None),
        record("soak: worst-case request (convnet gradient, 1,024 calib.)", result.worst_case or [float("nan")],
               "s", WORST_CASE_TARGET_S),
        record("soak: files left in the server's temp dir", [float(result.temp_files)], "count", None,
               temp_mb=round(result.temp_mb, 2)),
    ]


def run(quick: bool = False) -> list[dict]:
    return metrics(soak(quick))


if __name__ == "__main__":
    from bench.__main__ import print_table
    # --requests N: a longer (or shorter) run, e.g. to see where the RSS curve levels off
    count = int(sys.argv[sys.argv.index("--requests") + 1]) if "--requests" in sys.argv else None
    outcome = soak("--quick" in sys.argv, count)
    print(f"idle server RSS before any request: {outcome.started_mb:.1f} MB")
    print("requests done after warm-up   idle RSS (MB)   idle RSS after malloc_trim (MB)")
    print("(an idle RSS is taken before that point's trim: what the server held since the previous one)")
    for done, rss, trimmed in outcome.curve:
        print(f"{done:>28}  {rss:13.1f}  {trimmed:16.1f}")
    print(f"peak RSS while loaded: {outcome.peak_mb:.1f} MB; temp dir: {outcome.temp_files} files, "
          f"{outcome.temp_mb:.2f} MB")
    print("requests per endpoint:", {name: len(times) for name, times in outcome.latencies.items()})
    for error in outcome.errors[:5]:
        print("ERROR", error)
    if outcome.errors:
        print("server output (end):\n" + outcome.server_log)
    print_table(metrics(outcome))
