"""One distinct line style (colour, dash, marker) per registered method, derived from its place in the registry."""
from __future__ import annotations

import html
from math import lcm

from pruning import list_methods

# Okabe-Ito (distinguishable with colour blindness), then Tol's muted; every line is also dashed and
# marked its own way, so the lines stay apart in grayscale.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933",
           "#882255", "#44AA99", "#332288", "#DDCC77")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 2", "1 2", "10 4", "3 3 1 3")
MARKERS = ("circle", "square", "triangle", "diamond", "circle-open", "square-open", "triangle-open", "cross",
           "diamond-open", "plus")
# Style i is (COLOURS[i % 12], DASHES[i % 8], MARKERS[i % 10]): by the Chinese remainder theorem the
# first lcm(12, 8, 10) = 120 of them differ, and the first 8 differ in colour, dash and marker at once.
CAPACITY = lcm(len(COLOURS), len(DASHES), len(MARKERS))
STYLES = [(COLOURS[i], DASHES[i], MARKERS[i]) for i in range(8)]     # the first eight (other plots use them)


def style(index: int) -> tuple[str, str, str]:
    """(colour, dash, marker) number `index`; distinct for every index below CAPACITY."""
    if not 0 <= index < CAPACITY:
        raise ValueError(f"only {CAPACITY} distinct line styles: method number {index} has none")
    return COLOURS[index % len(COLOURS)], DASHES[index % len(DASHES)], MARKERS[index % len(MARKERS)]


def method_styles(methods: list[str]) -> dict[str, tuple[str, str, str]]:
    """Each method's style, by its place in the registry (the same on every plot, whichever methods it
    shows); a method no longer registered (an old cached sweep) gets a style after the registry's."""
    registry = list_methods()
    unknown = [m for m in methods if m not in registry]
    return {m: style(registry.index(m) if m in registry else len(registry) + unknown.index(m)) for m in methods}


def marker(shape: str, x: float, y: float, color: str, tooltip: str | None) -> str:
    """A point marker with a hover title (None: a legend's sample, no title); '-open' shapes are hollow."""
    fill = "white" if shape.endswith("-open") else color
    kind, r = shape.removesuffix("-open"), 3.2
    if kind == "circle":
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}"'
    elif kind == "square":
        body = f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}"'
    elif kind in ("cross", "plus"):
        d = (f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"
             if kind == "cross" else f"M{x - r - 1:.1f},{y:.1f}H{x + r + 1:.1f}M{x:.1f},{y - r - 1:.1f}V{y + r + 1:.1f}")
        body = f'<path d="{d}" stroke-width="1.8"'
    else:                                                           # triangle / diamond
        offsets = [(0, -r - 1), (r + 1, r), (-r - 1, r)] if kind == "triangle" else [(0, -r - 1), (r + 1, 0),
                                                                                     (0, r + 1), (-r - 1, 0)]
        body = f'<polygon points="{" ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in offsets)}"'
    width = "" if "stroke-width" in body else ' stroke-width="1.4"'
    if tooltip is None:
        return f'{body} fill="{fill}" stroke="{color}"{width}/>'
    return (f'{body} fill="{fill}" stroke="{color}"{width} class="pl-point">'
            f'<title>{html.escape(tooltip)}</title></{body[1:body.index(" ")]}>')


def swatch(method_style: tuple[str, str, str], line: bool = True) -> str:
    """The legend's sample of a style: its dash and its marker (the marker alone for a method drawn as points)."""
    color, dash, shape = method_style
    stroke = (f'<line x1="1" x2="29" y1="6" y2="6" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>'
              if line else "")
    return (f'<svg class="pl-swatch" width="30" height="12" aria-hidden="true" data-style="{color} {dash or "solid"} '
            f'{shape}">{stroke}{marker(shape, 15, 6, color, None)}</svg>')
