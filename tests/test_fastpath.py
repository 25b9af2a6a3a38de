"""The fast path: the rewritten inference copy computes what the plain model computes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch import nn

from models import get_model_entry
from pruning.evaluate import FAST_MIN_INPUTS, BATCH_SIZE, plain_logits, prepared_inputs
from pruning.fastpath import inference_model, phase_conv_pool, phase_weights, pool_2x2
from pruning.runtime import run_batches
from tests.helpers import CONFIGS, pruned_model


@pytest.mark.parametrize("model_name", ["lenet", "convnet"])
def test_the_inference_copy_is_rewritten_and_close_to_the_model(model_name, heldout):
    model = pruned_model(model_name, CONFIGS[1])
    fast = inference_model(model)
    assert "max_pool2d" not in fast.code and "pool_2x2" in fast.code
    assert "phase_conv_pool" in fast.code if model_name == "lenet" else "channels_last" in fast.code
    x = prepared_inputs(heldout, get_model_entry(model_name).input_padding)
    torch.testing.assert_close(run_batches(fast, x, BATCH_SIZE), plain_logits(model, x), rtol=1e-4, atol=1e-4)


def test_the_inference_copy_leaves_the_model_unchanged():
    model = pruned_model("lenet", CONFIGS[1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inference_model(model)
    assert prune.is_pruned(model)
    assert before.keys() == model.state_dict().keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("shape", [(3, 4, 28, 28), (2, 5, 7, 7), (2, 3, 10, 9)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_pool_2x2_is_max_pool2d(shape, channels_last):
    x = torch.randn(shape)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(pool_2x2(x), F.max_pool2d(x, 2))


@pytest.mark.parametrize("kernel, padding, side", [(5, 0, 32), (3, 1, 28), (3, 1, 15)])
def test_phase_conv_pool_is_conv_then_max_pool(kernel, padding, side):
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, kernel, padding=padding)
    x = torch.randn(4, 1, side, side)
    with torch.no_grad():
        expected = F.max_pool2d(conv(x), 2)
        torch.testing.assert_close(phase_conv_pool(x, *phase_weights(conv), padding), expected)


def test_module_relus_and_pools_and_a_shared_inplace_relu_input():
    torch.manual_seed(0)
    shared = nn.ReLU(inplace=True)

    class Branches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(8, 8, 3, padding=1))
            self.relu, self.pool = shared, nn.MaxPool2d(2, 2)
            self.fc = nn.Linear(8 * 7 * 7 * 2, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.features(x)
            pooled = self.pool(self.relu(y))          # in-place relu: y is relu'd too
            return self.fc(torch.cat([pooled.flatten(1), F.max_pool2d(y, 2).flatten(1)], 1))

    model = Branches().eval()
    x = torch.randn(FAST_MIN_INPUTS, 1, 28, 28)
    fast = inference_model(model)
    assert "pool_2x2" in fast.code
    torch.testing.assert_close(run_batches(fast, x, BATCH_SIZE), plain_logits(model, x), rtol=1e-4, atol=1e-4)
