"""The slider grid: every setting the page's sliders reach (default advanced options), measured in the background."""
from __future__ import annotations

import copy
import logging
import threading
from collections import deque
from dataclasses import dataclass, replace

import torch

from .checkpoint import load_pretrained
from .config import SCOPES, PruneConfig
from .data import DigitSet
from .importance import ImportanceContext
from .measure_key import canonical_config, setting_key
from .methods import get_method, list_methods
from .nm import PATTERNS
from .pruner import importance_scores
from .runtime import become_background_thread, wait_for_quiet
from .shared import measured
from .store import MeasurementStore

log = logging.getLogger("pruning_lab")
AMOUNT_MAX, AMOUNT_STEP = 0.99, 0.01           # the page's amount slider
THRESHOLD_MAX, THRESHOLD_STEP = 0.5, 0.005     # the page's threshold slider
AMOUNTS = tuple(round(AMOUNT_STEP * i, 2) for i in range(round(AMOUNT_MAX / AMOUNT_STEP) + 1))
THRESHOLDS = tuple(round(THRESHOLD_STEP * i, 3) for i in range(round(THRESHOLD_MAX / THRESHOLD_STEP) + 1))
CURVE_STEP = 0.05                              # the curves' amounts are measured before the finer steps
DEFAULT_SETTING = PruneConfig(model="lenet", method="l1_unstructured", amount=0.5, scope="global")   # the page's


def slider_settings(model: str, base: PruneConfig | None = None) -> list[PruneConfig]:
    """Every distinct setting of `model` the sliders reach with `base`'s other options: each amount step
    x scope for methods with an amount, each threshold step for "threshold", each N:M pattern."""
    base = replace(base or PruneConfig(), model=model, conv_amount=None, linear_amount=None, layer_amounts=())
    settings: dict[PruneConfig, None] = {}
    for method in list_methods():
        entry = get_method(method)
        if entry.uses_amount:
            configs = [replace(base, method=method, scope=s, amount=a) for s in SCOPES for a in AMOUNTS]
        elif entry.uses_threshold:
            configs = [replace(base, method=method, threshold=t) for t in THRESHOLDS]
        else:
            configs = [replace(base, method=method, nm=pattern) for pattern in PATTERNS]
        settings.update((canonical_config(c), None) for c in configs)
    return list(settings)


def _priority(config: PruneConfig, default: PruneConfig, methods: list[str]) -> tuple:
    """Default line first (nearest its amount first), then every line's curve points, then the rest."""
    entry = config.method_entry
    on_default_line = config.method == default.method and config.scope == default.scope
    coarse = not entry.uses_amount or abs(config.amount / CURVE_STEP - round(config.amount / CURVE_STEP)) < 1e-6
    distance = abs(config.threshold - default.threshold) if entry.uses_threshold else abs(config.amount - default.amount)
    return (0 if on_default_line else 1 if coarse else 2, methods.index(config.method),
            SCOPES.index(config.scope), distance)


def grid_order(models: list[str], default: PruneConfig = DEFAULT_SETTING) -> list[PruneConfig]:
    """The grid of every model, in the order it is measured: model by model (the given order), within
    a model by _priority (what a participant reaches first, first)."""
    methods = list_methods()
    return [config for model in models
            for config in sorted(slider_settings(model, default), key=lambda c: _priority(c, default, methods))]


@dataclass(frozen=True)
class GridStatus:
    """How far the grid is: settings measured (stored) of all, and whether the filler still runs."""

    measured: int
    total: int
    running: bool


class GridFiller:
    """Measures the grid into the store in one background thread at the lowest priority, pausing while a
    page's update runs (runtime.interactive); a line a participant is on (`prefer`) goes first."""

    def __init__(self, store: MeasurementStore, eval_set: DigitSet, models: list[str],
                 default: PruneConfig = DEFAULT_SETTING) -> None:
        self.store, self.eval_set = store, eval_set
        self.settings = grid_order(models, default)
        self._lines: dict[tuple[str, str, str], list[PruneConfig]] = {}      # (model, method, scope) -> line
        for config in self.settings:
            self._lines.setdefault((config.model, config.method, config.scope), []).append(config)
        self._measured: int | None = None
        self._preferred: deque[PruneConfig] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scores: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
        self._calibration: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def start(self) -> "GridFiller":
        """Start the background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pruning-lab-grid", daemon=True)
            self._thread.start()
        return self

    def status(self) -> GridStatus:
        """Settings measured so far (read from the store once if the filler has not started)."""
        running = self._thread is not None and self._thread.is_alive()
        if self._thread is None and self._measured is None:
            self._measured = len(self.store.known(setting_key(c, self.eval_set) for c in self.settings))
        return GridStatus(self._measured or 0, len(self.settings), running)

    def prefer(self, config: PruneConfig) -> None:
        """Measure the line of `config` (its model, method, scope) next: someone is on it."""
        config = canonical_config(config)
        line = self._lines.get((config.model, config.method, config.scope), [])
        with self._lock:
            self._preferred = deque(sorted(line, key=lambda c: abs(c.amount - config.amount)))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current setting and wait for the thread (none may be inside torch at exit)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        become_background_thread()
        keys = {config: setting_key(config, self.eval_set) for config in self.settings}
        done = self.store.known(keys.values())
        self._measured = len(done)
        queue = deque(c for c in self.settings if keys[c] not in done)
        while queue and wait_for_quiet(self._stop):
            config = self._next(queue, keys, done)
            if config is None:
                break
            try:
                measured(config, self.eval_set, self.store, *self._inputs(config))
            except Exception:  # noqa: BLE001  (one bad setting must not stop the grid; it is logged)
                log.exception("grid: could not measure %s", config)
            done.add(keys[config])
            self._measured = len(done)

    def _next(self, queue: deque, keys: dict, done: set) -> PruneConfig | None:
        with self._lock:
            while self._preferred:
                config = self._preferred.popleft()
                if keys.get(config) not in done and config in keys:
                    return config
        while queue:
            config = queue.popleft()
            if keys[config] not in done:
                return config
        return None

    def _inputs(self, config: PruneConfig) -> tuple:
        """(scores, calibration) for `config`: one set of importance scores per model and method serves
        every amount and scope (as the sweep does; the masks equal prune_model's)."""
        base = load_pretrained(config.model)[0]
        if config.model not in self._calibration:
            self._calibration = {config.model: ImportanceContext(base, {}, config).calibration_batch()}
            self._scores = {}
        calibration = self._calibration[config.model]
        line = (config.model, config.method)
        if line not in self._scores:
            self._scores[line] = importance_scores(copy.deepcopy(base), config, calibration)
        return self._scores[line], calibration
