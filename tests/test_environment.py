"""ui/environment.py: the process set-up the app makes before gradio is imported."""
from __future__ import annotations

import pytest


def test_gradios_per_event_monitoring_summary_is_rebuilt_rarely(monkeypatch):
    import app
    queue = app.demo._queue
    assert queue.ANAYLTICS_CACHE_FREQUENCY >= 1000 and queue.ANALYTICS_MAX_EVENTS <= 1000
    monkeypatch.setattr(queue, "_get_df", lambda records: pytest.fail("the summary was rebuilt"))
    monkeypatch.setattr(queue, "events_recorded", queue.event_count_at_last_cache + 500)
    records = [{"function": "update_page", "status": "success", "process_time": 0.01}] * 500
    assert queue.compute_analytics_summary(records) is queue.cached_event_analytics_summary
