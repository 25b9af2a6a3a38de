"""The app in real headless Chromium: move the amount slider, draw a digit, see the page change."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import app
from tests.test_server import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def page():
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, **app.LAUNCH_OPTIONS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#accuracy-panel", timeout=60_000)
        yield page
        context.close()
    app.demo.close()


def wait_for_text(page, selector: str, old: str, needle: str = "%") -> str:
    """Wait until the element's text differs from `old` and holds `needle` (not a progress timer)."""
    page.wait_for_function("([s, old, needle]) => { const t = document.querySelector(s).innerText;"
                           " return t !== old && t.includes(needle) && !/\\d\\.\\ds/.test(t); }",
                           arg=[selector, old, needle], timeout=30_000)
    return page.inner_text(selector)


def drag(page, x0: float, y0: float, x1: float, y1: float) -> None:
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=15)
    page.mouse.up()


def test_slider_and_sketch_update_the_page(page):
    accuracy = page.inner_text("#accuracy-panel")
    chart = page.inner_text("#sparsity-chart")
    assert "Global sparsity 50.00%" in chart
    slider = page.locator("#amount-slider input[type=range]").bounding_box()
    middle = slider["y"] + slider["height"] / 2
    drag(page, slider["x"] + 0.5 * slider["width"], middle, slider["x"] + 0.95 * slider["width"], middle)
    new_accuracy = wait_for_text(page, "#accuracy-panel", accuracy)
    assert new_accuracy != accuracy and "%" in new_accuracy
    assert "Global sparsity 50.00%" not in page.inner_text("#sparsity-chart")

    hint = page.inner_text("#label-after")
    assert "Draw a digit" in hint and "nothing drawn yet" in page.inner_text("#sketch-seen")
    page.locator("#sketchpad button[aria-label=Brush]").click()
    canvas = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    drag(page, cx, cy - 70, cx, cy + 70)                                # a "1"
    after = wait_for_text(page, "#label-after", hint)
    before = page.inner_text("#label-before")
    assert "%" in after and "%" in before and "Draw a digit" not in before
    seen = page.locator("#sketch-seen img")                              # the inline 28x28 digit, drawn large
    assert seen.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 28, 28]
    assert seen.bounding_box()["width"] == 168
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser.png"), full_page=True)
    assert (ARTIFACTS / "browser.png").stat().st_size > 10_000
