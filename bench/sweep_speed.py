"""P3: the full accuracy-vs-sparsity sweep for lenet (every method, both scopes, 20 amounts)."""
from __future__ import annotations

import sys
import time

from bench.common import mnist_dir, record

TARGET_S = 20.0


def run(quick: bool = False) -> list[dict]:
    from pruning import runtime
    from pruning.data import load_mnist_test
    from pruning.sweep import DEFAULT_AMOUNTS, sweep
    runtime.start()
    eval_set = load_mnist_test(mnist_dir())
    amounts = DEFAULT_AMOUNTS[::5] if quick else DEFAULT_AMOUNTS
    steps = []
    start = time.perf_counter()
    result = sweep("lenet", eval_set, amounts=amounts, progress=lambda fraction, _: steps.append(fraction))
    seconds = time.perf_counter() - start
    name = f"P3 lenet sweep, {len(result.points)} points on {eval_set.describe()}"
    per_model_ms = 1000 * result.evaluation_seconds / max(1, result.models_evaluated)
    return [record(name, [seconds], "s", TARGET_S if not quick else None, progress_updates=len(steps)),
            record(f"P3 of which: evaluating {result.models_evaluated} distinct models",
                   [result.evaluation_seconds], "s", None),
            record("P3 evaluation per distinct model", [per_model_ms], "ms", None)]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
