"""Model inputs: normalised digits padded with background to a model's input size."""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from .data import DigitSet, normalize


@lru_cache(maxsize=8)
def prepared_inputs(digit_set: DigitSet, padding: int) -> torch.Tensor:
    """Normalized, padded model inputs for a digit set: (N, 1, 28 + 2p, 28 + 2p), cached per set."""
    return pad_inputs(normalize(digit_set.images), padding)


def pad_inputs(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Pad normalized (N, 1, 28, 28) digits with background to the model's input size."""
    if padding == 0:
        return x
    background = float(normalize(torch.zeros(1, 28, 28, dtype=torch.uint8)).flatten()[0])
    return F.pad(x, [padding] * 4, value=background)
