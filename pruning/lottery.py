"""Lottery tickets (Frankle & Carbin 2019): iterative magnitude pruning, survivors rewound to their initial values."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

import torch
from torch import nn

from models import create_model

from . import masks
from .config import PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import accuracy
from .finetune import DEFAULT_BATCH_SIZE, Progress, check_int, check_training, finetune
from .pruner import prunable_layers

MAX_LOTTERY_ROUNDS = 8
MAX_LOTTERY_STEPS = 4000        # all training of one lesson: dense + 2 x rounds x steps (+ rewind steps)
DEFAULT_MODEL, DEFAULT_ROUNDS, DEFAULT_RATE, DEFAULT_STEPS = "mlp", 5, 0.5, 300
LOTTERY_LR = 1.2e-3             # Frankle & Carbin's Adam learning rate for LeNet-300-100
TIME_BUDGET_S = 60.0            # the default lesson on the 2-core machine (measured: docs/ADVANCED.md)


def initial_model(model_name: str, init_seed: int) -> nn.Module:
    """The untrained network that torch.manual_seed(init_seed); create_model(model_name) builds: the
    same rule pruning.train starts from, so a shipped checkpoint's training.seed rebuilds its init.
    The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return create_model(model_name).eval()


def reinit_seed(init_seed: int, round_number: int) -> int:
    """The seed of round `round_number`'s random re-initialisation (never the init's own seed)."""
    return init_seed + 1000 * round_number + 1


def rewind(start: nn.Module, keep: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `start` with the masks `keep` applied by torch.nn.utils.prune: every surviving weight
    (weight_orig where the mask is 1) holds exactly its value in `start`, every other one computes 0."""
    model = copy.deepcopy(start).requires_grad_(False)
    masks.merge_masks(model, keep)
    return model


def remaining(keep: dict[str, torch.Tensor]) -> float:
    """Fraction of the masked weights still there (1.0 without masks)."""
    total = sum(m.numel() for m in keep.values())
    return sum(int(m.sum()) for m in keep.values()) / total if total else 1.0


def round_amounts(model: nn.Module, rate: float, round_number: int) -> dict[str, float]:
    """Cumulative amount per layer after `round_number` rounds that each prune `rate` of the weights
    left: 1 - (1 - rate)^r, the output layer at half the rate (as Frankle & Carbin prune it)."""
    names = list(prunable_layers(model))
    return {name: 1 - (1 - (rate / 2 if name == names[-1] else rate)) ** round_number for name in names}


def next_masks(trained: nn.Module, model_name: str, amounts: dict[str, float],
               old: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Masks pruning each layer's weights by magnitude to its amount (local l1_unstructured) in the trained
    network, keeping every weight pruned before (old masks composed by torch.nn.utils.prune)."""
    plain = masks.permanent_copy(trained)           # zeros where pruned: they rank lowest and go again
    config = PruneConfig(model=model_name, method="l1_unstructured", amount=0.0, scope="local",
                         layer_amounts=amounts)
    masked = prune_model(plain, config).model
    masks.merge_masks(masked, old)
    return masks.mask_snapshot(masked)


@dataclass(frozen=True)
class LotteryPoint:
    """One round: what remains and how the rewound ticket and its random re-init train."""

    round: int
    remaining: float                    # fraction of the masked weights kept
    accuracy_ticket: float | None       # rewound to the init, trained
    accuracy_random: float | None       # same masks, random re-initialisation, trained
    loss_ticket: float
    loss_random: float


@dataclass
class LotteryResult:
    """The lesson's curve: the dense network and one point per pruning round."""

    model: str
    init_seed: int
    rounds: int
    rate: float
    steps: int
    rewind_steps: int
    seed: int
    eval_set: str | None = None
    accuracy_dense: float | None = None
    points: list[LotteryPoint] = field(default_factory=list)
    seconds: float = 0.0
    ticket: nn.Module | None = field(default=None, repr=False)      # the last round's trained ticket (masked)
    start: nn.Module | None = field(default=None, repr=False)       # the weights tickets are rewound to

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("ticket", "start", "points")}
        return {**data, "points": [asdict(p) for p in self.points]}


def check_lottery(rounds: int, rate: float, steps: int, rewind_steps: int) -> None:
    """Caps and ranges of one lesson; a clear ValueError before any work."""
    check_int(rounds, "rounds", 1, MAX_LOTTERY_ROUNDS, "MAX_LOTTERY_ROUNDS")
    check_training(steps, LOTTERY_LR, DEFAULT_BATCH_SIZE)
    check_int(rewind_steps, "rewind steps", 0, steps, "at most the steps per run")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.05 <= rate <= 0.9:
        raise ValueError(f"pruning rate per round must be a number from 0.05 to 0.9, got {rate!r}")
    total = steps * (1 + 2 * rounds) + rewind_steps
    if total > MAX_LOTTERY_STEPS:
        raise ValueError(f"steps x (1 + 2 x rounds) + rewind steps must be at most {MAX_LOTTERY_STEPS} "
                         f"(MAX_LOTTERY_STEPS), got {total}")


def _stage(progress: Progress | None, done: int, total: int, label: str) -> Progress | None:
    """Map one training run's progress (0..1) into the whole lesson's."""
    if progress is None:
        return None
    return lambda fraction, message: progress((done + fraction) / total, f"{label}: {message}")


def lottery_ticket(model_name: str = DEFAULT_MODEL, rounds: int = DEFAULT_ROUNDS, rate: float = DEFAULT_RATE,
                   steps: int = DEFAULT_STEPS, eval_set: DigitSet | None = None, init_seed: int = 0,
                   rewind_steps: int = 0, seed: int = 0, progress: Progress | None = None) -> LotteryResult:
    """Frankle & Carbin's experiment: train the dense network from the init of `init_seed` for `steps`
    steps; then `rounds` times prune `rate` of each layer's remaining weights by magnitude (the output
    layer's at half the rate), rewind the
    survivors to the init (or, with rewind_steps=k, to the dense run's weights after k steps: "late
    rewinding") and train `steps` steps; beside each ticket the same masks on a random re-initialisation.
    Every run sees the same batches (seed). Deterministic per (model, settings, seeds)."""
    check_lottery(rounds, rate, steps, rewind_steps)
    started, runs = time.perf_counter(), 1 + 2 * rounds + (rewind_steps > 0)
    measure = (lambda m: accuracy(m, model_name, eval_set)) if eval_set is not None else (lambda m: None)
    result = LotteryResult(model_name, init_seed, rounds, rate, steps, rewind_steps, seed,
                           eval_set and eval_set.describe())
    start, done = initial_model(model_name, init_seed), 0
    if rewind_steps:
        start = finetune(start, model_name, rewind_steps, LOTTERY_LR, seed=seed,
                         progress=_stage(progress, 0, runs, "late rewinding point"))[0]
        done = 1
    result.start = start
    trained = finetune(start, model_name, steps, LOTTERY_LR, seed=seed, progress=_stage(progress, done, runs, "dense"))[0]
    result.accuracy_dense, keep = measure(trained), {}
    for number in range(1, rounds + 1):
        keep = next_masks(trained, model_name, round_amounts(start, rate, number), keep)
        left, label = remaining(keep), f"round {number}/{rounds}"
        done += 1
        ticket, ticket_losses = finetune(rewind(start, keep), model_name, steps, LOTTERY_LR, seed=seed,
                                         progress=_stage(progress, done, runs, f"{label}, ticket"))
        done += 1
        control = rewind(initial_model(model_name, reinit_seed(init_seed, number)), keep)
        random_net, random_losses = finetune(control, model_name, steps, LOTTERY_LR, seed=seed,
                                             progress=_stage(progress, done, runs, f"{label}, random re-init"))
        result.points.append(LotteryPoint(number, left, measure(ticket), measure(random_net),
                                          ticket_losses[-1], random_losses[-1]))
        trained, result.ticket = ticket, ticket
        if progress is not None:
            progress((done + 1) / runs, _round_message(result.points[-1], rounds))
    result.seconds = time.perf_counter() - started
    return result


def _round_message(point: LotteryPoint, rounds: int) -> str:
    shown = (f": ticket {100 * point.accuracy_ticket:.1f}%, random re-init {100 * point.accuracy_random:.1f}%"
             if point.accuracy_ticket is not None else "")
    return f"round {point.round}/{rounds} done, {100 * point.remaining:.1f}% of weights remain{shown}"


def format_lottery(result: LotteryResult) -> str:
    """The curve as a text table."""
    def pct(value: float | None) -> str:
        return "   -   " if value is None else f"{100 * value:6.2f}%"
    lines = [f"Lottery ticket: {result.model}, init seed {result.init_seed}, {result.rounds} rounds x "
             f"{100 * result.rate:g}% per layer, {result.steps} steps per run"
             + (f", late rewinding to step {result.rewind_steps}" if result.rewind_steps else ""),
             f"accuracy on {result.eval_set}", "remaining   winning ticket   random re-init",
             f"  100.0%      {pct(result.accuracy_dense)} (dense)"]
    lines += [f"  {100 * p.remaining:5.1f}%      {pct(p.accuracy_ticket)}          {pct(p.accuracy_random)}"
              for p in result.points]
    lines.append(f"({result.seconds:.1f} s)")
    return "\n".join(lines)
