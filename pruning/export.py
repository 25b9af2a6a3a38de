"""Export a pruned model as a self-describing checkpoint that load_checkpoint and plain PyTorch read."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from .checkpoint import FORMAT, save_checkpoint
from .config import PruneConfig
from .masks import permanent_copy
from .shrink import architecture_args, shrink_model
from .stats import global_sparsity, layer_stats, parameter_counts

LOAD_IN_PLAIN_PYTORCH = (
    "payload = torch.load(path, map_location='cpu', weights_only=True); "
    "model = models.create_model(payload['model_name'], **payload['model_args']); "
    "model.load_state_dict(payload['state_dict']); model.eval()  # inputs: see payload['input']")


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    path: str
    sha256: str
    model_name: str
    model_args: dict[str, Any]     # create_model(model_name, **model_args) builds the architecture
    shrunk: bool                   # True: all-zero filters / neurons physically removed
    file_bytes: int
    total_params: int
    nonzero_params: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_pruned(model: nn.Module, model_name: str, path: str | os.PathLike,
                  config: PruneConfig | None = None, shrink: bool | None = None,
                  metrics: dict[str, Any] | None = None) -> ExportResult:
    """Write `model` (e.g. PruneResult.model) with its pruning made permanent (prune.remove).

    shrink: remove all-zero filters / neurons for real (pruning/shrink.py) and store the smaller
        architecture's widths as model_args; default: True for structured methods, False otherwise.
    The file is a Pruning Lab checkpoint (pruning.checkpoint.FORMAT): load_checkpoint(path),
    `python -m pruning --checkpoint path`, or plain PyTorch (LOAD_IN_PLAIN_PYTORCH).
    """
    if shrink is None:
        shrink = config is not None and config.method_entry.structured
    if shrink:
        shrunk = shrink_model(model, model_name)
        network, model_args = shrunk.model, shrunk.model_args
    else:
        network = permanent_copy(model)
        model_args = architecture_args(model_name, network)
    total, nonzero = parameter_counts(network)
    info = {"pruning": None if config is None else config.to_dict(), "shrunk": bool(shrink),
            "sparsity": global_sparsity(layer_stats(network)), "total_params": total,
            "nonzero_params": nonzero, "metrics": dict(metrics or {}),
            "input": "MNIST digits (N, 1, 28, 28) normalized with mean 0.1307, std 0.3081, "
                     "padded with background to the model's input size (lenet: 32x32)",
            "load_in_plain_pytorch": LOAD_IN_PLAIN_PYTORCH, "exported_by": f"Pruning Lab ({FORMAT})"}
    digest = save_checkpoint(path, model_name, network, model_args, **info)
    return ExportResult(str(path), digest, model_name, model_args, bool(shrink), Path(path).stat().st_size,
                        total, nonzero)
