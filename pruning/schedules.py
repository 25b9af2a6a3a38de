"""One-shot + fine-tune, iterative (Han et al.) and gradual (AGP) pruning at the same sparsity and steps."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from .agp import AgpSchedule, agp_finetune, default_schedule
from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import accuracy
from .finetune import DEFAULT_BATCH_SIZE, DEFAULT_LR, MAX_FINETUNE_STEPS, Progress, check_int, finetune
from .iterative import MAX_ROUNDS, iterative_prune
from .stats import global_sparsity, layer_stats

DEFAULT_MODEL, DEFAULT_SPARSITY, DEFAULT_STEPS, DEFAULT_ROUNDS = "lenet", 0.98, 300, 3
SCHEDULES = ("one-shot + fine-tune", "iterative (Han et al.)", "gradual (AGP)")
TIME_BUDGET_S = 60.0            # the default comparison on the 2-core machine (measured: docs/ADVANCED.md)


@dataclass(frozen=True)
class ScheduleRow:
    """One schedule's outcome: its measured sparsity, steps trained and accuracy."""

    schedule: str
    sparsity: float             # global weight sparsity of the final model (conv + linear)
    steps: int                  # optimizer steps in all
    accuracy: float | None      # after all training
    final_loss: float


@dataclass
class ScheduleComparison:
    """The three schedules from the same pretrained model to the same sparsity."""

    model: str
    sparsity: float             # the target sparsity of the conv + linear weights (global ranking)
    steps: int
    rounds: int
    schedule: AgpSchedule
    seed: int
    eval_set: str | None = None
    accuracy_dense: float | None = None
    rows: list[ScheduleRow] = field(default_factory=list)
    seconds: float = 0.0
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)   # schedule -> final model (masked)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "sparsity": self.sparsity, "steps": self.steps, "rounds": self.rounds,
                "schedule": asdict(self.schedule), "seed": self.seed, "eval_set": self.eval_set,
                "accuracy_dense": self.accuracy_dense, "rows": [asdict(r) for r in self.rows],
                "seconds": self.seconds}


def _part(progress: Progress | None, index: int) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction, message: progress((index + fraction) / len(SCHEDULES), f"{SCHEDULES[index]}: {message}")


def check_comparison(sparsity: float, steps: int, rounds: int) -> None:
    """Ranges of one comparison; a clear ValueError before any work."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.05 <= sparsity <= 0.99:
        raise ValueError(f"final sparsity must be a number from 0.05 to 0.99, got {sparsity!r}")
    check_int(rounds, "rounds", 2, MAX_ROUNDS, "MAX_ROUNDS")
    check_int(steps, "steps", rounds * 8, MAX_FINETUNE_STEPS, "MAX_FINETUNE_STEPS")
    if steps % rounds:
        raise ValueError(f"steps ({steps}) must divide into {rounds} equal rounds")


def compare_schedules(model_name: str = DEFAULT_MODEL, sparsity: float = DEFAULT_SPARSITY,
                      steps: int = DEFAULT_STEPS, rounds: int = DEFAULT_ROUNDS, eval_set: DigitSet | None = None,
                      seed: int = 0, progress: Progress | None = None) -> ScheduleComparison:
    """From the shipped pretrained model, its conv + linear weights pruned by magnitude (one global
    ranking) to `sparsity`:
    at once then `steps` steps of fine-tuning; in `rounds` prune -> fine-tune rounds of steps/rounds
    steps; along AGP's cubic schedule during `steps` steps. Same optimizer, learning rate and seed."""
    check_comparison(sparsity, steps, rounds)
    started = time.perf_counter()
    dense = load_pretrained(model_name)[0]
    measure = (lambda m: accuracy(m, model_name, eval_set)) if eval_set is not None else (lambda m: None)
    config = PruneConfig(model=model_name, method="l1_unstructured", amount=sparsity, scope="global")
    schedule = default_schedule(sparsity, steps)
    result = ScheduleComparison(model_name, sparsity, steps, rounds, schedule, seed,
                                eval_set and eval_set.describe(), measure(dense))
    one_shot, losses = finetune(prune_model(dense, config).model, model_name, steps, DEFAULT_LR,
                                DEFAULT_BATCH_SIZE, seed, progress=_part(progress, 0))
    _add(result, SCHEDULES[0], one_shot, steps, measure, losses[-1])
    han = iterative_prune(dense, config, rounds=rounds, steps_per_round=steps // rounds, seed=seed,
                          progress=_part(progress, 1))
    _add(result, SCHEDULES[1], han.model, steps, measure, han.rounds[-1].final_loss)
    gradual, losses, _ = agp_finetune(dense, model_name, schedule, steps, seed=seed, progress=_part(progress, 2))
    _add(result, SCHEDULES[2], gradual, steps, measure, losses[-1])
    result.seconds = time.perf_counter() - started
    return result


def _add(result: ScheduleComparison, name: str, model: nn.Module, steps: int, measure, loss: float) -> None:
    result.rows.append(ScheduleRow(name, global_sparsity(layer_stats(model)), steps, measure(model), loss))
    result.models[name] = model


def format_schedules(result: ScheduleComparison) -> str:
    """The comparison as a text table."""
    s = result.schedule
    lines = [f"{result.model}: weights pruned to {100 * result.sparsity:g}% by global magnitude, "
             f"{result.steps} training steps each (iterative: {result.rounds} rounds x {result.steps // result.rounds}; "
             f"AGP: {s.updates} updates every {s.every} steps, t0 = {s.start})",
             f"accuracy on {result.eval_set}; dense: "
             + ("-" if result.accuracy_dense is None else f"{100 * result.accuracy_dense:.2f}%")]
    for row in result.rows:
        shown = "-" if row.accuracy is None else f"{100 * row.accuracy:6.2f}%"
        lines.append(f"  {row.schedule:<24} sparsity {100 * row.sparsity:6.2f}%  steps {row.steps:4d}  accuracy {shown}")
    lines.append(f"({result.seconds:.1f} s)")
    return "\n".join(lines)
