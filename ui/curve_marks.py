"""Measured settings the curves draw as single markers: your setting (★), the pinned ones, each N:M pattern."""
from __future__ import annotations

from dataclasses import dataclass, replace

from pruning import PruneResult, get_method
from pruning.data import DigitSet
from pruning.nm import PATTERNS
from pruning.shared import measured
from pruning.store import MeasurementStore
from pruning.sweep import SweepResult
from ui.stamp import setting_id


@dataclass(frozen=True)
class Mark:
    """One measured setting: where it sits (its own sparsity and accuracy, never a curve's) and its words."""

    method: str
    scope: str
    amount: float | None        # None: the method has no amount (N:M): drawn beside the amount axis
    sparsity: float             # achieved, over all conv + linear weights
    accuracy: float             # 0..1 on the eval set
    label: str = ""             # "2:4" for an N:M pattern
    setting: str = ""           # ui.stamp.setting_id of the setting (the page compares it with its own)

    @property
    def tooltip(self) -> str:
        """What a tap or hover on it reads."""
        label = f" · {self.label}" if self.label else ""
        where = "" if self.amount is None else f" · {self.scope} · amount {self.amount:.2f}"   # N:M: no scope either
        return (f"{self.method}{label}{where} · sparsity {100 * self.sparsity:.1f}% · "
                f"accuracy {100 * self.accuracy:.2f}%")


def without_amount(method: str) -> bool:
    """A method whose amount (and scope) change nothing (N:M): one point per setting, never a line."""
    entry = get_method(method)
    return not entry.uses_amount and not entry.uses_threshold


def mark_of(result: PruneResult) -> Mark:
    """Where a pruned result sits: its measured sparsity and accuracy. For "threshold" the amount axis
    reads the sparsity reached (the curves' threshold line is drawn so too)."""
    config = result.config
    entry = config.method_entry
    amount = None if without_amount(config.method) else result.global_sparsity if entry.uses_threshold \
        else config.amount
    label = config.nm if "nm" in entry.settings else ""
    return Mark(config.method, config.scope, amount, result.global_sparsity, result.accuracy_after, label,
                setting_id(config))


def pattern_marks(sweep: SweepResult, eval_set: DigitSet, store: MeasurementStore) -> list[Mark]:
    """Every amount-less method of the sweep measured at each of its patterns (the sweep's other
    settings), from the store or measured now: the points that replace its flat line."""
    marks = []
    for method in dict.fromkeys(p.method for p in sweep.points):
        if not without_amount(method):
            continue
        patterns = PATTERNS if "nm" in get_method(method).settings else (sweep.base_config.nm,)
        for pattern in patterns:
            config = replace(sweep.base_config, model=sweep.model, method=method, nm=pattern)
            marks.append(mark_of(measured(config, eval_set, store)))
    return marks
