"""Evaluation: the fast inference copy computes what the plain model computes, digit for digit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch import nn

from models import get_model_entry, list_models
from pruning import PruneConfig, prune_model
from pruning.checkpoint import load_pretrained
from pruning.evaluate import (FAST_MIN_INPUTS, accuracy, inference_model, logits, phase_conv_pool, plain_logits,
                              pool_2x2, predictions, prepared_inputs, probabilities, run_batches)

CONFIGS = [None,                                                              # the dense pretrained model
           PruneConfig(method="l1_unstructured", amount=0.6, scope="global"),
           PruneConfig(method="ln_structured", amount=0.5, scope="local")]


def pruned_model(model_name: str, config: PruneConfig | None) -> nn.Module:
    """The pretrained model, or a masked copy of it pruned per `config`."""
    if config is None:
        return load_pretrained(model_name)[0]
    config = PruneConfig(**{**config.to_dict(), "model": model_name})
    return prune_model(model_name, config).model


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


@pytest.mark.parametrize("model_name", ["lenet", "convnet"])
def test_the_inference_copy_is_rewritten_and_close_to_the_model(model_name, heldout):
    model = pruned_model(model_name, CONFIGS[1])
    fast = inference_model(model)
    assert "max_pool2d" not in fast.code and "pool_2x2" in fast.code
    assert "phase_conv_pool" in fast.code if model_name == "lenet" else "channels_last" in fast.code
    x = prepared_inputs(heldout, get_model_entry(model_name).input_padding)
    torch.testing.assert_close(run_batches(fast, x), plain_logits(model, x), rtol=1e-4, atol=1e-4)


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
    from pruning.evaluate import _phase_weights
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, kernel, padding=padding)
    x = torch.randn(4, 1, side, side)
    with torch.no_grad():
        expected = F.max_pool2d(conv(x), 2)
        torch.testing.assert_close(phase_conv_pool(x, *_phase_weights(conv), padding), expected)


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


def test_the_evaluation_workers_leave_torch_threads_of_other_threads_alone(heldout):
    import threading
    before = torch.get_num_threads()
    predictions(load_pretrained("mlp")[0], "mlp", heldout)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert torch.get_num_threads() == before and seen == [before]


def test_the_worker_pool_has_the_process_threads_even_if_first_used_single_threaded():
    script = ("import torch\nfrom pruning import evaluate\nfrom pruning.threads import single_threaded\n"
              "with single_threaded():\n    pool = evaluate._worker_pool()\n    inside = torch.get_num_threads()\n"
              "print(evaluate.POOL_THREADS, 1 if pool is None else pool._max_workers, inside, torch.get_num_threads())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "OMP_NUM_THREADS": "2"})
    pool_threads, workers, inside, after = map(int, done.stdout.split())
    assert pool_threads == 2 and workers == 2                  # not 1: the caller's single-thread setting
    assert inside == 1 and after == 2                          # the caller's own setting is kept


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
    torch.testing.assert_close(run_batches(fast, x), plain_logits(model, x), rtol=1e-4, atol=1e-4)
