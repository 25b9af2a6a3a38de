"""The page on a phone (390x844, touch) and a laptop (1280x900) in real headless Chromium: every tab one tap
away, the headline next to the amount slider, tables that fit with words whole, plot titles uncovered, and the
drawn digit's predictions in view while drawing."""
from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import replace

import gradio as gr
import pytest

from pruning import shared
from pruning.grid import DEFAULT_SETTING
from tests.ui_helpers import CHROMIUM, CHROMIUM_FLAGS, server_url  # noqa: F401  (a fixture)
from ui import lessons
from ui.resources import eval_set, store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE, LAPTOP = (390, 844), (1280, 900)
HEADLINE_REACH = 300          # px: the headline (accuracy, sparsity, bars) at most this far from the slider
PREVIEWED = tuple(round(0.7 + 0.01 * i, 2) for i in range(7))   # measured before the page loads: previewed


@contextlib.contextmanager
def page_at(url: str, size: tuple[int, int]):
    """A fresh page of the app at `size`; a phone (narrower than 600 px) has touch and a mobile viewport."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    phone = size[0] < 600
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": size[0], "height": size[1]}, has_touch=phone, is_mobile=phone)
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#accuracy-panel", timeout=60_000)
            yield page
        finally:
            context.close()


def tab_names() -> list[str]:
    """The labels of the result column's tabs, as the app builds them."""
    import app
    tabs = [b for b in app.demo.blocks.values() if isinstance(b, gr.Tab)]
    result = next(tab for tab in tabs if tab.label == "Result")
    return [tab.label for tab in tabs if tab.parent is result.parent]


def open_tab(page, name: str) -> None:
    """Select a tab the way a user can: its button, or where the row hides it, the "more tabs" menu."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.locator("button[aria-label='More tabs']").first.click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()
    page.wait_for_function("n => [...document.querySelectorAll('[role=tab][aria-selected=true]')]"
                           ".some(b => b.textContent.trim() === n)", arg=name)


SHOWN_TABS = """names => {
  const row = [...document.querySelectorAll('[role=tablist]')].find(l => l.textContent.includes('Result'));
  const box = row.getBoundingClientRect();
  const shown = (b) => { const r = b.getBoundingClientRect(), s = getComputedStyle(b);
    return r.width > 4 && r.height > 4 && s.visibility !== 'hidden' && r.left >= box.left - 1 && r.right <= box.right + 1
      && r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.right <= innerWidth; };
  const buttons = [...row.querySelectorAll('button[role=tab]')];
  const more = [...document.querySelectorAll("button[aria-label='More tabs']")].some(b => b.getClientRects().length
    && getComputedStyle(b.closest('.overflow-menu') || b).display !== 'none');
  return {more, hidden: names.filter(n => !buttons.some(b => b.textContent.trim() === n && shown(b)))};
}"""


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_every_tab_is_one_tap_away(server_url, size):
    names = tab_names()
    assert len(names) >= 10
    with page_at(server_url, size) as page:
        page.wait_for_timeout(500)                               # the tab row has measured itself
        shown = page.evaluate(SHOWN_TABS, names)
        assert shown == {"more": False, "hidden": []}, shown
        for name in names:                                       # each one: a tap (a click on a laptop) selects it
            button = page.get_by_role("tab", name=name, exact=True)
            button.tap() if size == PHONE else button.click()
            assert button.get_attribute("aria-selected") == "true", name


HEADLINE = """([reach]) => {
  const slider = document.querySelector('#amount-slider').getBoundingClientRect();
  const near = [...document.querySelectorAll('#accuracy-panel, #sparsity-chart, #phone-summary')].filter((el) => {
    const r = el.getBoundingClientRect();
    const gap = Math.max(0, r.top - slider.bottom, slider.top - r.bottom);
    return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && gap <= reach;
  });
  return {text: near.map((el) => el.innerText).join(' | '), stale: near.some((el) => el.classList.contains('pl-stale'))};
}"""


UNMEASURED = """() => {      // an amount step (5..94) with no measured point within 3 steps of it (the thumb lands
  const points = JSON.parse(document.querySelector('#grid-data [data-grid]').dataset.grid).points || [];
  const free = (s) => [-3, -2, -1, 0, 1, 2, 3].every((d) => !points[s + d]);     // a pixel or two off)
  for (let s = 5; s < 95; s++) if (free(s)) return s;
  return null;
}"""


def _headline(page) -> dict:
    """What of the headline (accuracy, global sparsity, per-layer bars) is in view and within reach of the
    amount slider: its text, and whether any of it is dimmed."""
    return page.evaluate(HEADLINE, [HEADLINE_REACH])


def _near(page, *numbers: str) -> None:
    shown = _headline(page)
    missing = [n for n in numbers if n not in shown["text"]]
    assert not missing, f"not in view within {HEADLINE_REACH} px of the amount slider: {missing}"


def _panel(page) -> list[str]:
    """The numbers the result panel shows: accuracy after, global sparsity, each layer's sparsity."""
    return page.evaluate("() => [document.querySelector('#accuracy-panel .pl-after-value').textContent, "
                         "...[...document.querySelectorAll('#sparsity-chart .pl-summary b, #sparsity-chart .pl-value b')]"
                         ".map(b => b.textContent)].filter(t => t.endsWith('%'))")


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_the_headline_stays_next_to_the_amount_slider_while_the_thumb_moves(server_url, size):
    measured = {a: shared.measured(replace(DEFAULT_SETTING, amount=a), eval_set(), store()) for a in PREVIEWED}
    with page_at(server_url, size) as page:
        page.wait_for_function("() => (document.querySelector('#grid-data [data-grid]') || {dataset: {}})"
                               ".dataset.grid.length > 100")
        page.evaluate("document.querySelector('#amount-slider').scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
        _near(page, *_panel(page))
        assert page.locator("#accuracy-panel").count() == 1 and page.locator("#sparsity-chart").count() == 1
        box = page.locator("#amount-slider input[type=range]").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.5 / 0.99, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.73 / 0.99, y, steps=6)       # held: the preview repaints
        page.wait_for_timeout(100)
        result = measured[round(float(page.input_value("#amount-slider input[type=range]")), 2)]
        assert page.inner_text("#accuracy-panel .pl-after-value") == f"{100 * result.accuracy_after:.2f}%"
        _near(page, *_panel(page), f"{100 * result.global_sparsity:.2f}%")
        assert not _headline(page)["stale"]
        gap = page.evaluate(UNMEASURED)
        assert gap is not None, "every amount step is measured already: nothing to dim"
        page.mouse.move(box["x"] + box["width"] * gap / 99, y, steps=3)          # no point there: dimmed
        page.wait_for_timeout(100)
        assert _headline(page)["stale"]
        page.mouse.up()                                                          # the server measures, answers
        page.wait_for_function("a => !document.querySelector('#accuracy-panel').classList.contains('pl-stale')"
                               " && document.querySelector('#accuracy-panel').dataset.amount !== a",
                               arg=f"{result.config.amount:.2f}", timeout=60_000)
        page.wait_for_timeout(100)
        _near(page, *_panel(page))
        assert not _headline(page)["stale"]
        if size == LAPTOP:                                       # beside the controls: the panel itself, no copy
            assert page.locator("#phone-summary:visible").count() == 0


BROKEN = """() => {
  const words = (cell) => { const found = []; const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange(); range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) found.push(m[0]);
      } }
    return found; };
  const out = [];
  for (const table of document.querySelectorAll('#result-tabs table, .tabs table')) {
    if (!table.getClientRects().length || table.getBoundingClientRect().width === 0) continue;
    const block = table.closest('.block'), r = table.getBoundingClientRect(), b = block.getBoundingClientRect();
    if (block.scrollWidth > block.clientWidth + 1 || r.right > b.right + 1 || r.left < b.left - 1)
      out.push(`table wider than its box: ${Math.round(r.width)} in ${Math.round(b.width)}`);
    for (const cell of table.querySelectorAll('td, th')) {
      for (const w of words(cell)) out.push(`broken word: ${w}`);
      if (cell.scrollWidth > cell.clientWidth + 1) out.push(`cut: ${cell.textContent}`);
    }
  }
  return [...new Set(out)];
}"""


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_tables_fit_their_box_with_every_word_whole(server_url, size, monkeypatch):
    monkeypatch.setattr(lessons, "QUANTIZE_REPEATS", 1)        # one timing round: the table is what counts
    with page_at(server_url, size) as page:
        open_tab(page, "Compare")
        pin = page.get_by_role("button", name="📌 Pin the current result")
        pin.click()
        page.wait_for_function("() => [...document.querySelectorAll('table')].some(t => t.rows.length === 2)")
        page.locator("#scope-radio label", has_text="local").click()
        page.wait_for_function("() => document.querySelector('#accuracy-panel').dataset.line.endsWith('local')",
                               timeout=60_000)
        pin.click()
        page.wait_for_function("() => [...document.querySelectorAll('table')].some(t => t.rows.length === 3)")
        page.wait_for_timeout(300)
        assert page.evaluate(BROKEN) == [], "Compare"
        open_tab(page, "Quantize")
        page.get_by_role("button", name="Measure prune × quantize").click()
        page.wait_for_function("() => document.body.innerText.includes('Order matters')", timeout=120_000)
        page.wait_for_timeout(300)
        assert page.evaluate(BROKEN) == [], "Quantize"
        open_tab(page, "Result")
        page.get_by_text("What changed: per class").click()
        page.get_by_role("button", name="Show what changed").click()
        page.wait_for_selector(".pl-confusions", timeout=60_000)
        page.wait_for_timeout(300)
        assert page.locator(".pl-confusion table").count() == 3
        assert page.evaluate(BROKEN) == [], "What changed"


COVERED = """() => [...document.querySelectorAll('[data-testid=matplotlib] img')].filter(i => i.getClientRects().length)
  .flatMap((img) => {
    const r = img.getBoundingClientRect(), band = {top: r.top, bottom: r.top + 0.12 * r.height};
    return [...img.closest('.block').querySelectorAll('[data-testid=block-label]')].filter((label) => {
      const l = label.getBoundingClientRect();
      return l.width > 2 && l.height > 2 && getComputedStyle(label).display !== 'none'
        && l.bottom > band.top && l.top < band.bottom && l.right > r.left && l.left < r.right;
    }).map((label) => label.textContent.trim());
  })"""


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_no_badge_covers_a_plot_title(server_url, size):
    with page_at(server_url, size) as page:
        open_tab(page, "Inspect")
        page.get_by_role("button", name="Show weights").click()
        page.wait_for_function("() => document.querySelectorAll('[data-testid=matplotlib] img').length >= 2",
                               timeout=60_000)
        assert page.evaluate(COVERED) == []
        open_tab(page, "Fine-tune")
        page.get_by_role("button", name="Prune + fine-tune").click()
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=matplotlib] img')]"
                               ".filter(i => i.getClientRects().length).length >= 1", timeout=120_000)
        assert page.evaluate(COVERED) == []


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_the_drawn_digits_predictions_are_in_view_while_drawing(server_url, size):
    with page_at(server_url, size) as page:
        canvas = page.locator("#sketchpad canvas")
        page.evaluate("document.querySelector('#sketchpad canvas').scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y + box["height"] * 0.7, steps=8)     # a "1"
        page.mouse.up()
        page.wait_for_function("() => !document.querySelector('#label-after').innerText.includes('Draw')",
                               timeout=30_000)
        page.wait_for_timeout(300)
        assert canvas.bounding_box() == box                      # the page did not move while drawing
        for label in ("#label-before", "#label-after"):
            shown = page.locator(label).bounding_box()
            assert shown["y"] >= 0 and shown["y"] + shown["height"] <= size[1], (label, shown)
            assert "1" in page.inner_text(f"{label} [data-testid=label-output-value]")
