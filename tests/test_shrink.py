"""Real channel removal: the shrunk network is smaller and computes what the masked one computes."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models import create_model
from pruning.config import PruneConfig
from pruning.engine import prune_model
from pruning.shrink import (architecture_args, max_output_difference, permanent_copy, removable_units,
                            shrink_model)
from pruning.size import MAX_OUTPUT_DIFFERENCE

CONFIGS = [
    PruneConfig(model="convnet", method="ln_structured", amount=0.5),
    PruneConfig(model="lenet", method="ln_structured", amount=0.5, scope="global"),
    PruneConfig(model="mlp", method="activation", amount=0.7),
    PruneConfig(model="convnet", method="random_structured", amount=0.3, layer_types=("conv",)),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.model}-{c.method}-{c.scope}")
def test_shrunk_outputs_equal_masked_outputs(config, heldout):
    masked = prune_model(config.model, config).model
    shrunk = shrink_model(masked, config.model)
    assert max_output_difference(shrunk.model, masked, config.model, heldout) <= MAX_OUTPUT_DIFFERENCE
    assert type(shrunk.model) is type(create_model(config.model))
    assert sum(p.numel() for p in shrunk.model.parameters()) < sum(p.numel() for p in permanent_copy(masked).parameters())
    for name, (before, after) in shrunk.widths.items():
        dead = int((getattr(masked.get_submodule(name), "weight_mask").flatten(1) == 0).all(1).sum()) \
            if hasattr(masked.get_submodule(name), "weight_mask") else 0
        assert after == before - dead, name


def test_local_structured_widths_follow_the_amount():
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    shrunk = shrink_model(prune_model("convnet", config).model, "convnet")
    for name, (before, after) in shrunk.widths.items():
        assert after == before - round(0.5 * before), name
    rebuilt = create_model("convnet", **shrunk.model_args)        # the registry builds the same shapes
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in shrunk.model.parameters()]


def test_shrunk_outputs_equal_masked_outputs_on_the_test_digits(mnist_test):
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    masked = prune_model("convnet", config).model
    shrunk = shrink_model(masked, "convnet").model
    assert max_output_difference(shrunk, masked, "convnet", mnist_test) <= MAX_OUTPUT_DIFFERENCE


def test_a_layer_with_every_unit_removed_keeps_one_zero_unit(heldout):
    config = PruneConfig(model="lenet", method="ln_structured", amount=0.95)   # conv1: 3 of 3 filters
    masked = prune_model("lenet", config).model
    assert bool((masked.conv1.weight_mask == 0).all())
    shrunk = shrink_model(masked, "lenet")
    assert shrunk.widths["conv1"] == (3, 1)
    assert max_output_difference(shrunk.model, masked, "lenet", heldout) <= MAX_OUTPUT_DIFFERENCE


def test_shrinking_leaves_the_masked_model_unchanged():
    masked = prune_model("mlp", PruneConfig(model="mlp", method="ln_structured", amount=0.5)).model
    state = {k: v.clone() for k, v in masked.state_dict().items()}
    shrink_model(masked, "mlp")
    assert all(torch.equal(state[k], v) for k, v in masked.state_dict().items())


def test_unstructured_masks_leave_units_whose_bias_is_kept():
    masked = prune_model("mlp", PruneConfig(model="mlp", method="l1_unstructured", amount=0.5)).model
    assert removable_units(permanent_copy(masked)) == {"fc1": []}


def test_permanent_copy_has_no_masks_and_the_same_effective_weights():
    masked = prune_model("lenet", PruneConfig(model="lenet", method="ln_structured", amount=0.5)).model
    plain = permanent_copy(masked)
    assert not any(name.endswith("_mask") for name, _ in plain.named_buffers())
    assert not any(name.endswith("_orig") for name, _ in plain.named_parameters())
    assert torch.equal(plain.conv2.weight, masked.conv2.weight) and torch.equal(plain.fc1.bias, masked.fc1.bias)
    assert hasattr(masked.conv2, "weight_mask")


def test_architecture_args_rebuild_every_model():
    for name in ("lenet", "convnet", "mlp"):
        model = create_model(name)
        rebuilt = create_model(name, **architecture_args(name, model))
        assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError, match="unknown model"):
        architecture_args("resnet", nn.Linear(1, 1))
