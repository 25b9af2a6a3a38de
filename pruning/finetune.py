"""Fine-tuning a pruned model with its masks held fixed (pruned weights stay exactly zero)."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from models import get_model_entry

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet, normalize, package_train_digits
from .engine import prune_model
from .evaluate import accuracy
from .inputs import pad_inputs
from .masks import refresh_masked
from .runtime import single_threaded
from .stats import global_sparsity, layer_stats
from .train import random_affine

Progress = Callable[[float, str], None]
# Caps, so that one request cannot hold the (shared, 2-core) server for minutes.
MAX_FINETUNE_STEPS = 300        # optimizer steps of one fine-tuning run
MAX_BATCH_SIZE = 256
DEFAULT_STEPS, DEFAULT_LR, DEFAULT_BATCH_SIZE = 100, 1e-3, 64


def check_int(value: Any, what: str, low: int, high: int, cap_name: str = "") -> int:
    """`value` if it is a whole number from low to high, else a ValueError naming `what` (and the cap)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        cap = f" ({cap_name})" if cap_name else ""
        raise ValueError(f"{what} must be a whole number from {low} to {high}{cap}, got {value!r}")
    return value


def check_training(steps: Any, lr: Any, batch_size: Any) -> None:
    """Caps and ranges of one fine-tuning run; a clear ValueError before any work."""
    check_int(steps, "steps", 1, MAX_FINETUNE_STEPS, "MAX_FINETUNE_STEPS")
    check_int(batch_size, "batch size", 1, MAX_BATCH_SIZE, "MAX_BATCH_SIZE")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 0.1:
        raise ValueError(f"learning rate must be a number in (0, 0.1], got {lr!r}")


@dataclass
class FinetuneResult:
    """Accuracy before pruning, after pruning and after fine-tuning the pruned model."""

    config: PruneConfig
    steps: int
    losses: list[float]                    # training loss of every step
    sparsity: float                        # global weight sparsity, the same before and after tuning
    eval_set: str | None = None
    accuracy_dense: float | None = None    # 0..1
    accuracy_pruned: float | None = None
    accuracy_finetuned: float | None = None
    seconds: float = 0.0
    model: nn.Module | None = field(default=None, repr=False)   # fine-tuned, masks still attached

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("model", "config")}
        return {**data, "config": self.config.to_dict()}


def finetune(model: nn.Module, model_name: str, steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR,
             batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0, augment: bool = True,
             progress: Progress | None = None,
             on_step: Callable[[int, nn.Module], None] | None = None) -> tuple[nn.Module, list[float]]:
    """A fine-tuned copy of `model` (e.g. PruneResult.model) and its per-step losses.

    Trains with Adam on the 4,000 package-shipped training digits (never test digits), with the
    training script's normalization, padding and random-affine augmentation. A pruned layer
    computes weight = weight_orig * weight_mask; the mask is a buffer, so the gradient reaching
    weight_orig is zero where pruned and every pruned weight (and masked bias) stays exactly 0.
    Runs with one intra-op thread: a step is many tiny operators (see runtime.single_threaded).
    `on_step(step, model)`, if given, runs before each step on the model being trained (e.g. to tighten
    its masks with torch.nn.utils.prune: the optimizer keeps training the same weight_orig parameters).
    """
    check_training(steps, lr, batch_size)
    train = package_train_digits()
    images, labels = normalize(train.images), train.labels          # (N, 1, 28, 28), (N,)
    padding = get_model_entry(model_name).input_padding
    generator = torch.Generator().manual_seed(seed)
    tuned = copy.deepcopy(model).train().requires_grad_(True)
    optimizer = torch.optim.Adam(tuned.parameters(), lr=lr)
    order, position, losses = torch.randperm(len(labels), generator=generator), 0, []
    with torch.enable_grad(), single_threaded():
        for step in range(steps):
            if on_step is not None:
                on_step(step, tuned)
            if position + batch_size > len(order):
                order, position = torch.randperm(len(labels), generator=generator), 0
            index = order[position:position + batch_size]
            position += batch_size
            x = random_affine(images[index], generator) if augment else images[index]
            loss = F.cross_entropy(tuned(pad_inputs(x, padding)), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if progress is not None and (step % 10 == 9 or step == steps - 1):
                progress((step + 1) / steps, f"fine-tuning step {step + 1}/{steps}, loss {losses[-1]:.3f}")
    tuned.eval().requires_grad_(False)
    refresh_masked(tuned)
    return tuned, losses


def prune_and_finetune(name_or_model: str | nn.Module, config: PruneConfig, steps: int = DEFAULT_STEPS,
                       eval_set: DigitSet | None = None, lr: float = DEFAULT_LR,
                       batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                       progress: Progress | None = None) -> FinetuneResult:
    """prune_model(name_or_model, config), then finetune() the masked model; with `eval_set`,
    accuracy of the dense, the pruned and the fine-tuned model."""
    check_training(steps, lr, batch_size)
    started = time.perf_counter()
    dense = load_pretrained(config.model)[0] if isinstance(name_or_model, str) else name_or_model
    measure = (lambda m: accuracy(m, config.model, eval_set)) if eval_set is not None else (lambda m: None)
    accuracy_dense = measure(dense)
    pruned = prune_model(name_or_model, config)
    tuned, losses = finetune(pruned.model, config.model, steps, lr, batch_size, seed, progress=progress)
    result = FinetuneResult(config, steps, losses, global_sparsity(layer_stats(tuned)),
                            eval_set and eval_set.describe(), accuracy_dense, measure(pruned.model),
                            measure(tuned), model=tuned)
    result.seconds = time.perf_counter() - started
    return result
