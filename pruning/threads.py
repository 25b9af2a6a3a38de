"""Thread settings for many small tensor operations."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with one intra-op thread in the calling thread (torch.set_num_threads is
    per thread with OpenMP). Many tiny operators (training steps, importance scores) spend more
    time synchronizing threads than computing, and far more when other work holds the cores.
    Evaluation inside the block still uses both cores: its worker pool is sized at import."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
