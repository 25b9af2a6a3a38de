"""The drag preview: the current slider line's measured grid points, sent to the page as compact JSON."""
from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from pruning import DigitSet, PruneConfig
from pruning.grid import AMOUNTS, DEFAULT_SETTING, slider_settings
from pruning.measure_key import canonical_config, eval_set_digest, setting_key
from pruning.store import MeasurementStore
from ui import views

PREVIEW_JS = (Path(__file__).parent / "preview.js").read_text()
EMPTY = "<div data-grid='{}' data-line=\"\"></div>"


@lru_cache(maxsize=8)
def _grid_settings(model: str) -> frozenset[PruneConfig]:
    return frozenset(slider_settings(model, DEFAULT_SETTING))


def grid_line(config: PruneConfig) -> tuple[PruneConfig, ...] | None:
    """The amount slider's settings through `config` if it is a grid setting of an amount method (the
    default advanced options): one per amount step; None otherwise (no preview: the page dims)."""
    canonical = canonical_config(config)
    if not config.method_entry.uses_amount or canonical not in _grid_settings(config.model):
        return None
    return _line(replace(canonical, amount=DEFAULT_SETTING.amount))


@lru_cache(maxsize=64)
def _line(anchor: PruneConfig) -> tuple[PruneConfig, ...]:
    return tuple(replace(anchor, amount=amount) for amount in AMOUNTS)


def point(result) -> list:
    """One grid point as the page's preview applies it: [after %, change, tone, global %, nonzero
    parameters, [[layer after %, layer zeros], ...]], the strings exactly those the views render."""
    after, change, tone = views.accuracy_numbers(result)
    layers = [[views.layer_numbers(layer)[0], layer.zeros] for layer in result.layers]
    return [after, change, tone.removeprefix("pl-"), f"{100 * result.global_sparsity:.2f}", result.nonzero_params, layers]


class LinePoints:
    """Formatted grid points per line, read from the store once each (the store is the truth: a point
    is only ever what was measured for exactly that setting), and the line's weights per layer. A line's
    missing points are looked for again when this process stored a measurement, or after `recheck_s`
    (another process writing the same store): not on every answer, each SQLite call costing a busy
    server milliseconds."""

    def __init__(self, recheck_s: float = 1.0) -> None:
        self.recheck_s = recheck_s
        self._points: dict[tuple, dict[str, list]] = {}
        self._totals: dict[tuple, list[int]] = {}
        self._keys: dict[tuple, list[str]] = {}
        self._checked: dict[tuple, tuple[int, float]] = {}          # line -> (store writes, monotonic time)
        self._lock = threading.Lock()

    def points(self, line: tuple[PruneConfig, ...], store: MeasurementStore,
               eval_set: DigitSet) -> tuple[dict[str, list], list[int]]:
        """({"0.50": point, ...} for every measured setting of the line, weights per layer)."""
        digest = eval_set_digest(eval_set)
        with self._lock:
            keys = self._keys.get((digest, line))
            if keys is None:
                keys = self._keys[(digest, line)] = [setting_key(config, eval_set) for config in line]
            found = self._points.setdefault((id(store), digest, line), {})     # one store's, one set's
            missing = {key: config for key, config in zip(keys, line) if f"{config.amount:.2f}" not in found}
            if missing and not self._due((id(store), digest, line), store):
                missing = {}
        for key in store.known(missing) if missing else ():
            measurement = store.lookup(key)
            if measurement is not None:
                found[f"{missing[key].amount:.2f}"] = point(measurement.result(missing[key]))
                self._totals[line] = [layer.total for layer in measurement.layers]
        return dict(found), self._totals.get(line, [])

    def _due(self, line: tuple, store: MeasurementStore) -> bool:
        """Whether a line's missing points are to be looked for now (called under the lock)."""
        writes, at = self._checked.get(line, (-1, 0.0))
        now = time.monotonic()
        if writes == store.writes and now - at < self.recheck_s:
            return False
        self._checked[line] = (store.writes, now)
        return True


LINES = LinePoints()


def grid_data(config: PruneConfig, store: MeasurementStore, eval_set: DigitSet) -> tuple[str, int]:
    """(the hidden element the preview reads, how many points it holds) for the line of `config`:
    {"totals": weights per layer, "points": one entry per amount step (null: not measured yet)}."""
    line = grid_line(config)
    if line is None:
        return EMPTY, 0
    points, totals = LINES.points(line, store, eval_set)
    if not points:
        return EMPTY, 0
    payload = {"totals": totals, "points": [points.get(f"{amount:.2f}") for amount in AMOUNTS]}
    text = json.dumps(payload, separators=(",", ":")).replace("&", "&amp;").replace("'", "&#39;")
    return f"<div data-grid='{text}' data-line=\"{html.escape(views.line_of(config))}\"></div>", len(points)
