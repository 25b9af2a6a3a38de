"""Sparsity statistics: per-layer zeros, global sparsity, parameter counts with biases."""
from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.utils.prune as prune
from torch import nn

from models import create_model, list_models
from pruning.checkpoint import load_pretrained
from pruning.config import PruneConfig
from pruning.pruner import apply_pruning
from pruning.stats import LayerStats, global_sparsity, layer_stats, parameter_counts


def test_layer_stats_of_a_hand_masked_layer() -> None:
    torch.manual_seed(0)
    model = create_model("lenet")
    mask = torch.ones_like(model.conv1.weight)
    mask.view(-1)[:7] = 0                                    # 7 of 75 weights
    prune.custom_from_mask(model.conv1, "weight", mask)
    stats = {s.name: s for s in layer_stats(model)}
    assert list(stats) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert (stats["conv1"].kind, stats["conv1"].total, stats["conv1"].zeros) == ("conv", 75, 7)
    assert stats["conv1"].sparsity == pytest.approx(7 / 75)
    assert (stats["fc1"].kind, stats["fc1"].total, stats["fc1"].zeros) == ("linear", 48000, 0)


def test_global_sparsity_weights_layers_by_size() -> None:
    stats = [LayerStats("a", "conv", 100, 50), LayerStats("b", "linear", 900, 0)]
    assert global_sparsity(stats) == pytest.approx(0.05)
    assert global_sparsity([]) == 0.0
    assert LayerStats("empty", "conv", 0, 0).sparsity == 0.0


def test_layer_stats_to_dict_is_json() -> None:
    data = json.loads(json.dumps(LayerStats("fc1", "linear", 10, 4).to_dict()))
    assert data == {"name": "fc1", "kind": "linear", "total": 10, "zeros": 4, "sparsity": 0.4}


@pytest.mark.parametrize("name", list_models())
def test_parameter_counts_of_dense_models_count_everything(name: str) -> None:
    model = load_pretrained(name)[0]
    total, nonzero = parameter_counts(model)
    assert total == sum(p.numel() for p in model.parameters())
    assert nonzero == sum(int(torch.count_nonzero(p)) for p in model.parameters())


@pytest.mark.parametrize("method", ["l1_unstructured", "ln_structured"])
@pytest.mark.parametrize("name", list_models())
def test_parameter_counts_follow_masks_biases_included(name: str, method: str) -> None:
    original = load_pretrained(name)[0]
    model = copy.deepcopy(original)
    apply_pruning(model, PruneConfig(model=name, method=method, amount=0.5))
    total, nonzero = parameter_counts(model)
    assert total == sum(p.numel() for p in original.parameters())
    state = model.state_dict()
    expected_nonzero = 0
    for key, value in state.items():                         # recompute from weight_orig * weight_mask
        if key.endswith("_mask"):
            continue
        if key.endswith("_orig"):
            value = value * state[key.removesuffix("_orig") + "_mask"]
        expected_nonzero += int(torch.count_nonzero(value))
    assert nonzero == expected_nonzero
    masked_biases = [m for m in model.modules() if hasattr(m, "bias_mask")]
    assert bool(masked_biases) == (method == "ln_structured")   # structured pruning removes unit biases too
    weight_nonzero = sum(s.total - s.zeros for s in layer_stats(model))
    all_biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    if masked_biases:
        assert nonzero < weight_nonzero + all_biases
    else:
        assert nonzero == weight_nonzero + all_biases
