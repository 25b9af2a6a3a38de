"""Accuracy curves as interactive inline SVG: hover a point for its numbers, tick methods on and off."""
from __future__ import annotations

import html

from pruning import PruneConfig
from pruning.sweep import SweepPoint, SweepResult

WIDTH, HEIGHT = 420, 280
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 14, 40                       # plot margins inside the SVG
# Okabe-Ito colours (distinguishable with colour blindness), each line also dashed and marked its
# own way, so the lines stay apart in grayscale.
STYLES = [("#0072B2", "", "circle"), ("#D55E00", "6 3", "square"), ("#009E73", "2 3", "triangle"),
          ("#CC79A7", "8 3 2 3", "diamond"), ("#E69F00", "4 2", "circle-open"), ("#56B4E9", "1 2", "square-open"),
          ("#000000", "10 4", "triangle-open"), ("#999933", "3 3 1 3", "cross")]


def curves_html(result: SweepResult, current: PruneConfig | None = None, x_axis: str = "amount",
                running: str | None = None, pinned: list[PruneConfig] | tuple = ()) -> str:
    """Both scopes' panels with a legend of checkboxes (one per method) above them; `running`: a line
    saying the sweep is still running (the plot fills in); `pinned`: settings marked with their number."""
    if x_axis not in ("amount", "sparsity"):
        raise ValueError(f"x_axis must be 'amount' or 'sparsity', got {x_axis!r}")
    methods = list(dict.fromkeys(p.method for p in result.points))
    scopes = list(dict.fromkeys(p.scope for p in result.points))
    legend = "".join(
        f'<label class="pl-curve-key"><input type="checkbox" checked data-method="{m}" id="pl-show-{i}">'
        f'{_swatch(i)} {html.escape(m)}</label>' for i, m in enumerate(methods))
    toggles = "".join(f'#pl-curves:has(#pl-show-{i}:not(:checked)) .pl-m{i}{{display:none}}'
                      for i in range(len(methods)))
    panels = "".join(_panel(result, scope, methods, current, x_axis, pinned) for scope in scopes)
    status = f'<div class="pl-curves-status">{html.escape(running)}</div>' if running else ""
    return (f'<div id="pl-curves" class="pl-curves"><style>{toggles}</style>{status}'
            f'<div class="pl-curve-legend">{legend}</div><div class="pl-curve-panels">{panels}</div>'
            f'<div class="pl-curves-note">Accuracy on {html.escape(result.eval_set)}; dotted: the dense model '
            f'({100 * result.dense_accuracy:.2f}%). Hover a point for its numbers; untick a method to hide it; '
            '★ your setting.</div></div>')


def curves_pending(running: str) -> str:
    """The curves view before the sweep's first line: only the status line."""
    return f'<div id="pl-curves" class="pl-curves"><div class="pl-curves-status">{html.escape(running)}</div></div>'


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(accuracy: float) -> float:
    return TOP + (1 - accuracy) * (HEIGHT - TOP - BOTTOM)


def _panel(result: SweepResult, scope: str, methods: list[str], current: PruneConfig | None, x_axis: str,
           pinned: list[PruneConfig] | tuple = ()) -> str:
    """One scope: axes, grid, the dense line, one polyline + markers per method, the user's star."""
    parts = [_axes(scope, x_axis),
             f'<line class="pl-dense" x1="{_x(0):.1f}" x2="{_x(1):.1f}" y1="{_y(result.dense_accuracy):.1f}" '
             f'y2="{_y(result.dense_accuracy):.1f}" stroke="#444" stroke-dasharray="1 3"/>']
    for i, method in enumerate(methods):
        curve = result.curve(method, scope)
        color, dash, marker = STYLES[i % len(STYLES)]
        points = " ".join(f"{_x(getattr(p, x_axis)):.1f},{_y(p.accuracy):.1f}" for p in curve)
        marks = "".join(_marker(marker, _x(getattr(p, x_axis)), _y(p.accuracy), color, _tooltip(p)) for p in curve)
        parts.append(f'<g class="pl-m{i}" data-method="{html.escape(method)}"><polyline points="{points}" '
                     f'fill="none" stroke="{color}" stroke-width="1.8" stroke-dasharray="{dash}"/>{marks}</g>')
    for number, config in enumerate(pinned, start=1):
        if config.scope == scope and config.model == result.model:
            parts.append(_pin(result, config, x_axis, number))
    if current is not None and current.scope == scope:
        parts.append(_star(result, current, x_axis))
    return (f'<svg class="pl-curve-panel" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-scope="{scope}" '
            f'aria-label="accuracy vs {x_axis}, {scope} scope">{"".join(parts)}</svg>')


def grid_ticks(x_of, y_of, box: tuple[float, float, float, float], font: int = 11) -> str:
    """Grid lines and 0-100% labels on both axes of a plot box (left, right, top, bottom), shared by
    every SVG plot of the page; x_of / y_of map a fraction to the plot's coordinates."""
    left, right, top, bottom = box
    ticks = []
    for value in (0, 0.25, 0.5, 0.75, 1.0):
        x, y = x_of(value), y_of(value)
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#e5e5e5"/>'
                     f'<text x="{x:.1f}" y="{bottom + font + 3}" font-size="{font}" text-anchor="middle">'
                     f'{value:.0%}</text>'
                     f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="{font}" text-anchor="end">{value:.0%}</text>')
    return "".join(ticks)


def _axes(scope: str, x_axis: str) -> str:
    ticks = [grid_ticks(_x, _y, (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM))]
    label = "amount pruned" if x_axis == "amount" else "weight sparsity (achieved)"
    return ("".join(ticks) +
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" font-size="12" text-anchor="middle">'
            f'{label} · {scope} scope</text>'
            f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})">accuracy</text>')


def _tooltip(point: SweepPoint) -> str:
    threshold = f" · threshold {point.threshold:.4g}" if point.threshold is not None else ""
    return (f"{point.method} · {point.scope} · amount {point.amount:.2f}{threshold} · "
            f"sparsity {100 * point.sparsity:.1f}% · accuracy {100 * point.accuracy:.2f}%")


def _marker(shape: str, x: float, y: float, color: str, tooltip: str) -> str:
    """A point marker with a hover title; '-open' shapes are hollow (grayscale needs shapes)."""
    fill = "white" if shape.endswith("-open") else color
    kind, r = shape.removesuffix("-open"), 3.2
    if kind == "circle":
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}"'
    elif kind == "square":
        body = f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}"'
    elif kind == "cross":
        body = f'<path d="M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"'
    else:                                                           # triangle / diamond
        offsets = [(0, -r - 1), (r + 1, r), (-r - 1, r)] if kind == "triangle" else [(0, -r - 1), (r + 1, 0),
                                                                                     (0, r + 1), (-r - 1, 0)]
        body = f'<polygon points="{" ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in offsets)}"'
    return (f'{body} fill="{fill}" stroke="{color}" stroke-width="1.4" class="pl-point">'
            f'<title>{html.escape(tooltip)}</title></{body[1:body.index(" ")]}>')


def _star(result: SweepResult, current: PruneConfig, x_axis: str) -> str:
    """A star on the sweep point nearest the user's setting (same method and scope)."""
    curve = result.curve(current.method, current.scope)
    if not curve:
        return ""
    point = min(curve, key=lambda p: abs(p.amount - current.amount))
    x, y = _x(getattr(point, x_axis)), _y(point.accuracy)
    spikes = [(x + (7 if i % 2 == 0 else 3) * _sin(i), y - (7 if i % 2 == 0 else 3) * _cos(i)) for i in range(10)]
    return (f'<polygon class="pl-star" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in spikes)}" fill="#e4572e" '
            f'stroke="black" stroke-width="0.8"><title>your setting: {html.escape(_tooltip(point))}</title></polygon>')


def _pin(result: SweepResult, config: PruneConfig, x_axis: str, number: int) -> str:
    """A numbered ring on the sweep point nearest a pinned setting (the number of its row in Compare)."""
    curve = result.curve(config.method, config.scope)
    if not curve:
        return ""
    point = min(curve, key=lambda p: abs(p.amount - config.amount))
    x, y = _x(getattr(point, x_axis)), _y(point.accuracy)
    return (f'<g class="pl-pinned"><circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="white" stroke="black"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="10" text-anchor="middle">{number}</text>'
            f'<title>pinned #{number}: {html.escape(_tooltip(point))}</title></g>')


def _sin(i: int) -> float:
    import math
    return math.sin(i * math.pi / 5)


def _cos(i: int) -> float:
    import math
    return math.cos(i * math.pi / 5)


def _swatch(i: int) -> str:
    color, dash, _ = STYLES[i % len(STYLES)]
    return (f'<svg width="26" height="10" aria-hidden="true"><line x1="1" x2="25" y1="5" y2="5" stroke="{color}" '
            f'stroke-width="2" stroke-dasharray="{dash}"/></svg>')
