"""The slider grid (pruning/grid.py): every setting the sliders reach, the default first, measured in
the background into the store, pausing while a page's update runs."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import replace

from pruning import list_methods, runtime
from pruning.grid import AMOUNTS, DEFAULT_SETTING, THRESHOLDS, GridFiller, grid_order, slider_settings
from pruning.measure_key import setting_key
from pruning.nm import PATTERNS
from pruning.store import MeasurementStore


def test_the_grid_holds_every_slider_setting_once():
    settings = slider_settings("lenet")
    amount_methods = [m for m in list_methods() if replace(DEFAULT_SETTING, method=m).method_entry.uses_amount]
    assert len(settings) == len(set(settings)) == 2 * len(AMOUNTS) * len(amount_methods) + len(THRESHOLDS) + len(PATTERNS)
    assert all(s.model == "lenet" for s in settings)


def test_the_default_setting_comes_first_then_its_line_nearest_first():
    order = grid_order(["lenet", "mlp"])
    assert order[0] == DEFAULT_SETTING
    line = order[:len(AMOUNTS)]
    assert {(c.method, c.scope) for c in line} == {(DEFAULT_SETTING.method, DEFAULT_SETTING.scope)}
    distances = [abs(c.amount - DEFAULT_SETTING.amount) for c in line]
    assert distances == sorted(distances)
    assert order[-1].model == "mlp" and len(order) == 2 * len(slider_settings("lenet"))


def test_the_filler_measures_the_grid_into_the_store_and_counts_it(heldout, monkeypatch):
    store = MeasurementStore(None)
    filler = GridFiller(store, heldout, ["mlp"])
    monkeypatch.setattr(filler, "settings", filler.settings[:12])                 # a small grid
    filler.start()
    deadline = time.monotonic() + 120
    while filler.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    status = filler.status()
    assert status.measured == status.total == 12 and not status.running
    assert store.known(setting_key(c, heldout) for c in filler.settings[:12]) == \
        {setting_key(c, heldout) for c in filler.settings[:12]}


def test_the_filler_waits_while_a_page_is_being_answered(heldout, monkeypatch):
    store = MeasurementStore(None)
    filler = GridFiller(store, heldout, ["mlp"])
    monkeypatch.setattr(filler, "settings", filler.settings[:3])
    with runtime.interactive():
        filler.start()
        time.sleep(0.8)
        assert len(store) == 0                                       # nothing measured during live work
    deadline = time.monotonic() + 60
    while filler.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert filler.status().measured == 3
    filler.stop()


def test_a_preferred_line_is_measured_next_nearest_amount_first(heldout):
    filler = GridFiller(MeasurementStore(None), heldout, ["lenet", "mlp"])
    keys = {config: setting_key(config, heldout) for config in filler.settings}
    asked = replace(DEFAULT_SETTING, model="mlp", method="random_unstructured", scope="local", amount=0.3)
    filler.prefer(asked)
    queue = deque(filler.settings)
    chosen = [filler._next(queue, keys, set()) for _ in range(len(AMOUNTS))]
    assert {(c.model, c.method, c.scope) for c in chosen} == {("mlp", "random_unstructured", "local")}
    assert sorted(c.amount for c in chosen) == sorted(AMOUNTS)                   # the whole line, once each
    distances = [abs(c.amount - 0.3) for c in chosen]
    assert chosen[0].amount == 0.3 and distances == sorted(distances)
    assert filler._next(queue, keys, set()) == filler.settings[0]                # then the grid's own order
