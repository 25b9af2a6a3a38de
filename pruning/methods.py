"""Method registry: a decorator fills name -> MethodEntry; list_methods()/get_method() look it up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

# An importance function gets an ImportanceContext (see importance.py) and returns, for every
# selected layer name, a score tensor: weight-shaped for unstructured methods, (out_units,)
# for structured ones. Low scores are pruned first.
ImportanceFn = Callable[..., dict[str, torch.Tensor]]
# A masker applies a method's own masks (instead of the pruner's amount/scope policy) to the selected
# layers, given their scores and the PruneConfig; it must use torch.nn.utils.prune.
MaskerFn = Callable[[dict[str, nn.Module], dict[str, torch.Tensor], object], None]


@dataclass(frozen=True)
class MethodEntry:
    """A pruning method: what it ranks by, and whether it removes single weights or whole units."""

    name: str
    description: str          # one sentence, shown in the UI
    importance: ImportanceFn
    structured: bool          # True: whole filters / neurons; False: single weights
    data_driven: bool = False  # needs calibration digits
    uses_threshold: bool = False  # amount is replaced by an absolute magnitude threshold
    masker: MaskerFn | None = None  # its own masking rule (e.g. N:M); None: the pruner's policy
    uses_amount: bool = True      # False: the amount (and scope) do not change what it removes
    settings: tuple[str, ...] = ()  # other PruneConfig fields it reads (the UI shows their controls)


_METHODS: dict[str, MethodEntry] = {}


def register_method(name: str, description: str, structured: bool, data_driven: bool = False,
                    uses_threshold: bool = False, masker: MaskerFn | None = None, uses_amount: bool = True,
                    settings: tuple[str, ...] = ()) -> Callable[[ImportanceFn], ImportanceFn]:
    """Decorator: register an importance function as pruning method `name` (importance.py holds them;
    importing the package registers them all)."""

    def decorator(importance: ImportanceFn) -> ImportanceFn:
        if name in _METHODS:
            raise ValueError(f"method {name!r} is already registered")
        _METHODS[name] = MethodEntry(name, description, importance, structured, data_driven, uses_threshold,
                                     masker, uses_amount and not uses_threshold, settings)
        return importance

    return decorator


def list_methods() -> list[str]:
    """Names of all registered pruning methods."""
    return list(_METHODS)


def get_method(name: str) -> MethodEntry:
    """The entry for `name`; unknown names raise a ValueError listing the known ones."""
    if not isinstance(name, str) or name not in _METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(_METHODS)}")
    return _METHODS[name]
