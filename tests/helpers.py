"""Helpers shared by several test files (public engine names only)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pruning import DigitSet, PruneConfig, load_pretrained, prune_model

CONFIGS = [None,                                                              # the dense pretrained model
           PruneConfig(method="l1_unstructured", amount=0.6, scope="global"),
           PruneConfig(method="ln_structured", amount=0.5, scope="local")]


def pruned_model(model_name: str, config: PruneConfig | None) -> nn.Module:
    """The pretrained model, or a masked copy of it pruned per `config`."""
    if config is None:
        return load_pretrained(model_name)[0]
    config = PruneConfig(**{**config.to_dict(), "model": model_name})
    return prune_model(model_name, config).model


@pytest.fixture(scope="module")
def small_eval(heldout) -> DigitSet:
    """200 held-out digits, 20 per class: enough to see accuracy move, fast to evaluate."""
    index = torch.cat([torch.arange(c * 100, c * 100 + 20) for c in range(10)])
    return DigitSet("held-out slice", heldout.images[index], heldout.labels[index])
