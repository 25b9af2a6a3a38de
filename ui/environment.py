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
    """No analytics (and Gradio's per-event monitoring summary rarely), matplotlib headless with its
    config in a temporary folder (no ~/.config writes), files the server writes readable by its own user only."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio's monitoring summary (a pandas table of the last 10,000 events, grouped) is rebuilt after
    # every event by default, in a worker thread that holds the GIL the server's answers need; nobody here
    # reads it: rebuilt every 1,000 events, over the last 1,000
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    os.environ.setdefault("MPLBACKEND", "agg")
    if "MPLCONFIGDIR" not in os.environ:
        os.environ["MPLCONFIGDIR"] = scratch_dir("pruning-lab-mpl-")
    if "GRADIO_TEMP_DIR" not in os.environ:               # uploads and gradio's cached outputs
        os.environ["GRADIO_TEMP_DIR"] = scratch_dir("pruning-lab-gradio-")
    os.umask(0o077)
