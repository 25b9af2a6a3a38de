"""Real channel removal: turn a structurally masked model into the actually smaller network."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from models import create_model, get_model_entry

from .data import DigitSet
from .evaluate import logits
from .inputs import prepared_inputs
from .masks import permanent_copy
from .pruner import layer_type, prunable_layers

@dataclass
class ShrinkResult:
    """The physically smaller network and how it was obtained."""

    model: nn.Module                      # plain module of the registered class, eval mode
    model_args: dict[str, Any]            # create_model(name, **model_args) builds this architecture
    widths: dict[str, tuple[int, int]] = field(default_factory=dict)   # layer -> (units before, after)

    def to_dict(self) -> dict[str, Any]:
        return {"model_args": self.model_args, "widths": {k: list(v) for k, v in self.widths.items()}}


def is_shrinkable(model: nn.Module) -> bool:
    """Whether the architecture can say its own widths (a `model_args()` method), so that a
    physically smaller copy can be rebuilt from the registry."""
    return callable(getattr(model, "model_args", None))


def architecture_args(model_name: str, model: nn.Module) -> dict[str, Any]:
    """Constructor widths of `model` (an instance of registry model `model_name`), from its model_args()."""
    get_model_entry(model_name)
    if not is_shrinkable(model):
        raise ValueError(f"model {model_name!r} ({type(model).__name__}) has no model_args() method giving "
                         "its widths, so it cannot be rebuilt smaller or exported")
    return dict(model.model_args())


def removable_units(model: nn.Module) -> dict[str, list[int]]:
    """Per hidden conv/linear layer, the output units (filters / neurons) whose weights and bias are
    all exactly zero: they output 0, and ReLU / max-pool / flatten keep it 0, so removing them (and
    the next layer's matching inputs) leaves the outputs unchanged. The output layer is never listed.
    A layer whose units are all zero keeps its first one, so the network stays connected."""
    removable = {}
    for name, module in prunable_layers(model, structured=True).items():
        weight = module.weight.detach().flatten(1)                        # (out_units, fan_in)
        dead = (weight == 0).all(dim=1)                                   # (out_units,)
        if module.bias is not None:
            dead &= module.bias.detach() == 0
        if bool(dead.all()):
            dead[0] = False
        removable[name] = dead.nonzero().flatten().tolist()
    return removable


def example_input(model_name: str) -> torch.Tensor:
    """One zero digit of the model's input size: (1, 1, 28 + 2p, 28 + 2p)."""
    side = 28 + 2 * get_model_entry(model_name).input_padding
    return torch.zeros(1, 1, side, side)


def shrink_model(model: nn.Module, model_name: str) -> ShrinkResult:
    """The network without its all-zero units, built with torch-pruning's dependency graph (which
    also removes the matching input channels / flattened features of the following layers).

    `model` is typically PruneResult.model of a structured method (masks, not yet removed); it is
    not changed. The result is rebuilt as create_model(model_name, **model_args) with the weights
    loaded strictly, so it is an ordinary instance of the registered class.
    """
    import torch_pruning as tp   # late import: only this feature needs it

    plain = permanent_copy(model)
    for parameter in plain.parameters():
        parameter.requires_grad_(True)          # torch-pruning only traces trainable layers
    before = {name: m.weight.shape[0] for name, m in prunable_layers(plain, structured=True).items()}
    removable = removable_units(plain)
    graph = tp.DependencyGraph().build_dependency(plain, example_inputs=example_input(model_name),
                                                  verbose=False)
    for name, units in removable.items():
        if not units:
            continue
        module = plain.get_submodule(name)
        remove = tp.prune_conv_out_channels if layer_type(module) == "conv" else tp.prune_linear_out_channels
        group = graph.get_pruning_group(module, remove, idxs=units)
        if not graph.check_pruning_group(group):
            raise ValueError(f"torch-pruning refuses to remove {len(units)} units of layer {name!r}")
        group.prune()
    args = architecture_args(model_name, plain)
    rebuilt = create_model(model_name, **args)
    rebuilt.load_state_dict(plain.state_dict())
    rebuilt.eval().requires_grad_(False)
    widths = {name: (units, rebuilt.get_submodule(name).weight.shape[0]) for name, units in before.items()}
    return ShrinkResult(rebuilt, args, widths)


def max_output_difference(model_a: nn.Module, model_b: nn.Module, model_name: str,
                          eval_set: DigitSet) -> float:
    """Largest absolute difference between the two models' logits over every digit of the set."""
    x = prepared_inputs(eval_set, get_model_entry(model_name).input_padding)     # (N, 1, H, W)
    return float((logits(model_a, x) - logits(model_b, x)).abs().max())
