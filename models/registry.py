"""Model registry: a decorator fills a name -> entry dict; list/create look it up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one architecture."""

    name: str
    builder: Callable[..., nn.Module]
    description: str
    input_padding: int = 0          # pixels of zero padding around the 28x28 digit (lenet: 2 -> 32x32)
    default_args: dict[str, Any] = field(default_factory=dict)


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, description: str, input_padding: int = 0, **default_args: Any):
    """Class/function decorator: register an architecture under `name`."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = ModelEntry(name, builder, description, input_padding, dict(default_args))
        return builder

    return decorator


def list_models() -> list[str]:
    """Names of all registered models, in registration order."""
    return list(_MODELS)


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry for `name`; unknown names raise a ValueError listing known ones."""
    if not isinstance(name, str) or name not in _MODELS:
        known = ", ".join(_MODELS) or "(none)"
        raise ValueError(f"unknown model {name!r}; known models: {known}")
    return _MODELS[name]


def create_model(name: str, **model_args: Any) -> nn.Module:
    """Build an untrained model by registry name (model_args override the defaults)."""
    entry = get_model_entry(name)
    args = {**entry.default_args, **model_args}
    return entry.builder(**args)
