"""Pruning Lab's engine: a pure PyTorch library (never imports gradio)."""
from .checkpoint import CheckpointError, load_checkpoint, load_pretrained
from .config import LAYER_TYPES, SCOPES, PruneConfig
from .data import DataError, DigitSet, builtin_heldout, default_eval_set, load_mnist_test, normalize
from .engine import PruneResult, prune_model
from .methods import MethodEntry, get_method, list_methods
from .stats import LayerStats

__all__ = ["CheckpointError", "DataError", "DigitSet", "LAYER_TYPES", "LayerStats", "MethodEntry",
           "PruneConfig", "PruneResult", "SCOPES", "builtin_heldout", "default_eval_set", "get_method",
           "list_methods", "load_checkpoint", "load_mnist_test", "load_pretrained", "normalize",
           "prune_model"]
