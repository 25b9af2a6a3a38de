"""Matplotlib figures for the app: fine-tuning rounds, weight histograms, filter grids.

Figures are built with matplotlib.figure.Figure on the Agg canvas, never through pyplot: no global
figure registry, nothing to close, safe to build from several threads at once.
"""
from __future__ import annotations

import textwrap

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pruning.finetune import FinetuneResult
from pruning.inspection import FilterGrid, WeightHistogram
from pruning.iterative import IterativeResult

MASKED_GRAY = 0.55       # gray level drawn over pruned weights in filter grids


BADGE_INCHES = 0.45      # free strip on top: the page's plot label sits over the figure's top-left corner


def new_figure(width: float = 8.0, height: float = 4.0) -> Figure:
    """A Figure with an Agg canvas attached (savefig / Gradio's gr.Plot work without pyplot), its top
    strip left free so the page's plot label never covers a title."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    figure.get_layout_engine().set(rect=(0, 0, 1, 1 - BADGE_INCHES / height))
    FigureCanvasAgg(figure)
    return figure


TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 15, 13, 12   # points: still readable when a figure is shown 390 px wide
RAW_COLOR, SMOOTH_COLOR = "tab:blue", "tab:orange"   # each step's loss (faint) and its running mean
AXIS_MARGIN = 0.15       # share of the data's range left free above and below on a zoomed axis
MIN_AXIS_SPAN = 2.0      # percentage points: a zoomed axis never shows less than this


def readable(ax: Axes, title: str) -> None:
    """Title, axis labels and ticks at sizes that stay legible on a phone."""
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.xaxis.label.set_size(LABEL_SIZE)
    ax.yaxis.label.set_size(LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)


def smoothing_window(steps: int) -> int:
    """How many steps the loss plot's running mean covers: a tenth of the run, at least 3 (at most a
    third of a very short run)."""
    return max(1, min(steps // 3, max(3, steps // 10)))


def running_mean(values: list[float], window: int) -> list[float]:
    """The mean of each value and the (up to) window - 1 before it."""
    means, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        means.append(total / min(i + 1, window))
    return means


def loss_note(steps: int) -> str:
    """The loss plot's key in words, for the text beside it."""
    return (f"Loss plot: faint dots = the training loss of each step (noisy: each step sees one small batch); "
            f"orange line = its running mean over {smoothing_window(steps)} steps.")


def finetune_figure(result: FinetuneResult) -> Figure:
    """Top: accuracy dense / pruned / fine-tuned. Bottom: training loss per step (faint) and its running mean."""
    figure = new_figure(6.4, 7.2)
    bars, losses = figure.subplots(2, 1)
    labels = ["dense", "pruned", "fine-tuned"]
    values = [result.accuracy_dense, result.accuracy_pruned, result.accuracy_finetuned]
    shown = [(label, 100 * v) for label, v in zip(labels, values) if v is not None]
    if shown:
        drawn = bars.bar([s[0] for s in shown], [s[1] for s in shown], color=["gray", "tab:red", "tab:green"][:len(shown)])
        bars.bar_label(drawn, fmt="%.1f%%", fontsize=TICK_SIZE)
    bars.set(ylim=(0, 112), ylabel="accuracy (%)")
    readable(bars, f"accuracy (sparsity {100 * result.sparsity:.1f}%)")
    steps = range(1, len(result.losses) + 1)
    window = smoothing_window(len(result.losses))
    losses.plot(steps, result.losses, linestyle="none", marker=".", markersize=5, color=RAW_COLOR, alpha=0.4,
                label="each step")
    losses.plot(steps, running_mean(result.losses, window), color=SMOOTH_COLOR, linewidth=2.5,
                label=f"running mean ({window} steps)")
    losses.set(xlabel="step", ylabel="training loss")
    readable(losses, f"training loss, {result.steps} steps")
    losses.grid(alpha=0.3)
    losses.legend(fontsize=TICK_SIZE, loc="upper right")
    return figure


def accuracy_axis(values: list[float]) -> tuple[float, float]:
    """(low, high) in % for accuracies in %: the data's range with a visible margin, at least MIN_AXIS_SPAN
    points, inside 0..100 (a 0-100 axis would flatten a line that moves by a point)."""
    low, high = min(values), max(values)
    margin = max(AXIS_MARGIN * (high - low), (MIN_AXIS_SPAN - (high - low)) / 2, 0.0)
    low, high = low - margin, high + margin
    if low < 0:
        low, high = 0.0, high - low
    if high > 100:
        low, high = max(0.0, low - (high - 100)), 100.0
    return low, high


def _iterative_values(result: IterativeResult) -> list[float]:
    values = [100 * v for r in result.rounds for v in (r.accuracy_pruned, r.accuracy_finetuned) if v is not None]
    return values + ([100 * result.accuracy_dense] if result.accuracy_dense is not None else [])


def axis_note(result: IterativeResult) -> str:
    """The iterative plot's accuracy axis in words (it is zoomed: say so, and to what)."""
    values = _iterative_values(result)
    if not values:
        return ""
    low, high = accuracy_axis(values)
    return (f"Plot's accuracy axis: {low:.1f}–{high:.1f}% (zoomed to these rounds, not 0–100%: "
            "small differences look large).")


def iterative_figure(result: IterativeResult) -> Figure:
    """Accuracy after each round's pruning and after its fine-tuning, against the round's sparsity; the
    accuracy axis zoomed to the data, with a margin."""
    figure = new_figure(6.4, 4.6)
    ax = figure.subplots()
    rounds = result.rounds
    x = [100 * r.achieved for r in rounds]
    if rounds and rounds[0].accuracy_pruned is not None:
        ax.plot(x, [100 * r.accuracy_pruned for r in rounds], marker="v", color="tab:red", label="after pruning")
        ax.plot(x, [100 * r.accuracy_finetuned for r in rounds], marker="o", color="tab:green",
                label="after fine-tuning")
        for r, xi in zip(rounds, x):
            ax.annotate(f"round {r.round}", (xi, 100 * r.accuracy_finetuned), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=TICK_SIZE)
    if result.accuracy_dense is not None:
        ax.axhline(100 * result.accuracy_dense, color="black", linestyle=":", linewidth=1, label="dense")
    values = _iterative_values(result)
    if values:
        ax.set_ylim(*accuracy_axis(values))
    ax.set(xlabel="pruned (%)", ylabel="accuracy (%), zoomed")
    readable(ax, f"iterative: {len(rounds)} rounds × {result.steps_per_round} steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=TICK_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return figure


def histogram_figure(histogram: WeightHistogram) -> Figure:
    """|w| histogram of the dense layer and of the weights kept, with the magnitude cut marked."""
    figure = new_figure(6.4, 4.2)
    ax = figure.subplots()
    edges = histogram.edges
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    ax.bar(edges[:-1], histogram.before, width=widths, align="edge", color="lightgray", edgecolor="gray",
           label=f"before ({histogram.total:,} weights)")
    ax.bar(edges[:-1], histogram.after, width=widths, align="edge", color="tab:blue", alpha=0.7,
           label=f"kept ({histogram.total - histogram.pruned:,})")
    if histogram.threshold is not None:
        ax.axvline(histogram.threshold, color="red", linestyle="--",
                   label=f"cut |w| = {histogram.threshold:.4f} ({histogram.threshold_scope})")
    ax.set(xlabel="|weight|", ylabel="weights")
    readable(ax, f"{histogram.layer}: {histogram.pruned:,} of {histogram.total:,} pruned "
                 f"({100 * histogram.pruned / max(histogram.total, 1):.1f}%)")
    ax.legend(fontsize=TICK_SIZE)
    return figure


def filter_image(grid: FilterGrid) -> torch.Tensor:
    """An RGB image (H, W, 3) in 0..1: one tile per (filter, input channel), blue-white-red weights,
    pruned weights gray; tiles separated by 1-pixel black lines."""
    weights, mask = grid.weights, grid.mask                                    # (F, I, kh, kw)
    filters, inputs, kh, kw = weights.shape
    scale = weights.abs().max().clamp_min(1e-12)
    v = (weights / scale).clamp(-1, 1)                                          # -1..1
    red = torch.where(v > 0, torch.ones_like(v), 1 + v)
    blue = torch.where(v < 0, torch.ones_like(v), 1 - v)
    green = 1 - v.abs()
    rgb = torch.stack([red, green, blue], dim=-1)                              # (F, I, kh, kw, 3)
    rgb[mask == 0] = MASKED_GRAY
    padded = torch.zeros(filters, inputs, kh + 1, kw + 1, 3)                 # black separators
    padded[:, :, :kh, :kw] = rgb
    image = padded.permute(0, 2, 1, 3, 4).reshape(filters * (kh + 1), inputs * (kw + 1), 3)
    return image[:-1, :-1]


def filter_grid_figure(grid: FilterGrid) -> Figure:
    """The filter grid as an image: rows = filters, columns = input channels, gray = pruned (a layer with
    one input channel shows its filters side by side; a linear layer its weight matrix, rows = neurons).
    Ticks number the filters and channels; the title is wrapped, never clipped."""
    one_input = grid.kind == "conv" and grid.weights.shape[1] == 1
    image = filter_image(grid)                                                 # (H, W, 3)
    if one_input:                                                              # (F*(k+1)-1, k) -> a row
        kh = grid.weights.shape[2]
        tiles = [image[i * (kh + 1): i * (kh + 1) + kh] for i in range(grid.weights.shape[0])]
        separator = torch.zeros(kh, 1, 3)
        image = torch.cat([t for tile in tiles for t in (tile, separator)][:-1], dim=1)
    height, width = image.shape[:2]
    scale = min(9.0 / width, 7.0 / height, 0.5)                                 # inches per pixel
    figure = new_figure(max(6.0, width * scale + 1.5), max(3.0, height * scale + 1.8))
    ax = figure.subplots()
    ax.imshow(image.numpy(), interpolation="nearest")
    pruned = int((grid.mask == 0).sum())
    if grid.kind == "linear":
        shown, xlabel, ylabel = f"weight matrix {height} x {width}", "input", "neuron"
        ax.set(xticks=[], yticks=[])
    else:
        filters, inputs, kh, kw = grid.weights.shape
        shown = (f"{filters} of {grid.total_filters} filters x {inputs} of {grid.total_inputs} input channel"
                 f"{'s' if grid.total_inputs > 1 else ''}")
        xlabel, ylabel = ("filter", "") if one_input else ("input channel", "filter")
        _number_tiles(ax, filters if one_input else inputs, kw, "x")
        _number_tiles(ax, 1 if one_input else filters, kh, "y")
    title = f"{grid.layer}: {shown}; gray = pruned ({pruned:,} of {grid.mask.numel():,} weights)"
    ax.set_title(textwrap.fill(title, width=int(figure.get_figwidth() * 7)), fontsize=TITLE_SIZE)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    return figure


def _number_tiles(ax, count: int, size: int, axis: str) -> None:
    """Ticks at the centre of each tile (numbered from 0), at most ~16 labels."""
    if count <= 1:
        getattr(ax, f"set_{axis}ticks")([])
        return
    every = max(1, count // 16)
    positions = [i * (size + 1) + (size - 1) / 2 for i in range(0, count, every)]
    getattr(ax, f"set_{axis}ticks")(positions, [str(i) for i in range(0, count, every)], fontsize="small")
