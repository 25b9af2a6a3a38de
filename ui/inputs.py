"""Raw values from the page or the API turned into engine arguments; engine errors into the app's own words."""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import gradio as gr

from pruning import PruneConfig
from ui.resources import model_status

log = logging.getLogger("pruning_lab")
MAX_SHOWN = 80          # characters of a user's value repeated in a message
F = TypeVar("F", bound=Callable[..., Any])


def number(value: Any) -> Any:
    """A numeric string or number as a float (so "0.5" from the API works); anything else unchanged,
    for the engine to refuse with a message that names the field."""
    if isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return value


def whole(value: Any) -> Any:
    """A whole number given as int, float or string as an int; anything else unchanged (refused later)."""
    converted = number(value)
    if isinstance(converted, float) and converted.is_integer():
        return int(converted)
    return converted


def shorten(text: str, limit: int = 300) -> str:
    """A message cut to `limit` characters (a huge bad value is not echoed back whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layer_amounts(text: Any) -> Any:
    """{"fc1": 0.8, ...} from "fc1=0.8, conv1=0.1" (the page's text box); a dict or pairs unchanged;
    a malformed entry, or a layer named twice, raises gr.Error naming it."""
    if not isinstance(text, str):
        return text or ()
    amounts, given = {}, {}
    for entry in filter(None, (part.strip() for part in text.replace(";", ",").split(","))):
        name, sign, value = entry.partition("=")
        if not sign:
            raise gr.Error(shorten(f"Per-layer amounts are LAYER=AMOUNT, e.g. fc1=0.8; got {entry!r}", 120))
        name = name.strip()
        if name in amounts:            # the engine refuses a layer named twice: say so, never keep the last
            raise gr.Error(shorten(f"Per-layer amounts name layer {name} twice ({given[name]!r} and {entry!r}): "
                                   "give each layer one amount.", 160))
        amounts[name], given[name] = number(value), entry
    return amounts


def build_config(model: Any, method: Any, amount: Any, threshold: Any, scope: Any, per_type: Any,
                 conv_amount: Any, linear_amount: Any, layer_types: Any, calibration_size: Any, norm: Any,
                 seed: Any, nm: Any = "2:4", per_layer: Any = ()) -> PruneConfig:
    """A validated PruneConfig from raw UI/API values; a bad value raises gr.Error with the reason."""
    _, broken = model_status()
    if isinstance(model, str) and model in broken:
        raise gr.Error(f"Model {model} is disabled: {broken[model]}")
    per_type = bool(per_type) and scope == "local"      # the page switches it off under global scope
    with user_errors():
        return PruneConfig(model=model, method=method, amount=number(amount), threshold=number(threshold),
                           scope=scope, conv_amount=number(conv_amount) if per_type else None,
                           linear_amount=number(linear_amount) if per_type else None,
                           layer_amounts=layer_amounts(per_layer), nm=nm,
                           layer_types=layer_types if layer_types is not None else (),
                           calibration_size=whole(calibration_size), norm=whole(str(norm).lstrip("L")),
                           seed=whole(seed))


class user_errors:
    """Context manager and decorator: a ValueError from the engine becomes a gr.Error with its message
    (shortened); gr.Error passes through (it is a ValueError too)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if error is None or isinstance(error, gr.Error) or not isinstance(error, ValueError):
            return False
        raise gr.Error(shorten(str(error))) from None

    def __call__(self, function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
