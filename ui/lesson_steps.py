"""The lessons' long work in steps the page can follow: each step reported as it starts (done / total, what)."""
from __future__ import annotations

import contextvars
from typing import Callable

import torch

from models import get_model_entry
from pruning import DigitSet, PruneConfig, load_pretrained, prune_model
from pruning.evaluate import plain_logits, prepared_inputs
from pruning.masks import permanent_copy
from pruning.pruner import selected_layers
from pruning.quantize import (Int8Conv2d, QuantizeGrid, interleaved_times, measure_cell, order_lesson,
                              quantize_model, speed_note)
from pruning.sensitivity import DEFAULT_AMOUNTS, Sensitivity, layer_sensitivity

Report = Callable[[float, str], None]
CELL_NAMES = {"dense_fp32": "dense · fp32", "dense_int8": "dense · int8", "pruned_fp32": "pruned · fp32",
              "pruned_int8": "pruned · int8"}


def from_any_thread(report: Report) -> Report:
    """`report`, callable from the background thread: Gradio's progress finds its event through context
    variables, which a worker thread does not inherit (without this every step after the first is lost)."""
    context = contextvars.copy_context()

    def told(fraction: float, message: str) -> None:
        context.run(report, fraction, message)
    return told


def scan_in_steps(config: PruneConfig, eval_set: DigitSet, report: Report) -> Sensitivity:
    """layer_sensitivity, its own per-layer callback told in words ("layer conv2 (2 of 5): amounts 0.10
    to 0.90"); the fraction is the share of layers already scanned."""
    low, high = DEFAULT_AMOUNTS[0], DEFAULT_AMOUNTS[-1]
    started, count = 0, 0

    def told(fraction: float, message: str) -> None:
        nonlocal started, count
        count = count or len(selected_layers(load_pretrained(config.model)[0], config))   # after the engine's checks
        started += 1
        layer = message.rpartition(" ")[2]                 # the engine says "scanning layer conv2"
        report(fraction, f"layer {layer} ({started} of {count}): amounts {low:.2f} to {high:.2f}, "
                         "only this layer pruned")
    scan = layer_sensitivity(config, eval_set, progress=told)
    report(1.0, "drawing the curves")
    return scan


def quantize_in_steps(config: PruneConfig, eval_set: DigitSet, repeats: int, report: Report,
                      scheme: str = "dynamic") -> QuantizeGrid:
    """pruning.quantize.prune_quantize_grid's steps, one engine call at a time with a report before each:
    the same models, predictions and order lesson (so the same numbers; timings are timings), the
    timing rounds taking the models in turn as there."""
    name = config.model
    total, done = 3 + 4 + 4 * repeats, 0

    def step(what: str) -> None:
        nonlocal done
        report(done / total, what)
        done += 1
    step("quantizing the dense model to int8")
    dense = load_pretrained(name)[0]
    dense_int8 = quantize_model(dense, name, scheme)
    step(f"pruning ({config.method}) and quantizing the pruned model")
    masked = prune_model(name, config).model
    models = {"dense_fp32": permanent_copy(dense), "dense_int8": dense_int8,
              "pruned_fp32": permanent_copy(masked), "pruned_int8": quantize_model(masked, name, scheme)}
    x = prepared_inputs(eval_set, get_model_entry(name).input_padding)      # (N, 1, H, W)
    predicted: dict[str, torch.Tensor] = {}
    for i, (cell, model) in enumerate(models.items(), start=1):            # also the warm-up
        step(f"accuracy of {CELL_NAMES[cell]} ({i} of 4)")
        predicted[cell] = plain_logits(model, x).argmax(1)                  # (N,)
    times: dict[str, list[float]] = {cell: [] for cell in models}
    for round_ in range(1, repeats + 1):
        for cell, model in models.items():
            step(f"timing {CELL_NAMES[cell]}, round {round_} of {repeats}")
            times[cell] += interleaved_times({cell: model}, x, 1)[cell]
    cells = {cell: measure_cell(cell, m, predicted[cell], eval_set.labels, times[cell]) for cell, m in models.items()}
    step("the other order: quantize first, then prune")
    order = order_lesson(masked, models, config, x, eval_set.labels, predicted["pruned_int8"])
    note = speed_note(cells, scheme, convs=any(isinstance(m, Int8Conv2d) for m in models["dense_int8"].modules()))
    report(1.0, "writing the table")
    return QuantizeGrid(name, config, scheme, eval_set.describe(), cells, order, note)
