"""Batched evaluation: accuracy and class probabilities, with inputs prepared once per data set."""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from models import get_model_entry

from .data import DigitSet, normalize

BATCH_SIZE = 500   # faster than one big batch on 2 cores (cache effects; see docs/BENCHMARKS.md)


@lru_cache(maxsize=8)
def prepared_inputs(digit_set: DigitSet, padding: int) -> torch.Tensor:
    """Normalized, padded model inputs for a digit set: (N, 1, 28 + 2p, 28 + 2p), cached."""
    return pad_inputs(normalize(digit_set.images), padding)


def pad_inputs(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Pad normalized (N, 1, 28, 28) digits with background to the model's input size."""
    if padding == 0:
        return x
    background = float(normalize(torch.zeros(1, 28, 28, dtype=torch.uint8)).flatten()[0])
    return F.pad(x, [padding] * 4, value=background)


def logits(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Model outputs over x in batches, inference mode; (N, 10)."""
    with torch.inference_mode():
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def predictions(model: nn.Module, model_name: str, digit_set: DigitSet) -> torch.Tensor:
    """Predicted class for every digit of the set; (N,) int64."""
    x = prepared_inputs(digit_set, get_model_entry(model_name).input_padding)
    return logits(model, x).argmax(1)


def accuracy(model: nn.Module, model_name: str, digit_set: DigitSet) -> float:
    """Fraction of the set classified correctly (0..1)."""
    return float((predictions(model, model_name, digit_set) == digit_set.labels).float().mean())


def probabilities(model: nn.Module, model_name: str, digits: torch.Tensor) -> torch.Tensor:
    """Class probabilities for normalized (N, 1, 28, 28) digits; (N, 10)."""
    x = pad_inputs(digits, get_model_entry(model_name).input_padding)
    return torch.softmax(logits(model, x), dim=1)
