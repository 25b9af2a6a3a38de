"""The room's HTML: points at the measured values, the board as text, the banners, the best of the room."""
from __future__ import annotations

import re

from pruning import PruneConfig
from pruning.sweep import SweepPoint, SweepResult
from ui.room_state import Challenge, Entry, Sent
from ui.room_views import (Point, best_points, leaderboard_html, method_colors, own_entry, room_plot, room_summary,
                           sent_banner, setting_words)

METHODS = ["l1_unstructured", "random_unstructured", "gradient"]


def sweep() -> SweepResult:
    points = [SweepPoint(m, s, a, a, 0.99 - a / 2) for m in METHODS for s in ("local", "global") for a in (0, 0.5, 0.9)]
    return SweepResult("lenet", "MNIST test split", (0, 0.5, 0.9), PruneConfig(model="lenet"), 0.99, points)


def test_every_participant_is_a_point_at_its_measured_values_coloured_by_method():
    points = [Point("l1_unstructured", "global", 0.5, 0.500012, 0.9788), Point("gradient", "local", 0.8, 0.8, 0.91)]
    page = room_plot(points, sweep(), METHODS, "lenet")
    found = re.findall(r'class="pl-room-point"[^>]*fill="([^"]+)"[^>]*data-method="([^"]+)" data-scope="(\w+)" '
                       r'data-sparsity="([\d.]+)" data-accuracy="([\d.]+)"', page)
    colors = method_colors(METHODS)
    assert found == [(colors["l1_unstructured"], "l1_unstructured", "global", "0.500012", "0.978800"),
                     (colors["gradient"], "gradient", "local", "0.800000", "0.910000")]
    assert page.count('class="pl-room-curve"') == 2 * len(METHODS)          # every method's curve, both scopes
    assert room_plot([], None, METHODS, "lenet").count("pl-room-curve") == 0   # no sweep yet: points only


def test_the_summary_counts_methods_and_scopes_and_shows_the_best():
    points = [Point("l1_unstructured", "global", 0.5, 0.5, 0.98), Point("gradient", "global", 0.8, 0.8, 0.97),
              Point("gradient", "local", 0.6, 0.6, 0.90)]
    text = room_summary(4, points, 1, "lenet")
    assert '<b id="pl-room-active">4</b> active' in text and "1 on other models" in text
    assert "gradient ×2" in text and "global ×2" in text
    assert best_points(points) == [points[1], points[0]]           # the local 0.6 / 90% is beaten on both


def test_nicknames_are_shown_as_text_and_the_own_row_is_marked():
    challenge = Challenge("lenet", "accuracy", 0.9, (), 1, 100.0)
    board = [Entry("a", "<script>alert(1)</script>", "lenet", "gradient", "global", 0.8, 0.8, 0.95, 130.0),
             Entry("b", 'Bo"b <img src=x onerror=y>', "lenet", "gradient", "global", 0.5, 0.5, 0.95, 190.0)]
    page = leaderboard_html(board, challenge, me="b")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=y&gt;" in page
    assert page.count('class="pl-me"') == 1 and "0:30" in page and "1:30" in page
    assert "#2" in own_entry(board[1], challenge, board)
    assert "<img" not in own_entry(board[1], challenge, board)
    assert leaderboard_html([], None) == '<div id="pl-board" class="pl-board"></div>'


def test_a_sent_setting_shows_until_applied():
    sent = Sent("model=lenet&method=ln_structured&amount=0.3&scope=local&seed=0", 2, 0.0)
    assert setting_words(sent.query) == "lenet · ln_structured · amount 0.3 · local scope"
    waiting = sent_banner(sent, 1, "?" + sent.query)
    assert "The presenter sent a setting" in waiting and 'href="?model=lenet&amp;method=ln_structured' in waiting
    assert "applied" in sent_banner(sent, 2, "?" + sent.query)
    assert sent_banner(None, 0, "") == ""
    words = setting_words("model=mlp&method=threshold&threshold=0.1&scope=global")
    assert words == "mlp · threshold · threshold 0.1 · global scope"
