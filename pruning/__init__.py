"""Pruning Lab's engine: a pure PyTorch library (no gradio, no matplotlib); importing it starts nothing.

Importing the package registers the pruning methods (importance.py). Call runtime.start() before
evaluating from several threads (the app, the CLI and the bench do).
"""
from . import importance  # noqa: F401  (registers the methods)
from .checkpoint import CheckpointError, load_checkpoint, load_pretrained
from .config import LAYER_TYPES, SCOPES, PruneConfig
from .data import (EVAL_SETS, DataError, DigitSet, builtin_heldout, default_eval_set, eval_set_by_name,
                   load_mnist_test, normalize, official_test_split)
from .engine import PruneResult, prune_model
from .methods import MethodEntry, get_method, list_methods
from .stats import LayerStats

__all__ = ["CheckpointError", "DataError", "DigitSet", "EVAL_SETS", "LAYER_TYPES", "LayerStats", "MethodEntry",
           "PruneConfig", "PruneResult", "SCOPES", "builtin_heldout", "default_eval_set", "eval_set_by_name", "get_method",
           "list_methods", "load_checkpoint", "load_mnist_test", "load_pretrained", "normalize",
           "official_test_split", "prune_model"]
