"""Fine-tuning with the pruning masks held fixed, and iterative prune -> fine-tune (Han et al. style)."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch import nn

from models import get_model_entry

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet, normalize, package_train_digits
from .engine import prune_model
from .evaluate import accuracy, pad_inputs
from .methods import get_method
from .pruner import prunable_layers
from .shrink import permanent_copy
from .stats import global_sparsity, layer_stats
from .sweep import threshold_for_sparsity
from .threads import single_threaded
from .train import random_affine

Progress = Callable[[float, str], None]
# Caps, so that one request cannot hold the (shared, 2-core) server for minutes.
MAX_FINETUNE_STEPS = 300        # optimizer steps of one fine-tuning run
MAX_ROUNDS = 10                 # rounds of iterative pruning
MAX_TOTAL_STEPS = 1000          # rounds x steps per round, iterative pruning
MAX_BATCH_SIZE = 256
DEFAULT_STEPS, DEFAULT_LR, DEFAULT_BATCH_SIZE = 100, 1e-3, 64
BISECTION_STEPS = 12            # iterative: amount search when old + new masks overshoot the target
TARGET_TOLERANCE = 0.005


def _check_int(value: Any, what: str, low: int, high: int, cap_name: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        cap = f" ({cap_name})" if cap_name else ""
        raise ValueError(f"{what} must be a whole number from {low} to {high}{cap}, got {value!r}")
    return value


def _check_training(steps: Any, lr: Any, batch_size: Any) -> None:
    """Caps and ranges of one fine-tuning run; a clear ValueError before any work."""
    _check_int(steps, "steps", 1, MAX_FINETUNE_STEPS, "MAX_FINETUNE_STEPS")
    _check_int(batch_size, "batch size", 1, MAX_BATCH_SIZE, "MAX_BATCH_SIZE")
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
             progress: Progress | None = None) -> tuple[nn.Module, list[float]]:
    """A fine-tuned copy of `model` (e.g. PruneResult.model) and its per-step losses.

    Trains with Adam on the 4,000 package-shipped training digits (never test digits), with the
    training script's normalization, padding and random-affine augmentation. A pruned layer
    computes weight = weight_orig * weight_mask; the mask is a buffer, so the gradient reaching
    weight_orig is zero where pruned and every pruned weight (and masked bias) stays exactly 0.
    Runs with one intra-op thread: a step is many tiny operators (see threads.single_threaded).
    """
    _check_training(steps, lr, batch_size)
    train = package_train_digits()
    images, labels = normalize(train.images), train.labels          # (N, 1, 28, 28), (N,)
    padding = get_model_entry(model_name).input_padding
    generator = torch.Generator().manual_seed(seed)
    tuned = copy.deepcopy(model).train().requires_grad_(True)
    optimizer = torch.optim.Adam(tuned.parameters(), lr=lr)
    order, position, losses = torch.randperm(len(labels), generator=generator), 0, []
    with torch.enable_grad(), single_threaded():
        for step in range(steps):
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
    _refresh_masked_tensors(tuned)
    return tuned, losses


def _refresh_masked_tensors(model: nn.Module) -> None:
    """Recompute each pruned tensor (weight = weight_orig * weight_mask) outside autograd, so the
    model holds no graph from the last training step (and can be deep-copied)."""
    with torch.no_grad():
        for module in model.modules():
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, prune.BasePruningMethod):
                    setattr(module, hook._tensor_name, hook.apply_mask(module))


def prune_and_finetune(name_or_model: str | nn.Module, config: PruneConfig, steps: int = DEFAULT_STEPS,
                       eval_set: DigitSet | None = None, lr: float = DEFAULT_LR,
                       batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                       progress: Progress | None = None) -> FinetuneResult:
    """prune_model(name_or_model, config), then finetune() the masked model; with `eval_set`,
    accuracy of the dense, the pruned and the fine-tuned model."""
    _check_training(steps, lr, batch_size)
    started = time.perf_counter()
    dense = load_pretrained(config.model)[0] if isinstance(name_or_model, str) else name_or_model
    measure = (lambda m: accuracy(m, config.model, eval_set)) if eval_set is not None else (lambda m: None)
    accuracy_dense = measure(dense)
    with single_threaded():
        pruned = prune_model(name_or_model, config)
        tuned, losses = finetune(pruned.model, config.model, steps, lr, batch_size, seed, progress=progress)
        result = FinetuneResult(config, steps, losses, global_sparsity(layer_stats(tuned)),
                                eval_set and eval_set.describe(), accuracy_dense, measure(pruned.model),
                                measure(tuned), model=tuned)
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class RoundResult:
    """One prune -> fine-tune round of iterative pruning."""

    round: int                             # 1-based
    target: float                          # cumulative fraction this round prunes to (config's units)
    achieved: float                        # fraction actually pruned, in the same units
    sparsity: float                        # global weight sparsity over conv + linear layers
    accuracy_pruned: float | None          # right after this round's pruning
    accuracy_finetuned: float | None       # after this round's fine-tuning
    final_loss: float                      # training loss of the round's last step


@dataclass
class IterativeResult:
    """Every round of iterative pruning towards config.amount."""

    config: PruneConfig
    steps_per_round: int
    rounds: list[RoundResult] = field(default_factory=list)
    eval_set: str | None = None
    accuracy_dense: float | None = None
    seconds: float = 0.0
    model: nn.Module | None = field(default=None, repr=False)   # last round's fine-tuned model (masked)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "steps_per_round": self.steps_per_round,
                "rounds": [asdict(r) for r in self.rounds], "eval_set": self.eval_set,
                "accuracy_dense": self.accuracy_dense, "seconds": self.seconds}


def round_targets(target: float, rounds: int) -> list[float]:
    """Cumulative amounts per round: each round removes the same fraction of what is still there,
    1 - (1 - target)^(r / rounds), ending exactly at `target` (linear steps when target is 1)."""
    if target >= 1.0:
        return [r / rounds for r in range(1, rounds + 1)]
    return [1 - (1 - target) ** (r / rounds) for r in range(1, rounds)] + [target]


def pruned_fraction(model: nn.Module, config: PruneConfig) -> float:
    """What `config.amount` measures, as now masked: the fraction of selected weights (unstructured
    methods) or of selected output units (structured methods) that are pruned."""
    structured = get_method(config.method).structured
    layers = prunable_layers(model, config.layer_types, structured)
    masks = [getattr(m, "weight_mask", torch.ones_like(m.weight)) for m in layers.values()]
    if structured:
        dead = sum(int((mask.flatten(1) == 0).all(1).sum()) for mask in masks)
        return dead / sum(mask.shape[0] for mask in masks)
    return sum(int((mask == 0).sum()) for mask in masks) / sum(mask.numel() for mask in masks)


def _keep_old_masks(model: nn.Module, old: dict[str, torch.Tensor]) -> None:
    """Multiply the previous round's masks into `model`'s new ones: pruned weights stay pruned."""
    for name, old_mask in old.items():
        module_name, _, mask_name = name.rpartition(".")
        module = model.get_submodule(module_name)
        tensor_name = mask_name[: -len("_mask")]
        if hasattr(module, mask_name):
            getattr(module, mask_name).mul_(old_mask)
            setattr(module, tensor_name, getattr(module, f"{tensor_name}_orig") * getattr(module, mask_name))
        else:
            prune.custom_from_mask(module, tensor_name, old_mask)


def _masks(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: mask.clone() for name, mask in model.named_buffers() if name.endswith("_mask")}


def _prune_round(plain: nn.Module, config: PruneConfig, target: float,
                 old: dict[str, torch.Tensor]) -> tuple[nn.Module, float]:
    """Prune `plain` (last round's weights, zeros where pruned) to `target` keeping the old masks.

    The new masks are computed from scratch at the cumulative amount. Methods that rank zeros
    lowest (magnitude, norm, Taylor, activation; random ones with a fixed seed) re-select the old
    pruned weights, so the union hits the target; where the union overshoots (gradient: zero weights
    can have large gradients), the amount is searched by bisection so that the union matches it."""
    def attempt(amount: float) -> tuple[nn.Module, float]:
        round_config = replace(config, amount=amount)
        if get_method(config.method).uses_threshold:
            round_config = replace(round_config, threshold=threshold_for_sparsity(plain, config.layer_types, amount))
        masked = prune_model(plain, round_config).model
        _keep_old_masks(masked, old)
        return masked, pruned_fraction(masked, config)

    best = attempt(target)
    low, high = 0.0, target
    for _ in range(BISECTION_STEPS if best[1] > target + TARGET_TOLERANCE else 0):
        middle = (low + high) / 2
        candidate = attempt(middle)
        if candidate[1] > target + TARGET_TOLERANCE:
            high = middle
        else:
            low, best = middle, candidate
            if candidate[1] >= target - TARGET_TOLERANCE:
                break
    return best


def _check_iterative(rounds: int, steps_per_round: int, lr: float, batch_size: int) -> None:
    _check_int(rounds, "rounds", 1, MAX_ROUNDS, "MAX_ROUNDS")
    _check_training(steps_per_round, lr, batch_size)
    if rounds * steps_per_round > MAX_TOTAL_STEPS:
        raise ValueError(f"rounds x steps per round must be at most {MAX_TOTAL_STEPS} (MAX_TOTAL_STEPS), "
                         f"got {rounds} x {steps_per_round} = {rounds * steps_per_round}")


def _round_progress(progress: Progress | None, number: int, rounds: int) -> Progress | None:
    """Map a round's own progress (0..1) into the whole run's."""
    if progress is None:
        return None
    return lambda fraction, message: progress((number - 1 + fraction) / rounds, f"round {number}/{rounds}: {message}")


def _run_rounds(result: IterativeResult, base: nn.Module, config: PruneConfig, targets: list[float],
                measure: Callable[[nn.Module], float | None], progress: Progress | None,
                steps: int, lr: float, batch_size: int, seed: int) -> None:
    """Prune to each target keeping earlier masks, fine-tune, record the round."""
    plain, old = base, {}
    for number, target in enumerate(targets, start=1):
        report = _round_progress(progress, number, len(targets))
        if report is not None:
            report(0.0, f"pruning to {100 * target:.1f}%")
        masked, achieved = _prune_round(plain, config, target, old)
        accuracy_pruned = measure(masked)
        tuned, losses = finetune(masked, config.model, steps, lr, batch_size, seed + number, progress=report)
        result.rounds.append(RoundResult(number, target, achieved, global_sparsity(layer_stats(tuned)),
                                         accuracy_pruned, measure(tuned), losses[-1]))
        plain, old, result.model = permanent_copy(tuned), _masks(tuned), tuned


def iterative_prune(name_or_model: str | nn.Module, config: PruneConfig, rounds: int = 3,
                    steps_per_round: int = DEFAULT_STEPS, eval_set: DigitSet | None = None,
                    lr: float = DEFAULT_LR, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                    progress: Progress | None = None) -> IterativeResult:
    """Han et al. style: `rounds` times prune (to the next of round_targets(config.amount)) then
    fine-tune, pruned weights staying pruned. For "threshold" config.amount is the target sparsity
    (each round's threshold is chosen to reach its share). Results per round. Pruning and training
    run with one intra-op thread (threads.single_threaded); evaluation uses the engine's own path."""
    _check_iterative(rounds, steps_per_round, lr, batch_size)
    started = time.perf_counter()
    base = load_pretrained(name_or_model)[0] if isinstance(name_or_model, str) else name_or_model
    result = IterativeResult(config, steps_per_round, eval_set=eval_set and eval_set.describe())
    measure = (lambda m: accuracy(m, config.model, eval_set)) if eval_set is not None else (lambda m: None)
    result.accuracy_dense = measure(base)
    with single_threaded():
        _run_rounds(result, base, config, round_targets(config.amount, rounds), measure, progress,
                    steps_per_round, lr, batch_size, seed)
    result.seconds = time.perf_counter() - started
    return result
