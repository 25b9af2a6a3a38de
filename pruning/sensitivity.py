"""Per-layer sensitivity (accuracy when only one layer is pruned) and amounts allocated from it."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .engine import PruneResult, prune_model
from .evaluate import accuracy
from .importance import ImportanceContext
from .pruner import importance_scores, selected_layers

DEFAULT_AMOUNTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))     # 0.1 ... 0.9
Progress = Callable[[float, str], None]


@dataclass
class Sensitivity:
    """accuracy[layer][i]: accuracy with only `layer` pruned by `amounts[i]` (the method's own units)."""

    model: str
    method: str
    eval_set: str
    dense_accuracy: float
    amounts: tuple[float, ...]
    weights: dict[str, int]                          # weights per layer
    accuracy: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def predicted_loss(self, layer: str, amount: float) -> float:
        """Accuracy lost when `layer` alone loses `amount`, linearly interpolated (0 at amount 0)."""
        xs = (0.0,) + self.amounts
        ys = [0.0] + [self.dense_accuracy - a for a in self.accuracy[layer]]
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            if amount <= x1:
                return y0 + (y1 - y0) * (amount - x0) / (x1 - x0)
        return ys[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "method": self.method, "eval_set": self.eval_set,
                "dense_accuracy": self.dense_accuracy, "amounts": list(self.amounts), "weights": self.weights,
                "accuracy": self.accuracy, "seconds": self.seconds}


def layer_sensitivity(config: PruneConfig, eval_set: DigitSet, amounts: tuple[float, ...] = DEFAULT_AMOUNTS,
                      progress: Progress | None = None) -> Sensitivity:
    """For config's method (and fixed settings), the accuracy over `eval_set` when only one selected
    layer is pruned, at each amount (local scope, per-layer amounts); scores are computed once."""
    if not config.method_entry.uses_amount:
        raise ValueError(f"{config.method} does not use an amount: there is no curve to scan")
    if not amounts or any(not 0 < a < 1 for a in amounts) or list(amounts) != sorted(amounts):
        raise ValueError(f"amounts must rise strictly between 0 and 1, got {list(amounts)[:5]}")
    started = time.perf_counter()
    base = load_pretrained(config.model)[0]
    config = replace(config, scope="local", conv_amount=None, linear_amount=None, layer_amounts=())
    layers = selected_layers(base, config)
    calibration = ImportanceContext(base, {}, config).calibration_batch() if config.method_entry.data_driven else None
    scores = importance_scores(copy.deepcopy(base), config, calibration)
    result = Sensitivity(config.model, config.method, eval_set.describe(), accuracy(base, config.model, eval_set),
                         tuple(amounts), {name: m.weight.numel() for name, m in layers.items()})
    for i, name in enumerate(layers):
        if progress is not None:
            progress(i / len(layers), f"scanning layer {name}")
        result.accuracy[name] = [accuracy(_only(config, layers, name, a, calibration, scores).model, config.model,
                                          eval_set) for a in amounts]
    result.seconds = time.perf_counter() - started
    return result


def _only(config: PruneConfig, layers: dict, name: str, amount: float, calibration, scores) -> PruneResult:
    """prune_model with `name` pruned by `amount` and every other selected layer untouched."""
    per_layer = {other: (amount if other == name else 0.0) for other in layers}
    return prune_model(config.model, replace(config, layer_amounts=per_layer), calibration=calibration,
                       scores=scores)


def format_sensitivity(scan: Sensitivity) -> str:
    """The scan as a table for the CLI: one row per layer, one column per amount."""
    lines = [f"{scan.model}, {scan.method}: accuracy on {scan.eval_set} with only one layer pruned "
             f"(dense {100 * scan.dense_accuracy:.2f}%)",
             f"{'layer':<10}" + "".join(f"{a:>8.0%}" for a in scan.amounts)]
    lines += [f"{layer:<10}" + "".join(f"{100 * acc:7.2f}%" for acc in accuracies)
              for layer, accuracies in scan.accuracy.items()]
    return "\n".join(lines)


def allocate(sensitivity: Sensitivity, target: float, step: float = 0.01) -> dict[str, float]:
    """Per-layer amounts whose weights removed add up to `target` of all selected weights, chosen
    greedily to keep the sum of predicted losses (sensitivity curves) smallest: each step goes to the
    layer that loses the least accuracy per weight removed."""
    if not 0 <= target < max(sensitivity.amounts):
        raise ValueError(f"target must be from 0 to below {max(sensitivity.amounts)}, got {target!r}")
    amounts = {name: 0.0 for name in sensitivity.weights}
    total, goal = sum(sensitivity.weights.values()), target * sum(sensitivity.weights.values())
    removed = 0.0
    while removed < goal - 1e-9:
        def cost(name: str) -> float:
            nxt = min(amounts[name] + step, max(sensitivity.amounts))
            gained = (nxt - amounts[name]) * sensitivity.weights[name]
            if gained <= 0:
                return float("inf")
            extra = sensitivity.predicted_loss(name, nxt) - sensitivity.predicted_loss(name, amounts[name])
            return max(extra, 0.0) / gained
        name = min(amounts, key=cost)
        if cost(name) == float("inf"):
            break
        take = min(step, (goal - removed) / sensitivity.weights[name], max(sensitivity.amounts) - amounts[name])
        amounts[name] += take
        removed += take * sensitivity.weights[name]
    return {name: round(amount, 4) for name, amount in amounts.items()} if total else amounts


@dataclass
class AllocationComparison:
    """The allocated per-layer setting next to local and global at the same achieved sparsity."""

    allocated: PruneResult
    local: PruneResult
    global_: PruneResult

    def rows(self) -> list[tuple[str, float, float]]:
        """(label, achieved global sparsity, accuracy after) per strategy."""
        return [(label, r.global_sparsity, r.accuracy_after) for label, r in
                (("allocated per layer", self.allocated), ("local (uniform)", self.local),
                 ("global", self.global_))]


def compare_allocation(config: PruneConfig, sensitivity: Sensitivity, target: float,
                       eval_set: DigitSet) -> AllocationComparison:
    """Prune with allocate(...)'s amounts, then with local and global scope at the sparsity it achieved."""
    per_layer = allocate(sensitivity, target)
    allocated = prune_model(config.model, replace(config, scope="local", conv_amount=None, linear_amount=None,
                                                  layer_amounts=per_layer), eval_set=eval_set)
    achieved = _selected_fraction(allocated)
    same = dict(amount=achieved, conv_amount=None, linear_amount=None, layer_amounts=())
    return AllocationComparison(allocated, prune_model(config.model, replace(config, scope="local", **same),
                                                       eval_set=eval_set),
                                prune_model(config.model, replace(config, scope="global", **same), eval_set=eval_set))


def _selected_fraction(result: PruneResult) -> float:
    """Fraction of the selected layers' weights that are zero (what allocate() targets)."""
    names = set(dict(result.config.layer_amounts))
    layers = [s for s in result.layers if s.name in names]
    return sum(s.zeros for s in layers) / max(1, sum(s.total for s in layers))
