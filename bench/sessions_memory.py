"""P6: resident memory added by 20 concurrent sessions, each holding its own pruned model."""
from __future__ import annotations

import sys
import time

import psutil

from bench.common import free_port, mnist_dir, record, start_app, stop, wait_for_http

MODELS = ["lenet", "convnet", "mlp"]


def session_args(index: int) -> list:
    model = MODELS[index % len(MODELS)]
    amount = round(0.05 + 0.045 * index, 3)                        # every session a different setting
    return [model, "l1_unstructured", amount, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 256,
            "L1", 0]


def measure(sessions: int) -> tuple[float, float]:
    """(RSS after warm-up, RSS with `sessions` live sessions), in MB."""
    from gradio_client import Client
    port = free_port()
    process = start_app(port, {"PRUNING_LAB_DATA_DIR": mnist_dir()})
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, process)
        server = psutil.Process(process.pid)
        warm = Client(url, verbose=False)
        for model in MODELS:                                         # dense caches, code paths
            warm.predict(model, *session_args(0)[1:], api_name="/update")
        time.sleep(1)
        baseline = server.memory_info().rss / 2**20
        clients = [Client(url, verbose=False) for _ in range(sessions)]
        for index, client in enumerate(clients):
            client.predict(*session_args(index + 1), api_name="/update")
        time.sleep(1)
        loaded = server.memory_info().rss / 2**20
        del clients
        return baseline, loaded
    finally:
        stop(process)


def run(quick: bool = False) -> list[dict]:
    baseline, loaded = measure(20)
    return [record("P6 RSS added by 20 sessions", [loaded - baseline], "MB", 200.0,
                   rss_baseline_mb=round(baseline, 1), rss_with_sessions_mb=round(loaded, 1))]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
