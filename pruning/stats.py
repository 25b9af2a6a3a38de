"""Per-layer and whole-model sparsity statistics of a (masked) model."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .pruner import layer_type, prunable_layers


@dataclass(frozen=True)
class LayerStats:
    """Sparsity of one layer's weight tensor."""

    name: str
    kind: str       # "conv" or "linear"
    total: int      # weights in the layer
    zeros: int      # weights that are exactly zero

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "sparsity": self.sparsity}


def layer_stats(model: nn.Module) -> list[LayerStats]:
    """Stats for every conv/linear layer (masked weights count as zeros)."""
    stats = []
    for name, module in prunable_layers(model).items():
        weight = module.weight                       # weight_orig * weight_mask when pruned
        stats.append(LayerStats(name, layer_type(module), weight.numel(), int((weight == 0).sum())))
    return stats


def global_sparsity(stats: list[LayerStats]) -> float:
    """Zeros over weights, across all conv/linear layers (the tutorial's 'global sparsity')."""
    total = sum(s.total for s in stats)
    return sum(s.zeros for s in stats) / total if total else 0.0


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(total, nonzero) over every parameter of the model, biases included, masks applied."""
    tensors = _effective_parameters(model)
    return sum(t.numel() for t in tensors), sum(int(torch.count_nonzero(t)) for t in tensors)


def _effective_parameters(model: nn.Module) -> list[torch.Tensor]:
    """Each parameter as the network uses it: for a pruned one, the masked tensor."""
    tensors = []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            base = name[:-5] if name.endswith("_orig") else name
            tensors.append(getattr(module, base).detach())
    return tensors
