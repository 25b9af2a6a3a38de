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


def noisy_losses(steps: int) -> list[float]:
    """A falling loss with per-step noise, as one small batch per step gives."""
    generator = torch.Generator().manual_seed(0)
    return [2.0 * 0.97 ** i + 0.4 * float(torch.rand(1, generator=generator)) for i in range(steps)]


def test_the_loss_plot_shows_faint_raw_points_under_a_labelled_running_mean():
    losses = noisy_losses(60)
    figure = plots.finetune_figure(FinetuneResult(PruneConfig(), 60, losses, 0.5, "digits", 0.98, 0.7, 0.95))
    ax = figure.axes[1]
    raw, smooth = ax.get_lines()
    assert raw.get_label() == "each step" and raw.get_linestyle() == "None" and raw.get_alpha() < 0.5
    assert smooth.get_label() == "running mean (6 steps)" and smooth.get_linewidth() > 2
    assert list(raw.get_ydata()) == losses
    mean = list(smooth.get_ydata())
    assert mean[0] == losses[0] and abs(mean[-1] - sum(losses[-6:]) / 6) < 1e-12
    wiggle = lambda ys: sum(abs(b - a) for a, b in zip(ys, ys[1:]))                      # noqa: E731
    assert wiggle(mean) < wiggle(losses) / 3                                              # smoother than raw
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["each step", "running mean (6 steps)"]
    assert "running mean over 6 steps" in plots.loss_note(60)


def test_running_mean_and_its_window():
    assert plots.running_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert plots.running_mean([4.0, 2.0], 1) == [4.0, 2.0]
    assert [plots.smoothing_window(n) for n in (2, 5, 6, 10, 30, 60, 100)] == [1, 1, 2, 3, 3, 6, 10]


def iterative(accuracies: list[tuple[float, float]], dense: float = 0.99) -> IterativeResult:
    rounds = [RoundResult(i + 1, 0.3 * (i + 1), 0.3 * (i + 1), 0.3 * (i + 1), pruned, tuned, 0.1)
              for i, (pruned, tuned) in enumerate(accuracies)]
    return IterativeResult(PruneConfig(), 10, rounds, "digits", dense)


def test_the_iterative_axis_is_zoomed_to_a_narrow_range_with_a_margin_and_says_so():
    result = iterative([(0.985, 0.988), (0.980, 0.986), (0.975, 0.984)])              # 97.5 .. 99.0 %
    ax = plots.iterative_figure(result).axes[0]
    low, high = ax.get_ylim()
    assert 95 < low < 97.5 and 99.0 < high < 101 and high - low < 5                     # not 0-100
    assert "zoomed" in ax.get_ylabel()
    assert plots.axis_note(result) == (f"Plot's accuracy axis: {low:.1f}–{high:.1f}% (zoomed to these rounds, "
                                       "not 0–100%: small differences look large).")


@pytest.mark.parametrize("values, expected", [
    ([98.0, 98.2], (97.1, 99.1)),            # a tiny range: at least MIN_AXIS_SPAN points
    ([10.0, 90.0], (0.0, 100.0)),            # wide: 15% margins, kept inside 0..100 ...
    ([99.5, 100.0], (98.0, 100.0)),          # ... by shifting, not by cutting the margin away
])
def test_accuracy_axis(values, expected):
    low, high = plots.accuracy_axis(values)
    assert low >= 0 and high <= 100 and high - low >= plots.MIN_AXIS_SPAN
    assert low <= min(values) and high >= max(values)
    assert (round(low, 6), round(high, 6)) == expected


def test_titles_are_large_enough_for_a_phone():
    tuned = FinetuneResult(PruneConfig(), 3, [2.0, 1.0, 0.5], 0.9, "digits", 0.98, 0.5, 0.9)
    figures = [plots.finetune_figure(tuned), plots.iterative_figure(iterative([(0.9, 0.95)]))]
    for figure in figures:
        width_px = figure.get_figwidth() * figure.dpi
        for ax in figure.axes:                     # a title's letters, shown 360 px wide, at least ~10 px
            assert ax.title.get_fontsize() * (100 / 72) * (360 / width_px) >= 10, ax.get_title()
