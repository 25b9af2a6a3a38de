"""Pruning masks (torch.nn.utils.prune's weight_orig + weight_mask): copy, snapshot, merge, measure."""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator

import torch
import torch.nn.utils.prune as prune
from torch import nn


def pruned_tensors(model: nn.Module) -> Iterator[tuple[nn.Module, str]]:
    """(module, tensor name) for every tensor of `model` that torch.nn.utils.prune masks."""
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                yield module, hook._tensor_name


def refresh_masked(model: nn.Module) -> None:
    """Recompute every masked tensor (orig * mask) outside autograd: after training, the model then
    holds no graph of the last step (and can be deep-copied)."""
    with torch.no_grad():
        for module, name in pruned_tensors(model):
            setattr(module, name, getattr(module, f"{name}_orig") * getattr(module, f"{name}_mask"))


def permanent_copy(model: nn.Module) -> nn.Module:
    """A deep copy (eval mode) with every mask made permanent (prune.remove): plain parameters holding
    zeros where pruned. The given model is not changed."""
    # a masked tensor (orig * mask) may carry autograd history, which deepcopy refuses: copy it detached
    memo = {id(getattr(module, name)): getattr(module, name).detach() for module, name in pruned_tensors(model)}
    plain = copy.deepcopy(model, memo).eval()
    for module, name in list(pruned_tensors(plain)):
        prune.remove(module, name)
    return plain


def weight_mask(module: nn.Module) -> torch.Tensor:
    """A copy of the layer's weight mask (1 kept, 0 pruned); all ones for a layer that is not pruned."""
    mask = getattr(module, "weight_mask", None)
    return torch.ones_like(module.weight) if mask is None else mask.detach().clone()


def mask_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every mask buffer by qualified name (e.g. "conv1.weight_mask")."""
    return {name: mask.detach().clone() for name, mask in model.named_buffers() if name.endswith("_mask")}


def merge_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Keep earlier masks (a mask_snapshot) in `model`: torch.nn.utils.prune composes a new mask with a
    tensor's existing one (its default_mask), so a weight pruned before stays pruned."""
    for name, mask in masks.items():
        module_name, _, buffer_name = name.rpartition(".")
        prune.custom_from_mask(model.get_submodule(module_name), buffer_name.removesuffix("_mask"), mask)


def mask_fingerprint(model: nn.Module) -> str:
    """A digest of the masks: equal masks on the same base model compute the same function. Masks of
    all ones compute exactly the dense model (w * 1 == w): they digest to "dense"."""
    masks = {name: mask.bool() for name, mask in model.named_buffers() if name.endswith("_mask")}
    if all(bool(mask.all()) for mask in masks.values()):
        return "dense"
    digest = hashlib.sha1()
    for name, mask in masks.items():
        digest.update(name.encode())
        digest.update(mask.numpy().tobytes())
    return digest.hexdigest()


def pruned_fraction(layers: dict[str, nn.Module], structured: bool) -> float:
    """Of the given layers, the fraction of weights (structured=False) or of output units, i.e. whole
    rows of the weight (structured=True), that are masked."""
    masks = [weight_mask(m) for m in layers.values()]
    if structured:
        dead = sum(int((mask.flatten(1) == 0).all(1).sum()) for mask in masks)
        return dead / max(1, sum(mask.shape[0] for mask in masks))
    return sum(int((mask == 0).sum()) for mask in masks) / max(1, sum(mask.numel() for mask in masks))


def threshold_for_sparsity(layers: dict[str, nn.Module], sparsity: float) -> float:
    """The magnitude threshold t such that pruning |w| < t removes round(sparsity * n) of the n weights
    of the layers (exactly, unless magnitudes tie at the cut)."""
    magnitudes = torch.cat([m.weight.detach().abs().flatten() for m in layers.values()])   # (n,)
    k = round(sparsity * magnitudes.numel())
    if k >= magnitudes.numel():
        return float(magnitudes.max()) * 2 + 1.0
    return float(torch.kthvalue(magnitudes, k + 1).values)      # the (k+1)-th smallest stays
