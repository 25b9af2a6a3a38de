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
from pruning.sweep import SweepPoint, SweepResult
from ui import plots

METHODS = ["l1_unstructured", "random_unstructured", "ln_structured"]


def fake_sweep() -> SweepResult:
    """A sweep with made-up accuracies: plots only read it."""
    result = SweepResult("lenet", "test digits", (0.0, 0.5, 0.9), PruneConfig(), 0.98)
    for method in METHODS:
        for scope in ("local", "global"):
            result.points += [SweepPoint(method, scope, a, a, 0.98 - a / 2) for a in result.amounts]
    return result


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a figure was registered with pyplot"


def test_sweep_figure_has_a_line_per_method_and_marks_the_current_setting():
    figure = plots.sweep_figure(fake_sweep(), PruneConfig(method="ln_structured", scope="global", amount=0.45))
    local, global_ = figure.axes
    assert [line.get_label() for line in local.get_lines()][:3] == METHODS
    stars = [line for line in global_.get_lines() if line.get_label() == "current setting"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [0.5]                 # nearest point
    assert not any(line.get_label() == "current setting" for line in local.get_lines())
    assert png_bytes(figure).startswith(b"\x89PNG")
    unmarked = plots.sweep_figure(fake_sweep(), None, "sparsity")                   # no setting: no star
    assert not any(line.get_label() == "current setting" for ax in unmarked.axes for line in ax.get_lines())


def test_sweep_figure_rejects_unknown_axes():
    with pytest.raises(ValueError, match="x_axis"):
        plots.sweep_figure(fake_sweep(), x_axis="latency")


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
