"""P1/P1b: server-side time from a control change to all outputs (the app's update function)."""
from __future__ import annotations

import sys

from bench.common import machine_speed, record

TARGETS_MS = {"lenet": 150.0, "convnet": 600.0, "mlp": None}
AMOUNTS = [0.3, 0.5, 0.7, 0.9]   # cycled, so every call is a new setting and really re-prunes


def run(quick: bool = False) -> list[dict]:
    import time

    import gradio as gr

    import app  # noqa: F401  (the app as served: its environment and handlers)
    from pruning import runtime
    from ui import handlers
    from ui.resources import eval_set
    runtime.start()
    repeats = 5 if quick else 25
    rows = [machine_speed(eval_set(), 3 if quick else 9)]
    for model, target in TARGETS_MS.items():
        request = gr.Request(session_hash=f"bench-{model}")
        samples, cpu = [], []
        for i in range(repeats + 2):                                # 2 warm-up calls
            args = dict(model=model, method="l1_unstructured", amount=AMOUNTS[i % len(AMOUNTS)],
                        threshold=0.05, scope="global", per_type=False, conv_amount=0.2, linear_amount=0.4,
                        layer_types=["conv", "linear"], calibration_size=256, norm="L1", seed=0)
            start, start_cpu = time.perf_counter(), time.process_time()
            handlers.update(**args, request=request)
            if i >= 2:
                samples.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
        rows.append(record(f"P1 update latency {model} ({eval_set().describe()})", samples, "ms", target,
                           scale=1000))
        # what one change costs the machine (all cores): sets how many changes a second a server can take
        rows.append(record(f"  P1 CPU time per update {model} (all threads)", cpu, "ms", None, scale=1000))
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
