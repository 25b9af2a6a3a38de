"""P4: convnet with 50% of filters physically removed vs dense, against Torch-Pruning's own eager speed-up."""
from __future__ import annotations

import sys

from bench.common import alternated_speedups, mnist_dir, record


def run(quick: bool = False) -> list[dict]:
    from models import get_model_entry
    from pruning import PruneConfig, load_pretrained
    from pruning.data import load_mnist_test
    from pruning import runtime
    from pruning.evaluate import plain_logits, prepared_inputs
    from pruning.size import shrink_report
    runtime.start()
    eval_set = load_mnist_test(mnist_dir())
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5, scope="local")
    # the app's Size & speed report: the shrunk network, its outputs checked against the masked ones, MACs
    report = shrink_report("convnet", config, eval_set, repeats=1)
    dense, shrunk = load_pretrained("convnet")[0], report.model
    x = prepared_inputs(eval_set, get_model_entry("convnet").input_padding)   # (10000, 1, 28, 28)
    # dense and shrunk passes over the whole set, alternated so the VM's drift hits both alike: ours
    # (the engine's evaluation path) and the anchor, Torch-Pruning's own result (both models run eagerly)
    repeats = 3 if quick else 15
    dense_s, shrunk_s, speedups = alternated_speedups(dense, shrunk, x, repeats)
    _, _, anchor = alternated_speedups(dense, shrunk, x, repeats, evaluate=plain_logits)
    mac_reduction = report.costs["dense"].macs / report.costs["shrunk"].macs
    common = dict(dense_ms=[round(1000 * t, 1) for t in dense_s], shrunk_ms=[round(1000 * t, 1) for t in shrunk_s],
                  dense_macs=report.costs["dense"].macs, shrunk_macs=report.costs["shrunk"].macs,
                  max_abs_difference=report.max_abs_difference)
    anchor_row = record("P4 anchor: Torch-Pruning's own speed-up (eager shrunk vs eager dense)", anchor, "x", None)
    return [record("P4 convnet 50% filters removed: our speed-up vs dense", speedups, "x", anchor_row["median"],
                   higher_is_better=True, **common), anchor_row,
            record("P4 speed-up / MAC reduction (reported, no target)", [s / mac_reduction for s in speedups],
                   "ratio", None, mac_reduction=round(mac_reduction, 2))]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
