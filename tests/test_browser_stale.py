"""Never stale, plain words, long work that moves, in real headless Chromium at 1280x900 and on a 390x844 touch
phone: What changed names its setting and dims once the slider moves (arrows, Page Up, Home, End alike); the
type sliders are off unless read; Sensitivity and Quantize tell each step; a glossary term opens on a tap;
Copy into Advanced under global scope switches to local."""
from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import pytest

from tests.ui_helpers import CHROMIUM, CHROMIUM_FLAGS, server_url  # noqa: F401  (a fixture)
from ui import lessons

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/work/notes/shots-25c")
SCREENS = {"desktop": dict(viewport={"width": 1280, "height": 900}),
           "phone": dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)}
SLOW = 90_000                     # ms: a scan or a quantize grid on a busy machine
# every progress text the page shows, remembered (a step can be shown and replaced between two polls)
RECORD_PROGRESS = """() => { window.seenProgress = []; new MutationObserver(() => {
  document.querySelectorAll('.progress-level-inner').forEach((e) => {
    const t = e.innerText.trim(); if (t && !window.seenProgress.includes(t)) window.seenProgress.push(t); });
}).observe(document.body, {childList: true, subtree: true, characterData: true}); }"""


@pytest.fixture(params=sorted(SCREENS))
def page(request, server_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright, contextlib.ExitStack() as stack:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            **SCREENS[request.param])
        stack.callback(context.close)
        page = context.new_page()
        page.screen = request.param
        page.goto(server_url)
        page.wait_for_selector("#accuracy-panel", timeout=60_000)
        yield page


def press(page, selector: str) -> None:
    """A tap on the phone, a click on the desktop."""
    target = page.locator(selector).first
    target.scroll_into_view_if_needed()
    target.tap() if page.screen == "phone" else target.click()


def open_tab(page, name: str) -> None:
    """Open a tab by its name, through the "More tabs" menu where it is hidden there."""
    tab = page.locator(f"[role=tab]:text-is('{name}')")
    if not tab.count() or not tab.first.is_visible():
        press(page, "button[aria-label='More tabs']")
        tab = page.locator(f".overflow-dropdown button:text-is('{name}')")
    tab.first.tap() if page.screen == "phone" else tab.first.click()


def shot(page, name: str, view: str | None = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if view:
        page.locator(view).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}-{page.screen}.png"))


def key_on_amount(page, key: str) -> str:
    """Press `key` on the focused amount slider; wait for the server's answer; its amount."""
    before = page.get_attribute("#accuracy-panel", "data-setting")
    page.focus("#amount-slider input[type=range]")
    page.keyboard.press(key)
    page.wait_for_function("s => document.querySelector('#accuracy-panel').dataset.setting !== s", arg=before,
                           timeout=60_000)
    return page.get_attribute("#accuracy-panel", "data-amount")


def stale(page, view: str) -> bool:
    return page.evaluate("s => !!document.querySelector(s).closest('.pl-view-stale')", view)


def test_what_changed_names_its_setting_and_dims_once_the_slider_moves(page):
    press(page, "button:has-text('What changed')")
    press(page, "button:has-text('Show what changed')")
    page.wait_for_selector("#changes-summary .pl-for", timeout=60_000)
    stamp = page.inner_text("#changes-summary .pl-for")
    assert stamp == "For lenet · l1_unstructured · amount 0.50 · global" and not stale(page, "#changes-summary")
    assert "became wrong" in page.inner_text("#changes-summary") and "became_wrong" not in page.inner_text("body")
    amounts = [key_on_amount(page, key) for key in ("PageUp", "End", "Home", "ArrowRight")]
    assert amounts[1] == "0.99" and amounts[2] == "0.00" and amounts[3] == "0.01" and float(amounts[0]) > 0.5
    page.wait_for_function("() => document.querySelector('#changes-summary .pl-for-stale').innerText.length > 0")
    assert stale(page, "#changes-summary") and stale(page, "#changed-gallery")        # the whole view, not a line
    assert page.inner_text("#changes-summary .pl-for") == (
        "For lenet · l1_unstructured · amount 0.50 · global — the setting has changed: press Show what changed "
        "to update")
    shot(page, "what-changed-stale", "#changes-summary")
    press(page, "button:has-text('Show what changed')")                                                     # updated: current again
    page.wait_for_function("() => document.querySelector('#changes-summary .pl-for').innerText.includes('0.01')",
                           timeout=60_000)
    assert not stale(page, "#changes-summary")


# how opaque an element looks: its own opacity times every ancestor's (a faded panel fades what it holds)
SEEN_OPACITY = """(selector) => { let seen = 1;
  for (let el = document.querySelector(selector); el; el = el.parentElement) seen *= Number(getComputedStyle(el).opacity);
  return seen; }"""


def test_the_type_sliders_are_off_until_per_type_amounts_under_local_scope(page):
    press(page, "button:has-text('Advanced')")
    disabled = lambda: [page.locator(f"input[aria-label='range slider for {s} layers amount']").is_disabled()  # noqa: E731
                        for s in ("Conv", "Linear")]
    assert disabled() == [True, True]
    assert "Off:" in page.inner_text("#conv-amount")
    assert float(page.evaluate("() => getComputedStyle(document.querySelector('#conv-amount')).opacity")) < 0.6
    # only the switched-off controls look it: the Advanced panel around them, and its live fields, do not
    assert page.evaluate(SEEN_OPACITY, "#layer-amounts") == 1
    assert page.evaluate(SEEN_OPACITY, "input[aria-label^='range slider for Calibration digits']") == 1
    assert page.locator("#per-type input").is_disabled()                 # under global: nothing to tick
    press(page, "#scope-radio label:has-text('local')")
    page.wait_for_function("() => !document.querySelector('#per-type input').disabled")
    assert disabled() == [True, True]                                    # local, per type still off
    press(page, "#per-type input")
    page.wait_for_function("() => !document.querySelector('#conv-amount input[type=range]').disabled")
    assert disabled() == [False, False] and "Used:" in page.inner_text("#conv-amount")
    assert not page.locator(".toast-body.error, .toast-wrap .error").count()      # no error toast
    shot(page, "type-sliders-on")
    press(page, "#per-type input")
    page.wait_for_function("() => document.querySelector('#conv-amount input[type=range]').disabled")


def _moved_past_zero(page, pattern: str) -> list[str]:
    seen = page.evaluate("() => window.seenProgress")
    return [t for t in seen if re.search(pattern, t) and not t.endswith(" 0.0%")]


def test_sensitivity_and_quantize_tell_each_step_as_it_goes(page, monkeypatch):
    monkeypatch.setattr(lessons, "_scans", {}, raising=False)                      # a scan measured now, not kept from before
    page.evaluate(RECORD_PROGRESS)
    open_tab(page, "Sensitivity")
    press(page, "button:has-text('Scan layers')")
    page.wait_for_selector("#scan-plot .pl-for", timeout=SLOW)
    moved = _moved_past_zero(page, r"^layer (conv2|fc1|fc2|fc3) \(\d of 5\): amounts 0\.10 to 0\.90.* - \d+\.\d%$")
    assert len(moved) >= 3, page.evaluate("() => window.seenProgress")
    assert page.inner_text("#scan-plot .pl-for") == "For lenet · l1_unstructured · amount 0.50 · global"
    open_tab(page, "Quantize")
    press(page, "button:has-text('Measure prune × quantize')")
    page.wait_for_selector("#quantize-text .pl-for", timeout=SLOW)
    moved = _moved_past_zero(page, r"^(accuracy of|timing) (dense|pruned) · (fp32|int8)")
    assert len(moved) >= 8, page.evaluate("() => window.seenProgress")
    assert any(re.search(r"timing pruned · int8, round 3 of 3 - \d+\.\d%$", t) for t in moved)
    shot(page, "quantize-done")


def test_a_glossary_term_shows_its_meaning_on_a_tap(page):
    term = page.locator("#glossary [data-term='macs']")
    term.scroll_into_view_if_needed()
    tip = term.locator(".pl-term-tip")
    assert not tip.is_visible()
    term.tap() if page.screen == "phone" else term.click()
    assert tip.is_visible() and tip.inner_text().startswith("Multiply-accumulate operations")
    box, width = tip.bounding_box(), page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width                       # the whole text on screen
    shot(page, "glossary-tap")
    method = page.locator("#controls [data-term='unstructured']")                    # in the method's own line
    method.tap() if page.screen == "phone" else method.click()
    assert method.locator(".pl-term-tip").is_visible()


def test_copy_into_advanced_under_global_switches_to_local(page):
    assert page.is_checked("#scope-radio input[value=global]")
    open_tab(page, "Sensitivity")
    press(page, "button:has-text('Allocate and compare')")
    page.wait_for_function("() => /fc1=/.test(document.querySelector('#allocated textarea, #allocated input').value)",
                           timeout=SLOW)
    allocated = page.input_value("#allocated textarea, #allocated input")
    before = page.get_attribute("#accuracy-panel", "data-setting")
    press(page, "button:has-text('Copy into Advanced')")
    page.wait_for_function("s => document.querySelector('#accuracy-panel').dataset.setting !== s", arg=before,
                           timeout=60_000)
    assert page.is_checked("#scope-radio input[value=local]")
    assert page.input_value("#layer-amounts input, #layer-amounts textarea") == allocated
    assert "Scope switched to local" in page.inner_text("#copy-note")
    assert not page.locator(".toast-body.error, .toast-wrap .error").count()      # no error toast
    panel = page.get_attribute("#accuracy-panel", "data-line") or ""
    assert "local" in panel, panel
    shot(page, "copy-into-advanced")
