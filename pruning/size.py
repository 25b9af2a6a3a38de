"""What a model honestly costs: parameters, MACs, file bytes, CPU latency, and sparse file encodings."""
from __future__ import annotations

import io
import statistics
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from models import get_model_entry

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import accuracy, logits
from .inputs import prepared_inputs
from .masks import permanent_copy
from .shrink import example_input, max_output_difference, shrink_model
from .stats import global_sparsity, layer_stats, parameter_counts

MASKING_NOTE = ("Masking alone speeds nothing up and saves no memory: the masked network still multiplies "
                "every zeroed weight (same MACs, same latency), and its file is about twice the dense one "
                "because it stores weight_orig and weight_mask. A sparse encoding shrinks the file at high "
                "sparsity; only physically removing filters / neurons (structured pruning + shrink) makes "
                "the network itself smaller and faster.")


@dataclass(frozen=True)
class ModelCost:
    """Size and speed of one model as it would actually run."""

    label: str                 # e.g. "dense", "masked", "shrunk"
    params: int                # parameters the forward pass uses (masks are not parameters)
    nonzero_params: int
    macs: int                  # conv + linear multiply-accumulates per digit actually executed
    nonzero_macs: int          # those with a nonzero weight: what an ideal sparse kernel would do
    file_bytes: int            # torch.save(model.state_dict()) as it is (masked: orig + mask)
    latency_ms: float | None   # median CPU time for the whole eval set, batches of evaluate.BATCH_SIZE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_macs(model: nn.Module, model_name: str) -> tuple[int, int]:
    """(MACs, MACs with a nonzero weight) of conv and linear layers for one digit (biases, ReLU and
    pooling not counted), from forward hooks: a conv does weight.numel() MACs per output position."""
    totals = [0, 0]

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        positions = output[0, 0].numel() if isinstance(module, nn.Conv2d) else 1   # H_out * W_out
        weight = module.weight.detach()                                          # masked if pruned
        totals[0] += weight.numel() * positions
        totals[1] += int(torch.count_nonzero(weight)) * positions

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model(example_input(model_name))
    finally:
        for handle in handles:
            handle.remove()
    return totals[0], totals[1]


def serialized(state: dict[str, Any]) -> bytes:
    """The bytes torch.save(state) writes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def state_dict_bytes(state: dict[str, Any]) -> int:
    """Size of torch.save(state) in bytes."""
    return len(serialized(state))


def cpu_latency_ms(model: nn.Module, model_name: str, eval_set: DigitSet, repeats: int = 5) -> float:
    """Median wall time (ms) of the forward pass over every digit of the set (after one warm-up)."""
    x = prepared_inputs(eval_set, get_model_entry(model_name).input_padding)   # (N, 1, H, W)
    model.eval()
    logits(model, x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        logits(model, x)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def model_cost(label: str, model: nn.Module, model_name: str, eval_set: DigitSet | None = None,
               repeats: int = 5) -> ModelCost:
    """ModelCost of `model`; latency only when an eval set is given."""
    total, nonzero = parameter_counts(model)
    macs, nonzero_macs = count_macs(model, model_name)
    latency = cpu_latency_ms(model, model_name, eval_set, repeats) if eval_set is not None else None
    return ModelCost(label, total, nonzero, macs, nonzero_macs, state_dict_bytes(model.state_dict()), latency)


def csr_encode(model: nn.Module) -> dict[str, Any]:
    """The model's effective weights with every conv / linear weight in CSR form (rows = output
    units): int32 row pointers, int16 column indices where they fit (else int32), float32 values
    of the nonzero weights. Other tensors (biases) stay dense."""
    encoded: dict[str, Any] = {}
    for name, tensor in permanent_copy(model).state_dict().items():
        if name.endswith("weight") and tensor.dim() >= 2:
            matrix = tensor.reshape(tensor.shape[0], -1)                            # (out, fan_in)
            rows, columns = (matrix != 0).nonzero(as_tuple=True)                    # row-major order
            per_row = torch.bincount(rows, minlength=matrix.shape[0])               # (out,)
            index_type = torch.int16 if matrix.shape[1] <= torch.iinfo(torch.int16).max else torch.int32
            encoded[name] = {"shape": list(tensor.shape),
                             "crow": torch.cat([per_row.new_zeros(1), per_row.cumsum(0)]).to(torch.int32),
                             "col": columns.to(index_type), "values": matrix[rows, columns].clone()}
        else:
            encoded[name] = tensor
    return encoded


def csr_decode(encoded: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A plain state_dict back from csr_encode() (load it with load_state_dict)."""
    state = {}
    for name, item in encoded.items():
        if isinstance(item, dict):
            crow = item["crow"].long()
            matrix = item["values"].new_zeros(len(crow) - 1, int(torch.tensor(item["shape"][1:]).prod()))
            rows = torch.repeat_interleave(torch.arange(len(crow) - 1), crow.diff())
            matrix[rows, item["col"].long()] = item["values"]
            state[name] = matrix.reshape(item["shape"])
        else:
            state[name] = item
    return state


@dataclass(frozen=True)
class SparseSize:
    """File sizes of an (unstructured-)pruned model under different encodings."""

    sparsity: float            # global weight sparsity, conv + linear
    dense_bytes: int           # masks made permanent, ordinary state_dict: zeros cost as much as weights
    masked_bytes: int          # the masked model's state_dict (weight_orig + weight_mask)
    csr_bytes: int             # csr_encode() saved with torch.save
    zlib_bytes: int            # the dense file compressed with zlib (level 9)
    note: str = MASKING_NOTE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sparse_size(model: nn.Module) -> SparseSize:
    """How big the pruned model's file is dense, masked, as CSR and zlib-compressed."""
    plain_state = permanent_copy(model).state_dict()
    dense = state_dict_bytes(plain_state)
    return SparseSize(global_sparsity(layer_stats(model)), dense, state_dict_bytes(model.state_dict()),
                      state_dict_bytes(csr_encode(model)), len(zlib.compress(serialized(plain_state), 9)))


MAX_OUTPUT_DIFFERENCE = 1e-5     # shrunk vs masked logits, largest absolute difference allowed


@dataclass
class ShrinkReport:
    """Dense vs masked vs physically shrunk, for one structured pruning config."""

    config: PruneConfig
    eval_set: str
    costs: dict[str, ModelCost]            # "dense", "masked", "shrunk"
    accuracy: dict[str, float]             # same keys, 0..1 on the eval set
    max_abs_difference: float              # shrunk vs masked logits over the eval set
    widths: dict[str, tuple[int, int]]     # layer -> (units before, after)
    model: nn.Module | None = field(default=None, repr=False)   # the shrunk network

    @property
    def outputs_match(self) -> bool:
        return self.max_abs_difference <= MAX_OUTPUT_DIFFERENCE

    @property
    def speedup(self) -> float | None:
        """Dense latency / shrunk latency."""
        dense, shrunk = self.costs["dense"].latency_ms, self.costs["shrunk"].latency_ms
        return None if dense is None or not shrunk else dense / shrunk

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "eval_set": self.eval_set,
                "costs": {k: c.to_dict() for k, c in self.costs.items()}, "accuracy": self.accuracy,
                "max_abs_difference": self.max_abs_difference, "outputs_match": self.outputs_match,
                "speedup": self.speedup, "widths": {k: list(v) for k, v in self.widths.items()}}


def shrink_report(name_or_model: str | nn.Module, config: PruneConfig, eval_set: DigitSet,
                  repeats: int = 5, progress: Callable[[float, str], None] | None = None) -> ShrinkReport:
    """Prune with a structured method, shrink, check the shrunk outputs equal the masked ones, and
    measure parameters, MACs, file size and CPU latency of the dense, masked and shrunk models.
    progress(fraction, message) is called before each model is measured (it may raise to stop)."""
    if not config.method_entry.structured:
        raise ValueError(f"method {config.method!r} removes single weights, so no whole filter or neuron "
                         "can be taken out; choose a structured method (see sparse_size for file sizes)")
    pruned = prune_model(name_or_model, config)
    dense = load_pretrained(config.model)[0] if isinstance(name_or_model, str) else name_or_model
    shrunk = shrink_model(pruned.model, config.model)
    models = {"dense": dense, "masked": pruned.model, "shrunk": shrunk.model}
    costs = {}
    for i, (label, model) in enumerate(models.items()):
        if progress is not None:
            progress(0.1 + 0.8 * i / len(models), f"timing the {label} network")
        costs[label] = model_cost(label, model, config.model, eval_set, repeats)
    accuracies = {label: accuracy(m, config.model, eval_set) for label, m in models.items()}
    difference = max_output_difference(shrunk.model, pruned.model, config.model, eval_set)
    return ShrinkReport(config, eval_set.describe(), costs, accuracies, difference, shrunk.widths, shrunk.model)
