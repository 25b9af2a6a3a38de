"""The Papers tab in real headless Chromium: run the default lottery-ticket lesson and see its plot."""
from pathlib import Path

import pytest

from tests.ui_helpers import chromium, server_url  # noqa: F401  (a fixture)
from ui import papers

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def open_papers_tab(page) -> None:
    """Click the Papers tab (the tab row wraps: every tab is in it, tests/test_browser_phone.py)."""
    page.get_by_role("tab", name="Papers", exact=True).click()
    page.wait_for_selector("#lottery-run", timeout=10_000)


def test_the_default_lottery_lesson_runs_and_shows_its_plot(server_url, monkeypatch):
    monkeypatch.setattr(papers, "_RESULTS", {})                     # computed now, not kept from another test
    with chromium() as context:
        page = context.new_page()
        page.goto(server_url)
        page.wait_for_selector("#accuracy-panel", timeout=60_000)
        open_papers_tab(page)
        page.locator("#lottery-run").click()
        page.wait_for_function("() => document.querySelector('#lottery-text').innerText.includes('Measured here')",
                               timeout=180_000)
        image = page.locator("#lottery-plot img").first
        assert image.evaluate("img => img.complete && img.naturalWidth > 300")
        text = page.inner_text("#lottery-text")
        assert "5 rounds" in text and "random re-init" in text
        assert "Frankle & Carbin" in page.inner_text("#papers-tab")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-papers.png"), full_page=True)
