"""Figures: built without pyplot, one line per method, the current setting marked, PNG-renderable."""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from pruning import PruneConfig, load_pretrained, prune_model
from pruning.finetune import FinetuneResult
from pruning.inspection import filter_grid, weight_histogram
from pruning.iterative import IterativeResult, RoundResult
from ui import plots

METHODS = ["l1_unstructured", "random_unstructured", "ln_structured"]


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a figure was registered with pyplot"


def test_finetune_and_iterative_figures_render():
    tuned = FinetuneResult(PruneConfig(), 3, [2.0, 1.0, 0.5], 0.9, "digits", 0.98, 0.5, 0.9)
    assert len(plots.finetune_figure(tuned).axes) == 2
    rounds = [RoundResult(r, 0.3 * r, 0.3 * r, 0.3 * r, 0.9 - 0.1 * r, 0.95 - 0.05 * r, 0.1) for r in (1, 2, 3)]
    figure = plots.iterative_figure(IterativeResult(PruneConfig(), 10, rounds, "digits", 0.98))
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.get_lines()][:2] == ["after pruning", "after fine-tuning"]
    assert png_bytes(figure).startswith(b"\x89PNG")
    untested = FinetuneResult(PruneConfig(), 3, [2.0, 1.0, 0.5], 0.9)       # no eval set: no bars, still renders
    assert png_bytes(plots.finetune_figure(untested))


def test_histogram_figure_marks_the_cut():
    dense = load_pretrained("lenet")[0]
    model = prune_model("lenet", PruneConfig(model="lenet", amount=0.5, scope="global")).model
    histogram = weight_histogram(dense, model, "conv2")
    ax = plots.histogram_figure(histogram).axes[0]
    cut_lines = [line for line in ax.get_lines() if line.get_label().startswith("cut")]
    assert len(cut_lines) == 1 and cut_lines[0].get_xdata()[0] == histogram.threshold


def test_filter_image_grays_out_pruned_weights():
    dense = load_pretrained("convnet")[0]
    model = prune_model("convnet", PruneConfig(model="convnet", method="ln_structured", amount=0.5)).model
    grid = filter_grid(dense, model, "conv1")                               # (16, 1, 3, 3)
    image = plots.filter_image(grid)
    assert image.shape == (16 * 4 - 1, 1 * 4 - 1, 3)
    for f in range(16):
        tile = image[4 * f:4 * f + 3, 0:3]
        assert torch.all(tile == plots.MASKED_GRAY) == bool((grid.mask[f] == 0).all())
    assert png_bytes(plots.filter_grid_figure(grid)).startswith(b"\x89PNG")
    assert png_bytes(plots.filter_grid_figure(filter_grid(dense, model, "fc1")))
