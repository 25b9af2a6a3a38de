"""The pruning policy (which layers, local or global) applied with torch.nn.utils.prune masks."""
from __future__ import annotations

import torch
import torch.nn.utils.prune as prune
from torch import nn

from .config import LAYER_TYPES, PruneConfig
from .importance import ImportanceContext
from .methods import MethodEntry


class ThresholdPruning(prune.BasePruningMethod):
    """Prune every weight whose magnitude is below an absolute threshold."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def compute_mask(self, importance_scores: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        return default_mask * (importance_scores.abs() >= self.threshold).to(default_mask.dtype)


def layer_type(module: nn.Module) -> str | None:
    """"conv", "linear", or None for layers we never prune."""
    return next((name for name, cls in LAYER_TYPES.items() if type(module) is cls), None)


def prunable_layers(model: nn.Module, layer_types: tuple[str, ...] = tuple(LAYER_TYPES),
                    structured: bool = False) -> dict[str, nn.Module]:
    """Selected layers by name, in model order. Structured pruning keeps the output layer whole:
    removing its neurons would remove classes."""
    layers = {name: m for name, m in model.named_modules() if layer_type(m) is not None}
    output_layer = next(reversed(layers), None)
    return {name: m for name, m in layers.items()
            if layer_type(m) in layer_types and not (structured and name == output_layer)}


def selected_layers(model: nn.Module, config: PruneConfig, method: MethodEntry | None = None
                    ) -> dict[str, nn.Module]:
    """The layers `config` prunes in `model`; a ValueError if there are none (or if a per-layer amount
    names a layer that is not among them)."""
    method = method or config.method_entry
    layers = prunable_layers(model, config.layer_types, method.structured)
    if not layers:
        kept_whole = " (structured pruning keeps the output layer whole)" if method.structured else ""
        raise ValueError(f"model {config.model!r} has no {' or '.join(config.layer_types)} layers "
                         f"to prune{kept_whole}; choose other layer types")
    unknown = [name for name, _ in config.layer_amounts if name not in layers]
    if unknown:
        raise ValueError(f"per-layer amounts name layer(s) {unknown} that {config.method} does not prune "
                         f"in {config.model}; layers: {', '.join(layers)}")
    return layers


def importance_scores(model: nn.Module, config: PruneConfig,
                      calibration: tuple[torch.Tensor, torch.Tensor] | None = None,
                      method: MethodEntry | None = None) -> dict[str, torch.Tensor]:
    """The method's scores for the selected layers, by layer name: per weight (unstructured) or per
    output unit (structured). They do not depend on the amount or the scope, so one set can prune
    the same weights at many amounts (the sweep does)."""
    method = method or config.method_entry
    layers = selected_layers(model, config, method)
    return method.importance(ImportanceContext(model, layers, config, calibration))


def apply_pruning(model: nn.Module, config: PruneConfig,
                  calibration: tuple[torch.Tensor, torch.Tensor] | None = None,
                  scores: dict[str, torch.Tensor] | None = None,
                  method: MethodEntry | None = None) -> dict[str, nn.Module]:
    """Mask `model` in place per `config` (weight_orig + weight_mask); returns the pruned layers.
    scores: importance_scores(...) of these same weights under this method, layers and settings;
    computed here when None. method: config's registry entry, when the caller already has it."""
    method = method or config.method_entry
    layers = selected_layers(model, config, method)
    if scores is None:
        scores = importance_scores(model, config, calibration, method)
    _check_scores(scores, layers, method.structured)
    if method.masker is not None:
        method.masker(layers, scores, config)
    elif method.uses_threshold:
        for name, module in layers.items():
            ThresholdPruning.apply(module, "weight", config.threshold, importance_scores=scores[name])
    elif method.structured:
        _prune_units(layers, scores, config)
    elif config.scope == "global":
        prune.global_unstructured([(m, "weight") for m in layers.values()], prune.L1Unstructured,
                                  importance_scores={(m, "weight"): scores[n] for n, m in layers.items()},
                                  amount=config.amount)
    else:
        for name, module in layers.items():
            prune.l1_unstructured(module, "weight", config.amount_for(layer_type(module), name),
                                  importance_scores=scores[name])
    return layers


def _check_scores(scores: dict[str, torch.Tensor], layers: dict[str, nn.Module], structured: bool) -> None:
    """Scores must cover exactly the selected layers, one per weight (or per output unit)."""
    if set(scores) != set(layers):
        raise ValueError(f"importance scores are for layers {sorted(scores)}, but {sorted(layers)} are pruned")
    for name, module in layers.items():
        expected = module.weight.shape[:1] if structured else module.weight.shape
        if tuple(scores[name].shape) != tuple(expected):
            raise ValueError(f"importance scores for {name!r} have shape {tuple(scores[name].shape)}, "
                             f"expected {tuple(expected)}")


def _prune_units(layers: dict[str, nn.Module], unit_scores: dict[str, torch.Tensor],
                 config: PruneConfig) -> None:
    """Remove whole output units (rows of the weight, and their bias) by unit score."""
    if config.scope == "global":
        keep = _global_unit_keep(unit_scores, config.amount)
    else:
        keep = {name: _local_unit_keep(unit_scores[name], config.amount_for(layer_type(m), name))
                for name, m in layers.items()}
    for name, module in layers.items():
        unit_mask = keep[name].to(module.weight.dtype)                        # (out_units,)
        shape = (-1,) + (1,) * (module.weight.dim() - 1)
        prune.custom_from_mask(module, "weight", unit_mask.reshape(shape).expand_as(module.weight))
        if module.bias is not None:
            prune.custom_from_mask(module, "bias", unit_mask)


def _local_unit_keep(scores: torch.Tensor, amount: float) -> torch.Tensor:
    """Keep mask over units: drop round(amount * units) lowest-scoring ones (as torch's ln_structured)."""
    n_prune = round(amount * scores.numel())  # the rounding torch.nn.utils.prune uses
    keep = torch.ones_like(scores, dtype=torch.bool)
    if n_prune:
        keep[torch.topk(scores, n_prune, largest=False).indices] = False
    return keep


def _global_unit_keep(unit_scores: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """One ranking over all units. Each layer's scores are divided by that layer's mean score, so a
    unit is ranked against its own layer's typical unit (layers have different scales). Every layer
    keeps at least its best unit, so the network stays connected."""
    names = list(unit_scores)
    normalized = torch.cat([s / s.mean().clamp_min(1e-12) for s in unit_scores.values()])
    sizes = [s.numel() for s in unit_scores.values()]
    best = torch.cat([torch.nn.functional.one_hot(s.argmax(), s.numel()).bool() for s in unit_scores.values()])
    n_prune = min(round(amount * normalized.numel()), int((~best).sum()))
    keep = torch.ones_like(normalized, dtype=torch.bool)
    if n_prune:
        candidates = normalized.masked_fill(best, float("inf"))
        keep[torch.topk(candidates, n_prune, largest=False).indices] = False
    return dict(zip(names, keep.split(sizes)))
