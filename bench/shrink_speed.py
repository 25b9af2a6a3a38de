"""P4: CPU latency of convnet with 50% of filters physically removed vs dense (and vs MAC reduction)."""
from __future__ import annotations

import sys

from bench.common import alternated_speedups, mnist_dir, record


def run(quick: bool = False) -> list[dict]:
    from models import get_model_entry
    from pruning import PruneConfig, load_pretrained
    from pruning.data import load_mnist_test
    from pruning.evaluate import prepared_inputs
    from pruning.size import shrink_report
    eval_set = load_mnist_test(mnist_dir())
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5, scope="local")
    # the app's Size & speed report: the shrunk network, its outputs checked against the masked ones, MACs
    report = shrink_report("convnet", config, eval_set, repeats=1)
    dense, shrunk = load_pretrained("convnet")[0], report.model
    x = prepared_inputs(eval_set, get_model_entry("convnet").input_padding)   # (10000, 1, 28, 28)
    # dense and shrunk passes over the whole set, alternated so the VM's drift hits both alike
    dense_s, shrunk_s, speedups = alternated_speedups(dense, shrunk, x, 3 if quick else 15)
    mac_reduction = report.costs["dense"].macs / report.costs["shrunk"].macs
    common = dict(dense_ms=[round(1000 * t, 1) for t in dense_s], shrunk_ms=[round(1000 * t, 1) for t in shrunk_s],
                  dense_macs=report.costs["dense"].macs, shrunk_macs=report.costs["shrunk"].macs,
                  max_abs_difference=report.max_abs_difference)
    return [record("P4 convnet 50% filters removed: speed-up vs dense", speedups, "x", 2.0,
                   higher_is_better=True, **common),
            record("P4 speed-up / MAC reduction", [s / mac_reduction for s in speedups], "ratio", 0.7,
                   higher_is_better=True, mac_reduction=round(mac_reduction, 2))]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
