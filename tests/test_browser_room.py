"""The page as participants use it, in headless Chromium: races, links, phones, curves as they come."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pruning import PruneConfig, prune_model
from tests.ui_helpers import chromium, fresh_sweeps, server_url  # noqa: F401  (fixtures)
from ui.resources import eval_set

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def browser():
    with chromium() as context:
        yield context


def open_page(context, url: str, query: str = "", viewport=(1280, 900)):
    page = context.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto(url + query)
    page.wait_for_selector("#accuracy-panel", timeout=60_000)
    return page


def settle(page, before: str, selector: str = "#accuracy-panel") -> str:
    page.wait_for_function("([s, old]) => { const t = document.querySelector(s).innerText;"
                           " return t !== old && t.includes('%') && !/\\d\\.\\ds/.test(t); }",
                           arg=[selector, before], timeout=60_000)
    return page.inner_text(selector)


def drag_amount(page, fraction: float) -> float:
    """Drag the amount slider from its middle to `fraction` of its track and let go (a release, as a
    participant does); the amount it shows then."""
    track = page.locator("#amount-slider input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + 0.5 * track["width"], y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=10)
    page.mouse.up()
    return float(page.input_value("#amount-slider input[type=number]"))


def test_fine_tuning_while_the_slider_moves_never_leaves_an_older_result(browser, server_url):
    page = open_page(browser, server_url, "?model=mlp&amount=0.5&scope=global")
    total = prune_model("mlp", PruneConfig(model="mlp")).total_params
    stale = []
    for trial in range(20):
        page.get_by_role("tab", name="Fine-tune").click()
        page.get_by_role("button", name="Prune + fine-tune").click()
        before = page.inner_text("#accuracy-panel")
        amount = drag_amount(page, 0.2 + 0.02 * trial if trial % 2 else 0.8 - 0.02 * trial)   # while it runs
        settle(page, before)
        page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=120_000)
        page.get_by_role("tab", name="Export").click()
        previous = re.findall(r"Wrote the [^\n]*?(\S+\.pt)", page.inner_text("body"))
        page.get_by_role("button", name="Export pruned model").click()
        try:
            page.wait_for_function("(old) => { const m = document.body.innerText.match(/Wrote the [^\\n]*?(\\S+\\.pt)/);"
                                   " return m && m[1] !== old; }", arg=previous[-1] if previous else "",
                                   timeout=60_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "race-failure.png"), full_page=True)
            raise
        note = re.findall(r"([\d,]+) / ([\d,]+) nonzero parameters", page.inner_text("body"))[-1]
        expected = prune_model("mlp", PruneConfig(model="mlp", amount=amount, scope="global")).nonzero_params
        if (int(note[0].replace(",", "")), int(note[1].replace(",", ""))) != (expected, total):
            stale.append((amount, note))
        page.get_by_role("tab", name="Result").click()
    assert stale == [], f"{len(stale)} of 20 trials exported an older model than the slider shows: {stale}"


def test_a_link_opens_its_setting_and_copy_link_gives_it_back(browser, server_url):
    page = open_page(browser, server_url, "?model=lenet&method=ln_structured&amount=0.6&scope=local&bogus=1")
    page.wait_for_function("() => document.querySelector('#accuracy-panel').innerText.includes('lenet')")
    expected = prune_model("lenet", PruneConfig(method="ln_structured", amount=0.6, scope="local"),
                           eval_set=eval_set())
    page.wait_for_function("(a) => document.querySelector('#accuracy-panel').innerText.includes(a)",
                           arg=f"{100 * expected.accuracy_after:.2f}%", timeout=60_000)
    assert f"{100 * expected.global_sparsity:.2f}%" in page.inner_text("#sparsity-chart")
    assert "bogus" in page.inner_text("#link-note")                    # ignored, and said so
    page.locator("#copy-link").click()
    page.wait_for_function("() => document.querySelector('#setting-link textarea, #setting-link input').value"
                           ".includes('?model=')", timeout=30_000)
    link = page.locator("#setting-link textarea, #setting-link input").first.input_value()
    for part in ("model=lenet", "method=ln_structured", "amount=0.6", "scope=local"):
        assert part in link
    again = open_page(browser, link.replace(server_url.rstrip("/"), server_url.rstrip("/")).split("?")[0], "?" +
                      link.split("?", 1)[1])
    again.wait_for_function("(a) => document.querySelector('#accuracy-panel').innerText.includes(a)",
                            arg=f"{100 * expected.accuracy_after:.2f}%", timeout=60_000)


def test_on_a_phone_every_bar_is_as_wide_as_its_share(browser, server_url):
    page = open_page(browser, server_url, "?model=lenet&method=l1_unstructured&amount=0.5&scope=local",
                     viewport=(390, 844))
    page.wait_for_function("() => document.querySelector('#sparsity-chart').innerText.includes('50.00%')",
                           timeout=60_000)
    tracks = page.eval_on_selector_all(".pl-bars", "els => els.map(e => e.getBoundingClientRect().width)")
    bars = page.eval_on_selector_all(".pl-bar.pl-after", "els => els.map(e => e.getBoundingClientRect().width)")
    assert min(tracks) > 150, tracks                                   # not a sliver
    for track, bar in zip(tracks, bars):
        assert abs(bar / track - 0.5) < 0.03, (bar, track)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1   # nothing wider than the phone
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-390.png"), full_page=True)


def test_curves_appear_line_by_line_before_the_sweep_ends(browser, server_url, fresh_sweeps):
    page = open_page(browser, server_url, "?model=mlp&amount=0.5")
    page.get_by_role("tab", name="Accuracy curves").click()
    page.get_by_role("button", name="Compute / show curves").click()
    page.wait_for_selector("#pl-curves .pl-curves-status", timeout=60_000)     # partial: still computing
    partial_lines = page.eval_on_selector_all("#pl-curves polyline", "els => els.length")
    assert partial_lines >= 1 and "Still computing" in page.inner_text("#pl-curves")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "curves-partial.png"), full_page=False)
    page.wait_for_function("() => document.querySelector('#pl-curves') && "
                           "!document.querySelector('#pl-curves .pl-curves-status')", timeout=300_000)
    assert page.eval_on_selector_all("#pl-curves polyline", "els => els.length") > partial_lines
    title = page.locator("#pl-curves .pl-point title").first.text_content()
    assert "accuracy" in title and "sparsity" in title
    page.locator("#pl-show-0").uncheck()                                # hide a method
    assert not page.locator("#pl-curves .pl-m0").first.is_visible()
    assert page.locator("#pl-curves .pl-star").count() == 1
    page.screenshot(path=str(ARTIFACTS / "curves.png"), full_page=False)


def test_seven_tabs_of_one_browser_all_load_and_answer(browser, server_url):
    """A browser gives one host 6 connections (HTTP/1.1): an idle tab must hold none, or tabs past the
    5th never load (as they did while Gradio kept a heartbeat stream open for each page)."""
    pages = []
    try:
        for amount in (f"{tenths / 10:.2f}" for tenths in range(2, 9)):
            pages.append(open_page(browser, server_url, f"?model=lenet&amount={amount}&scope=global"))
            pages[-1].wait_for_selector(f"#accuracy-panel[data-amount='{amount}']", timeout=30_000)
        before = pages[0].get_attribute("#accuracy-panel", "data-answer")
        pages[0].fill("#amount-slider input[type=number]", "0.75")
        pages[0].press("#amount-slider input[type=number]", "Tab")
        pages[0].wait_for_selector("#accuracy-panel[data-amount='0.75']", timeout=30_000)
        assert pages[0].get_attribute("#accuracy-panel", "data-answer") != before
    finally:
        for page in pages:
            page.close()
