"""What a measurement depends on, as digests: checkpoint bytes, the canonical config, the eval set, the code."""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields, replace
from functools import lru_cache
from pathlib import Path

import torch

from .checkpoint import read_manifest
from .config import PruneConfig
from .data import DigitSet

PACKAGE_DIRS = (Path(__file__).parent, Path(__file__).parents[1] / "models")
_DEFAULTS = {f.name: f.default for f in fields(PruneConfig)}


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the engine's and the models' source files and torch's version: any change to the code
    that measures gives new keys, so a result is only ever served to the code that measured it."""
    digest = hashlib.sha256(torch.__version__.encode())
    for directory in PACKAGE_DIRS:
        for path in sorted(directory.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def eval_set_digest(eval_set: DigitSet) -> str:
    """Content digest of a digit set (two loads of the same data share one digest); kept per object."""
    cached = getattr(eval_set, "_digest", None)
    if cached is None:
        digest = hashlib.sha1(eval_set.name.encode())
        digest.update(eval_set.images.contiguous().numpy().tobytes())
        digest.update(eval_set.labels.contiguous().numpy().tobytes())
        cached = digest.hexdigest()
        object.__setattr__(eval_set, "_digest", cached)   # DigitSet is frozen; its tensors never change
    return cached


@lru_cache(maxsize=4096)          # asked several times per update (keys, grid, stamps): configs are frozen
def canonical_config(config: PruneConfig) -> PruneConfig:
    """The config with every setting its method does not read set to its default (per the method
    registry), so settings that prune identically share one key. Validation already happened on
    `config`; tests check for every method that both prune to the same masks."""
    method = config.method_entry
    unread: dict[str, object] = {}
    if not method.uses_amount:              # threshold, N:M: no amount and no scope
        unread.update(amount=_DEFAULTS["amount"], scope=_DEFAULTS["scope"], conv_amount=None, linear_amount=None)
    if not method.uses_threshold:
        unread["threshold"] = _DEFAULTS["threshold"]
    for setting in ("norm", "nm"):
        if setting not in method.settings:
            unread[setting] = _DEFAULTS[setting]
    if not method.data_driven:
        unread["calibration_size"] = _DEFAULTS["calibration_size"]
    return replace(config, **unread) if unread else config


@lru_cache(maxsize=None)
def checkpoint_digest(model_name: str) -> str | None:
    """The shipped checkpoint's sha256 (the manifest's, which load_pretrained checks the file against)."""
    return read_manifest().get(f"{model_name}.pt")


def _digest(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def setting_key(config: PruneConfig, eval_set: DigitSet) -> str:
    """The key of one setting's measurement: (checkpoint sha256, canonical config, eval set, code)."""
    return _digest({"checkpoint": checkpoint_digest(config.model), "eval_set": eval_set_digest(eval_set),
                    "config": canonical_config(config).to_dict(), "code": code_version()})


def masks_key(model_name: str, fingerprint: str, eval_set: DigitSet) -> str:
    """The key of one pruned model's measurement: (checkpoint sha256, mask fingerprint, eval set, code).
    Identical masks on the same weights compute the same function, whatever setting made them."""
    return _digest({"checkpoint": checkpoint_digest(model_name), "eval_set": eval_set_digest(eval_set),
                    "masks": fingerprint, "model": model_name, "code": code_version()})
