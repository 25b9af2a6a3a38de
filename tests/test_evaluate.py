"""Evaluation: predictions, accuracy and probabilities equal a plain loop over the model, digit for digit."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch import nn

from models import get_model_entry, list_models
from pruning.evaluate import FAST_MIN_INPUTS, accuracy, logits, plain_logits, predictions, prepared_inputs, probabilities
from tests.helpers import CONFIGS, pruned_model


def plain_predictions(model: nn.Module, model_name: str, digit_set) -> torch.Tensor:
    """The reference: the model itself (masks applied by its forward hooks), batches of 500."""
    x = prepared_inputs(digit_set, get_model_entry(model_name).input_padding)
    return plain_logits(model, x, batch_size=500).argmax(1)


@pytest.mark.filterwarnings("error::RuntimeWarning")     # a fall-back to the plain model fails
@pytest.mark.parametrize("config", CONFIGS, ids=["dense", "l1-global-0.6", "ln-structured-0.5"])
@pytest.mark.parametrize("model_name", list_models())
def test_fast_predictions_equal_plain_eager_ones_on_every_heldout_digit(model_name, config, heldout):
    model = pruned_model(model_name, config)
    assert len(heldout) >= FAST_MIN_INPUTS          # so predictions() takes the fast path
    assert torch.equal(predictions(model, model_name, heldout), plain_predictions(model, model_name, heldout))


@pytest.mark.slow
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("model_name", list_models())
def test_fast_predictions_and_accuracy_equal_plain_ones_on_the_official_split(model_name, mnist_test):
    for config in CONFIGS:
        model = pruned_model(model_name, config)
        expected = plain_predictions(model, model_name, mnist_test)
        assert torch.equal(predictions(model, model_name, mnist_test), expected)
        plain_accuracy = float((expected == mnist_test.labels).float().mean())
        assert accuracy(model, model_name, mnist_test) == plain_accuracy


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 13 * 13, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        if x.sum() > 0:
            x = x * 2
        return self.fc(torch.flatten(x, 1))


def test_an_untraceable_model_is_evaluated_as_it_is():
    torch.manual_seed(0)
    model = Untraceable().eval()
    prune.l1_unstructured(model.conv, "weight", 0.5)
    x = torch.randn(FAST_MIN_INPUTS + 50, 1, 28, 28)
    torch.testing.assert_close(logits(model, x), plain_logits(model, x), rtol=0, atol=0)


def test_probabilities_of_a_few_digits_are_the_plain_softmax(heldout):
    from pruning.data import normalize
    model = pruned_model("convnet", CONFIGS[1])
    digits = normalize(heldout.images[:13])
    with torch.inference_mode():
        expected = torch.softmax(model(digits), 1)
    torch.testing.assert_close(probabilities(model, "convnet", digits), expected)


def test_a_model_in_training_mode_is_evaluated_as_it_is():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 10)).train()
    x = torch.ones(FAST_MIN_INPUTS, 1, 28, 28)
    assert not torch.equal(logits(model, x), logits(model, x))     # dropout still drops


class Viewing(nn.Module):
    """Flattens with .view(), which channels-last activations do not allow."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(4 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv2(F.max_pool2d(F.relu(self.conv1(x)), 2))), 2)
        return self.fc(x.view(x.shape[0], -1))


def test_a_model_the_inference_copy_cannot_run_is_evaluated_as_it_is():
    torch.manual_seed(0)
    model = Viewing().eval()
    x = torch.randn(FAST_MIN_INPUTS, 1, 28, 28)
    with pytest.warns(RuntimeWarning, match="evaluating the model as it is"):
        out = logits(model, x)
    assert torch.equal(out, plain_logits(model, x))


