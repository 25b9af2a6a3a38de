"""The one entry point: prune_model(name_or_model, config) -> PruneResult."""
from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from models import get_model_entry

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .evaluate import predictions, probabilities
from .pruner import apply_pruning
from .runtime import single_threaded
from .stats import LayerStats, global_sparsity, layer_stats, parameter_counts


@dataclass
class PruneResult:
    """Everything one pruning run produced; the UI and CLI only adapt this."""

    config: PruneConfig
    layers: list[LayerStats]               # after pruning
    layers_before: list[LayerStats]        # the same layers before pruning (the pretrained weights)
    global_sparsity: float                 # zeros / weights over all conv + linear layers
    total_params: int                      # every parameter, biases included
    nonzero_params: int
    eval_set: str | None = None            # e.g. "MNIST test split (10,000 digits)"
    accuracy_before: float | None = None   # 0..1, dense pretrained model
    accuracy_after: float | None = None    # 0..1, pruned model
    predictions_before: torch.Tensor | None = field(default=None, repr=False)  # (N_eval,) classes
    predictions_after: torch.Tensor | None = field(default=None, repr=False)
    probabilities_before: torch.Tensor | None = field(default=None, repr=False)  # (N_digits, 10)
    probabilities_after: torch.Tensor | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict)    # seconds per phase
    model: nn.Module | None = field(default=None, repr=False)  # the pruned (masked) model; None when served
    from_store: bool = False               # served from the shared store (measured before, by this code)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (no tensors but small probability lists)."""
        def listed(t: torch.Tensor | None) -> list | None:
            return None if t is None else [[round(float(p), 6) for p in row] for row in t]
        return {"config": self.config.to_dict(), "layers": [s.to_dict() for s in self.layers],
                "layers_before": [s.to_dict() for s in self.layers_before],
                "global_sparsity": self.global_sparsity, "total_params": self.total_params,
                "nonzero_params": self.nonzero_params, "eval_set": self.eval_set,
                "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after,
                "probabilities_before": listed(self.probabilities_before),
                "probabilities_after": listed(self.probabilities_after), "timings": self.timings}


@lru_cache(maxsize=32)
def dense_predictions(model_name: str, eval_set: DigitSet) -> torch.Tensor:
    """The pretrained model's predictions on an eval set: computed once per process, shared read-only."""
    return predictions(load_pretrained(model_name)[0], model_name, eval_set)


def _check_inputs(name_or_model: str | nn.Module, config: PruneConfig, digits: torch.Tensor | None) -> None:
    """The model to prune must be the config's architecture (inputs are sized for it); digits 28x28."""
    if digits is not None and (not isinstance(digits, torch.Tensor) or not digits.is_floating_point()
                               or digits.dim() != 4 or tuple(digits.shape[1:]) != (1, 28, 28)):
        shape = tuple(digits.shape) if isinstance(digits, torch.Tensor) else type(digits).__name__
        raise ValueError(f"digits must be normalized float (N, 1, 28, 28), got {shape}")
    if isinstance(name_or_model, str):
        get_model_entry(name_or_model)                       # unknown names: a ValueError listing known ones
        if name_or_model != config.model:
            raise ValueError(f"config is for model {config.model!r} but {name_or_model!r} was given")
        return
    if not isinstance(name_or_model, nn.Module):
        raise ValueError(f"expected a model name or an nn.Module, got {type(name_or_model).__name__}")
    builder = get_model_entry(config.model).builder
    if isinstance(builder, type) and not isinstance(name_or_model, builder):
        raise ValueError(f"config is for model {config.model!r} ({builder.__name__}) but the given "
                         f"model is a {type(name_or_model).__name__}")


def measure(result: PruneResult, eval_set: DigitSet, base: nn.Module | None = None,
            dense: torch.Tensor | None = None) -> PruneResult:
    """Fill `result`'s accuracy before/after and predictions over the whole `eval_set` (in place).
    base: the unpruned model when it is not the shipped checkpoint; dense: its predictions on this set,
    when already known (e.g. from the shared store), else computed (once per process for a checkpoint)."""
    start = time.perf_counter()
    name = result.config.model
    if dense is None:
        dense = dense_predictions(name, eval_set) if base is None else predictions(base, name, eval_set)
    result.predictions_before = dense
    result.predictions_after = predictions(result.model, name, eval_set)
    result.eval_set = eval_set.describe()
    result.accuracy_before = float((dense == eval_set.labels).float().mean())
    result.accuracy_after = float((result.predictions_after == eval_set.labels).float().mean())
    result.timings["evaluate_s"] = time.perf_counter() - start
    return result


def prune_model(name_or_model: str | nn.Module, config: PruneConfig, eval_set: DigitSet | None = None,
                digits: torch.Tensor | None = None,
                calibration: tuple[torch.Tensor, torch.Tensor] | None = None,
                scores: dict[str, torch.Tensor] | None = None) -> PruneResult:
    """Prune a copy of the pretrained model (or of a given model) and measure it.

    name_or_model: a registry name (its shipped checkpoint) or a module of architecture
        `config.model`; either way it is deep-copied and never modified.
    eval_set: when given, accuracy before and after over the whole set.
    digits: normalized (N, 1, 28, 28) digits whose class probabilities to report before/after.
    calibration: (digits, labels) for data-driven methods: normalized (N, 1, 28, 28) digits, padded
        here like `digits`, and (N,) labels; default: `calibration_size` training digits by seed.
    scores: importance scores already computed for these weights and settings
        (pruner.importance_scores); the sweep reuses one set across amounts and scopes.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    _check_inputs(name_or_model, config, digits)
    base = load_pretrained(name_or_model)[0] if isinstance(name_or_model, str) else name_or_model
    model = copy.deepcopy(base).eval()
    method = config.method_entry
    # masks are many tiny operators, cheaper on one thread, above all when other work holds the cores;
    # data-driven scoring runs a batch backward pass, which is faster on all threads
    with contextlib.nullcontext() if method.data_driven else single_threaded():
        apply_pruning(model, config, calibration, scores, method)
    stats = layer_stats(model)
    total, nonzero = parameter_counts(model)
    timings["prune_s"] = time.perf_counter() - start
    result = PruneResult(config, stats, layer_stats(base), global_sparsity(stats), total, nonzero,
                         timings=timings, model=model)
    if eval_set is not None:
        measure(result, eval_set, base if not isinstance(name_or_model, str) else None)
    if digits is not None:
        result.probabilities_before = probabilities(base, config.model, digits)
        result.probabilities_after = probabilities(model, config.model, digits)
    return result
