"""The drag preview's data (ui/preview.py): a grid line's measured points, as exactly the strings the
views render for those settings; nothing for settings off the grid."""
from __future__ import annotations

import html
import json
import re
from dataclasses import replace

from pruning import shared
from pruning.grid import AMOUNTS, DEFAULT_SETTING
from pruning.store import MeasurementStore
from ui import preview, views


def payload(element: str) -> dict:
    return json.loads(html.unescape(re.search(r"data-grid='([^']*)'", element).group(1)))


def test_each_point_shows_what_the_page_shows_after_release(heldout):
    store = MeasurementStore(None)
    measured = {a: shared.measured(replace(DEFAULT_SETTING, model="mlp", amount=a), heldout, store)
                for a in (0.2, 0.5, 0.9)}
    element, count = preview.grid_data(replace(DEFAULT_SETTING, model="mlp", amount=0.5), store, heldout)
    data = payload(element)
    assert count == 3 and len(data["points"]) == len(AMOUNTS)
    assert [i for i, p in enumerate(data["points"]) if p] == [20, 50, 90]
    for amount, result in measured.items():
        after, change, tone, global_text, nonzero, layers = data["points"][round(amount * 100)]
        panel, chart = views.accuracy_panel(result), views.sparsity_chart(result)
        assert f"{after}%</span>" in panel and f"({change} points)" in panel and f"pl-{tone}" in panel
        assert f"Global sparsity <b>{global_text}%</b>" in chart and f"<b>{nonzero:,}</b>" in chart
        for (percent, zeros), total in zip(layers, data["totals"]):
            assert f"<b>{percent}%</b><small>{zeros:,} / {total:,} zero</small>" in chart


def test_settings_off_the_grid_get_no_points(heldout):
    store = MeasurementStore(None)
    for config in (replace(DEFAULT_SETTING, seed=3), replace(DEFAULT_SETTING, method="threshold"),
                   replace(DEFAULT_SETTING, layer_types=("linear",))):
        shared.measured(config, heldout, store)
        assert preview.grid_data(config, store, heldout) == (preview.EMPTY, 0)


def test_a_lines_missing_points_are_looked_for_again_only_after_a_write_or_a_while(heldout, monkeypatch):
    lines, store = preview.LinePoints(recheck_s=3600), MeasurementStore(None)
    line = preview.grid_line(replace(DEFAULT_SETTING, model="mlp"))
    shared.measured(replace(DEFAULT_SETTING, model="mlp", amount=0.3), heldout, store)
    assert list(lines.points(line, store, heldout)[0]) == ["0.30"]
    asked = []
    real_known = store.known
    monkeypatch.setattr(store, "known", lambda keys: asked.append(1) or real_known(keys))
    lines.points(line, store, heldout)
    assert asked == []                                          # nothing stored since: no query
    shared.measured(replace(DEFAULT_SETTING, model="mlp", amount=0.7), heldout, store)
    assert sorted(lines.points(line, store, heldout)[0]) == ["0.30", "0.70"] and asked == [1]
    lines.recheck_s = 0                                         # another process may have written: looked for
    lines.points(line, store, heldout)
    assert asked == [1, 1]
