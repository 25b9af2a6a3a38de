"""The accuracy curves in headless Chromium, at 1280x900 and on a 390x844 touch phone: a style per method,
N:M as points, the star at the measured setting with pins visible, tap to read, the model named and never
silently kept after a switch. The sweep is a stand-in (finished, a few amounts): the view is under test."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from pruning import PruneConfig, list_methods
from pruning.sweep import SweepPoint, SweepResult
from pruning.sweep_cache import SweepJob
from tests.ui_helpers import CHROMIUM, CHROMIUM_FLAGS, server_url  # noqa: F401  (a fixture)
from ui import resources
from ui.curves import _x, _y

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/work/notes/shots-25b")
AMOUNTS = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9)
NM = "nm_semi_structured"
PAGE = "?model=lenet&method=l1_unstructured&amount=0.37&scope=global"


def stand_in(model: str) -> SweepResult:
    """A finished sweep of every registered method, its lines far below the real numbers (so a star on
    a line is told from one at the measured setting), N:M's line flat as the sweep measures it."""
    methods = list_methods()
    points = [SweepPoint(m, s, a, a, 0.9 if m == NM else 0.9 - 0.04 * (i + 1) * a, 0.01 if m == "threshold" else None)
              for i, m in enumerate(methods) for s in ("local", "global") for a in AMOUNTS]
    return SweepResult(model, "stand-in", AMOUNTS, PruneConfig(model=model), 0.99, points)


@pytest.fixture(scope="module")
def sweeps(server_url):
    """The server's sweeps: finished stand-ins at once, for any model."""
    def job(model_name, *args, **kwargs):
        finished = SweepJob(f"stand-in-{model_name}", stand_in(model_name), 1.0, "done")
        finished.done.set()
        return finished
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resources.sweep_cache(), "job", job)
        yield server_url


def open_tab(page, name: str) -> None:
    """Click a tab, through the "More tabs" menu where it hides there."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.click("button[aria-label='More tabs']")
    page.locator(f"button:visible:text-is('{name}'):not([tabindex='-1'])").last.click()


def show_curves(page) -> None:
    open_tab(page, "Accuracy curves")
    page.get_by_role("button", name="Compute / show curves").click()
    page.wait_for_function("n => document.querySelectorAll('#pl-curves svg.pl-curve-panel').length === 2 && "
                           "document.querySelectorAll('#pl-curves [data-method]').length > n", arg=len(list_methods()),
                           timeout=60_000)


def answered(page, before: str) -> None:
    page.wait_for_function("old => { const p = document.querySelector('#accuracy-panel');"
                           " return p && p.dataset.answer !== old; }", arg=before, timeout=60_000)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium (a failure, not a skip, where it is missing: CI never skips)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def desktop(sweeps, browser):
    """One page at 1280x900 on lenet · l1 · 0.37 · global, that setting and 0.50 pinned, curves shown."""
    with contextlib.closing(browser.new_context(viewport={"width": 1280, "height": 900})) as context:
        page = context.new_page()
        page.goto(sweeps + PAGE)
        page.wait_for_selector("#accuracy-panel[data-amount='0.37']", timeout=60_000)
        open_tab(page, "Compare")
        page.get_by_role("button", name="📌 Pin the current result").click()
        page.wait_for_function("() => ((document.querySelector('#pinned') || {}).innerText || '')"
                               ".includes('0.37')", timeout=60_000)      # pinned before the slider moves
        before = page.get_attribute("#accuracy-panel", "data-answer")
        page.fill("#amount-slider input[type=number]", "0.5")
        page.press("#amount-slider input[type=number]", "Tab")
        answered(page, before)
        page.get_by_role("button", name="📌 Pin the current result").click()
        page.wait_for_function("() => { const t = (document.querySelector('#pinned') || {}).innerText || '';"
                               " return t.includes('0.37') && t.includes('0.50'); }", timeout=60_000)
        before = page.get_attribute("#accuracy-panel", "data-answer")
        page.fill("#amount-slider input[type=number]", "0.37")
        page.press("#amount-slider input[type=number]", "Tab")
        answered(page, before)
        show_curves(page)
        yield page


def styles(page) -> dict[str, tuple]:
    """{method: (stroke, dash, marker shape, marker fill)} as drawn in the global panel."""
    return {m: tuple(s) for m, s in page.evaluate("""() => {
      const out = {};
      document.querySelectorAll("#pl-curves svg[data-scope=global] g[data-method]").forEach((g) => {
        const line = g.querySelector("polyline"), mark = g.querySelector(".pl-point");
        out[g.dataset.method] = [line ? line.getAttribute("stroke") : mark.getAttribute("stroke"),
          line ? line.getAttribute("stroke-dasharray") : "points", mark.tagName, mark.getAttribute("fill")];
      });
      return out; }""").items()}


def test_every_registered_method_is_drawn_in_a_style_of_its_own(desktop):
    drawn = styles(desktop)
    assert sorted(drawn) == sorted(list_methods())
    assert len(set(drawn.values())) == len(drawn), drawn
    keys = desktop.eval_on_selector_all("#pl-curves .pl-curve-key", "els => els.map(e => e.innerHTML)")
    assert len(keys) == len(list_methods()) and len(set(re.sub(r"pl-show-\d+|data-method=\"\w+\"|</svg>.*", "", k)
                                                        for k in keys)) == len(keys)   # the samples alone differ


def test_nm_is_one_point_per_pattern_not_a_flat_line(desktop):
    group = "#pl-curves svg[data-scope=global] g[data-method=nm_semi_structured]"
    assert desktop.eval_on_selector_all(f"{group} polyline", "els => els.length") == 0
    labels = desktop.eval_on_selector_all(f"{group} text", "els => els.map(e => e.textContent)")
    assert sorted(labels) == ["1:4", "2:4", "4:8"]
    titles = desktop.eval_on_selector_all(f"{group} .pl-point title", "els => els.map(e => e.textContent)")
    assert len(titles) == 3 and all("accuracy" in t for t in titles)
    accuracies = {float(re.search(r"accuracy ([\d.]+)%", t).group(1)) for t in titles}
    assert len(accuracies) > 1 and 90.0 not in accuracies                 # measured per pattern, not the flat line


def test_the_star_sits_at_the_measured_setting(desktop):
    shown = float(desktop.inner_text("#accuracy-panel .pl-after-value").rstrip("%")) / 100
    box = desktop.evaluate("() => { const b = document.querySelector('#pl-curves .pl-star').getBBox();"
                           " return [b.x + b.width / 2, b.y + b.height / 2]; }")
    assert abs(box[0] - _x(0.37)) < 1.5 and abs(box[1] - _y(shown)) < 2.5, (box, _x(0.37), _y(shown))
    title = desktop.text_content("#pl-curves .pl-star title")
    assert f"accuracy {100 * shown:.2f}%" in title


def test_every_pin_stays_visible_beside_the_star(desktop):
    hidden = desktop.evaluate("""() => [...document.querySelectorAll("#pl-curves svg[data-scope=global] .pl-pinned")]
      .map((pin) => { const r = pin.querySelector("circle").getBoundingClientRect();
        const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return [pin.textContent.trim().slice(0, 1), !!top && top.closest(".pl-pinned") === pin]; })""")
    assert [number for number, _ in hidden] == ["1", "2"], hidden
    assert all(on_top for _, on_top in hidden), hidden                    # nothing drawn over a pin
    SHOTS.mkdir(parents=True, exist_ok=True)
    desktop.locator("#pl-curves").screenshot(path=str(SHOTS / "curves-1280.png"))


def test_on_the_sparsity_axis_each_pattern_sits_at_its_own_sparsity(desktop):
    desktop.get_by_label("sparsity").check()
    desktop.get_by_role("button", name="Compute / show curves").click()
    desktop.wait_for_selector("#pl-curves[data-x=sparsity], #pl-curves svg[aria-label^='accuracy vs sparsity']",
                              timeout=30_000)
    group = "#pl-curves svg[data-scope=global] g[data-method=nm_semi_structured]"
    assert desktop.eval_on_selector_all(f"{group} polyline", "els => els.length") == 0
    at = desktop.eval_on_selector_all(f"{group} .pl-point title", "els => els.map(e => e.textContent)")
    xs = desktop.eval_on_selector_all(f"{group} text", "els => els.map(e => Number(e.getAttribute('x')) - 6)")
    for title, x in zip(at, xs):                                         # a label: 6 right of its marker
        assert abs(x - _x(float(re.search(r"sparsity ([\d.]+)%", title).group(1)) / 100)) < 0.6, (title, x)
    assert "x axis: weight sparsity" in desktop.inner_text("#pl-curves .pl-curves-for")
    desktop.locator("#pl-curves").screenshot(path=str(SHOTS / "curves-1280-sparsity.png"))


def test_the_curves_name_their_model_and_axis_in_one_line(desktop):
    line = desktop.inner_text("#pl-curves .pl-curves-for")
    assert "lenet" in line and "x axis: weight sparsity" in line


def test_after_a_model_switch_the_curves_say_so_until_redrawn(desktop):
    before = desktop.get_attribute("#accuracy-panel", "data-answer")
    desktop.click("#model-dropdown input")
    desktop.click("[role=option][aria-label=mlp]")
    answered(desktop, before)
    desktop.wait_for_function("() => document.querySelector('#pl-curves').innerText.includes('now mlp')",
                              timeout=10_000)                              # not silently lenet's lines
    line = desktop.inner_text("#pl-curves .pl-curves-for")
    assert "lenet" in line and "mlp" in line and "press Compute / show curves" in line
    assert "pl-curves-old" in desktop.get_attribute("#pl-curves", "class")
    opacity = desktop.evaluate("() => getComputedStyle(document.querySelector('#pl-curves .pl-curve-panels')).opacity")
    assert float(opacity) < 0.5
    desktop.screenshot(path=str(SHOTS / "curves-1280-switched.png"), full_page=False)
    desktop.get_by_role("button", name="Compute / show curves").click()
    desktop.wait_for_function("() => document.querySelector('#pl-curves').dataset.model === 'mlp'", timeout=60_000)
    assert "pl-curves-old" not in desktop.get_attribute("#pl-curves", "class")
    assert "Curves for mlp" in desktop.inner_text("#pl-curves .pl-curves-for")


def test_with_the_keyboard_a_plot_takes_the_focus_and_the_arrows_read_its_points(desktop):
    panel = desktop.locator("#pl-curves svg[data-scope=global]")
    panel.focus()
    assert desktop.evaluate("() => document.activeElement.matches('#pl-curves svg[data-scope=global]')")
    expected = desktop.evaluate("""() => [...document.querySelectorAll(
        '#pl-curves svg[data-scope=global] .pl-point, #pl-curves svg[data-scope=global] .pl-star, '
        + '#pl-curves svg[data-scope=global] .pl-pinned')].filter((el) => el.getClientRects().length > 0)
        .map((el) => { const b = el.getBBox(); return [el.dataset.x ? Number(el.dataset.x) : b.x + b.width / 2,
          el.dataset.y ? Number(el.dataset.y) : b.y + b.height / 2, el.querySelector('title').textContent]; })
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((p) => p[2])""")
    tip = desktop.locator("#pl-curves svg[data-scope=global] .pl-tip")
    said = desktop.locator("#pl-curves .pl-curve-said")
    for key, index in (("ArrowRight", 0), ("ArrowRight", 1), ("End", -1), ("ArrowLeft", -2), ("Home", 0)):
        desktop.keyboard.press(key)
        first_line = expected[index].split(" · sparsity")[0]
        assert first_line in tip.text_content(), (key, tip.text_content(), expected[index])
        assert said.text_content().startswith(first_line) and said.get_attribute("aria-live") == "polite"
    desktop.keyboard.press("Escape")
    assert tip.count() == 0


def test_on_a_touch_phone_a_tap_on_a_point_reads_its_value(sweeps, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(sweeps + PAGE)
        page.wait_for_selector("#accuracy-panel[data-amount='0.37']", timeout=60_000)
        show_curves(page)
        point = page.locator("#pl-curves svg[data-scope=global] g[data-method=l1_unstructured] .pl-point").nth(5)
        point.scroll_into_view_if_needed()
        box = point.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tip = page.locator("#pl-curves svg[data-scope=global] .pl-tip")
        tip.wait_for(timeout=5_000)
        text = tip.text_content()
        assert "l1_unstructured · global · amount 0.75" in text and "accuracy" in text, text
        shown = tip.bounding_box()
        assert shown["width"] > 50 and 0 <= shown["x"] and shown["x"] + shown["width"] <= 390 + 1
        assert "Curves for lenet" in page.inner_text("#pl-curves .pl-curves-for")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#pl-curves").screenshot(path=str(SHOTS / "curves-390-tap.png"))
        page.screenshot(path=str(SHOTS / "curves-390.png"), full_page=False)
    finally:
        context.close()
