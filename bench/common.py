"""Shared benchmark helpers: timing with warm-up, medians, A/B alternation, result records."""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_dir() -> str:
    """The official MNIST test split for benchmarks ($PRUNING_LAB_DATA_DIR, else ../shared/data/mnist)."""
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



def alternated_speedups(dense, shrunk, x, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Passes of two models over x (pruning.evaluate.logits), alternated: dense seconds, shrunk
    seconds, and the per-pair speed-ups dense / shrunk."""
    from pruning.evaluate import logits
    dense_s, shrunk_s = alternate(lambda: logits(dense, x), lambda: logits(shrunk, x), repeats)
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
