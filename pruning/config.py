"""PruneConfig: one frozen, validated description of a pruning run."""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from models import list_models

from .methods import MethodEntry, get_method

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


def parse_nm(pattern: Any) -> tuple[int, int]:
    """(N, M) of an "N:M" pattern with 1 <= N < M <= 32; anything else raises a ValueError."""
    try:
        n, m = (int(part) for part in str(pattern).split(":"))
        if isinstance(pattern, str) and 1 <= n < m <= 32:
            return n, m
    except ValueError:
        pass
    raise ValueError(f"nm must be a pattern 'N:M' with 1 <= N < M <= 32 (e.g. '2:4'), got {str(pattern)[:40]!r}")


def _check_layer_amounts(layer_amounts: Any, scope: str) -> tuple[tuple[str, float], ...]:
    """A mapping or pairs of (layer name, fraction) -> a tuple of pairs sorted by name."""
    if isinstance(layer_amounts, dict):
        layer_amounts = tuple(layer_amounts.items())
    try:
        pairs = [(name, amount) for name, amount in layer_amounts]
    except (TypeError, ValueError):
        raise ValueError(f"layer_amounts must be (layer name, amount) pairs, got {layer_amounts!r}"[:300]) from None
    if any(not isinstance(name, str) or not name for name, _ in pairs):
        raise ValueError("layer_amounts: every layer name must be a non-empty string")
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("layer_amounts names a layer twice")
    if pairs and scope == "global":
        raise ValueError("layer_amounts are per-layer amounts: they need scope 'local'")
    return tuple(sorted((name, check_fraction(amount, f"amount of layer {name}")) for name, amount in pairs))


@dataclass(frozen=True)
class PruneConfig:
    """What to prune and how.

    amount: fraction in [0, 1] of the weights (unstructured methods) or of the output
        units, i.e. conv filters / linear neurons (structured methods) to remove. Floats only:
        unlike torch.nn.utils.prune, an int is read as a fraction too (0 or 1), never a count.
    scope: "local" (every layer loses `amount` of its own) or "global" (one ranking across
        all selected layers, so layers lose unequal shares).
    conv_amount / linear_amount: per-layer-type amounts overriding `amount` (local scope only).
    layer_amounts: ((layer name, amount), ...) overriding both for the named layers (local scope only),
        e.g. (("conv1", 0.1), ("fc1", 0.8)); names are checked against the model when pruning.
    threshold: for method "threshold", the absolute weight magnitude below which weights go.
    norm: 1 or 2, the L_n norm that ranks units for method "ln_structured".
    nm: "N:M" for method "nm_semi_structured": keep the N largest |w| of every M consecutive weights
        (e.g. "2:4", the pattern of GPU sparse tensor cores).
    """

    model: str = "lenet"
    method: str = "l1_unstructured"
    amount: float = 0.2
    scope: str = "local"
    conv_amount: float | None = None
    linear_amount: float | None = None
    layer_amounts: tuple[tuple[str, float], ...] = ()
    layer_types: tuple[str, ...] = ("conv", "linear")
    threshold: float = 0.05
    norm: int = 1
    nm: str = "2:4"
    calibration_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
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
        object.__setattr__(self, "layer_amounts", _check_layer_amounts(self.layer_amounts, self.scope))
        object.__setattr__(self, "layer_types", _check_layer_types(self.layer_types))
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                or not math.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {self.threshold!r}")
        object.__setattr__(self, "threshold", float(self.threshold))
        if isinstance(self.norm, bool) or not isinstance(self.norm, numbers.Real) or self.norm not in (1, 2):
            raise ValueError(f"norm must be 1 or 2, got {self.norm!r}")
        parse_nm(self.nm)
        _check_int(self.calibration_size, "calibration_size", 1, MAX_CALIBRATION)
        _check_int(self.seed, "seed", 0, 2**31 - 1)

    @property
    def method_entry(self) -> MethodEntry:
        """The registry entry of this config's method."""
        return get_method(self.method)

    def amount_for(self, layer_type: str, layer: str | None = None) -> float:
        """The fraction to remove from layer `layer` of type `layer_type` ("conv" or "linear"):
        its per-layer amount, else its type's amount, else `amount`."""
        per_layer = dict(self.layer_amounts)
        if layer in per_layer:
            return per_layer[layer]
        override = {"conv": self.conv_amount, "linear": self.linear_amount}[layer_type]
        return self.amount if override is None else override

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        data = asdict(self)
        data["layer_types"] = list(self.layer_types)
        data["layer_amounts"] = {name: amount for name, amount in self.layer_amounts}
        return data
