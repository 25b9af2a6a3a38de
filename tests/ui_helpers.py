"""Helpers for the app's tests: the default setting, event functions called as one page, what the page shows."""
from __future__ import annotations

import tempfile
import shutil
import os
import contextlib
import base64
import io
import re
import socket
import uuid
from typing import Any

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from pruning import PruneResult, load_pretrained
from pruning.evaluate import probabilities
from ui import handlers, resources

# /update's inputs, in the order the page (and the HTTP API) sends them
SETTING = ["model", "method", "amount", "threshold", "scope", "per_type", "conv_amount", "linear_amount",
           "layer_types", "calibration_size", "norm", "seed"]
DEFAULTS = dict(model="lenet", method="l1_unstructured", amount=0.5, threshold=0.05, scope="global",
                per_type=False, conv_amount=0.2, linear_amount=0.4, layer_types=["conv", "linear"],
                calibration_size=256, norm="L1", seed=0)
UPDATE_OUTPUTS = list(handlers.UPDATE_OUTPUTS)


def new_request(name: str = "test") -> gr.Request:
    """The request of a new page: its own session hash and its own client address (the session store
    admits only so many new sessions per address and minute; each test page stands for one participant)."""
    tag = uuid.uuid4().hex[:12]
    return gr.Request(session_hash=f"{name}-{tag}", client={"host": f"test-{tag}"})


def run(request: gr.Request | None = None, **changes: Any) -> dict[str, Any]:
    """handlers.update with DEFAULTS changed by `changes` for `request`'s page (a new page if None):
    its outputs by name, plus "request" (to call other event functions as the same page)."""
    request = request or new_request()
    outputs = handlers.update(**{**DEFAULTS, **changes}, request=request)
    return {**dict(zip(UPDATE_OUTPUTS, outputs)), "request": request}


def api_args(**changes: Any) -> list:
    """/update's positional inputs over HTTP: DEFAULTS changed by `changes`."""
    values = {**DEFAULTS, **changes}
    return [values[name] for name in SETTING]


def seen_pixels(html: str) -> np.ndarray | None:
    """The digit shown under "What the model sees" (decoded from its inline PNG); None if no image."""
    found = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    return None if found is None else np.asarray(Image.open(io.BytesIO(base64.b64decode(found.group(1)))))


def percents(html: str) -> list[float]:
    """Every bold percentage of a view, in order."""
    return [float(v) for v in re.findall(r"<b>([\d.]+)%</b>", html)]


def drawn_copy(digit: np.ndarray, scale: int, top: int, left: int, size=(400, 500), rgba=True) -> dict:
    """A real test digit drawn as dark ink on a large white canvas, as the sketchpad sends it.
    (A copy of tests/test_sketch.py's helper: test files do not import each other.)"""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.BILINEAR))
    canvas = np.full(size, 255, np.uint8)
    canvas[top:top + big.shape[0], left:left + big.shape[1]] = 255 - big
    image = np.stack([canvas] * 3 + ([np.full_like(canvas, 255)] if rgba else []), -1)
    return {"background": None, "layers": [], "composite": image}


def pad_value(image: Any) -> str:
    """What the drawing pad sends for `image` (a uint8 array, a PIL image, or drawn_copy's value):
    a "data:image/png;base64,..." URL of it as a PNG (PIL keeps the image's mode: RGB, RGBA, L, P...)."""
    if isinstance(image, dict):
        image = image["composite"]
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def engine_labels(digit: torch.Tensor, result: PruneResult) -> tuple[dict[str, float], dict[str, float]]:
    """{class: probability} of a normalized (1, 1, 28, 28) digit by the dense and the pruned model,
    computed with the engine alone (what the page's labels must show)."""
    name = result.config.model
    dense = probabilities(load_pretrained(name)[0], name, digit)[0]           # (10,)
    pruned = probabilities(result.model, name, digit)[0]                       # (10,)
    return ({str(c): float(p) for c, p in enumerate(dense)}, {str(c): float(p) for c, p in enumerate(pruned)})


def top(label: dict[str, float]) -> str:
    """The class a {class: probability} label shows first."""
    return max(label, key=label.get)


def same_label(sent: dict, expected: dict[str, float], tolerance: float = 1e-5) -> bool:
    """A gr.Label value as the HTTP API sends it ({label, confidences}) equals `expected`."""
    return sent["label"] == top(expected) and all(
        abs(item["confidence"] - expected[item["label"]]) < tolerance for item in sent["confidences"])


class NoProgress:
    """Stands in for gr.Progress when event functions are called directly; remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str | None]] = []

    def __call__(self, fraction: float, desc: str | None = None) -> None:
        self.calls.append((fraction, desc))


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    """app.demo launched in this process with the app's own launch options; its URL. Every test client
    connects from 127.0.0.1, one address, so the store's cap on new sessions per address and minute
    (tested in test_session.py) is lifted while it runs."""
    import app                                         # the page itself: only for tests that serve it
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers.SESSIONS, "new_per_minute", 10_000)
        _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                    quiet=True, **app.LAUNCH_OPTIONS)
        try:
            yield url
        finally:
            app.demo.close()


@pytest.fixture
def fresh_sweeps(monkeypatch, tmp_path):
    """The server's sweep cache and measurement store, empty and kept under tmp_path: nothing computed
    yet, nothing read from disk."""
    monkeypatch.setenv(resources.CACHE_ENV, str(tmp_path / "sweeps"))
    for made in (resources.sweep_cache, resources.store, resources.grid_filler):
        made.cache_clear()
    yield tmp_path / "sweeps"
    resources.sweep_cache().stop()          # a sweep a test left running must not outlive the process
    for made in (resources.sweep_cache, resources.store, resources.grid_filler):
        made.cache_clear()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1280, 900)):
    """A headless Debian Chromium context with a fresh profile (a failure in CI if it is missing)."""
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": viewport[0], "height": viewport[1]})
        try:
            yield context
        finally:
            context.close()
