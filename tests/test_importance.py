"""Importance scores: shapes, data dependence of the data-driven methods, calibration handling."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models import get_model_entry, list_models
from pruning.checkpoint import load_pretrained
from pruning.config import PruneConfig
from pruning.data import normalize
from pruning.engine import prune_model
from pruning.evaluate import pad_inputs
from pruning.importance import ImportanceContext
from pruning.methods import get_method, list_methods
from pruning.pruner import prunable_layers

DATA_DRIVEN = [m for m in list_methods() if get_method(m).data_driven]


def scores_for(name: str, method: str, calibration=None, **config) -> dict[str, torch.Tensor]:
    model = copy.deepcopy(load_pretrained(name)[0])
    entry = get_method(method)
    layers = prunable_layers(model, structured=entry.structured)
    context = ImportanceContext(model, layers, PruneConfig(model=name, method=method, **config), calibration)
    return entry.importance(context)


def masks(result) -> dict[str, torch.Tensor]:
    return {n: b for n, b in result.model.named_buffers() if n.endswith("_mask")}


def differ(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    assert a.keys() == b.keys()
    return any(not torch.equal(a[n], b[n]) for n in a)


@pytest.fixture(scope="module")
def two_calibrations(heldout) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Two disjoint random draws of 32 held-out digits: normalized (32, 1, 28, 28) and labels."""
    order = torch.randperm(len(heldout), generator=torch.Generator().manual_seed(0))
    x = normalize(heldout.images)
    return tuple((x[index], heldout.labels[index]) for index in (order[:32], order[32:64]))


def test_data_driven_methods_are_registered() -> None:
    assert {"gradient", "taylor", "activation"} <= set(DATA_DRIVEN)


@pytest.mark.parametrize("method", list_methods())
@pytest.mark.parametrize("name", list_models())
def test_scores_have_one_value_per_weight_or_per_unit(name: str, method: str) -> None:
    entry = get_method(method)
    model = load_pretrained(name)[0]
    scores = scores_for(name, method, calibration_size=32)
    layers = prunable_layers(model, structured=entry.structured)
    assert scores.keys() == layers.keys()
    for layer_name, module in layers.items():
        expected = module.weight.shape[:1] if entry.structured else module.weight.shape
        assert scores[layer_name].shape == expected, layer_name
        assert torch.isfinite(scores[layer_name]).all() and (scores[layer_name] >= 0).all(), layer_name


@pytest.mark.parametrize("scope", ["local", "global"])
@pytest.mark.parametrize("method", DATA_DRIVEN)
@pytest.mark.parametrize("name", list_models())
def test_data_driven_masks_depend_on_the_calibration_digits(name, method, scope, two_calibrations) -> None:
    config = PruneConfig(model=name, method=method, scope=scope, amount=0.3)
    first, second = (masks(prune_model(name, config, calibration=c)) for c in two_calibrations)
    assert differ(first, second)


@pytest.mark.parametrize("method", DATA_DRIVEN)
def test_data_driven_default_calibration_is_drawn_by_seed(method: str) -> None:
    by_seed = [masks(prune_model("lenet", PruneConfig(method=method, amount=0.3, seed=s, calibration_size=32)))
               for s in (0, 1)]
    assert differ(*by_seed)


@pytest.mark.parametrize("method", [m for m in list_methods() if not get_method(m).data_driven])
def test_other_methods_ignore_calibration_digits(method: str, two_calibrations) -> None:
    config = PruneConfig(method=method, amount=0.3)
    first, second = (masks(prune_model("lenet", config, calibration=c)) for c in two_calibrations)
    assert not differ(first, second)


def test_gradient_scores_are_the_loss_gradient(two_calibrations) -> None:
    x, labels = two_calibrations[0]
    model = copy.deepcopy(load_pretrained("mlp")[0])
    weights = [model.fc1.weight, model.fc2.weight]
    for w in weights:
        w.requires_grad_(True)
    grads = torch.autograd.grad(F.cross_entropy(model(x), labels), weights)
    scores = scores_for("mlp", "gradient", calibration=(x, labels))
    taylor = scores_for("mlp", "taylor", calibration=(x, labels))
    for layer_name, w, g in zip(("fc1", "fc2"), weights, grads):
        assert torch.allclose(scores[layer_name], g.abs(), atol=1e-7)
        assert torch.allclose(taylor[layer_name], (w.detach() * g).abs(), atol=1e-7)


def test_activation_scores_are_mean_unit_outputs_after_relu(two_calibrations) -> None:
    x, _ = two_calibrations[0]
    model = load_pretrained("mlp")[0]
    with torch.inference_mode():
        hidden = F.relu(model.fc1(torch.flatten(x, 1)))             # (N, 128): what fc2 sees
    scores = scores_for("mlp", "activation", calibration=two_calibrations[0])
    assert scores.keys() == {"fc1"}
    assert torch.allclose(scores["fc1"], hidden.mean(0), atol=1e-6)


def test_activation_prunes_a_dead_unit_first(two_calibrations) -> None:
    model = copy.deepcopy(load_pretrained("mlp")[0])
    with torch.no_grad():
        model.fc1.bias[5] = -1000.0          # unit 5: huge pre-activation magnitude, never passes the ReLU
    config = PruneConfig(model="mlp", method="activation", amount=1 / 128)    # one unit of 128
    result = prune_model(model, config, calibration=two_calibrations[0])
    removed = (result.model.fc1.weight == 0).all(dim=1)                       # (128,)
    assert removed.nonzero().flatten().tolist() == [5]


@pytest.mark.parametrize("method", DATA_DRIVEN)
def test_lenet_calibration_accepts_28x28_digits_or_padded_inputs(method: str, two_calibrations) -> None:
    x, labels = two_calibrations[0]
    padded = pad_inputs(x, get_model_entry("lenet").input_padding)        # (N, 1, 32, 32)
    config = PruneConfig(method=method, amount=0.3)
    assert not differ(masks(prune_model("lenet", config, calibration=(x, labels))),
                      masks(prune_model("lenet", config, calibration=(padded, labels))))


@pytest.mark.parametrize("bad, message", [
    ("digits", "pair"), ((torch.zeros(4, 1, 28, 28),), "pair"),
    ((torch.zeros(4, 28, 28), torch.zeros(4, dtype=torch.long)), "digits must be"),
    ((torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long)), "digits must be"),
    ((torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long)), "digits must be"),
    ((torch.zeros(4, 1, 20, 20), torch.zeros(4, dtype=torch.long)), "28x28"),
    ((torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long)), "labels"),
    ((torch.zeros(4, 1, 28, 28), torch.full((4,), 10)), "labels"),
    ((torch.zeros(4, 1, 28, 28), torch.zeros(4)), "labels"),
])
def test_bad_calibration_is_a_clear_error(bad, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prune_model("lenet", PruneConfig(method="gradient"), calibration=bad)


@pytest.mark.parametrize("method", DATA_DRIVEN)
def test_data_driven_methods_leave_no_gradients_hooks_or_changed_flags(method: str) -> None:
    model = copy.deepcopy(load_pretrained("lenet")[0])
    model.fc1.weight.requires_grad_(True)                   # a caller's own flags are kept
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    layers = prunable_layers(model, structured=get_method(method).structured)
    get_method(method).importance(ImportanceContext(model, layers, PruneConfig(method=method, calibration_size=8)))
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules() if isinstance(m, nn.Module))
