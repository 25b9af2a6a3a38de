"""PruneConfig: one frozen, validated description of a pruning run."""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from models import list_models

SCOPES = ("local", "global")
LAYER_TYPES: dict[str, type[nn.Module]] = {"conv": nn.Conv2d, "linear": nn.Linear}
MAX_CALIBRATION = 1024


def check_fraction(value: Any, what: str) -> float:
    """A real number in [0, 1], returned as a float; anything else raises a ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number between 0 and 1, got {value!r}")
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be between 0 and 1 (a fraction), got {value!r}")
    return float(value)


def _check_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _check_layer_types(layer_types: Any) -> tuple[str, ...]:
    """A str or an iterable of known layer-type names -> a tuple without duplicates."""
    if isinstance(layer_types, str):
        layer_types = (layer_types,)
    try:
        names = tuple(layer_types)
    except TypeError:
        names = (layer_types,)
    unknown = [t for t in names if not isinstance(t, str) or t not in LAYER_TYPES]
    if unknown or not names:
        raise ValueError(f"unknown layer type(s) {unknown or '(none given)'}; "
                         f"choose from: {', '.join(LAYER_TYPES)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class PruneConfig:
    """What to prune and how.

    amount: fraction in [0, 1] of the weights (unstructured methods) or of the output
        units, i.e. conv filters / linear neurons (structured methods) to remove. Floats only:
        unlike torch.nn.utils.prune, an int is read as a fraction too (0 or 1), never a count.
    scope: "local" (every layer loses `amount` of its own) or "global" (one ranking across
        all selected layers, so layers lose unequal shares).
    conv_amount / linear_amount: per-layer-type amounts overriding `amount` (local scope only).
    threshold: for method "threshold", the absolute weight magnitude below which weights go.
    norm: 1 or 2, the L_n norm that ranks units for method "ln_structured".
    """

    model: str = "lenet"
    method: str = "l1_unstructured"
    amount: float = 0.2
    scope: str = "local"
    conv_amount: float | None = None
    linear_amount: float | None = None
    layer_types: tuple[str, ...] = ("conv", "linear")
    threshold: float = 0.05
    norm: int = 1
    calibration_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        from .methods import get_method  # late import: methods register themselves on import
        if not isinstance(self.model, str) or self.model not in list_models():
            raise ValueError(f"unknown model {self.model!r}; known models: {', '.join(list_models())}")
        get_method(self.method)
        # stored as floats: torch.nn.utils.prune reads an int amount as a count of weights
        object.__setattr__(self, "amount", check_fraction(self.amount, "amount"))
        if not isinstance(self.scope, str) or self.scope not in SCOPES:
            raise ValueError(f"unknown scope {self.scope!r}; choose one of: {', '.join(SCOPES)}")
        for kind in ("conv", "linear"):
            value = getattr(self, f"{kind}_amount")
            if value is not None:
                object.__setattr__(self, f"{kind}_amount", check_fraction(value, f"{kind}_amount"))
                if self.scope == "global":
                    raise ValueError(f"{kind}_amount is a per-layer-type amount: it needs scope 'local'")
        object.__setattr__(self, "layer_types", _check_layer_types(self.layer_types))
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                or not math.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {self.threshold!r}")
        object.__setattr__(self, "threshold", float(self.threshold))
        if isinstance(self.norm, bool) or not isinstance(self.norm, numbers.Real) or self.norm not in (1, 2):
            raise ValueError(f"norm must be 1 or 2, got {self.norm!r}")
        _check_int(self.calibration_size, "calibration_size", 1, MAX_CALIBRATION)
        _check_int(self.seed, "seed", 0, 2**31 - 1)

    def amount_for(self, layer_type: str) -> float:
        """The fraction to remove from a layer of this type ("conv" or "linear")."""
        override = {"conv": self.conv_amount, "linear": self.linear_amount}[layer_type]
        return self.amount if override is None else override

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        data = asdict(self)
        data["layer_types"] = list(self.layer_types)
        return data
