"""What every session shares, loaded once: the evaluation set, the usable models, the measurement store, the grid, the sweeps."""
from __future__ import annotations

import functools
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from models import list_models
from pruning import CheckpointError, DataError, DigitSet, builtin_heldout, default_eval_set, load_pretrained
from pruning.grid import GridFiller
from pruning.store import MeasurementStore
from pruning.sweep_cache import SweepCache

log = logging.getLogger("pruning_lab")
CACHE_ENV = "PRUNING_LAB_CACHE_DIR"
_MAKING = threading.RLock()        # grid_filler() makes store() inside
_grid_timer: threading.Timer | None = None     # the latest start_grid_after's timer


def one_per_process(make):
    """lru_cache(maxsize=1) whose first call is made once even when threads call it at the same time
    (the first requests of a server arrive together); cache_clear() starts over."""
    cached = lru_cache(maxsize=1)(make)

    @functools.wraps(make)
    def get():
        with _MAKING:
            return cached()
    get.cache_clear = cached.cache_clear
    return get


@lru_cache(maxsize=1)
def eval_set_and_note() -> tuple[DigitSet, str]:
    """The evaluation set (the configured one, else the default) and a note naming it for the page."""
    try:
        eval_set = default_eval_set()
        return eval_set, f"Evaluating on **{eval_set.describe()}**."
    except DataError as err:
        eval_set = builtin_heldout()
        return eval_set, f"⚠️ {err}. Evaluating on **{eval_set.describe()}** instead."


def eval_set() -> DigitSet:
    """The evaluation set every session uses."""
    return eval_set_and_note()[0]


@lru_cache(maxsize=1)
def model_status() -> tuple[list[str], dict[str, str]]:
    """(usable model names, {broken model: reason}); a bad checkpoint disables only its model."""
    usable, broken = [], {}
    for name in list_models():
        try:
            load_pretrained(name)
            usable.append(name)
        except (CheckpointError, ValueError) as err:
            log.error("model %s disabled: %s", name, err)
            broken[name] = str(err)
    return usable, broken


def cache_root() -> Path:
    """Where measurements and sweeps are kept across restarts: $PRUNING_LAB_CACHE_DIR, else the user's cache."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pruning-lab"


def cache_dir() -> Path:
    """Where finished sweeps are kept across restarts."""
    return cache_root() / "sweeps"


@one_per_process
def store() -> MeasurementStore:
    """The server's measurements: one per setting, shared by every session, kept on disk (bounded)."""
    return MeasurementStore(cache_root() / "measurements.sqlite")


@one_per_process
def grid_filler() -> GridFiller:
    """The slider grid of every usable model (not started: app.main starts it)."""
    return GridFiller(store(), eval_set(), model_status()[0])


def start_grid_after(delay_s: float) -> threading.Timer:
    """The grid filler started `delay_s` from now, in the background at the lowest priority: the server's
    own start (whose Python work the filler's would slow, holding the GIL) goes first. cancel() calls it off."""
    global _grid_timer
    timer = threading.Timer(delay_s, lambda: grid_filler().start())
    timer.daemon = True
    timer.start()
    _grid_timer = timer
    return timer


def grid_starting() -> bool:
    """Whether the grid filler is due to start (its timer set and neither fired nor called off)."""
    timer = _grid_timer
    return timer is not None and not timer.finished.is_set()      # set once fired or cancelled


@one_per_process
def sweep_cache() -> SweepCache:
    """The server's sweeps: computed once, shared by every session, kept on disk."""
    return SweepCache(cache_dir(), store=store())
