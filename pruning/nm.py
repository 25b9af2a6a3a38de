"""N:M semi-structured sparsity: in every M consecutive weights along a unit's inputs keep the N largest |w|."""
from __future__ import annotations

import torch
import torch.nn.utils.prune as prune
from torch import nn

from .config import parse_nm

PATTERNS = ("2:4", "1:4", "4:8")      # the patterns the page offers (2:4: GPU sparse tensor cores)


class NMPruning(prune.BasePruningMethod):
    """Keep the n largest-scoring of every m consecutive weights of each output unit's flattened
    inputs (row-major over (in, kh, kw)). The fan-in must be a multiple of m: sparse kernels need
    whole groups, so such layers are never given to it (see nm_masker)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = n, m

    def compute_mask(self, importance_scores: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        rows = importance_scores.reshape(importance_scores.shape[0], -1)               # (out, fan_in)
        groups = rows.reshape(rows.shape[0], -1, self.m)                                # (out, fan_in/m, m)
        keep = torch.zeros_like(groups, dtype=torch.bool)
        keep.scatter_(2, groups.topk(self.n, dim=2).indices, True)                      # n per group
        return default_mask * keep.reshape(importance_scores.shape).to(default_mask.dtype)


def fan_in(module: nn.Module) -> int:
    """Inputs per output unit: in_features, or in_channels * kh * kw."""
    return module.weight[0].numel()


def nm_layers(layers: dict[str, nn.Module], m: int) -> tuple[dict[str, nn.Module], list[str]]:
    """(layers N:M can prune, names of layers left dense because their fan-in is not a multiple of m)."""
    usable = {name: module for name, module in layers.items() if fan_in(module) % m == 0}
    return usable, [name for name in layers if name not in usable]


def nm_masker(layers: dict[str, nn.Module], scores: dict[str, torch.Tensor], config) -> None:
    """Apply config.nm to every layer whose fan-in is a multiple of M; the others stay dense."""
    n, m = parse_nm(config.nm)
    usable, _ = nm_layers(layers, m)
    for name, module in usable.items():
        NMPruning.apply(module, "weight", n, m, importance_scores=scores[name])
