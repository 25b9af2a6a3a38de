"""Drag preview (issue 22): while the amount slider is dragged, do the bars repaint every frame, and with
the grid's measured numbers for the thumb's position? Timed inside headless Chromium."""
from __future__ import annotations

import os
import sqlite3  # noqa: F401  (the store the app reads is written here first)
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.common import CHROMIUM, CHROMIUM_FLAGS, free_port, mnist_dir, record, start_script, stop, wait_for_server

FPS_TARGET = 30.0
MOVES = 90                    # mouse moves of one drag, one per ~16 ms: across the track and back
# Every animation frame of the drag: the slider's value and what the panel and the first bar show
FRAMES_JS = """() => { const p = window.__frames = []; const q = s => document.querySelector(s);
  const tick = t => { const r = q('#amount-slider input[type=range]'), a = q('#accuracy-panel .pl-after-value');
    const b = q('#sparsity-chart .pl-row .pl-value b');
    p.push([t, r && r.value, a && a.textContent, b && b.textContent,
            q('#accuracy-panel').classList.contains('pl-stale')]);
    if (!window.__stopFrames) requestAnimationFrame(tick); };
  window.__stopFrames = false; requestAnimationFrame(tick); }"""


def fill_line(cache: Path) -> dict[str, tuple[str, str]]:
    """Measure lenet's default line (l1_unstructured, global, every amount step) into the store the app
    will read; {"0.50": (accuracy after %, first layer %)}: what the page must show at each step."""
    os.environ["PRUNING_LAB_DATA_DIR"] = mnist_dir()
    from pruning import default_eval_set, runtime, shared
    from pruning.grid import AMOUNTS, DEFAULT_SETTING
    from pruning.store import MeasurementStore
    runtime.start()
    eval_set, store = default_eval_set(), MeasurementStore(cache / "measurements.sqlite")
    expected = {}
    for amount in AMOUNTS:
        result = shared.measured(replace(DEFAULT_SETTING, amount=amount), eval_set, store)
        expected[f"{amount:.2f}"] = (f"{100 * result.accuracy_after:.2f}%", f"{100 * result.layers[0].sparsity:.2f}%")
    return expected


def drag_frames(page) -> tuple[list, float]:
    """One slow drag (MOVES moves, ~16 ms apart) across the track and back; the frames and seconds."""
    box = page.locator("#amount-slider input[type=range]").bounding_box()
    y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    page.evaluate(FRAMES_JS)
    page.mouse.move(left + 0.05 * width, y)
    page.mouse.down()
    start = page.evaluate("() => performance.now()")
    for i in range(MOVES):
        there_and_back = 1 - abs(1 - 2 * i / MOVES)                # 0 -> 1 -> 0
        page.mouse.move(left + (0.05 + 0.9 * there_and_back) * width, y)
        page.wait_for_timeout(16)
    end = page.evaluate("() => performance.now()")
    frames = page.evaluate("() => { window.__stopFrames = true; return window.__frames; }")
    page.mouse.up()
    return [f for f in frames if start <= f[0] <= end], (end - start) / 1000


def judge(frames: list, seconds: float, expected: dict) -> dict:
    """Frames per second that show the grid's numbers for the slider's value at that frame, the share of
    frames that show anything else (0 is the target), and how many distinct settings were shown."""
    right = [f for f in frames if f[1] is not None and expected.get(f"{float(f[1]):.2f}") == (f[2], f[3])
             and not f[4]]
    wrong = [f for f in frames if f not in right]
    return {"fps_right": len(right) / seconds, "frames": len(frames), "wrong": len(wrong),
            "settings_shown": len({f[1] for f in right}), "seconds": seconds, "first_wrong": wrong[:3]}


def measure(quick: bool, screenshot_dir: str | None = None) -> list[dict]:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="drag-preview-") as temp:
        expected = fill_line(Path(temp))
        port = free_port()
        server = start_script(["app.py", "--port", str(port), "--no-precompute"], port, Path(temp) / "app.log",
                              env={"PRUNING_LAB_DATA_DIR": mnist_dir(), "PRUNING_LAB_CACHE_DIR": temp})
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for_server(url, server, Path(temp) / "app.log")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                page.wait_for_function("() => (document.querySelector('#grid-data [data-grid]') || {dataset: {}})"
                                       ".dataset.grid?.length > 1000", timeout=120_000)
                runs = [judge(*drag_frames(page), expected) for _ in range(2 if quick else 5)]
                if screenshot_dir:
                    shoot(page, screenshot_dir)
                browser.close()
        finally:
            stop(server)
    return [record("drag: frames/s showing the grid's numbers for the thumb", [r["fps_right"] for r in runs],
                   "fps", FPS_TARGET, higher_is_better=True, runs=runs),
            record("drag: frames showing other numbers (stale or wrong)", [r["wrong"] for r in runs], "n", None)]


def shoot(page, directory: str) -> None:
    """Mid-drag screenshots (thumb held at ~0.8) for a person to look at."""
    box = page.locator("#amount-slider input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.5 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * box["width"], y, steps=8)
    page.screenshot(path=os.path.join(directory, "drag-1280.png"))
    page.mouse.up()


def run(quick: bool = False) -> list[dict]:
    rows = measure(quick)
    if rows[0]["median"] < FPS_TARGET:
        print(f"drag runs: {rows[0].get('runs')}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table
    rows = measure("--quick" in sys.argv, screenshot_dir=os.environ.get("SHOTS"))
    print_table(rows)
    for r in rows[0]["runs"]:
        print(r)
