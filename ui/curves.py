"""Accuracy curves as interactive inline SVG: tap or hover a point for its numbers, tick methods on and off."""
from __future__ import annotations

import html
import math
from pathlib import Path

from pruning import PruneResult
from pruning.sweep import SweepPoint, SweepResult
from ui.curve_marks import Mark, mark_of, without_amount
from ui.curve_styles import STYLES, marker as _marker, method_styles, swatch   # noqa: F401 (other plots draw with them)

WIDTH, HEIGHT = 420, 280
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 14, 40                       # plot margins inside the SVG
STRIP = 56            # beside the amount axis: the methods without an amount (N:M), one point per pattern
AGAIN = "press Compute / show curves"
_beside = {"amount": "beside the amount axis", "sparsity": "each at its sparsity"}
CURVES_JS = (Path(__file__).parent / "curves.js").read_text()   # tap-to-read, dimmed once the model changes
CSS = ("#pl-curves .pl-curves-for{font-weight:600;margin:0 0 4px}#pl-curves .pl-curves-stale{color:#b35c00}"
       "#pl-curves.pl-curves-old .pl-curve-panels,#pl-curves.pl-curves-old .pl-curve-legend{opacity:.3}"
       "#pl-curves.pl-star-moved .pl-star{opacity:.3}#pl-curves .pl-curve-panel{touch-action:manipulation}"
       "#pl-curves .pl-curve-panel:focus-visible{outline:2px solid #e4572e;outline-offset:2px}"
       "#pl-curves .pl-curve-said{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
       "#pl-curves .pl-tip rect{fill:#fffbe6;stroke:#333}#pl-curves .pl-tip text{font-size:12px}")


def curves_html(result: SweepResult, current: PruneResult | None = None, x_axis: str = "amount",
                running: str | None = None, pinned: list[PruneResult] | tuple = (),
                patterns: list[Mark] | tuple = ()) -> str:
    """Both scopes' panels under one line naming the model and the x axis, with a legend of checkboxes
    (one per method, each its own style); `current`: the page's result (★, at its measured numbers);
    `running`: a line saying the sweep is still running; `pinned`: the Compare tab's results, numbered;
    `patterns`: the measured points of the methods without an amount (curve_marks.pattern_marks)."""
    if x_axis not in ("amount", "sparsity"):
        raise ValueError(f"x_axis must be 'amount' or 'sparsity', got {x_axis!r}")
    methods = list(dict.fromkeys(p.method for p in result.points))
    styles = method_styles(methods)
    star = mark_of(current) if current is not None and current.config.model == result.model else None
    pins = [(n, mark_of(r)) for n, r in enumerate(pinned, start=1) if r.config.model == result.model]
    legend = "".join(
        f'<label class="pl-curve-key" data-style="{" ".join(styles[m])}"><input type="checkbox" checked '
        f'data-method="{m}" id="pl-show-{i}">{swatch(styles[m], not without_amount(m))} {html.escape(m)}'
        f'{" (points: one per pattern)" if without_amount(m) else ""}</label>' for i, m in enumerate(methods))
    toggles = "".join(f'#pl-curves:has(#pl-show-{i}:not(:checked)) .pl-m{i}{{display:none}}'
                      for i in range(len(methods)))
    panels = "".join(_panel(result, scope, methods, styles, x_axis, star, pins, patterns)
                     for scope in dict.fromkeys(p.scope for p in result.points))
    status = f'<div class="pl-curves-status">{html.escape(running)}</div>' if running else ""
    return (f'<div id="pl-curves" class="pl-curves" data-model="{html.escape(result.model)}" data-x="{x_axis}" '
            f'data-again="{AGAIN}"><style>{CSS}{toggles}</style>{_named(result.model, x_axis)}{status}'
            f'<div class="pl-curve-legend">{legend}</div><div class="pl-curve-panels">{panels}</div>'
            f'<div class="pl-curves-note">Accuracy on {html.escape(result.eval_set)}; dotted: the dense model '
            f'({100 * result.dense_accuracy:.2f}%). Tap or hover a point for its numbers; untick a method to hide '
            'it; ★ your setting, where it measures; numbered rings: your pinned results (Compare). N:M has no '
            f'amount: one point per pattern ({_beside[x_axis]}).</div></div>')


def _named(model: str, x_axis: str) -> str:
    """The one visible line saying what the view shows; the page appends why it is dimmed (curves.js)."""
    return (f'<p class="pl-curves-for">Curves for <b>{html.escape(model)}</b> · x axis: {_axis_label(x_axis)}'
            '<span class="pl-curves-stale"></span></p>')


def curves_pending(running: str) -> str:
    """The curves view before the sweep's first line: only the status line."""
    return f'<div id="pl-curves" class="pl-curves"><div class="pl-curves-status">{html.escape(running)}</div></div>'


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(accuracy: float) -> float:
    return TOP + (1 - accuracy) * (HEIGHT - TOP - BOTTOM)


def _mark_x(mark: Mark, x_axis: str) -> float:
    """A measured setting's x: its sparsity, its amount, or (no amount) the strip beside the amount axis."""
    if x_axis == "sparsity":
        return _x(mark.sparsity)
    return WIDTH + 14 if mark.amount is None else _x(mark.amount)


def _panel(result: SweepResult, scope: str, methods: list[str], styles: dict, x_axis: str, star: Mark | None,
           pins: list[tuple[int, Mark]], patterns: list[Mark] | tuple) -> str:
    """One scope: axes, grid, the dense line, the star (beneath, so no marker hides under it), a line
    per method (points per pattern for a method without an amount), then the pins on top."""
    strip = x_axis == "amount" and any(without_amount(m) for m in methods)
    width = WIDTH + (STRIP if strip else 0)
    parts = [_axes(scope, x_axis), _strip() if strip else "",
             f'<line class="pl-dense" x1="{_x(0):.1f}" x2="{_x(1):.1f}" y1="{_y(result.dense_accuracy):.1f}" '
             f'y2="{_y(result.dense_accuracy):.1f}" stroke="#444" stroke-dasharray="1 3"/>']
    if star is not None and star.scope == scope:
        parts.append(_star(star, x_axis))
    for i, method in enumerate(methods):
        color, dash, shape = styles[method]
        if without_amount(method):
            body = _pattern_points([m for m in patterns if m.method == method], shape, color, x_axis)
        else:
            curve = result.curve(method, scope)
            points = " ".join(f"{_x(getattr(p, x_axis)):.1f},{_y(p.accuracy):.1f}" for p in curve)
            body = (f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.8" '
                    f'stroke-dasharray="{dash}"/>' +
                    "".join(_marker(shape, _x(getattr(p, x_axis)), _y(p.accuracy), color, _tooltip(p)) for p in curve))
        parts.append(f'<g class="pl-m{i}" data-method="{html.escape(method)}">{body}</g>')
    parts.append(_pins([(n, m) for n, m in pins if m.scope == scope], x_axis))
    return (f'<svg class="pl-curve-panel" viewBox="0 0 {width} {HEIGHT}" role="img" data-scope="{scope}" '
            f'tabindex="0" aria-label="accuracy vs {x_axis}, {scope} scope: arrow keys read the points">'
            f'{"".join(parts)}</svg>')


def _pattern_points(marks: list[Mark], shape: str, color: str, x_axis: str) -> str:
    """One marker per pattern at its measured accuracy, labelled by the pattern; never joined by a line."""
    out, labels = [], []                                     # labels drawn so far: (x, y)
    for mark in sorted(marks, key=lambda m: -m.accuracy):
        x, y = _mark_x(mark, x_axis), _y(mark.accuracy)
        label_y = y + 4
        for lx, ly in labels:                                # close patterns: labels stacked, never on top
            if abs(lx - x) < 30 and label_y - ly < 11:
                label_y = ly + 11
        labels.append((x, label_y))
        out.append(_marker(shape, x, y, color, mark.tooltip) +
                   f'<text class="pl-pattern" x="{x + 6:.1f}" y="{label_y:.1f}" font-size="10">'
                   f'{html.escape(mark.label)}</text>')
    return "".join(out)


def _strip() -> str:
    """The column beside the amount axis for the points that have no amount."""
    x = WIDTH + STRIP / 2 - 4
    return (f'<line x1="{WIDTH - 2}" x2="{WIDTH - 2}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#bbb"/>'
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="11" text-anchor="middle">N:M</text>'
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 26}" font-size="9" text-anchor="middle">(no amount)</text>')


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


def _axis_label(x_axis: str) -> str:
    return "amount pruned" if x_axis == "amount" else "weight sparsity (achieved)"


def _axes(scope: str, x_axis: str) -> str:
    ticks = [grid_ticks(_x, _y, (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM))]
    return ("".join(ticks) +
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" font-size="12" text-anchor="middle">'
            f'{_axis_label(x_axis)} · {scope} scope</text>'
            f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})">accuracy</text>')


def _tooltip(point: SweepPoint) -> str:
    threshold = f" · threshold {point.threshold:.4g}" if point.threshold is not None else ""
    return (f"{point.method} · {point.scope} · amount {point.amount:.2f}{threshold} · "
            f"sparsity {100 * point.sparsity:.1f}% · accuracy {100 * point.accuracy:.2f}%")


def _star(mark: Mark, x_axis: str) -> str:
    """A star at the page's setting as measured (not a curve's nearest point); drawn beneath the markers."""
    x, y = _mark_x(mark, x_axis), _y(mark.accuracy)
    spikes = [(x + (10 if i % 2 == 0 else 4.5) * math.sin(i * math.pi / 5),
               y - (10 if i % 2 == 0 else 4.5) * math.cos(i * math.pi / 5)) for i in range(10)]
    return (f'<polygon class="pl-star" data-setting="{mark.setting}" data-x="{x:.1f}" data-y="{y:.1f}" '
            f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in spikes)}" fill="#e4572e" fill-opacity="0.85" '
            f'stroke="black" stroke-width="0.8"><title>your setting: {html.escape(mark.tooltip)}</title></polygon>')


def _pins(pins: list[tuple[int, Mark]], x_axis: str) -> str:
    """Numbered rings on stems above their measured points, side by side where points coincide, so
    neither the star nor another pin covers one."""
    placed: list[tuple[float, float, list[int]]] = []          # (x, y, numbers at that point)
    for number, mark in pins:
        x, y = _mark_x(mark, x_axis), _y(mark.accuracy)
        near = next((p for p in placed if abs(p[0] - x) < 12 and abs(p[1] - y) < 12), None)
        if near is None:
            placed.append((x, y, [number]))
        else:
            near[2].append(number)
    marks = {n: m for n, m in pins}
    out = []
    for x, y, numbers in placed:
        rise = -22 if y - 22 > TOP + 6 else 22
        for k, number in enumerate(numbers):
            cx, cy = x + (k - (len(numbers) - 1) / 2) * 18, y + rise
            gap = 11 / math.hypot(cx - x, cy - y)                 # the stem starts outside the star
            sx, sy = x + (cx - x) * gap, y + (cy - y) * gap
            out.append(f'<g class="pl-pinned" data-pin="{number}" data-x="{cx:.1f}" data-y="{cy:.1f}">'
                       f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" stroke="black"/>'
                       f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="7.5" fill="white" stroke="black"/>'
                       f'<text x="{cx:.1f}" y="{cy + 3.5:.1f}" font-size="10" text-anchor="middle">{number}</text>'
                       f'<title>pinned #{number}: {html.escape(marks[number].tooltip)}</title></g>')
    return "".join(out)
