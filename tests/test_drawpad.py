"""The drawing pad in headless Chromium: mouse and touch strokes draw at once, the handler gets the digit, Clear empties it."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from pruning import load_pretrained
from pruning.evaluate import probabilities
from pruning.sketch import SketchError, preprocess_sketch
from ui.drawpad import PAD_PIXELS, drawpad, pad_image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]     # a "7" as fractions of the pad: bar, then the stem
DARK = 128                                          # a pad pixel darker than this (0..255) is ink


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def echo_demo(received: list) -> gr.Blocks:
    """A page with the pad and a handler that records each value and shows what lenet sees and reads."""
    lenet = load_pretrained("lenet")[0]

    def echo(value):
        received.append(value)
        processed = preprocess_sketch(pad_image(value))
        if processed is None:
            return None, "nothing drawn"
        digit, x = processed                                      # (28, 28) uint8, (1, 1, 28, 28)
        shown = np.kron(digit, np.ones((5, 5), np.uint8))         # (140, 140), nearest neighbour
        return shown, f"lenet reads {int(probabilities(lenet, 'lenet', x).argmax())}"

    with gr.Blocks(analytics_enabled=False) as demo:          # no network calls from the test
        pad = drawpad()
        with gr.Row():
            seen = gr.Image(label="What the model sees", height=200, elem_id="seen")
            reading = gr.Textbox(label="Reading", elem_id="reading")
        gr.HTML('<div style="height: 1200px">(room to scroll)</div>')   # a page a finger could scroll
        pad.change(echo, pad, [seen, reading], trigger_mode="always_last")
    return demo


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    received: list = []
    demo = echo_demo(received)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True)
    yield url, received
    demo.close()


@contextmanager
def browser_page(url: str, **options):
    """A page of a fresh Chromium profile, loaded with the pad ready."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, args=FLAGS, headless=True, **options)
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#drawpad canvas[data-ready]", timeout=60_000)
            # two frames after the pad is ready, so Chromium's compositor has the page's hit-test
            # regions (a touch sent before the first paint reaches no element: seen 1 in 4 here)
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            yield page
        finally:
            context.close()


def stroke_points(page, fractions, steps: int = 12) -> list[tuple[float, float]]:
    """Page coordinates along the polyline `fractions` of the pad's on-screen box."""
    box = page.locator("#drawpad canvas").bounding_box()
    corners = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in fractions]
    points = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        points += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(1, steps + 1)]
    return points


def touch_stroke(page, points) -> None:
    """One finger down, along `points`, up: real touch input through Chromium's DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    (x, y), rest = points[0], points[1:]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in rest:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def canvas_ink(page) -> dict:
    """Dark pixels on the pad's bitmap: their count and bounding box in canvas pixels."""
    return page.locator("#drawpad canvas").evaluate(f"""canvas => {{
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0, x0 = canvas.width, y0 = canvas.height, x1 = -1, y1 = -1;
        for (let i = 0; i < data.length; i += 4) {{
            if (data[i] < {DARK}) {{
                const x = (i / 4) % canvas.width, y = Math.floor(i / 4 / canvas.width);
                count++; x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
            }}
        }}
        return {{count, width: x1 - x0 + 1, height: y1 - y0 + 1}};
    }}""")


def next_value(received: list, seen: int, after: str, timeout: float = 30.0) -> tuple[object, float]:
    """The first value the handler received after the `seen` earlier ones, and how long it took."""
    start = time.monotonic()
    while len(received) <= seen:
        assert time.monotonic() - start < timeout, f"the handler received nothing {timeout:.0f} s after {after}"
        time.sleep(0.02)
    return received[seen], time.monotonic() - start


def class_ink_range(mnist_test, label: int) -> tuple[float, float]:
    """10th and 90th percentile of the count of pixels > 127 in the official test digits of `label`."""
    counts = (mnist_test.images[mnist_test.labels == label] > 127).flatten(1).sum(1).numpy()
    return tuple(np.percentile(counts, [10, 90]))


def check_whole_stroke(page) -> None:
    """The pad shows the whole "7" (spanning 0.2-0.8 x 0.15-0.9 of it), not a stroke cut short."""
    ink = canvas_ink(page)
    assert ink["width"] >= 0.55 * PAD_PIXELS and ink["height"] >= 0.7 * PAD_PIXELS, f"stroke cut short: {ink}"


def check_drawn_seven(value, mnist_test) -> None:
    """The handler got a PNG data URL of a non-blank digit that looks like MNIST and reads as 7."""
    assert isinstance(value, str) and value.startswith("data:image/png;base64,")
    digit, x = preprocess_sketch(pad_image(value))
    low, high = class_ink_range(mnist_test, 7)
    ink = int((digit > 127).sum())
    assert low <= ink <= high, f"{ink} pixels > 127: MNIST's 7s have {low:.0f}-{high:.0f} (10th-90th percentile)"
    assert int(probabilities(load_pretrained("lenet")[0], "lenet", x).argmax()) == 7


@pytest.mark.browser
@pytest.mark.slow
def test_mouse_draws_on_first_press_and_clear_empties(server, mnist_test):
    url, received = server
    with browser_page(url, viewport={"width": 1280, "height": 900}) as page:
        before = len(received)
        points = stroke_points(page, SEVEN)
        page.mouse.move(*points[0])
        page.mouse.down()                                          # no tool picked, nothing clicked first
        for point in points[1:]:
            page.mouse.move(*point)
        page.mouse.up()
        value, seconds = next_value(received, before, "the mouse stroke")
        print(f"mouse stroke -> handler: {seconds:.2f} s")
        check_whole_stroke(page)
        check_drawn_seven(value, mnist_test)
        page.wait_for_function("() => document.querySelector('#reading textarea').value === 'lenet reads 7'")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "drawpad-desktop.png"))

        before = len(received)
        page.click("#drawpad .drawpad-clear")
        value, _ = next_value(received, before, "a click on Clear")
        assert value == "" and preprocess_sketch(pad_image(value)) is None
        assert canvas_ink(page)["count"] == 0
        page.wait_for_function("() => document.querySelector('#reading textarea').value === 'nothing drawn'")


@pytest.mark.browser
@pytest.mark.slow
def test_finger_draws_on_first_touch_on_a_phone(server, mnist_test):
    url, received = server
    with browser_page(url, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                      device_scale_factor=2) as page:
        box = page.locator("#drawpad canvas").bounding_box()
        clear = page.locator("#drawpad .drawpad-clear").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 250   # fits, big enough
        assert clear["x"] + clear["width"] <= 390 and clear["height"] >= 32                # a finger can hit it
        page_height = page.evaluate("document.scrollingElement.scrollHeight")
        assert page_height > 844                                   # the page could scroll under a finger
        before, scrolled = len(received), page.evaluate("window.scrollY")
        touch_stroke(page, stroke_points(page, SEVEN))
        value, seconds = next_value(received, before, "the touch stroke")
        print(f"touch stroke -> handler: {seconds:.2f} s")
        check_whole_stroke(page)
        check_drawn_seven(value, mnist_test)
        assert page.evaluate("window.scrollY") == scrolled         # the finger drew, the page did not move
        page.wait_for_function("() => document.querySelector('#reading textarea').value === 'lenet reads 7'")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "drawpad-phone.png"))

        before = len(received)
        page.tap("#drawpad .drawpad-clear")
        value, _ = next_value(received, before, "a tap on Clear")
        assert value == "" and canvas_ink(page)["count"] == 0


# --- the value's check (no browser): only data URLs reach the decoder --------------------------------

def test_pad_image_passes_data_urls_and_nothing_drawn():
    assert pad_image(None) is None and pad_image("") is None and pad_image("  ") is None
    url = "data:image/png;base64,iVBORw0KGgo="
    assert pad_image(url) == url


@pytest.mark.parametrize("value", ["/etc/passwd", "README.md", "http://example.com/a.png", 42,
                                   {"composite": None}, b"data:image/png;base64,"])
def test_pad_image_refuses_paths_and_other_values(value):
    with pytest.raises(SketchError, match="data:image/png"):
        pad_image(value)


# --- an unreadable drawing: the reason in the page's own "what the model sees" panel -----------------

def huge_png_url(side: int = 9000) -> str:
    """A valid, well-compressed PNG data URL of a blank side x side image (small to send, huge to decode)."""
    import base64
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("value, reason", [
    (lambda: huge_png_url(), "image too large ("),     # (its size, or "more than": PIL's own bound)
    (lambda: "data:image/png;base64," + "A" * (5 << 20), "image data too large"),
    (lambda: "data:image/png;base64,bm90IGFuIGltYWdl", "not a readable image file"),
    (lambda: "/etc/passwd", "the drawing pad sends a data:image/png;base64 URL"),
])
def test_an_unreadable_drawing_is_explained_in_the_panel_not_only_a_toast(value, reason):
    from tests.ui_helpers import run
    from ui import handlers
    page = run()
    with pytest.warns(UserWarning, match="Could not read the drawing"):
        seen, before, after = handlers.draw(value(), page["request"])
    assert "What the model sees" in seen and "<img" not in seen
    assert f"Could not read the drawing: {reason}" in seen and "draw again" in seen
    assert before == handlers.BLANK_HINT == after
    assert len(seen) < 1000                                          # the bad value is not echoed back


def test_nothing_drawn_keeps_the_quiet_placeholder():
    from ui import handlers, views
    from tests.ui_helpers import run
    seen, *_ = handlers.draw("", run()["request"])
    assert seen == views.seen_digit(None) and "Could not read" not in seen
