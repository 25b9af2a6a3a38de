"""Mask handling: permanent copies, snapshots merged by torch's own composition, fingerprints, fractions."""
from __future__ import annotations

import copy

import torch
import torch.nn.utils.prune as prune
from torch import nn

from pruning import PruneConfig, load_pretrained, prune_model
from pruning.masks import (mask_fingerprint, mask_snapshot, merge_masks, permanent_copy, pruned_fraction,
                           pruned_tensors, threshold_for_sparsity)
from pruning.pruner import prunable_layers
from pruning.stats import global_sparsity, layer_stats


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))


def test_permanent_copy_has_plain_parameters_with_zeros_where_masked_and_leaves_the_model():
    model = small_net()
    prune.l1_unstructured(model[0], "weight", 0.5)
    mask = model[0].weight_mask.clone()
    plain = permanent_copy(model)
    assert not prune.is_pruned(plain) and prune.is_pruned(model)
    assert torch.equal(plain[0].weight == 0, mask == 0)
    assert list(pruned_tensors(model)) == [(model[0], "weight")]


def test_permanent_copy_of_a_model_with_autograd_history():
    model = small_net()
    prune.l1_unstructured(model[0], "weight", 0.5)
    model[0].weight_orig.requires_grad_(True)
    model[0].weight = model[0].weight_orig * model[0].weight_mask        # carries a graph
    assert model[0].weight.grad_fn is not None
    plain = permanent_copy(model)                                        # deepcopy did not refuse
    assert plain[0].weight.grad_fn is None and torch.equal(plain[0].weight == 0, model[0].weight_mask == 0)


def test_merged_masks_keep_every_earlier_pruned_weight():
    model = small_net()
    prune.l1_unstructured(model[0], "weight", 0.5)
    old = mask_snapshot(model)
    fresh = copy.deepcopy(small_net())
    prune.random_unstructured(fresh[0], "weight", 0.25)
    new = fresh[0].weight_mask.clone()
    merge_masks(fresh, old)
    assert torch.equal(fresh[0].weight_mask, new * old["0.weight_mask"])      # torch composed them
    assert torch.all(fresh[0].weight[old["0.weight_mask"] == 0] == 0)
    unpruned = small_net()
    merge_masks(unpruned, old)                                                  # no mask before: applied
    assert torch.equal(unpruned[0].weight_mask, old["0.weight_mask"])


def test_fingerprints_are_equal_for_equal_masks_and_dense_for_all_ones():
    a = prune_model("mlp", PruneConfig(model="mlp", amount=0.5)).model
    b = prune_model("mlp", PruneConfig(model="mlp", amount=0.5)).model
    c = prune_model("mlp", PruneConfig(model="mlp", amount=0.6)).model
    assert mask_fingerprint(a) == mask_fingerprint(b) != mask_fingerprint(c)
    assert mask_fingerprint(prune_model("mlp", PruneConfig(model="mlp", amount=0.0)).model) == "dense"


def test_pruned_fraction_counts_weights_or_whole_rows():
    layers = prunable_layers(prune_model("convnet", PruneConfig(model="convnet", method="ln_structured",
                                                                 amount=0.5)).model, structured=True)
    assert abs(pruned_fraction(layers, structured=True) - 0.5) < 0.01
    weights = sum(m.weight.numel() for m in layers.values())
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    assert pruned_fraction(layers, structured=False) == zeros / weights


def test_threshold_for_sparsity_removes_that_fraction():
    layers = prunable_layers(load_pretrained("convnet")[0])
    for sparsity in (0.0, 0.3, 0.77):
        threshold = threshold_for_sparsity(layers, sparsity)
        pruned = prune_model("convnet", PruneConfig(model="convnet", method="threshold", threshold=threshold))
        assert abs(global_sparsity(layer_stats(pruned.model)) - sparsity) < 1e-4
