"""The drag preview in real headless Chromium: while the amount slider is held and moved, the panel shows
the store's measured numbers for the thumb's setting, or the last numbers dimmed where none is measured;
an arrow key answers like a release."""
from __future__ import annotations

from dataclasses import replace

import pytest

from pruning import shared
from pruning.grid import DEFAULT_SETTING
from tests.ui_helpers import chromium, server_url  # noqa: F401  (a fixture)
from ui.resources import eval_set, store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MEASURED = (0.5,) + tuple(round(0.6 + 0.01 * i, 2) for i in range(21))   # lenet's default line: 0.5, 0.60-0.80


def thumb_to(page, amount: float) -> None:
    """Hold the slider's thumb and move it to `amount` (its track is 0 .. 0.99), not released."""
    box = page.locator("#amount-slider input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * amount / 0.99, y, steps=6)


def test_dragging_shows_measured_points_and_dims_where_none_is_measured(server_url):
    expected = {a: shared.measured(replace(DEFAULT_SETTING, amount=a), eval_set(), store()) for a in MEASURED}
    with chromium() as context:
        page = context.new_page()
        page.goto(server_url)
        page.wait_for_selector("#grid-data [data-grid]", state="attached", timeout=60_000)
        page.wait_for_function("() => document.querySelector('#grid-data [data-grid]').dataset.grid.length > 100")
        thumb_to(page, 0.725)
        value = float(page.input_value("#amount-slider input[type=range]"))
        shown = page.inner_text("#accuracy-panel .pl-after-value")
        assert 0.6 <= value <= 0.8, value
        result = expected[round(value, 2)]                   # the thumb's setting, as measured
        assert shown == f"{100 * result.accuracy_after:.2f}%"
        assert f"{100 * result.global_sparsity:.2f}%" in page.inner_text("#sparsity-chart .pl-summary")
        assert "pl-stale" not in page.get_attribute("#accuracy-panel", "class")
        page.mouse.move(*_at(page, 0.03))                    # ~0.03: no point sent -> last numbers, dimmed
        step = round(float(page.input_value("#amount-slider input[type=range]")) * 100)
        sent = page.evaluate("s => JSON.parse(document.querySelector('#grid-data [data-grid]').dataset.grid)"
                             ".points[s]", step)
        assert sent is None, f"amount {step / 100} was measured by an earlier test: pick another"
        assert "pl-stale" in page.get_attribute("#accuracy-panel", "class")
        page.screenshot(path="/tmp/preview-dimmed.png")
        page.mouse.up()                                      # released: the server measures 0.30 and answers
        page.wait_for_function("() => !document.querySelector('#accuracy-panel').classList.contains('pl-stale')"
                               " && document.querySelector('#accuracy-panel').dataset.amount !== '0.50'",
                               timeout=60_000)
        answered = page.get_attribute("#accuracy-panel", "data-amount")
        page.focus("#amount-slider input[type=range]")
        page.keyboard.press("ArrowRight")                    # a key moves the thumb: answered like a release
        page.wait_for_function("a => document.querySelector('#accuracy-panel').dataset.amount !== a",
                               arg=answered, timeout=60_000)
        step = round(float(answered) + 0.01, 2)
        assert page.get_attribute("#accuracy-panel", "data-amount") == f"{step:.2f}"


def _at(page, amount: float) -> tuple[float, float]:
    box = page.locator("#amount-slider input[type=range]").bounding_box()
    return box["x"] + box["width"] * amount / 0.99, box["y"] + box["height"] / 2


STALE_STAMPS = ("() => [...document.querySelectorAll('.pl-view-stale .pl-for')]"
                ".map(e => e.textContent.replace(e.querySelector('.pl-for-again').textContent, ''))")


def test_while_dragging_the_explanation_and_the_strip_say_they_show_the_last_setting(server_url):
    with chromium() as context:
        page = context.new_page()
        page.goto(server_url)
        page.wait_for_selector("#digit-strip", timeout=60_000)
        assert page.evaluate(STALE_STAMPS) == []
        thumb_to(page, 0.9)                                  # held: the server has not been asked
        stale = page.evaluate(STALE_STAMPS)
        assert len(stale) == 2, stale                        # What was removed, and the test digits
        assert all(text.startswith("For lenet · l1_unstructured · amount 0.50 · global — the setting has "
                                   "changed") for text in stale), stale
        answer = page.get_attribute("#accuracy-panel", "data-answer")
        page.mouse.up()
        page.wait_for_function("a => document.querySelector('#accuracy-panel').dataset.answer !== a", arg=answer,
                               timeout=60_000)
        page.wait_for_function(f"() => ({STALE_STAMPS})().length === 0", timeout=10_000)
        amount = page.get_attribute("#accuracy-panel", "data-amount")
        stamps = page.locator(".pl-for").all_inner_texts()
        assert stamps and all(f"amount {amount} · global" in text for text in stamps), stamps
