"""The app's process set-up: temporary folders removed at exit, quiet libraries (call before importing gradio)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_SCRATCH: dict[str, str] = {}


def scratch_dir(prefix: str) -> str:
    """A private temporary directory (mode 0700), made once per prefix and removed at exit."""
    if prefix not in _SCRATCH:
        path = tempfile.mkdtemp(prefix=prefix)          # mkdtemp makes it readable by its owner only
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _SCRATCH[prefix] = path
    return _SCRATCH[prefix]


def prepare() -> None:
    """No analytics, matplotlib headless with its config in a temporary folder (no ~/.config writes),
    files the server writes readable by its own user only."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("MPLBACKEND", "agg")
    if "MPLCONFIGDIR" not in os.environ:
        os.environ["MPLCONFIGDIR"] = scratch_dir("pruning-lab-mpl-")
    if "GRADIO_TEMP_DIR" not in os.environ:               # uploads and gradio's cached outputs
        os.environ["GRADIO_TEMP_DIR"] = scratch_dir("pruning-lab-gradio-")
    os.umask(0o077)
