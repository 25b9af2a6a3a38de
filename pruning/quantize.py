"""Prune x quantize: int8 copies of a (pruned) model and the 2x2 grid dense/pruned x fp32/int8."""
from __future__ import annotations

import copy
import io
import statistics
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from models import get_model_entry

from .checkpoint import load_pretrained
from .config import PruneConfig
from .data import DigitSet
from .engine import prune_model
from .evaluate import plain_logits, prepared_inputs
from .int8 import (SCHEMES, TORCHAO_PIN, Int8Conv2d, int8_codes, int8_state,  # noqa: F401  (SCHEMES, TORCHAO_PIN:
                   layer_weights, quantize_model)                               # the module's API too)
from .masks import permanent_copy

CELLS = ("dense_fp32", "dense_int8", "pruned_fp32", "pruned_int8")
FASTER = 1.1                           # int8 counts as faster only if fp32's median is 10% above its own


@dataclass(frozen=True)
class GridCell:
    """One model of the grid, measured."""

    name: str                  # one of CELLS, e.g. "pruned_int8"
    accuracy: float            # 0..1 on the eval set
    file_bytes: int            # torch.save of the fp32 state_dict (masks made permanent) / of int8_state()
    zlib_bytes: int            # the same bytes, zlib level 9
    weights: int               # conv + linear weights
    nonzero_weights: int       # of them, nonzero as the forward pass uses them (int8: nonzero codes)
    latency_ms: float          # median CPU time of one pass over the whole eval set (plain_logits batches)
    latency_min_ms: float
    latency_max_ms: float
    repeats: int               # timed passes, after one warm-up
    threads: int               # torch intra-op threads while timing


@dataclass(frozen=True)
class OrderLesson:
    """Prune then quantize vs quantize then prune (same pruning config, same int8 scheme)."""

    pruned_weights: int            # weights the pruning masks removed (prune first)
    pruned_nonzero_codes: int      # of them, with a nonzero int8 code after quantizing (symmetric: 0)
    rounded_to_zero: int           # nonzero dense fp32 weights whose int8 code is 0 (ties for the ranking)
    mask_differences: int          # weights pruned in one order but not in the other
    value_differences: int         # weights whose int8 value (code * scale) differs between the orders
    weights: int                   # conv + linear weights
    accuracy_prune_then_quantize: float
    accuracy_quantize_then_prune: float
    prediction_differences: int    # eval digits the two int8 models classify differently

    @property
    def zeros_kept(self) -> bool:
        """Every pruned weight is still exactly zero (int8 code 0) after quantization."""
        return self.pruned_nonzero_codes == 0


@dataclass
class QuantizeGrid:
    """Dense / pruned x fp32 / int8 on one eval set, and the lesson of order."""

    model: str
    config: PruneConfig
    scheme: str                    # torchao scheme of the linear layers (SCHEMES)
    eval_set: str
    cells: dict[str, GridCell]     # keys: CELLS
    order: OrderLesson
    note: str                      # plain words on speed and size, from the measured figures

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "config": self.config.to_dict(), "scheme": self.scheme,
                "eval_set": self.eval_set, "cells": {k: asdict(c) for k, c in self.cells.items()},
                "order": {**asdict(self.order), "zeros_kept": self.order.zeros_kept}, "note": self.note}


def interleaved_times(models: dict[str, nn.Module], x: torch.Tensor, repeats: int) -> dict[str, list[float]]:
    """Wall times (ms) of passes over x (N, 1, H, W), `repeats` rounds taking the models in turn (after
    the caller's warm-up), so that load changing on a shared machine hits every model alike."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            started = time.perf_counter()
            plain_logits(model, x)                                      # (N, 10), batches, inference mode
            times[name].append(1000 * (time.perf_counter() - started))
    return times


def measure_cell(name: str, model: nn.Module, predicted: torch.Tensor, labels: torch.Tensor,
                 times: list[float]) -> GridCell:
    """The GridCell of `model` from its predictions (N,) on the eval set with labels (N,) and its times."""
    buffer = io.BytesIO()                                               # the file: int8 codes + fp32 scales
    torch.save(int8_state(model) if name.endswith("int8") else model.state_dict(), buffer)
    weights = list(layer_weights(model).values())
    return GridCell(name, float((predicted == labels).float().mean()), len(buffer.getvalue()),
                    len(zlib.compress(buffer.getvalue(), 9)),
                    sum(w.numel() for w in weights), sum(int(torch.count_nonzero(w)) for w in weights),
                    statistics.median(times), min(times), max(times), len(times), torch.get_num_threads())


def _masks(masked: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
    """Per pruned layer: (weight_mask, bias_mask or None) of a torch.nn.utils.prune-masked model."""
    return {name: (m.weight_mask, getattr(m, "bias_mask", None))
            for name, m in masked.named_modules() if hasattr(m, "weight_mask")}


def quantize_then_prune(dense_fp32: nn.Module, dense_int8: nn.Module, config: PruneConfig
                        ) -> tuple[nn.Module, dict[str, tuple[torch.Tensor, torch.Tensor | None]]]:
    """The other order: prune the int8 model's weights (the method ranks the int8 values), then zero
    those codes; scales stay those of the dense model. Returns (int8 model, masks by layer)."""
    on_grid = copy.deepcopy(dense_fp32)             # fp32 network holding the int8 values (codes * scale)
    with torch.no_grad():
        for name, weight in layer_weights(dense_int8).items():
            on_grid.get_submodule(name).weight.copy_(weight)
    masks = _masks(prune_model(on_grid, config).model)
    model = copy.deepcopy(dense_int8)
    with torch.no_grad():
        for name, (weight_mask, bias_mask) in masks.items():
            layer = model.get_submodule(name)
            int8_codes(layer)[0].mul_(weight_mask.to(torch.int8))
            if bias_mask is not None:
                layer.bias.mul_(bias_mask)
    return model, masks


def order_lesson(masked: nn.Module, models: dict[str, nn.Module], config: PruneConfig, x: torch.Tensor,
                 labels: torch.Tensor, predicted: torch.Tensor) -> OrderLesson:
    """Compare prune->quantize (models["pruned_int8"], its predictions `predicted`) with quantize->prune."""
    codes = {kind: {n: int8_codes(m)[0] for n, m in models[kind].named_modules() if int8_codes(m) is not None}
             for kind in ("dense_int8", "pruned_int8")}
    dense, masks = layer_weights(models["dense_fp32"]), _masks(masked)
    qtp_model, qtp_masks = quantize_then_prune(models["dense_fp32"], models["dense_int8"], config)
    mask_of = lambda found, n: found[n][0] if n in found else torch.ones_like(dense[n])   # noqa: E731
    ptq_values, qtp_values = layer_weights(models["pruned_int8"]), layer_weights(qtp_model)
    qtp_predicted = plain_logits(qtp_model, x).argmax(1)                                   # (N,)
    return OrderLesson(
        pruned_weights=sum(int((m == 0).sum()) for m, _ in masks.values()),
        pruned_nonzero_codes=sum(int(((m == 0) & (codes["pruned_int8"][n] != 0)).sum())
                                 for n, (m, _) in masks.items()),
        rounded_to_zero=sum(int(((dense[n] != 0) & (codes["dense_int8"][n] == 0)).sum()) for n in dense),
        mask_differences=sum(int((mask_of(masks, n) != mask_of(qtp_masks, n)).sum()) for n in dense),
        value_differences=sum(int((ptq_values[n] != qtp_values[n]).sum()) for n in dense),
        weights=sum(w.numel() for w in dense.values()),
        accuracy_prune_then_quantize=float((predicted == labels).float().mean()),
        accuracy_quantize_then_prune=float((qtp_predicted == labels).float().mean()),
        prediction_differences=int((predicted != qtp_predicted).sum()))


def speed_note(cells: dict[str, GridCell], scheme: str, convs: bool) -> str:
    """Plain words on speed and size, from the measured medians."""
    ms = {name: cell.latency_ms for name, cell in cells.items()}
    ratios = [ms[f"{kind}_fp32"] / ms[f"{kind}_int8"] for kind in ("dense", "pruned")]   # > 1: int8 faster
    verdict = "faster" if min(ratios) >= FASTER else "not faster" if max(ratios) < FASTER else "not reliably faster"
    speed = (f"int8 is {verdict} here (median per pass over the set: dense {ms['dense_fp32']:.1f} ms fp32 vs "
             f"{ms['dense_int8']:.1f} ms int8, pruned {ms['pruned_fp32']:.1f} ms vs {ms['pruned_int8']:.1f} ms)")
    if verdict != "faster":
        conv = " the int8 convolutions dequantize their weights to fp32 on every pass, and" if convs else ""
        linear = "quantize their inputs" if scheme == "dynamic" else "convert their weights to fp32"
        speed += f": the model is tiny,{conv} the int8 linear layers {linear} on every call"
    size = cells["dense_fp32"].file_bytes / cells["dense_int8"].file_bytes
    return f"{speed}. int8 files are {size:.1f}x smaller. Masks save no time: pruned fp32 still multiplies its zeros."


def _check_grid_inputs(model_name: Any, config: Any, eval_set: Any, repeats: Any) -> None:
    get_model_entry(model_name)
    if not isinstance(config, PruneConfig) or config.model != model_name:
        raise ValueError(f"config must be a PruneConfig for model {model_name!r}, got {config!r}"[:300])
    if not isinstance(eval_set, DigitSet) or len(eval_set) == 0:
        raise ValueError("eval_set must be a non-empty DigitSet (e.g. load_mnist_test(dir) or builtin_heldout())")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 50:
        raise ValueError(f"repeats must be a whole number from 1 to 50, got {repeats!r}")


def prune_quantize_grid(model_name: str, config: PruneConfig, eval_set: DigitSet, scheme: str = "dynamic",
                        repeats: int = 5) -> QuantizeGrid:
    """Prune the pretrained `model_name` per `config`, quantize the dense and the pruned model to int8,
    and measure all four on `eval_set`: accuracy, file size (plain, zlib), CPU latency (median of
    `repeats` passes after a warm-up, models in turn, with min/max); plus quantize-then-prune, the other order."""
    _check_grid_inputs(model_name, config, eval_set, repeats)
    dense = load_pretrained(model_name)[0]
    dense_int8 = quantize_model(dense, model_name, scheme)                      # checks the scheme first
    masked = prune_model(model_name, config).model
    models = {"dense_fp32": permanent_copy(dense), "dense_int8": dense_int8,
              "pruned_fp32": permanent_copy(masked), "pruned_int8": quantize_model(masked, model_name, scheme)}
    x = prepared_inputs(eval_set, get_model_entry(model_name).input_padding)    # (N, 1, H, W)
    predicted = {name: plain_logits(model, x).argmax(1) for name, model in models.items()}   # also the warm-up
    times = interleaved_times(models, x, repeats)
    cells = {name: measure_cell(name, m, predicted[name], eval_set.labels, times[name]) for name, m in models.items()}
    order = order_lesson(masked, models, config, x, eval_set.labels, predicted["pruned_int8"])
    note = speed_note(cells, scheme, convs=any(isinstance(m, Int8Conv2d) for m in models["dense_int8"].modules()))
    return QuantizeGrid(model_name, config, scheme, eval_set.describe(), cells, order, note)


def format_grid(grid: QuantizeGrid) -> str:
    """The grid as text for the CLI (`--quantize`)."""
    o = grid.order
    lines = [f"{grid.model}, {grid.config.method} ({100 * o.pruned_weights / o.weights:.1f}% of weights pruned) "
             f"on {grid.eval_set}; int8: linear torchao {grid.scheme}, conv per-channel weight-only",
             f"{'':12} {'accuracy':>8} {'file B':>9} {'zlib B':>9} {'nonzero w':>10}  latency ms median (min-max)"]
    for name, c in grid.cells.items():
        lines.append(f"{name:12} {100 * c.accuracy:7.2f}% {c.file_bytes:>9,} {c.zlib_bytes:>9,} "
                     f"{c.nonzero_weights:>10,}  {c.latency_ms:.1f} ({c.latency_min_ms:.1f}-{c.latency_max_ms:.1f}), "
                     f"{c.repeats} runs, {c.threads} threads")
    lines += [f"prune -> quantize: {o.pruned_nonzero_codes} of {o.pruned_weights:,} pruned weights have a nonzero "
              f"int8 code (zeros kept: {'yes' if o.zeros_kept else 'NO'}); int8 rounding alone zeroes "
              f"{o.rounded_to_zero:,} dense weights",
              f"quantize -> prune: masks differ at {o.mask_differences:,} of {o.weights:,} weights, int8 values at "
              f"{o.value_differences:,}; accuracy {100 * o.accuracy_prune_then_quantize:.2f}% (prune first) vs "
              f"{100 * o.accuracy_quantize_then_prune:.2f}% (quantize first); {o.prediction_differences} "
              "predictions differ", f"note: {grid.note}"]
    return "\n".join(lines)
