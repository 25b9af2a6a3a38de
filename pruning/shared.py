"""Measured once, shared: prune_model's result for a setting, from the store or measured now (and stored)."""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from .config import PruneConfig
from .data import DigitSet
from .engine import PruneResult, measure, prune_model
from .lru import LruCache
from .masks import mask_fingerprint
from .measure_key import masks_key, setting_key
from .measurement import Measurement
from .store import MeasurementStore

MODEL_CACHE_SIZE = 8        # pruned models kept for drawn digits, Inspect, Export (rebuilt from masks: cheap)
MODELS: LruCache[PruneConfig, nn.Module] = LruCache(MODEL_CACHE_SIZE)   # shared read-only by every session


def measured(config: PruneConfig, eval_set: DigitSet, store: MeasurementStore,
             scores: dict[str, torch.Tensor] | None = None,
             calibration: tuple[torch.Tensor, torch.Tensor] | None = None) -> PruneResult:
    """prune_model(config.model, config, eval_set)'s numbers: the stored measurement of this setting
    (result.from_store, no model), or, when none, the setting pruned now and, unless a setting with
    identical masks was measured before, evaluated over the whole set; stored either way. Concurrent
    callers with one setting share one computation. scores / calibration: as prune_model's."""
    key = setting_key(config, eval_set)
    found = store.lookup(key)
    if found is not None:
        return found.result(config)
    computed_here: list[bool] = []

    def compute() -> PruneResult:
        computed_here.append(True)
        return _measure_now(config, eval_set, store, key, scores, calibration)
    result = store.once(key, compute)
    if computed_here:
        return result
    # another caller's flight (its config may differ in what the method does not read): this one's own
    # result object, for exactly its own setting
    found = store.lookup(key)
    return found.result(config) if found is not None else replace(result, config=config, model=None,
                                                                   timings=dict(result.timings))


def _measure_now(config: PruneConfig, eval_set: DigitSet, store: MeasurementStore, key: str,
                 scores: dict[str, torch.Tensor] | None,
                 calibration: tuple[torch.Tensor, torch.Tensor] | None) -> PruneResult:
    found = store.lookup(key)                # measured by a flight that ended just before this one began
    if found is not None:
        return found.result(config)
    result = prune_model(config.model, config, calibration=calibration, scores=scores)   # masks only
    fingerprint = mask_fingerprint(result.model)
    pruned_key = masks_key(config.model, fingerprint, eval_set)
    known = store.lookup_masks(pruned_key)
    if known is None:
        dense = None if fingerprint == "dense" else dense_predictions(config.model, eval_set, store)
        known = Measurement.of(measure(result, eval_set, dense=dense))
    else:                                    # identical masks measured before: the same function
        result = _with_model(known.result(config), result.model)
    store.remember(key, pruned_key, known)
    MODELS.put(config, result.model)
    return result


def dense_predictions(model_name: str, eval_set: DigitSet, store: MeasurementStore) -> torch.Tensor:
    """The pretrained model's predictions on the set: its stored measurement (masks all ones), else
    measured now as the setting "amount 0" and stored."""
    found = store.lookup_masks(masks_key(model_name, "dense", eval_set))
    if found is None:
        found_result = measured(PruneConfig(model=model_name, amount=0.0), eval_set, store)
        return found_result.predictions_after
    return torch.from_numpy(found.predictions_after.astype("int64"))


def _with_model(result: PruneResult, model: nn.Module) -> PruneResult:
    result.model = model
    return result


def pruned_model(result: PruneResult) -> nn.Module:
    """The pruned (masked) model of a result: its own, a cached one of the same setting, or rebuilt from
    the pretrained weights (masks only, no evaluation)."""
    if result.model is not None:
        return result.model
    model = MODELS.get(result.config)
    if model is None:
        model = prune_model(result.config.model, result.config).model
        MODELS.put(result.config, model)
    return model
