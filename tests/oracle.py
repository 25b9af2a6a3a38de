"""Independent oracles: a plain evaluation loop and the documented pruning rules, written without the engine.

Nothing here imports `pruning`: the digits are read from the IDX files, normalised and padded here,
the shipped weights are read with torch.load, the model is called directly in plain batches, and
sparsity is counted from the weights. The rule helpers restate the README's "Methods" section
(which units / weights a method must remove) from scratch, so a test can hold the engine's masks
against them.
"""
from __future__ import annotations

import copy
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models import create_model, get_model_entry

MEAN, STD = 0.1307, 0.3081          # MNIST normalisation used in training (README, checkpoints/README.md)
BATCH = 500                          # digits per forward pass; any size gives the same predictions
TIE_MARGIN = 1e-4                    # top-2 logits closer than this: float rounding order may flip argmax
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)   # what the README prunes ("conv + linear layers")


# ---- data and models -----------------------------------------------------------------------------

def read_idx_gz(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped) as an array of the header's shape."""
    data = gzip.decompress(Path(path).read_bytes())
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_test_split(directory: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The official test split read here: (N, 28, 28) uint8 images and (N,) int64 labels."""
    images = read_idx_gz(Path(directory) / "t10k-images-idx3-ubyte.gz")
    labels = read_idx_gz(Path(directory) / "t10k-labels-idx1-ubyte.gz")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def model_inputs(images: torch.Tensor, model_name: str) -> torch.Tensor:
    """uint8 (N, 28, 28) -> normalised float (N, 1, 28 + 2p, 28 + 2p), padded with the background value."""
    x = ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)      # (N, 1, 28, 28)
    padding = get_model_entry(model_name).input_padding             # lenet: 2 -> 32x32
    background = (0.0 - MEAN) / STD                                  # a black pixel, normalised
    return F.pad(x, [padding] * 4, value=background) if padding else x


def load_shipped(model_name: str) -> nn.Module:
    """checkpoints/<name>.pt read with torch.load into a fresh architecture (eval mode)."""
    payload = torch.load(CHECKPOINTS / f"{model_name}.pt", map_location="cpu", weights_only=True)
    model = create_model(model_name, **payload.get("model_args", {}))
    model.load_state_dict(payload["state_dict"])
    return model.eval()


# ---- the plain evaluation loop -------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """What one plain pass over a digit set gives."""

    predictions: torch.Tensor      # (N,) int64
    correct: int                   # digits whose prediction equals the label
    total: int
    near_ties: torch.Tensor        # (N,) bool: top-2 logits within TIE_MARGIN (argmax may differ by rounding)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def evaluate(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """model(x) in batches of BATCH under inference mode, on one thread; predictions, accuracy, near-ties.

    One intra-op thread: on the shared 2-core machine, with other processes busy, a lenet pass took
    1.3-2.0 s on one thread and 4.5-9.4 s on two (measured); the numbers do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            logits = torch.cat([model(x[i:i + BATCH]) for i in range(0, x.shape[0], BATCH)])   # (N, 10)
    finally:
        torch.set_num_threads(threads)
    top2 = logits.topk(2, dim=1).values                                                    # (N, 2)
    predictions = logits.argmax(1)
    return Evaluation(predictions, int((predictions == labels).sum()), int(labels.shape[0]),
                      (top2[:, 0] - top2[:, 1]) <= TIE_MARGIN * top2[:, 0].abs().clamp_min(1.0))


# ---- sparsity counted from the weights -----------------------------------------------------------

def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every Conv2d / Linear (exact type) by qualified name, in model order."""
    return {name: m for name, m in model.named_modules() if type(m) in WEIGHT_LAYERS}


def zero_counts(model: nn.Module) -> dict[str, tuple[int, int]]:
    """name -> (zero weights, weights), read from module.weight (the masked tensor when pruned)."""
    return {name: (int((m.weight == 0).sum()), m.weight.numel()) for name, m in weight_layers(model).items()}


def global_sparsity(counts: dict[str, tuple[int, int]]) -> float:
    """Zeros over weights across all layers."""
    return sum(z for z, _ in counts.values()) / sum(n for _, n in counts.values())


def dead_units(module: nn.Module) -> torch.Tensor:
    """(out_units,) bool: the unit's whole weight row is zero."""
    return (module.weight.detach().flatten(1) == 0).all(dim=1)


# ---- the documented rules ------------------------------------------------------------------------

def local_unit_keep(scores: torch.Tensor, amount: float) -> torch.Tensor:
    """Keep mask (units,): the round(amount * units) lowest scores go."""
    order = sorted(range(scores.numel()), key=lambda i: float(scores[i]))
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[order[:round(amount * scores.numel())]] = False
    return keep


def global_unit_keep(scores: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """README: one ranking of every unit by score / its layer's mean score; round(amount * units)
    lowest go, except that each layer keeps its best unit."""
    ranked = []                                             # (normalised score, layer, unit)
    for name, s in scores.items():
        mean, best = float(s.mean()), int(s.argmax())
        ranked += [(float(v) / mean, name, i) for i, v in enumerate(s) if i != best]
    ranked.sort()
    total = sum(s.numel() for s in scores.values())
    keep = {name: torch.ones(s.numel(), dtype=torch.bool) for name, s in scores.items()}
    for _, name, unit in ranked[:min(round(amount * total), len(ranked))]:
        keep[name][unit] = False
    return keep


def unit_norms(model: nn.Module, names: list[str], p: int = 1) -> dict[str, torch.Tensor]:
    """L_p norm of every output unit's weights (rows of the weight), per layer."""
    layers = weight_layers(model)
    return {n: layers[n].weight.detach().flatten(1).abs().pow(p).sum(1).pow(1 / p) for n in names}


def _smallest_keep(magnitudes: torch.Tensor, k: int) -> torch.Tensor | None:
    """Keep mask over flat magnitudes (n,): all but the k smallest; None if magnitudes tie at the cut."""
    order = torch.argsort(magnitudes, stable=True)
    if 0 < k < magnitudes.numel() and magnitudes[order[k - 1]] == magnitudes[order[k]]:
        return None
    keep = torch.ones(magnitudes.numel(), dtype=torch.bool)
    keep[order[:k]] = False
    return keep


def magnitude_keep(model: nn.Module, amount: float, scope: str) -> dict[str, torch.Tensor] | None:
    """L1 unstructured, by the README: "local" drops round(amount * n) smallest |w| of each layer,
    "global" the round(amount * N) smallest of all layers together. Weight-shaped keep masks;
    None when magnitudes tie at a cut (which of the tied weights goes is then arbitrary)."""
    weights = {n: m.weight.detach() for n, m in weight_layers(model).items()}
    if scope == "local":
        keeps = {n: _smallest_keep(w.abs().flatten(), round(amount * w.numel())) for n, w in weights.items()}
        if any(k is None for k in keeps.values()):
            return None
        return {n: keeps[n].view_as(w) for n, w in weights.items()}
    flat = torch.cat([w.abs().flatten() for w in weights.values()])          # (N,)
    keep = _smallest_keep(flat, round(amount * flat.numel()))
    if keep is None:
        return None
    parts = keep.split([w.numel() for w in weights.values()])
    return {n: part.view_as(w) for (n, w), part in zip(weights.items(), parts)}


def masked_copy(model: nn.Module, weight_keep: dict[str, torch.Tensor]) -> nn.Module:
    """A plain copy of `model` with weights (and, for a (units,) keep, biases) multiplied by keep."""
    clone = copy.deepcopy(model).eval()
    layers = weight_layers(clone)
    with torch.no_grad():
        for name, keep in weight_keep.items():
            module = layers[name]
            if keep.dim() == 1:                             # whole units: rows of the weight + bias
                module.weight.mul_(keep.view(-1, *[1] * (module.weight.dim() - 1)).float())
                if module.bias is not None:
                    module.bias.mul_(keep.float())
            else:
                module.weight.mul_(keep.float())
    return clone
