"""prune_model: never touches the pretrained model, and its PruneResult is consistent and JSON-ready."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from models import create_model, list_models
from pruning.checkpoint import load_pretrained
from pruning.config import SCOPES, PruneConfig
from pruning.data import DigitSet, normalize
from pruning.engine import PruneResult, prune_model
from pruning.evaluate import accuracy, probabilities
from pruning.methods import get_method, list_methods


@pytest.fixture(scope="module")
def small_eval(heldout) -> DigitSet:
    """200 held-out digits, 20 per class (the set is sorted by class, 100 each)."""
    index = torch.cat([torch.arange(c * 100, c * 100 + 20) for c in range(10)])
    return DigitSet("held-out slice", heldout.images[index], heldout.labels[index])


@pytest.fixture(scope="module")
def tiny_eval(heldout) -> DigitSet:
    """30 held-out digits, 3 per class: enough to run the evaluation path."""
    index = torch.cat([torch.arange(c * 100, c * 100 + 3) for c in range(10)])
    return DigitSet("held-out tiny slice", heldout.images[index], heldout.labels[index])


@pytest.fixture(scope="module")
def digits(heldout) -> torch.Tensor:
    return normalize(heldout.images[::125])                   # (8, 1, 28, 28)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def effective_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter by name as the network uses it, recomputed as `<name>_orig * <name>_mask`."""
    state = model.state_dict()
    return {key.removesuffix("_orig"): value * state[key.removesuffix("_orig") + "_mask"]
            if key.endswith("_orig") else value
            for key, value in state.items() if not key.endswith("_mask")}


@pytest.mark.parametrize("name", list_models())
def test_pretrained_model_is_bit_identical_after_every_method_in_both_scopes(name, tiny_eval, digits) -> None:
    pretrained = load_pretrained(name)[0]
    before = snapshot(pretrained)
    flags = [p.requires_grad for p in pretrained.parameters()]
    for method in list_methods():
        for scope in SCOPES:
            config = PruneConfig(model=name, method=method, scope=scope, amount=0.5, calibration_size=16)
            result = prune_model(name, config, eval_set=tiny_eval, digits=digits[:2])
            assert result.model is not pretrained
    assert load_pretrained(name)[0] is pretrained
    after = pretrained.state_dict()
    assert after.keys() == before.keys()                      # no weight_orig / weight_mask added
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in pretrained.parameters()] == flags
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in pretrained.modules())


def test_a_given_model_is_not_modified() -> None:
    torch.manual_seed(0)
    model = create_model("lenet")
    before = snapshot(model)
    result = prune_model(model, PruneConfig(method="gradient", amount=0.5, calibration_size=16))
    assert result.model is not model
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("method", list_methods())
def test_result_stats_match_the_pruned_weights(method: str) -> None:
    result = prune_model("convnet", PruneConfig(model="convnet", method=method, amount=0.4, calibration_size=32))
    effective = effective_state(result.model)
    layer_names = [n for n, m in result.model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [s.name for s in result.layers] == layer_names
    for stats in result.layers:
        weight = effective[f"{stats.name}.weight"]
        assert (stats.total, stats.zeros) == (weight.numel(), int((weight == 0).sum())), stats.name
        assert stats.kind == ("conv" if weight.dim() == 4 else "linear")
    weights = sum(s.total for s in result.layers)
    assert result.global_sparsity == pytest.approx(sum(s.zeros for s in result.layers) / weights)
    assert result.total_params == sum(v.numel() for v in effective.values())
    assert result.nonzero_params == sum(int(torch.count_nonzero(v)) for v in effective.values())
    assert result.total_params > weights                      # biases are counted
    assert [s.zeros for s in result.layers_before] == [0] * len(result.layers)
    assert [s.total for s in result.layers_before] == [s.total for s in result.layers]


@pytest.mark.parametrize("name", list_models())
def test_accuracies_are_measured_on_the_eval_set(name: str, small_eval) -> None:
    result = prune_model(name, PruneConfig(model=name, amount=0.8), eval_set=small_eval)
    assert result.eval_set == small_eval.describe()
    assert result.accuracy_before == pytest.approx(accuracy(load_pretrained(name)[0], name, small_eval))
    assert result.accuracy_after == pytest.approx(accuracy(result.model, name, small_eval))
    assert result.predictions_before.shape == result.predictions_after.shape == (len(small_eval),)
    assert result.accuracy_after == pytest.approx(
        float((result.predictions_after == small_eval.labels).float().mean()))
    assert "evaluate_s" in result.timings and result.timings["prune_s"] >= 0


def test_removing_every_weight_leaves_a_constant_guess(small_eval) -> None:
    result = prune_model("lenet", PruneConfig(amount=1.0), eval_set=small_eval)
    assert result.global_sparsity == 1.0
    assert result.predictions_after.unique().numel() == 1     # logits = output bias: one class for all
    assert result.accuracy_after == pytest.approx(0.1)        # classes are balanced: 1 in 10


def test_without_eval_set_no_accuracy_is_reported() -> None:
    result = prune_model("mlp", PruneConfig(model="mlp"))
    assert isinstance(result, PruneResult) and result.eval_set is None and result.accuracy_before is None and result.accuracy_after is None
    assert result.predictions_after is None and "evaluate_s" not in result.timings


@pytest.mark.parametrize("name", list_models())
def test_probabilities_for_digits_sum_to_one(name: str, digits) -> None:
    result = prune_model(name, PruneConfig(model=name, amount=0.6), digits=digits)
    for probs in (result.probabilities_before, result.probabilities_after):
        assert probs.shape == (len(digits), 10)
        assert (probs >= 0).all() and torch.allclose(probs.sum(1), torch.ones(len(digits)), atol=1e-5)
    assert torch.allclose(result.probabilities_before, probabilities(load_pretrained(name)[0], name, digits))
    assert torch.allclose(result.probabilities_after, probabilities(result.model, name, digits))


@pytest.mark.parametrize("method", list_methods())
def test_to_dict_is_json_serializable(method: str, small_eval, digits) -> None:
    config = PruneConfig(method=method, amount=1, calibration_size=16)
    result = prune_model("lenet", config, eval_set=small_eval, digits=digits)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["config"] == json.loads(json.dumps(config.to_dict()))
    assert data["global_sparsity"] == result.global_sparsity and data["nonzero_params"] == result.nonzero_params
    assert data["accuracy_after"] == result.accuracy_after and data["eval_set"] == small_eval.describe()
    assert [layer["zeros"] for layer in data["layers"]] == [s.zeros for s in result.layers]
    assert len(data["probabilities_after"]) == len(digits)
    assert all(abs(sum(row) - 1) < 1e-4 for row in data["probabilities_after"])


def test_a_pruned_result_can_be_pruned_again() -> None:
    first = prune_model("lenet", PruneConfig(amount=0.5))
    second = prune_model(first.model, PruneConfig(amount=0.5))
    for a, b in zip(first.layers, second.layers):
        assert b.zeros == a.zeros + round(0.5 * (a.total - a.zeros)), a.name   # iterative, as torch's prune


@pytest.mark.parametrize("method", [m for m in list_methods() if get_method(m).data_driven])
def test_data_driven_methods_can_prune_a_pruned_model_again(method: str) -> None:
    first = prune_model("lenet", PruneConfig(amount=0.5, calibration_size=64))
    second = prune_model(first.model, PruneConfig(method=method, amount=0.3, calibration_size=64))
    assert all(b.zeros >= a.zeros for a, b in zip(first.layers, second.layers))
    assert sum(b.zeros for b in second.layers) > sum(a.zeros for a in first.layers)
    for name, module in second.model.named_modules():
        if hasattr(module, "weight_mask"):
            old = dict(first.model.named_modules())[name].weight_mask
            assert bool((module.weight_mask <= old).all()), name             # nothing pruned comes back


def test_name_and_config_model_must_agree() -> None:
    with pytest.raises(ValueError, match="config is for model 'mlp'"):
        prune_model("lenet", PruneConfig(model="mlp"))


def test_a_module_of_another_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="config is for model 'lenet'.*MLP"):
        prune_model(create_model("mlp"), PruneConfig(model="lenet"))
    with pytest.raises(ValueError, match="model name or an nn.Module"):
        prune_model(42, PruneConfig())                       # type: ignore[arg-type]


def test_unknown_model_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        prune_model("resnet", PruneConfig())


@pytest.mark.parametrize("bad", [torch.zeros(2, 28, 28), torch.zeros(2, 1, 32, 32),
                                 torch.zeros(2, 1, 28, 28, dtype=torch.uint8), [[0.0]]],
                         ids=["no-channel", "32x32", "uint8", "list"])
def test_bad_digits_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="digits must be"):
        prune_model("lenet", PruneConfig(), digits=bad)
