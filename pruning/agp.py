"""Gradual pruning (Zhu & Gupta 2017, AGP): sparsity raised along a cubic schedule while fine-tuning."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.utils.prune as prune
from torch import nn

from .config import LAYER_TYPES
from .finetune import DEFAULT_BATCH_SIZE, DEFAULT_LR, Progress, check_int, check_training, finetune
from .pruner import prunable_layers


@dataclass(frozen=True)
class AgpSchedule:
    """s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, masks updated at t = t0, t0 + dt, ..., t0 + n dt."""

    final: float            # s_f, the selected layers' sparsity from step t0 + n dt on
    initial: float = 0.0    # s_i
    start: int = 0          # t0, the first update step
    updates: int = 8        # n
    every: int = 25         # dt, steps between updates

    def __post_init__(self) -> None:
        for name in ("final", "initial"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"AGP {name} sparsity must be a number in [0, 1), got {value!r}")
        if self.initial > self.final:
            raise ValueError(f"AGP initial sparsity {self.initial} is above the final one {self.final}")
        check_int(self.start, "AGP start step", 0, 10**6)
        check_int(self.updates, "AGP updates (n)", 1, 1000)
        check_int(self.every, "AGP steps between updates (dt)", 1, 10**6)

    @property
    def end(self) -> int:
        """The last update step, t0 + n dt."""
        return self.start + self.updates * self.every

    def formula(self, t: float) -> float:
        """The cubic schedule at step t (s_i before t0, s_f after t0 + n dt)."""
        if t <= self.start:
            return float(self.initial)
        if t >= self.end:
            return float(self.final)
        return self.final + (self.initial - self.final) * (1 - (t - self.start) / (self.end - self.start)) ** 3

    def update_steps(self) -> list[int]:
        """The steps at which the masks are updated: t0 + k dt, k = 0..n."""
        return [self.start + k * self.every for k in range(self.updates + 1)]

    def in_force(self, step: int) -> float:
        """The sparsity the masks hold during `step`: the formula at the last update step <= step (0 before t0)."""
        if step < self.start:
            return 0.0
        return self.formula(min(self.end, self.start + (step - self.start) // self.every * self.every))


def weights_to_prune(sparsity: float, total: int) -> int:
    """How many of `total` weights a sparsity prunes: round(sparsity x total)."""
    return round(sparsity * total)


def tighten(layers: dict[str, nn.Module], sparsity: float) -> None:
    """Prune the layers' weights to `sparsity` by magnitude, ranked together (one global ranking), with
    torch.nn.utils.prune, keeping every weight pruned before (they rank lowest; torch composes the new
    mask with the old one)."""
    modules = list(layers.values())
    masks = [m.weight_mask for m in modules]
    scores = torch.cat([(m.weight_orig.detach() * mask).abs().flatten() for m, mask in zip(modules, masks)])
    scores[torch.cat([mask.flatten() for mask in masks]) == 0] = -1.0     # pruned: always among the lowest
    keep = torch.ones_like(scores)
    k = weights_to_prune(sparsity, scores.numel())
    if k:
        keep[torch.topk(scores, k, largest=False).indices] = 0
    for module, part in zip(modules, torch.split(keep, [mask.numel() for mask in masks])):
        prune.custom_from_mask(module, "weight", part.view_as(module.weight_mask))


def agp_finetune(model: nn.Module, model_name: str, schedule: AgpSchedule, steps: int, lr: float = DEFAULT_LR,
                 batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0, layer_types: tuple[str, ...] = tuple(LAYER_TYPES),
                 progress: Progress | None = None) -> tuple[nn.Module, list[float], list[float]]:
    """Fine-tune a copy of `model` for `steps` steps, the selected layers pruned together (global
    magnitude ranking) to schedule.in_force(step) at every update step, before that step's forward. Returns the tuned model (masks attached), the
    per-step losses and the measured sparsity of the selected layers during each step."""
    check_training(steps, lr, batch_size)
    prepared = _with_masks(model, layer_types)
    updates, measured = set(schedule.update_steps()), []

    def on_step(step: int, tuned: nn.Module) -> None:
        layers = prunable_layers(tuned, layer_types)
        if step in updates:
            tighten(layers, schedule.in_force(step))
        measured.append(_sparsity(layers))

    tuned, losses = finetune(prepared, model_name, steps, lr, batch_size, seed, progress=progress, on_step=on_step)
    return tuned, losses, measured


def _with_masks(model: nn.Module, layer_types: tuple[str, ...]) -> nn.Module:
    """A copy whose selected layers carry a weight mask (all ones where not yet pruned), so the optimizer
    trains weight_orig from the first step on."""
    prepared = copy.deepcopy(model)
    for module in prunable_layers(prepared, layer_types).values():
        if not hasattr(module, "weight_mask"):
            prune.identity(module, "weight")
    return prepared


def _sparsity(layers: dict[str, nn.Module]) -> float:
    masks = [m.weight_mask for m in layers.values()]
    return sum(int((mask == 0).sum()) for mask in masks) / max(1, sum(mask.numel() for mask in masks))


def default_schedule(final: float, steps: int, updates: int = 8) -> AgpSchedule:
    """Zhu & Gupta's shape in `steps` steps: from dense at step 0 to `final` at two thirds of the run
    (n updates, dt apart), then the rest of the steps at the final sparsity."""
    every = max(1, (2 * steps // 3) // updates)
    return AgpSchedule(final=final, initial=0.0, start=0, updates=updates, every=every)

