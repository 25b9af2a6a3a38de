"""Architectures and their registry: list_models(), create_model(name)."""
from .registry import ModelEntry, create_model, get_model_entry, list_models, register_model
from . import lenet, convnet, mlp  # noqa: F401  (registration side effects, in display order)

__all__ = ["ModelEntry", "create_model", "get_model_entry", "list_models", "register_model"]
