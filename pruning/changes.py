"""What changed: per-class accuracy, confusion matrices and every digit whose prediction pruning changed."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from . import DigitSet, PruneResult

NUM_CLASSES = 10
FILTERS = ("all", "became_wrong", "became_right")   # any changed prediction; right -> wrong; wrong -> right
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ClassChange:
    """Accuracy on the digits of one true class, before and after pruning."""

    digit: int
    count: int              # digits of this class in the eval set
    correct_before: int
    correct_after: int

    @property
    def accuracy_before(self) -> float | None:
        return self.correct_before / self.count if self.count else None

    @property
    def accuracy_after(self) -> float | None:
        return self.correct_after / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after}


@dataclass(frozen=True)
class ChangedPage:
    """One page of the digits whose prediction changed (positions in the eval set, in order)."""

    filter: str             # one of FILTERS
    page: int               # 1-based
    page_size: int
    total: int              # digits that match the filter
    pages: int              # ceil(total / page_size); 0 when none match
    indices: list[int]      # positions in the eval set of this page's digits
    labels: list[int]       # their true classes
    before: list[int]       # predicted classes before pruning
    after: list[int]        # and after

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WhatChanged:
    """Per-class accuracy, confusion matrices and changed predictions of one pruning run on one eval set."""

    eval_set: str
    per_class: list[ClassChange]                                          # digits 0..9
    confusion_before: torch.Tensor = field(repr=False)                    # (10, 10) int64, rows = true class
    confusion_after: torch.Tensor = field(repr=False)                     # (10, 10), columns = predicted
    labels: torch.Tensor = field(repr=False)                              # (N,) true classes
    predictions_before: torch.Tensor = field(repr=False)                  # (N,)
    predictions_after: torch.Tensor = field(repr=False)                   # (N,)
    changed: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)  # filter -> (K,) positions

    @property
    def confusion_difference(self) -> torch.Tensor:
        """after - before, (10, 10): + where pruning sends more digits of a row's class to a column."""
        return self.confusion_after - self.confusion_before

    def counts(self) -> dict[str, int]:
        """How many digits match each filter."""
        return {name: int(indices.numel()) for name, indices in self.changed.items()}

    def page(self, filter: str = "all", page: int = 1, page_size: int = 24) -> ChangedPage:
        """Page `page` (1-based) of the digits matching `filter`, `page_size` per page."""
        if not isinstance(filter, str) or filter not in FILTERS:
            raise ValueError(f"unknown filter {filter!r}; choose one of: {', '.join(FILTERS)}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
        total = int(self.changed[filter].numel())
        pages = math.ceil(total / page_size)
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= max(pages, 1):
            raise ValueError(f"page must be a whole number from 1 to {max(pages, 1)} "
                             f"({total} digits, {page_size} per page), got {page!r}")
        indices = self.changed[filter][(page - 1) * page_size: page * page_size]     # (<= page_size,)
        return ChangedPage(filter, page, page_size, total, pages, indices.tolist(), self.labels[indices].tolist(),
                           self.predictions_before[indices].tolist(), self.predictions_after[indices].tolist())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (no per-digit lists: ask page() for those)."""
        return {"eval_set": self.eval_set, "per_class": [c.to_dict() for c in self.per_class],
                "confusion_before": self.confusion_before.tolist(), "confusion_after": self.confusion_after.tolist(),
                "confusion_difference": self.confusion_difference.tolist(), "counts": self.counts()}


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """(10, 10) int64 counts: row = true class, column = predicted class."""
    pairs = labels.long() * NUM_CLASSES + predicted.long()                                   # (N,)
    return torch.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES).reshape(NUM_CLASSES, NUM_CLASSES)


def _check(result: Any, eval_set: Any) -> None:
    if not isinstance(result, PruneResult):
        raise ValueError(f"expected a PruneResult, got {type(result).__name__}")
    if not isinstance(eval_set, DigitSet):
        raise ValueError(f"expected the DigitSet the result was evaluated on, got {type(eval_set).__name__}")
    if result.predictions_before is None or result.predictions_after is None:
        raise ValueError("this result has no predictions: prune with an eval set, "
                         "prune_model(name, config, eval_set=...)")
    if result.eval_set != eval_set.describe() or len(result.predictions_after) != len(eval_set) \
            or len(result.predictions_before) != len(eval_set):
        raise ValueError(f"the result was evaluated on {result.eval_set}, not on {eval_set.describe()}")
    labels = eval_set.labels
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= NUM_CLASSES):
        raise ValueError(f"labels must be digits 0..{NUM_CLASSES - 1}")


def what_changed(result: PruneResult, eval_set: DigitSet) -> WhatChanged:
    """What pruning changed on `eval_set` (the set `result` was evaluated on: prune_model(..., eval_set=))."""
    _check(result, eval_set)
    labels = eval_set.labels.long()                                                       # (N,)
    before, after = result.predictions_before.long(), result.predictions_after.long()    # (N,)
    confusion_before, confusion_after = confusion_matrix(labels, before), confusion_matrix(labels, after)
    per_class = [ClassChange(d, int(confusion_before[d].sum()), int(confusion_before[d, d]), int(confusion_after[d, d]))
                 for d in range(NUM_CLASSES)]
    right_before, right_after = before == labels, after == labels
    changed = {"all": before != after, "became_wrong": right_before & ~right_after,
               "became_right": ~right_before & right_after}
    return WhatChanged(eval_set.describe(), per_class, confusion_before, confusion_after, labels, before, after,
                       {name: mask.nonzero().flatten() for name, mask in changed.items()})


def format_changes(changes: WhatChanged, top: int = 5) -> str:
    """Per-class accuracy before -> after, the counts of changed digits and the `top` largest new
    confusions, as text for the CLI (`--changes`)."""
    lines = [f"what changed on {changes.eval_set}", "digit  count   before    after   change"]
    for c in changes.per_class:
        if c.count:
            lines.append(f"{c.digit:>5} {c.count:>6} {100 * c.accuracy_before:7.2f}% {100 * c.accuracy_after:7.2f}% "
                         f"{100 * (c.accuracy_after - c.accuracy_before):+7.2f} pp")
    counts = changes.counts()
    lines.append(f"predictions changed: {counts['all']} ({counts['became_wrong']} became wrong, "
                 f"{counts['became_right']} became right)")
    off_diagonal = changes.confusion_difference * (1 - torch.eye(NUM_CLASSES, dtype=torch.long))   # (10, 10)
    values, flat = off_diagonal.flatten().sort(descending=True)
    grown = [f"{int(i) // NUM_CLASSES}->{int(i) % NUM_CLASSES} {int(v):+d}"
             for v, i in zip(values[:top], flat[:top]) if v > 0]
    lines.append("largest new confusions (true->predicted): " + (", ".join(grown) or "none"))
    return "\n".join(lines)
