"""Importance scores (what to cut): one function per registered pruning method."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from models import get_model_entry

from .data import normalize, package_train_digits
from .inputs import pad_inputs
from .methods import register_method
from .nm import nm_masker

if TYPE_CHECKING:
    from .config import PruneConfig


@dataclass
class ImportanceContext:
    """Everything an importance function may look at."""

    model: nn.Module                 # the copy being pruned (never the pretrained model)
    modules: dict[str, nn.Module]    # selected layers by qualified name
    config: PruneConfig
    calibration: tuple[torch.Tensor, torch.Tensor] | None = None   # (x, labels); None -> sampled
    _cached: tuple | None = field(default=None, repr=False)

    def calibration_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs and labels: the given calibration digits (padded to the model's input size),
        or `calibration_size` training digits drawn with `seed`."""
        if self._cached is None:
            padding = get_model_entry(self.config.model).input_padding
            if self.calibration is not None:
                x, labels = check_calibration(self.calibration)
            else:
                train = package_train_digits()
                generator = torch.Generator().manual_seed(self.config.seed)
                index = torch.randperm(len(train), generator=generator)[: self.config.calibration_size]
                x, labels = normalize(train.images[index]), train.labels[index]   # (n, 1, 28, 28), (n,)
            if x.shape[-2:] == (28, 28):
                x = pad_inputs(x, padding)                   # (n, 1, 28 + 2p, 28 + 2p)
            if x.shape[-2:] != (28 + 2 * padding,) * 2:
                raise ValueError(f"calibration digits must be 28x28 (or {28 + 2 * padding}x{28 + 2 * padding}, "
                                 f"the input of {self.config.model!r}), got {tuple(x.shape[-2:])}")
            self._cached = (x, labels)
        return self._cached

    def generator(self) -> torch.Generator:
        """A fresh generator seeded with the config's seed (same seed -> same masks)."""
        return torch.Generator().manual_seed(self.config.seed)


def check_calibration(calibration: object) -> tuple[torch.Tensor, torch.Tensor]:
    """(digits, labels): normalized float (N, 1, 28, 28) digits (or already model-sized inputs) and
    (N,) class labels 0..9; anything else raises a ValueError saying what is wrong."""
    if not isinstance(calibration, (tuple, list)) or len(calibration) != 2 \
            or not all(isinstance(t, torch.Tensor) for t in calibration):
        raise ValueError("calibration must be a pair (digits, labels) of tensors")
    x, labels = calibration
    if x.dim() != 4 or x.shape[1] != 1 or not x.is_floating_point() or x.shape[0] == 0:
        raise ValueError(f"calibration digits must be normalized float (N, 1, H, W) with N >= 1, "
                         f"got {x.dtype} {tuple(x.shape)}")
    if labels.shape != (x.shape[0],) or labels.is_floating_point() \
            or int(labels.min()) < 0 or int(labels.max()) > 9:
        raise ValueError(f"calibration labels must be {x.shape[0]} whole class numbers 0..9, "
                         f"got {labels.dtype} {tuple(labels.shape)}")
    return x, labels.long()


def _weights(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return {name: module.weight.detach() for name, module in context.modules.items()}


@register_method("l1_unstructured", "Removes the individual weights with the smallest absolute value.",
                 structured=False)
def l1_magnitude(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return {name: w.abs() for name, w in _weights(context).items()}


@register_method("random_unstructured", "Removes individual weights chosen at random (a baseline).",
                 structured=False)
def random_weights(context: ImportanceContext) -> dict[str, torch.Tensor]:
    generator = context.generator()
    return {name: torch.rand(w.shape, generator=generator) for name, w in _weights(context).items()}


@register_method("ln_structured", "Removes whole conv filters / linear neurons whose weights have the "
                 "smallest L1 (or L2) norm.", structured=True, settings=("norm",))
def unit_norm(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return {name: w.flatten(1).norm(p=context.config.norm, dim=1) for name, w in _weights(context).items()}


@register_method("random_structured", "Removes whole conv filters / linear neurons chosen at random "
                 "(a baseline).", structured=True)
def random_units(context: ImportanceContext) -> dict[str, torch.Tensor]:
    generator = context.generator()
    return {name: torch.rand(w.shape[0], generator=generator) for name, w in _weights(context).items()}


@register_method("threshold", "Removes every weight whose magnitude is below an absolute threshold; "
                 "the sparsity is whatever that threshold gives.", structured=False, uses_threshold=True, settings=("threshold",))
def magnitude_for_threshold(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return l1_magnitude(context)


@register_method("nm_semi_structured", "Keeps the N largest |w| of every M consecutive weights (N:M, e.g. 2:4 "
                 "as GPU sparse tensor cores need); layers whose fan-in is not a multiple of M stay dense.",
                 structured=False, masker=nm_masker, uses_amount=False, settings=("nm",))
def magnitude_in_groups(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return l1_magnitude(context)


def _gradients(context: ImportanceContext) -> dict[str, torch.Tensor]:
    """dL/dw of the cross-entropy over the calibration batch, for every selected weight."""
    x, labels = context.calibration_batch()
    # an already-masked layer computes weight = weight_orig * mask on each call: differentiate the leaf
    # (dL/dweight_orig = dL/dweight * mask: the gradient itself, 0 where already pruned)
    weights = [getattr(module, "weight_orig", module.weight) for module in context.modules.values()]
    was_trainable = [w.requires_grad for w in weights]
    try:
        with torch.enable_grad():
            for w in weights:
                w.requires_grad_(True)
            loss = F.cross_entropy(context.model(x), labels)
            grads = torch.autograd.grad(loss, weights)
    finally:
        for w, trainable in zip(weights, was_trainable):
            w.requires_grad_(trainable)
    return dict(zip(context.modules, grads))


@register_method("gradient", "Removes the weights whose loss gradient |dL/dw| over calibration digits "
                 "is smallest: the loss barely reacts to them.", structured=False, data_driven=True)
def gradient_magnitude(context: ImportanceContext) -> dict[str, torch.Tensor]:
    return {name: g.abs() for name, g in _gradients(context).items()}


@register_method("taylor", "Removes the weights with the smallest |w * dL/dw|: a first-order estimate of "
                 "how much the loss changes without them.", structured=False, data_driven=True)
def taylor_first_order(context: ImportanceContext) -> dict[str, torch.Tensor]:
    weights = _weights(context)
    return {name: (weights[name] * g).abs() for name, g in _gradients(context).items()}


@register_method("activation", "Removes whole filters / neurons whose outputs are weakest (smallest mean "
                 "activation after the ReLU) on calibration digits.", structured=True, data_driven=True)
def mean_activation(context: ImportanceContext) -> dict[str, torch.Tensor]:
    """Mean post-ReLU output per unit. Every hidden conv / linear layer of the registered models feeds
    a ReLU (structured pruning never scores the output layer), so a unit that is always negative
    before the ReLU is silent (a dead unit) and scores 0, however large its raw output."""
    x, _ = context.calibration_batch()
    scores: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            # output: (N, C, H, W) for conv, (N, C) for linear -> mean ReLU(.) per unit C
            scores[name] = F.relu(output.detach()).transpose(0, 1).flatten(1).mean(1)
        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in context.modules.items()]
    try:
        with torch.inference_mode():
            context.model(x)
    finally:
        for handle in handles:
            handle.remove()
    return scores
