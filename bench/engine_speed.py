"""P2: prune + evaluate time per model on the official MNIST test split, the engine against raw
torch.nn.utils.prune + an evaluation loop, and the convnet's speed-up from removing half its filters."""
from __future__ import annotations

import copy
import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.utils.prune as prune
from torch import nn

from bench.common import alternate, alternated_speedups, mnist_dir, record, repeat

MODELS = ("lenet", "convnet", "mlp")   # no target here: P1 (app_latency) times this plus the views
AMOUNTS = [0.3, 0.5, 0.7, 0.9]     # cycled: every call re-prunes with a new setting
N_DIGITS = 13                      # digits whose class probabilities are reported, as in the app
MAX_RATIO, MIN_SHRINK_SPEEDUP = 1.10, 2.0


@contextmanager
def background_load() -> Iterator[dict]:
    """Measures how many cores other processes kept busy meanwhile (Linux /proc/stat; else None):
    these benchmarks share 2 cores with whatever else runs, so every row says how loaded it was."""
    def busy() -> float | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return None
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")    # all but idle, iowait
    mine, busy_before, start, out = sum(os.times()[:2]), busy(), time.perf_counter(), {}
    yield out
    busy_after, elapsed = busy(), time.perf_counter() - start
    if busy_before is not None and busy_after is not None:
        others = busy_after - busy_before - (sum(os.times()[:2]) - mine)
        out["background_cores"] = round(max(0.0, others) / elapsed, 2)


def _cycled(fn: Callable[[float], object]) -> Callable[[], object]:
    """fn(amount) with the next amount of AMOUNTS on each call."""
    calls = iter(range(1 << 30))
    return lambda: fn(AMOUNTS[next(calls) % len(AMOUNTS)])


def _engine(model_name: str, eval_set, digits: torch.Tensor) -> Callable[[float], object]:
    from pruning import PruneConfig, prune_model
    return lambda amount: prune_model(model_name, PruneConfig(model=model_name, amount=amount, scope="global"),
                                      eval_set=eval_set, digits=digits)


def _raw(model_name: str, eval_set, digits: torch.Tensor, fast: bool) -> Callable[[float], object]:
    """The same work by hand: copy, torch.nn.utils.prune global L1, predictions over the set, accuracy,
    probabilities of the digits before and after. fast: evaluate with the engine's inference copy
    (isolates the engine's own overhead); else a plain loop over the masked model (batches of 500)."""
    from models import get_model_entry
    from pruning.checkpoint import load_pretrained
    from pruning.evaluate import BATCH_SIZE, pad_inputs, prepared_inputs
    from pruning.fastpath import inference_model
    from pruning.runtime import run_batches
    base = load_pretrained(model_name)[0]
    padding = get_model_entry(model_name).input_padding
    x, d = prepared_inputs(eval_set, padding), pad_inputs(digits, padding)

    def work(amount: float) -> tuple[float, torch.Tensor, torch.Tensor]:
        model = copy.deepcopy(base)
        layers = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        prune.global_unstructured(layers, prune.L1Unstructured, amount=amount)
        with torch.inference_mode():
            out = run_batches(inference_model(model), x, BATCH_SIZE) if fast else torch.cat([model(b) for b in x.split(500)])
            accuracy = float((out.argmax(1) == eval_set.labels).float().mean())
            return accuracy, torch.softmax(base(d), 1), torch.softmax(model(d), 1)
    return work


def _shrink_speedup(eval_set, repeats: int) -> dict:
    """Dense convnet vs the convnet with 50% of its filters (and fc1 neurons) physically removed
    (ln_structured + pruning.shrink), both evaluated over the whole set with pruning.evaluate.logits."""
    from pruning import PruneConfig, prune_model
    from pruning.checkpoint import load_pretrained
    from pruning.evaluate import prepared_inputs
    from pruning.shrink import shrink_model
    dense = load_pretrained("convnet")[0]
    small = shrink_model(prune_model("convnet", PruneConfig(model="convnet", method="ln_structured",
                                                             amount=0.5)).model, "convnet")
    *_, speedups = alternated_speedups(dense, small.model, prepared_inputs(eval_set, 0), repeats)
    widths = ", ".join(f"{name} {a}->{b}" for name, (a, b) in small.widths.items())
    return record("P2c convnet speed-up, 50% of filters removed (dense / shrunk eval time)",
                  speedups, "x", MIN_SHRINK_SPEEDUP, higher_is_better=True, widths=widths)


def run(quick: bool = False) -> list[dict]:
    from pruning import runtime
    from pruning.data import load_mnist_test, normalize
    runtime.start()
    eval_set = load_mnist_test(mnist_dir())
    digits = normalize(eval_set.images[:N_DIGITS])
    repeats = 5 if quick else 21
    rows = []
    for model_name in MODELS:
        with background_load() as load:
            samples = repeat(_cycled(_engine(model_name, eval_set, digits)), repeats, warmup=2)
        rows.append(record(f"P2 prune+evaluate {model_name} (part of P1)", samples, "ms", None,
                           scale=1000, **load))
    for model_name in ("lenet", "convnet"):
        for fast, label in ((False, "plain loop"), (True, "same fast evaluation")):
            with background_load() as load:
                engine, raw = alternate(_cycled(_engine(model_name, eval_set, digits)),
                                        _cycled(_raw(model_name, eval_set, digits, fast)), repeats, warmup=2)
            rows.append(record(f"P2b engine / raw prune+{label} {model_name}",
                               [a / b for a, b in zip(engine, raw)], "x", MAX_RATIO, **load))
    with background_load() as load:
        row = _shrink_speedup(eval_set, repeats)
    rows.append({**row, **load})
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table
    results = run("--quick" in sys.argv)
    print_table(results)
    print("other processes' busy cores during each row:", [r.get("background_cores") for r in results])
