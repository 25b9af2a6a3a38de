"""Accuracy, predictions and class probabilities of a model over digits (batched, exact)."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from models import get_model_entry

from .data import DigitSet
from .fastpath import inference_model
from .inputs import pad_inputs, prepared_inputs
from .runtime import run_batches

__all__ = ["BATCH_SIZE", "FAST_MIN_INPUTS", "accuracy", "logits", "pad_inputs", "plain_logits", "predictions",
           "prepared_inputs", "probabilities"]

BATCH_SIZE = 200        # per-digit cost is flat from 150 to 500; small batches balance the workers
FAST_MIN_INPUTS = 256   # fewer inputs: the model as it is (building the fast copy costs ~2-5 ms)
CHECK_INPUTS = 16       # the fast copy must reproduce the plain model's logits on this many inputs


def plain_logits(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """The reference: the model itself over x in batches, inference mode; (N, 10)."""
    with torch.inference_mode():
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def logits(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Model outputs over x in batches, inference mode; (N, 10). The values of plain_logits (up to
    float rounding order), computed by fastpath.inference_model() for a large x in eval mode on the CPU."""
    if model.training or x.device.type != "cpu":
        return plain_logits(model, x, batch_size)
    if x.shape[0] < FAST_MIN_INPUTS:
        return run_batches(model, x, batch_size)
    fast = inference_model(model)
    check = x[:CHECK_INPUTS]
    try:
        agrees = torch.allclose(run_batches(fast, check, batch_size), run_batches(model, check, batch_size),
                                rtol=1e-4, atol=1e-4)
    except RuntimeError:            # e.g. a .view() that channels-last activations do not allow
        agrees = False
    if not agrees:
        warnings.warn(f"the inference copy of {type(model).__name__} disagrees with it; "
                      "evaluating the model as it is", RuntimeWarning, stacklevel=2)
        return plain_logits(model, x, batch_size)
    return run_batches(fast, x, batch_size)


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
