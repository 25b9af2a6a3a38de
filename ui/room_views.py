"""HTML of a workshop room: the room plot over the curves, methods in use, the board, the participants' banners."""
from __future__ import annotations

import html
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pruning.sweep import SweepResult
from ui.curves import STYLES, grid_ticks
from ui.room_state import Challenge, Entry, Sent, score

WIDTH, HEIGHT = 520, 340
LEFT, RIGHT, TOP, BOTTOM = 50, 14, 14, 42
SCOPES = ("global", "local")


@dataclass(frozen=True)
class Point:
    """Where one participant is: the setting's method, scope and amount, and what the server measured."""

    method: str
    scope: str
    amount: float
    sparsity: float
    accuracy: float


COLORS = [color for color, _, _ in STYLES] + ["#882255", "#44AA99", "#332288", "#DDCC77"]   # + Tol's muted


def method_colors(methods: list[str]) -> dict[str, str]:
    """Each method's colour: the curves tab's for its first 8 methods, then more (points have no dash)."""
    return {m: COLORS[i % len(COLORS)] for i, m in enumerate(methods)}


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(accuracy: float) -> float:
    return TOP + (1 - accuracy) * (HEIGHT - TOP - BOTTOM)


def room_plot(points: list[Point], sweep: SweepResult | None, methods: list[str], model: str) -> str:
    """One panel per scope: the model's sweep curves (thin) and every participant's measured point
    (a large dot coloured by method, its numbers in data attributes and a hover title)."""
    colors = method_colors(methods)
    panels = "".join(_panel(scope, [p for p in points if p.scope == scope], sweep, colors) for scope in SCOPES)
    legend = "".join(f'<span class="pl-room-key"><i style="background:{colors[m]}"></i>{html.escape(m)}</span>'
                     for m in methods if m in {p.method for p in points} or sweep is not None)
    return (f'<div id="pl-room-plot" class="pl-room-plot" data-model="{html.escape(model)}">'
            f'<div class="pl-room-legend">{legend}</div><div class="pl-room-panels">{panels}</div></div>')


def _panel(scope: str, points: list[Point], sweep: SweepResult | None, colors: dict[str, str]) -> str:
    parts = [_axes(scope)]
    if sweep is not None:
        parts.append(f'<line x1="{_x(0):.1f}" x2="{_x(1):.1f}" y1="{_y(sweep.dense_accuracy):.1f}" '
                     f'y2="{_y(sweep.dense_accuracy):.1f}" stroke="#444" stroke-dasharray="1 3"/>')
        for method, color in colors.items():
            curve = sorted(sweep.curve(method, scope), key=lambda p: p.sparsity)
            line = " ".join(f"{_x(p.sparsity):.1f},{_y(p.accuracy):.1f}" for p in curve)
            if line:
                parts.append(f'<polyline class="pl-room-curve" points="{line}" fill="none" stroke="{color}" '
                             f'stroke-width="1.5" opacity="0.45"><title>{html.escape(method)}</title></polyline>')
    for p in points:
        title = (f"{p.method} · {p.scope} · amount {p.amount:.2f} · sparsity {100 * p.sparsity:.2f}% · "
                 f"accuracy {100 * p.accuracy:.2f}%")
        parts.append(f'<circle class="pl-room-point" cx="{_x(p.sparsity):.1f}" cy="{_y(p.accuracy):.1f}" r="7" '
                     f'fill="{colors.get(p.method, "#777")}" stroke="white" stroke-width="1.5" '
                     f'data-method="{html.escape(p.method)}" data-scope="{p.scope}" '
                     f'data-sparsity="{p.sparsity:.6f}" data-accuracy="{p.accuracy:.6f}">'
                     f'<title>{html.escape(title)}</title></circle>')
    empty = "" if points else " pl-empty"
    return (f'<svg class="pl-room-panel{empty}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-scope="{scope}" '
            f'aria-label="participants: accuracy vs sparsity, {scope} scope">{"".join(parts)}</svg>')


def _axes(scope: str) -> str:
    ticks = [grid_ticks(_x, _y, (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM), font=12)]
    middle = (TOP + HEIGHT - BOTTOM) / 2
    return ("".join(ticks) + f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" font-size="13" '
            f'text-anchor="middle">global sparsity · {scope} scope</text><text x="14" y="{middle}" font-size="13" '
            f'text-anchor="middle" transform="rotate(-90 14 {middle})">accuracy after</text>')


def room_summary(active: int, points: list[Point], elsewhere: int, model: str, note: str = "") -> str:
    """The count of participants, the methods and scopes in use, and the room's best results (the
    points no other point beats on both sparsity and accuracy)."""
    methods = Counter(p.method for p in points)
    scopes = Counter(p.scope for p in points)
    used = ", ".join(f"{html.escape(m)} ×{n}" for m, n in methods.most_common()) or "—"
    where = ", ".join(f"{s} ×{n}" for s, n in scopes.most_common()) or "—"
    other = f" · {elsewhere} on other models (not plotted)" if elsewhere else ""
    rows = "".join(f"<tr><td>{100 * p.sparsity:.2f}%</td><td>{100 * p.accuracy:.2f}%</td>"
                   f"<td>{html.escape(p.method)}</td><td>{p.scope}</td><td>{p.amount:.2f}</td></tr>"
                   for p in best_points(points)[:5])
    best = (f'<table class="pl-room-table"><tr><th>sparsity</th><th>accuracy</th><th>method</th><th>scope</th>'
            f'<th>amount</th></tr>{rows}</table>') if rows else "<p>No results yet.</p>"
    return (f'<div id="pl-room-summary" class="pl-room-summary"><div class="pl-room-count">'
            f'<b id="pl-room-active">{active}</b> active · <b>{len(points)}</b> on {html.escape(model)}{other}</div>'
            f'<div>Methods: {used}</div><div>Scopes: {where}</div>'
            f'{f"<div class=pl-room-note>{html.escape(note)}</div>" if note else ""}'
            f'<div class="pl-room-best-title">The room\'s best (nothing beats them on both)</div>{best}</div>')


def best_points(points: list[Point]) -> list[Point]:
    """The Pareto front, sparsest first."""
    front, best_accuracy = [], -1.0
    for p in sorted(points, key=lambda p: (-p.sparsity, -p.accuracy)):
        if p.accuracy > best_accuracy:
            front.append(p)
            best_accuracy = p.accuracy
    return front


def leaderboard_html(board: list[Entry], challenge: Challenge | None, me: str | None = None) -> str:
    """The shared board: rank, nickname (as text), the measured numbers; `me`'s row marked."""
    if challenge is None:
        return '<div id="pl-board" class="pl-board"></div>'
    if not board:
        return '<div id="pl-board" class="pl-board"><p>No submissions yet.</p></div>'
    wins = "sparsity" if challenge.rule == "accuracy" else "accuracy"
    rows = []
    for rank, e in enumerate(board, 1):
        mine = ' class="pl-me"' if me is not None and e.participant == me else ""
        after = max(0.0, e.time - challenge.started)
        rows.append(f'<tr{mine}><td>{rank}</td><td class="pl-nick">{html.escape(e.nickname)}</td>'
                    f'<td data-value="{e.sparsity:.6f}">{100 * e.sparsity:.2f}%</td>'
                    f'<td data-value="{e.accuracy:.6f}">{100 * e.accuracy:.2f}%</td><td>{html.escape(e.method)}</td>'
                    f'<td>{e.scope}</td><td>{int(after // 60)}:{int(after % 60):02d}</td></tr>')
    return (f'<div id="pl-board" class="pl-board"><table><tr><th>#</th><th>nickname</th><th>sparsity</th>'
            f'<th>accuracy</th><th>method</th><th>scope</th><th>after</th></tr>{"".join(rows)}</table>'
            f'<div class="pl-board-note">Ranked by measured {wins} (the server\'s numbers); ties: earlier first.'
            f'</div></div>')


def challenge_text(challenge: Challenge | None) -> str:
    """The challenge in one line, for the banner and the presenter."""
    if challenge is None:
        return ""
    state = "🏁 Challenge" if challenge.open else "🏁 Challenge closed"
    return f'<div class="pl-challenge-rule"><b>{state}</b> · {html.escape(challenge.describe())}</div>'


def own_entry(entry: Entry | None, challenge: Challenge | None, board: list[Entry]) -> str:
    """The participant's own line under the board: its submitted numbers and rank."""
    if entry is None or challenge is None:
        return ""
    ranked = [e.participant for e in board]
    rank = f"#{ranked.index(entry.participant) + 1}" if entry.participant in ranked else "not in the top"
    return (f'<div class="pl-own">Your entry ({html.escape(entry.nickname)}): {100 * entry.sparsity:.2f}% sparsity, '
            f'{100 * entry.accuracy:.2f}% accuracy — {rank} (score {100 * score(entry, challenge):.2f}%)</div>')


def setting_words(query: str) -> str:
    """A sent setting in a few words: model · method · amount (or threshold, or N:M) · scope."""
    values = dict(parse_qsl(query))
    method = values.get("method", "")
    knob = (f"threshold {values.get('threshold')}" if method == "threshold" else
            f"pattern {values.get('nm')}" if method.startswith("nm") else f"amount {values.get('amount')}")
    return " · ".join([values.get("model", "?"), method, knob, f"{values.get('scope', '?')} scope"])


def sent_banner(sent: Sent | None, applied: int, link: str) -> str:
    """"The presenter sent a setting": what it is and its link; after Apply, a short confirmation."""
    if sent is None:
        return ""
    if applied >= sent.number:
        return (f'<div class="pl-sent pl-applied" data-number="{sent.number}">✓ The presenter\'s setting is applied '
                f'({html.escape(setting_words(sent.query))}).</div>')
    at = time.strftime("%H:%M", time.localtime(sent.time))
    return (f'<div class="pl-sent" data-number="{sent.number}">📨 <b>The presenter sent a setting</b> '
            f'(at {at}): <b>{html.escape(setting_words(sent.query))}</b> '
            f'(<a href="{html.escape(link)}" target="_blank" rel="noopener">its link</a>). Press <b>Apply</b> to '
            'use it: your own setting stays until you do.</div>')


CSS = """
.pl-room-panels{display:flex;flex-wrap:wrap;gap:8px}.pl-room-panel{flex:1 1 340px;max-width:640px;height:auto}
.pl-room-legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}
.pl-room-key i{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:4px;vertical-align:middle}
.pl-room-count{font-size:20px}.pl-board{overflow-x:auto}
.pl-room-table,.pl-board table{border-collapse:collapse;font-size:14px;margin:4px 0}
.pl-room-table td,.pl-room-table th,.pl-board td,.pl-board th{border:none;border-bottom:1px solid #ddd;
padding:3px 8px !important;text-align:left}
.pl-board tr.pl-me{background:#fff3c4}.pl-board-note,.pl-room-note{color:#666;font-size:12px}
.pl-room-best-title{font-weight:600;margin-top:6px}.pl-nick{white-space:pre-wrap;word-break:break-all;max-width:16em}
.pl-sent,.pl-challenge-rule{font-size:15px}.pl-sent a{word-break:break-all}.pl-applied{color:#2a9d4b}
#pl-presenter.pl-projector .pl-presenter-controls{display:none}
#pl-presenter.pl-projector .pl-room-count{font-size:44px}
#pl-presenter.pl-projector .pl-board table{font-size:24px}
#pl-presenter.pl-projector .pl-board td:nth-child(n+5),#pl-presenter.pl-projector .pl-board th:nth-child(n+5){display:none}
#pl-presenter.pl-projector .pl-room-table,#pl-presenter.pl-projector .pl-room-best-title{display:none}
#pl-presenter.pl-projector .pl-challenge-rule{font-size:32px}
#pl-presenter.pl-projector .pl-room-summary{font-size:22px}
#pl-presenter.pl-projector .pl-room-legend{font-size:16px}
#pl-presenter.pl-projector{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);column-gap:16px}
#pl-presenter.pl-projector>*{grid-column:1/-1}#pl-presenter.pl-projector>#pl-presenter-plot{grid-column:1}
#pl-presenter.pl-projector>#pl-presenter-side{grid-column:2;flex-direction:column;align-self:start}
#pl-presenter.pl-projector .pl-room-panel{max-width:none;max-height:70vh}
@media (max-width:600px){.pl-board td:nth-child(n+5),.pl-board th:nth-child(n+5){display:none}}
#pl-presenter.pl-projector .pl-room-panel.pl-empty{display:none}
"""
