"""Iterative pruning (Han et al. style): rounds of prune -> fine-tune, pruned weights staying pruned."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import torch
from torch import nn

from . import masks
from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import accuracy
from .finetune import DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_STEPS, Progress, check_int, check_training, finetune
from .pruner import prunable_layers
from .stats import global_sparsity, layer_stats

MAX_ROUNDS = 10                 # rounds of iterative pruning
MAX_TOTAL_STEPS = 1000          # rounds x steps per round
BISECTION_STEPS = 12            # amount search when old + new masks overshoot the target
TARGET_TOLERANCE = 0.005


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
    structured = config.method_entry.structured
    return masks.pruned_fraction(prunable_layers(model, config.layer_types, structured), structured)


def prune_round(plain: nn.Module, config: PruneConfig, target: float,
                old: dict[str, torch.Tensor]) -> tuple[nn.Module, float]:
    """Prune `plain` (last round's weights, zeros where pruned) to `target` keeping the old masks.

    The new masks are computed from scratch at the cumulative amount. Methods that rank zeros
    lowest (magnitude, norm, Taylor, activation; random ones with a fixed seed) re-select the old
    pruned weights, so the union hits the target; where the union overshoots (gradient: zero weights
    can have large gradients), the amount is searched by bisection so that the union matches it."""
    def attempt(amount: float) -> tuple[nn.Module, float]:
        round_config = replace(config, amount=amount)
        if config.method_entry.uses_threshold:
            layers = prunable_layers(plain, config.layer_types)
            round_config = replace(round_config, threshold=masks.threshold_for_sparsity(layers, amount))
        masked = prune_model(plain, round_config).model
        masks.merge_masks(masked, old)
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
    check_int(rounds, "rounds", 1, MAX_ROUNDS, "MAX_ROUNDS")
    check_training(steps_per_round, lr, batch_size)
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
        masked, achieved = prune_round(plain, config, target, old)
        accuracy_pruned = measure(masked)
        tuned, losses = finetune(masked, config.model, steps, lr, batch_size, seed + number, progress=report)
        result.rounds.append(RoundResult(number, target, achieved, global_sparsity(layer_stats(tuned)),
                                         accuracy_pruned, measure(tuned), losses[-1]))
        plain, old, result.model = masks.permanent_copy(tuned), masks.mask_snapshot(tuned), tuned


def iterative_prune(name_or_model: str | nn.Module, config: PruneConfig, rounds: int = 3,
                    steps_per_round: int = DEFAULT_STEPS, eval_set: DigitSet | None = None,
                    lr: float = DEFAULT_LR, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                    progress: Progress | None = None) -> IterativeResult:
    """Han et al. style: `rounds` times prune (to the next of round_targets(config.amount)) then
    fine-tune, pruned weights staying pruned. For "threshold" config.amount is the target sparsity
    (each round's threshold is chosen to reach its share). Results per round."""
    _check_iterative(rounds, steps_per_round, lr, batch_size)
    if not config.method_entry.uses_amount and not config.method_entry.uses_threshold:
        raise ValueError(f"{config.method} removes a fixed pattern, not an amount: iterative pruning has "
                         "no amount to approach in rounds; use fine-tuning instead")
    started = time.perf_counter()
    base = load_pretrained(name_or_model)[0] if isinstance(name_or_model, str) else name_or_model
    result = IterativeResult(config, steps_per_round, eval_set=eval_set and eval_set.describe())
    measure = (lambda m: accuracy(m, config.model, eval_set)) if eval_set is not None else (lambda m: None)
    result.accuracy_dense = measure(base)
    _run_rounds(result, base, config, round_targets(config.amount, rounds), measure, progress,
                steps_per_round, lr, batch_size, seed)
    result.seconds = time.perf_counter() - started
    return result
