"""Inspection data: histograms that add up, magnitude cuts only where pruning was one, filter grids."""
from __future__ import annotations

import pytest
import torch

from pruning.checkpoint import load_pretrained
from pruning.config import PruneConfig
from pruning.engine import prune_model
from pruning.inspection import (MAX_GRID_FILTERS, filter_grid, layer_names, magnitude_cut, weight_histogram,
                                weight_mask)


def pruned(name: str, **settings):
    return load_pretrained(name)[0], prune_model(name, PruneConfig(model=name, **settings)).model


def test_layer_names_in_model_order():
    model = load_pretrained("convnet")[0]
    assert layer_names(model) == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert layer_names(model, "conv") == ["conv1", "conv2", "conv3"]


def test_histogram_counts_add_up_and_the_cut_separates_them():
    dense, model = pruned("lenet", method="l1_unstructured", amount=0.6, scope="global")
    histogram = weight_histogram(dense, model, "fc1", bins=40)
    assert len(histogram.edges) == 41 and len(histogram.before) == len(histogram.after) == 40
    assert sum(histogram.before) == histogram.total == 400 * 120
    assert sum(histogram.after) == histogram.total - histogram.pruned
    assert histogram.pruned == int((model.fc1.weight_mask == 0).sum())
    assert histogram.threshold_scope == "global"
    magnitudes, mask = dense.fc1.weight.abs(), model.fc1.weight_mask
    assert float(magnitudes[mask == 0].max()) <= histogram.threshold <= float(magnitudes[mask == 1].min())


def test_local_magnitude_pruning_has_a_per_layer_cut():
    dense, model = pruned("lenet", method="l1_unstructured", amount=0.5, scope="local")
    assert magnitude_cut(dense, model, "conv2")[1] == "layer"


@pytest.mark.parametrize("settings", [{"method": "random_unstructured", "amount": 0.5},
                                      {"method": "ln_structured", "amount": 0.5},
                                      {"method": "l1_unstructured", "amount": 0.0}])
def test_no_cut_when_pruning_was_not_by_magnitude(settings):
    dense, model = pruned("lenet", **settings)
    histogram = weight_histogram(dense, model, "conv2")
    assert histogram.threshold is None and histogram.threshold_scope == "none"


def test_histogram_rejects_unknown_layers_and_bad_bins():
    dense, model = pruned("mlp", amount=0.5)
    with pytest.raises(ValueError, match="unknown layer"):
        weight_histogram(dense, model, "conv9")
    with pytest.raises(ValueError, match="bins"):
        weight_histogram(dense, model, "fc1", bins=1)


def test_filter_grid_holds_dense_kernels_and_masks():
    dense, model = pruned("convnet", method="ln_structured", amount=0.5)
    grid = filter_grid(dense, model, "conv2")
    assert grid.kind == "conv" and grid.weights.shape == grid.mask.shape == (32, 16, 3, 3)
    assert torch.equal(grid.weights, dense.conv2.weight) and torch.equal(grid.mask, model.conv2.weight_mask)
    assert int((grid.mask.flatten(1) == 0).all(1).sum()) == 16            # whole filters removed


def test_filter_grid_is_truncated_and_linear_layers_are_one_matrix():
    dense, model = pruned("convnet", amount=0.3)
    big = filter_grid(dense, model, "conv3")
    assert big.weights.shape[0] == min(MAX_GRID_FILTERS, 64) and big.total_filters == dense.conv3.out_channels
    matrix = filter_grid(dense, model, "fc2")
    assert matrix.kind == "linear" and matrix.weights.shape == (1, 1, *dense.fc2.weight.shape)


def test_weight_mask_of_an_unpruned_layer_is_all_ones():
    dense = load_pretrained("mlp")[0]
    assert bool(weight_mask(dense.fc1).all())
