"""The app in real headless Chromium: move the amount slider (an /update), draw a digit (a /draw, no
re-pruning), see the page change."""
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import app
from tests.ui_helpers import chromium, server_url  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


class Events:
    """The event functions the page asks the server to run (read from its queue requests), in order."""

    def __init__(self):
        self.names: list[str] = []

    def record(self, request) -> None:
        if request.method == "POST" and urlsplit(request.url).path.endswith("/queue/join"):
            fn = app.demo.fns[request.post_data_json["fn_index"]]
            self.names.append(fn.api_name)

    def since(self, start: int) -> list[str]:
        return self.names[start:]


@pytest.fixture(scope="module")
def browser_page(server_url):
    with chromium() as context:
        page, events = context.new_page(), Events()
        page.on("request", events.record)
        page.goto(server_url)
        page.wait_for_selector("#accuracy-panel", timeout=60_000)
        yield page, events


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


def test_slider_and_sketch_update_the_page(browser_page):
    page, events = browser_page
    accuracy = page.inner_text("#accuracy-panel")
    chart = page.inner_text("#sparsity-chart")
    assert "Global sparsity 50.00%" in chart
    slider = page.locator("#amount-slider input[type=range]").bounding_box()
    middle = slider["y"] + slider["height"] / 2
    before_drag = len(events.names)
    answer = page.get_attribute("#accuracy-panel", "data-answer")
    drag(page, slider["x"] + 0.5 * slider["width"], middle, slider["x"] + 0.95 * slider["width"], middle)
    page.wait_for_function("a => document.querySelector('#accuracy-panel').dataset.answer !== a", arg=answer,
                           timeout=30_000)                     # the server's answer (the preview may come first)
    new_accuracy = wait_for_text(page, "#accuracy-panel", accuracy)
    amount = page.input_value("#amount-slider input[type=range]")
    assert page.get_attribute("#accuracy-panel", "data-amount") == f"{float(amount):.2f}"   # for the released value
    assert new_accuracy != accuracy and "%" in new_accuracy
    assert "Global sparsity 50.00%" not in page.inner_text("#sparsity-chart")
    assert "update_page" in events.since(before_drag) and "draw" not in events.since(before_drag)

    hint = page.inner_text("#label-after")
    assert "Draw a digit" in hint and "nothing drawn yet" in page.inner_text("#sketch-seen")
    page.wait_for_selector("#sketchpad canvas[data-ready=true]")          # the pad listens: draw at once
    pad = page.locator("#sketchpad canvas").first
    pad.scroll_into_view_if_needed()                                     # the mouse reaches what is on screen
    canvas = pad.bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    before_drawing, accuracy = len(events.names), page.inner_text("#accuracy-panel")
    drag(page, cx, cy - 70, cx, cy + 70)                                # a "1"
    after = wait_for_text(page, "#label-after", hint)
    before = page.inner_text("#label-before")
    assert "%" in after and "%" in before and "Draw a digit" not in before
    drawn = events.since(before_drawing)                                 # the drawing is read, nothing re-pruned
    assert "draw" in drawn and "update_page" not in drawn and "update" not in drawn, drawn
    assert page.inner_text("#accuracy-panel") == accuracy
    seen = page.locator("#sketch-seen img")                              # the inline 28x28 digit, drawn large
    assert seen.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 28, 28]
    assert seen.bounding_box()["width"] == 168
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser.png"), full_page=True)
    assert (ARTIFACTS / "browser.png").stat().st_size > 10_000
