"""Accuracy-vs-amount sweeps: every method x scope x amount pruned and measured on an eval set."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import torch
from torch import nn

from .checkpoint import load_pretrained
from .config import SCOPES, PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import accuracy
from .importance import ImportanceContext
from .masks import mask_fingerprint, threshold_for_sparsity
from .methods import get_method, list_methods
from .pruner import importance_scores, prunable_layers
from .runtime import single_threaded
from .shrink import is_shrinkable, removable_units, shrink_model
from .shared import measured
from .store import MeasurementStore

Progress = Callable[[float, str], None]
DEFAULT_AMOUNTS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(20))   # 0.0, 0.05 ... 0.95
MAX_AMOUNTS = 50        # per line; each amount costs one prune (and usually one evaluation) per line


@dataclass(frozen=True)
class SweepPoint:
    """One pruned model of the sweep."""

    method: str
    scope: str
    amount: float                  # requested fraction; for "threshold" the sparsity its threshold targets
    sparsity: float                # achieved zeros / weights over all conv + linear layers
    accuracy: float                # 0..1 on the sweep's eval set
    threshold: float | None = None  # method "threshold" only: the magnitude threshold that was used

    def config(self, base: PruneConfig) -> PruneConfig:
        """The single-prune config that reproduces this point exactly."""
        changes: dict[str, Any] = {"method": self.method, "scope": self.scope, "amount": self.amount}
        if self.threshold is not None:
            changes["threshold"] = self.threshold
        return replace(base, **changes)


@dataclass
class SweepResult:
    """Accuracy of every (method, scope, amount) point, plus the dense model's accuracy."""

    model: str
    eval_set: str
    amounts: tuple[float, ...]
    base_config: PruneConfig
    dense_accuracy: float
    points: list[SweepPoint] = field(default_factory=list)
    seconds: float = 0.0               # the whole sweep
    models_evaluated: int = 0          # distinct pruned models measured (identical masks measured once)
    evaluation_seconds: float = 0.0    # of `seconds`, spent measuring those models' accuracy

    def curve(self, method: str, scope: str) -> list[SweepPoint]:
        """The points of one line (one method, one scope), by increasing amount."""
        return [p for p in self.points if p.method == method and p.scope == scope]

    def point(self, method: str, scope: str, amount: float) -> SweepPoint:
        """The point at exactly this setting; KeyError if the sweep has none."""
        for p in self.curve(method, scope):
            if abs(p.amount - amount) < 1e-9:
                return p
        raise KeyError(f"no sweep point for {method}/{scope} at amount {amount}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SweepResult":
        """The result to_dict() described (a cached sweep read back from disk)."""
        config = dict(data["base_config"])
        config["layer_types"] = tuple(config["layer_types"])
        config["layer_amounts"] = tuple(config.get("layer_amounts", {}).items())
        return cls(data["model"], data["eval_set"], tuple(data["amounts"]), PruneConfig(**config),
                   data["dense_accuracy"], [SweepPoint(**p) for p in data["points"]], data["seconds"],
                   data["models_evaluated"], data["evaluation_seconds"])

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"model": self.model, "eval_set": self.eval_set, "amounts": list(self.amounts),
                "base_config": self.base_config.to_dict(), "dense_accuracy": self.dense_accuracy,
                "seconds": self.seconds, "models_evaluated": self.models_evaluated,
                "evaluation_seconds": self.evaluation_seconds, "points": [asdict(p) for p in self.points]}


def _line_configs(base: PruneConfig, base_model: nn.Module, method: str, scope: str,
                  amounts: tuple[float, ...]) -> list[PruneConfig]:
    """The configs of one line. "threshold" has no amount: each amount gets the threshold that removes
    that fraction of all selected weights (one global cut, so its local and global lines are equal)."""
    configs = [replace(base, method=method, scope=scope, amount=amount) for amount in amounts]
    if get_method(method).uses_threshold:
        layers = prunable_layers(base_model, base.layer_types)
        configs = [replace(c, threshold=threshold_for_sparsity(layers, c.amount)) for c in configs]
    return configs


def sweep(name_or_model: str | nn.Module, eval_set: DigitSet, methods: list[str] | None = None,
          scopes: tuple[str, ...] = SCOPES, amounts: tuple[float, ...] = DEFAULT_AMOUNTS,
          base_config: PruneConfig | None = None, progress: Progress | None = None,
          on_line: Callable[[SweepResult], None] | None = None,
          store: MeasurementStore | None = None) -> SweepResult:
    """Prune with every method x scope x amount and measure accuracy on `eval_set` (uncached unless
    `store` is given: then every point is the store's measurement of its setting, measured and stored
    where missing, so the slider grid and the curves are one computation; a model by name only).

    Each point's masks are exactly those of prune_model(name_or_model, point.config(base_config)).
    Points whose masks are identical (every amount-0 point, "threshold" under both scopes) are
    evaluated once, with the engine's evaluate.accuracy. Everything after the dense evaluation runs
    with one intra-op thread in this thread (runtime.single_threaded): the pruning is many tiny
    operators, and evaluation still uses every core through the worker pool.
    base_config: settings kept fixed (model, layer types, norm, calibration size, seed).
    on_line: called with the (growing) result after each finished line, to show curves as they come.
    """
    check_grid(methods, scopes, amounts)
    started = time.perf_counter()
    model_name = name_or_model if isinstance(name_or_model, str) else (base_config or PruneConfig()).model
    base = replace(base_config or PruneConfig(model=model_name), model=model_name)
    base_model = load_pretrained(model_name)[0] if isinstance(name_or_model, str) else name_or_model
    result = SweepResult(model_name, eval_set.describe(), tuple(amounts), base,
                         accuracy(base_model, model_name, eval_set))
    with single_threaded():
        _sweep_lines(result, name_or_model, base_model, eval_set, methods or list_methods(), scopes, progress,
                     on_line, store if isinstance(name_or_model, str) else None)
    result.seconds = time.perf_counter() - started
    return result


def check_grid(methods: list[str] | None, scopes: tuple[str, ...], amounts: tuple[float, ...]) -> None:
    """A ValueError naming the problem unless the grid is registered methods, known scopes and
    1..MAX_AMOUNTS amounts, each a fraction from 0 to below 1."""
    for method in methods or []:
        get_method(method)                                   # unknown: lists the registered ones
    if not scopes or any(scope not in SCOPES for scope in scopes):
        raise ValueError(f"scopes must be some of {list(SCOPES)}, got {list(scopes)}")
    if not 1 <= len(amounts) <= MAX_AMOUNTS:
        raise ValueError(f"a sweep takes 1 to {MAX_AMOUNTS} amounts, got {len(amounts)}")
    bad = [a for a in amounts if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a < 1]
    if bad:
        raise ValueError(f"sweep amounts must be fractions from 0 to below 1, got {bad[:3]}")


def _sweep_lines(result: SweepResult, name_or_model: str | nn.Module, base_model: nn.Module, eval_set: DigitSet,
                 methods: list[str], scopes: tuple[str, ...], progress: Progress | None,
                 on_line: Callable[[SweepResult], None] | None, store: MeasurementStore | None = None) -> None:
    """Fill result.points line by line (one method, one scope). A method's importance scores do not
    depend on the amount or scope: they are computed once per method (on a copy of the base model)."""
    evaluated: dict[str, float] = {"dense": result.dense_accuracy}
    calibration = ImportanceContext(base_model, {}, result.base_config).calibration_batch()  # prune_model's digits
    lines = [(method, scope) for method in methods for scope in scopes]
    scores: dict[str, dict[str, torch.Tensor]] = {}
    for i, (method, scope) in enumerate(lines):
        if progress is not None:
            progress(i / len(lines), f"sweeping {method} / {scope}")
        if method not in scores:
            scores[method] = importance_scores(copy.deepcopy(base_model), replace(result.base_config, method=method),
                                               calibration)
        configs = _line_configs(result.base_config, base_model, method, scope, result.amounts)
        if store is not None:
            _stored_line(result, configs, eval_set, store, scores[method], calibration)
            if on_line is not None:
                on_line(result)
            continue
        pruned = [prune_model(name_or_model, config, calibration=calibration, scores=scores[method])
                  for config in configs]
        keys = [mask_fingerprint(p.model) for p in pruned]
        for key, p in zip(keys, pruned):
            if key not in evaluated:
                started = time.perf_counter()
                evaluated[key] = accuracy(evaluation_model(p.model, result.model), result.model, eval_set)
                result.evaluation_seconds += time.perf_counter() - started
                result.models_evaluated += 1
        threshold = get_method(method).uses_threshold
        result.points = result.points + [SweepPoint(method, scope, c.amount, p.global_sparsity, evaluated[key],
                                                    c.threshold if threshold else None)
                                         for c, p, key in zip(configs, pruned, keys)]   # a new list: readers
        if on_line is not None:                                                          # see whole lines
            on_line(result)
    if progress is not None:
        progress(1.0, f"{len(result.points)} points, {len(evaluated)} distinct models evaluated")


def _stored_line(result: SweepResult, configs: list[PruneConfig], eval_set: DigitSet, store: MeasurementStore,
                 scores: dict[str, torch.Tensor], calibration: tuple[torch.Tensor, torch.Tensor]) -> None:
    """One line's points from the shared store (each measured now and stored if missing)."""
    threshold = get_method(configs[0].method).uses_threshold
    points = []
    for config in configs:
        started = time.perf_counter()
        measurement = measured(config, eval_set, store, scores=scores, calibration=calibration)
        if not measurement.from_store:
            result.models_evaluated += 1
            result.evaluation_seconds += time.perf_counter() - started
        points.append(SweepPoint(config.method, config.scope, config.amount, measurement.global_sparsity,
                                 measurement.accuracy_after, config.threshold if threshold else None))
    result.points = result.points + points                      # a new list: readers see whole lines


SHRINK_MIN_FRACTION = 0.2   # shrinking costs ~8 ms (lenet); below this it saves less than that


def evaluation_model(model: nn.Module, model_name: str) -> nn.Module:
    """The model to measure: `model` itself, or, when at least SHRINK_MIN_FRACTION of its hidden units
    are all-zero (structured pruning), the physically smaller network computing the same outputs
    (shrink.shrink_model; max |logit difference| <= 1e-5, tested): the same accuracy in fewer operations."""
    if not is_shrinkable(model):
        return model
    units = sum(m.weight.shape[0] for m in prunable_layers(model, structured=True).values())
    removable = sum(map(len, removable_units(model).values()))    # reads weight (= orig * mask) and bias
    return shrink_model(model, model_name).model if removable >= SHRINK_MIN_FRACTION * max(1, units) else model
