"""P4: CPU latency of convnet with 50% of filters physically removed vs dense (and vs MAC reduction)."""
from __future__ import annotations

import sys

from bench.common import mnist_dir, record


def run(quick: bool = False) -> list[dict]:
    from pruning import PruneConfig
    from pruning.data import load_mnist_test
    from pruning.size import shrink_report
    eval_set = load_mnist_test(mnist_dir())
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5, scope="local")
    report = shrink_report("convnet", config, eval_set, repeats=3 if quick else 9)
    dense, shrunk = report.costs["dense"], report.costs["shrunk"]
    speedup = dense.latency_ms / shrunk.latency_ms
    mac_ratio = dense.macs / shrunk.macs
    common = dict(dense_ms=round(dense.latency_ms, 1), shrunk_ms=round(shrunk.latency_ms, 1),
                  dense_macs=dense.macs, shrunk_macs=shrunk.macs, max_abs_difference=report.max_abs_difference)
    return [record("P4 convnet 50% filters removed: speed-up vs dense", [speedup], "x", 2.0,
                   higher_is_better=True, **common),
            record("P4 speed-up / MAC reduction", [speedup / mac_ratio], "ratio", 0.7, higher_is_better=True,
                   mac_reduction=round(mac_ratio, 2))]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
