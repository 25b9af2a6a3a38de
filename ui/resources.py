"""What every session shares, loaded once: the evaluation set, the usable models, the sweep cache."""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from models import list_models
from pruning import CheckpointError, DataError, DigitSet, builtin_heldout, default_eval_set, load_pretrained
from pruning.sweep_cache import SweepCache

log = logging.getLogger("pruning_lab")
CACHE_ENV = "PRUNING_LAB_CACHE_DIR"


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


def cache_dir() -> Path:
    """Where finished sweeps are kept across restarts: $PRUNING_LAB_CACHE_DIR, else the user's cache."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pruning-lab" / "sweeps"


@lru_cache(maxsize=1)
def sweep_cache() -> SweepCache:
    """The server's sweeps: computed once, shared by every session, kept on disk."""
    return SweepCache(cache_dir())
