"""Inspection data: weight-magnitude histograms before/after pruning and conv filters with their masks."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .masks import weight_mask
from .pruner import layer_type, prunable_layers

MAX_GRID_FILTERS = 64      # filters (rows) shown in a filter grid
MAX_GRID_INPUTS = 32       # input channels (columns) shown in a filter grid


def layer_names(model: nn.Module, kind: str | None = None) -> list[str]:
    """Names of the conv / linear layers, in model order (only `kind` "conv" or "linear" if given)."""
    return [name for name, m in prunable_layers(model).items() if kind is None or layer_type(m) == kind]


def _layer(model: nn.Module, name: str) -> nn.Module:
    layers = prunable_layers(model)
    if name not in layers:
        raise ValueError(f"unknown layer {name!r}; layers: {', '.join(layers)}")
    return layers[name]


@dataclass(frozen=True)
class WeightHistogram:
    """|w| of one layer before pruning (all weights) and after (the weights kept), same bins."""

    layer: str
    edges: list[float]          # bins + 1 edges over [0, max |w|]
    before: list[int]           # counts, dense weights
    after: list[int]            # counts, weights still nonzero after pruning
    pruned: int                 # weights removed in this layer
    total: int
    threshold: float | None     # the magnitude cut, when the pruning was one (else None)
    threshold_scope: str        # "global", "layer" or "none": where that cut holds


def magnitude_cut(dense: nn.Module, pruned: nn.Module, layer: str) -> tuple[float | None, str]:
    """If every removed weight was smaller in magnitude than every kept one, the cut (the smallest
    kept |w|): first across all pruned layers ("global"), else within `layer` ("layer"). Methods
    that rank by anything but magnitude (gradients, activations, random, whole units) give None."""
    def cut(names: list[str]) -> float | None:
        kept, removed = [], []
        for name in names:
            weights, mask = _layer(dense, name).weight.detach().abs(), weight_mask(_layer(pruned, name))
            kept.append(weights[mask != 0])
            removed.append(weights[mask == 0])
        kept_all, removed_all = torch.cat(kept), torch.cat(removed)
        if removed_all.numel() == 0 or kept_all.numel() == 0:
            return None
        return float(kept_all.min()) if float(removed_all.max()) <= float(kept_all.min()) else None

    pruned_layers = [n for n, m in prunable_layers(pruned).items() if hasattr(m, "weight_mask")]
    if len(pruned_layers) > 1 and (threshold := cut(pruned_layers)) is not None:
        return threshold, "global"
    if (threshold := cut([layer])) is not None:
        return threshold, "layer"
    return None, "none"


def weight_histogram(dense: nn.Module, pruned: nn.Module, layer: str, bins: int = 50) -> WeightHistogram:
    """Histogram of |w| in `layer` of the dense model and of the kept weights of the pruned one."""
    if not 2 <= bins <= 500:
        raise ValueError(f"bins must be from 2 to 500, got {bins!r}")
    weights = _layer(dense, layer).weight.detach().abs().flatten()             # (n,)
    mask = weight_mask(_layer(pruned, layer)).flatten()                        # (n,)
    kept = _layer(pruned, layer).weight.detach().abs().flatten()[mask != 0]
    top = max(float(weights.max()), float(kept.max()) if kept.numel() else 0.0, 1e-12)
    edges = torch.linspace(0.0, top, bins + 1)
    before = torch.histc(weights, bins, 0.0, top).long()
    after = torch.histc(kept, bins, 0.0, top).long() if kept.numel() else torch.zeros(bins, dtype=torch.long)
    threshold, scope = magnitude_cut(dense, pruned, layer)
    return WeightHistogram(layer, edges.tolist(), before.tolist(), after.tolist(), int((mask == 0).sum()),
                           weights.numel(), threshold, scope)


@dataclass(frozen=True)
class FilterGrid:
    """A conv layer's kernels (dense weights) and masks, for an image grid: row = filter, column =
    input channel. A linear layer is shown as one (out, in) matrix."""

    layer: str
    kind: str                  # "conv" or "linear"
    weights: torch.Tensor      # (filters, inputs, kh, kw), dense weights
    mask: torch.Tensor         # same shape, 1 kept / 0 pruned
    total_filters: int         # before truncation to MAX_GRID_FILTERS
    total_inputs: int          # before truncation to MAX_GRID_INPUTS


def filter_grid(dense: nn.Module, pruned: nn.Module, layer: str) -> FilterGrid:
    """The kernels of `layer` with the pruning mask, at most MAX_GRID_FILTERS x MAX_GRID_INPUTS."""
    weights = _layer(dense, layer).weight.detach().clone()
    mask = weight_mask(_layer(pruned, layer))
    if weights.dim() == 2:                                     # linear (out, in) -> (1, 1, out, in)
        return FilterGrid(layer, "linear", weights[None, None], mask[None, None], 1, 1)
    filters, inputs = weights.shape[:2]
    return FilterGrid(layer, "conv", weights[:MAX_GRID_FILTERS, :MAX_GRID_INPUTS],
                      mask[:MAX_GRID_FILTERS, :MAX_GRID_INPUTS], filters, inputs)
