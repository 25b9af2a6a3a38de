"""Self-describing checkpoints (weights + model name + args + metrics), loaded safely and verified."""
from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models import create_model, get_model_entry

FORMAT = "pruning-lab/checkpoint-v1"
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
MANIFEST = CHECKPOINT_DIR / "MANIFEST.sha256"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, tampered with, or for the wrong architecture."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, model_name: str, model: nn.Module,
                    model_args: dict[str, Any] | None = None, **info: Any) -> str:
    """Write weights + model name + args + any metrics/info; returns the file's sha256."""
    payload = {"format": FORMAT, "model_name": model_name, "model_args": dict(model_args or {}),
               "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}, **info}
    torch.save(payload, path)
    return file_sha256(path)


def read_manifest(manifest: Path | None = None) -> dict[str, str]:
    """file name -> expected sha256, from a `sha256  name` manifest (default: the shipped one)."""
    manifest = MANIFEST if manifest is None else Path(manifest)
    if not manifest.is_file():
        return {}
    entries = [line.split() for line in manifest.read_text().splitlines() if line.strip()]
    malformed = [" ".join(e) for e in entries if len(e) != 2]
    if malformed:
        raise CheckpointError(f"{manifest.name} has malformed line(s) {malformed[:3]}: "
                              "expected 'sha256  file name'")
    return {name: digest for digest, name in entries}


def _shown(path: Path) -> str:
    """A path as messages show it: its folder and file name (no server paths in the UI)."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _first_line(err: Exception) -> str:
    """The telling line of an error message, at most 200 characters, without terminal colour codes.

    For a refused pickle that is torch's "Unsupported global: GLOBAL io.open ..." line (what was
    refused), not its first line, which advises loading the file unsafely."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines() if line.strip()]
    refused = [line.split("WeightsUnpickler error:", 1)[1].split(". Please", 1)[0].strip()
               for line in lines if "WeightsUnpickler error:" in line]
    return (refused or lines or ["(no message)"])[0][:200]


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None) -> tuple[nn.Module, dict]:
    """Load a checkpoint with weights_only=True into its registered architecture (eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {_shown(path)} does not exist")
    if expected_sha256 and file_sha256(path) != expected_sha256:
        raise CheckpointError(f"checkpoint {path.name} does not match its sha256 in the manifest "
                              "(corrupted or tampered with); refusing to load it")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for bad files  # noqa: BLE001
        raise CheckpointError(f"checkpoint {path.name} cannot be read safely: "
                              f"{type(err).__name__}: {_first_line(err)}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a Pruning Lab checkpoint (format {FORMAT!r})")
    try:
        get_model_entry(payload["model_name"])
        model = create_model(payload["model_name"], **payload.get("model_args", {}))
        model.load_state_dict(payload["state_dict"])
    except (ValueError, RuntimeError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path.name} does not fit architecture "
                              f"{payload.get('model_name')!r}: {_first_line(err)}") from err
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta


@lru_cache(maxsize=None)
def load_pretrained(model_name: str) -> tuple[nn.Module, dict]:
    """The shipped, manifest-verified pretrained model; shared and read-only (requires_grad off)."""
    model, meta = load_verified(model_name, CHECKPOINT_DIR)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, meta


def load_verified(model_name: str, directory: str | os.PathLike) -> tuple[nn.Module, dict]:
    """`<directory>/<model_name>.pt`, checked against `<directory>/MANIFEST.sha256` and its model name."""
    get_model_entry(model_name)
    directory = Path(directory)
    path, manifest = directory / f"{model_name}.pt", directory / MANIFEST.name
    expected = read_manifest(manifest).get(path.name)
    if expected is None:
        raise CheckpointError(f"{path.name} is not listed in {_shown(manifest)}; refusing to load it")
    model, meta = load_checkpoint(path, expected_sha256=expected)
    if meta["model_name"] != model_name:
        raise CheckpointError(f"{path.name} holds {meta['model_name']!r}, not {model_name!r}")
    return model, meta
