"""Model registry: every registered architecture builds and maps its input size to 10 logits."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models import create_model, get_model_entry, list_models, register_model


def test_registry_holds_the_three_shipped_models() -> None:
    assert {"lenet", "convnet", "mlp"} <= set(list_models())
    assert len(list_models()) == len(set(list_models()))


@pytest.mark.parametrize("name", list_models())
def test_create_model_gives_ten_logits_on_its_input_size(name: str) -> None:
    entry = get_model_entry(name)
    size = 28 + 2 * entry.input_padding
    torch.manual_seed(0)
    model = create_model(name).eval()
    assert isinstance(model, nn.Module)
    with torch.inference_mode():
        out = model(torch.randn(3, 1, size, size))            # (N, 1, H, W) -> (N, 10)
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()
    assert entry.description.strip()


@pytest.mark.parametrize("name", list_models())
def test_create_model_builds_fresh_untrained_instances(name: str) -> None:
    torch.manual_seed(0)
    first = create_model(name)
    second = create_model(name)
    assert first is not second
    assert any(not torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_lenet_is_the_tutorial_network_on_32x32_inputs() -> None:
    assert get_model_entry("lenet").input_padding == 2        # 28x28 digits padded to 32x32
    shapes = {name: tuple(p.shape) for name, p in create_model("lenet").named_parameters()}
    assert shapes == {"conv1.weight": (3, 1, 5, 5), "conv1.bias": (3,),
                      "conv2.weight": (16, 3, 5, 5), "conv2.bias": (16,),
                      "fc1.weight": (120, 400), "fc1.bias": (120,),
                      "fc2.weight": (84, 120), "fc2.bias": (84,),
                      "fc3.weight": (10, 84), "fc3.bias": (10,)}


def test_create_model_passes_model_args() -> None:
    assert create_model("mlp", hidden=32).fc1.out_features == 32


@pytest.mark.parametrize("bad", ["resnet", "", "LeNet", None, 3])
@pytest.mark.parametrize("lookup", [get_model_entry, create_model])
def test_unknown_model_raises_listing_the_known_ones(lookup, bad) -> None:
    with pytest.raises(ValueError, match="unknown model") as err:
        lookup(bad)
    for name in list_models():
        assert name in str(err.value)


def test_registering_a_name_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model(list_models()[0], "duplicate")(nn.Identity)
