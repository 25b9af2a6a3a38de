"""Pruning policy: the tutorial's results, equality with torch.nn.utils.prune, structured units, amounts."""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.utils.prune as prune
from torch import nn

from models import create_model, list_models
from pruning.checkpoint import load_pretrained
from pruning.config import SCOPES, PruneConfig
from pruning.methods import get_method, list_methods
from pruning.pruner import apply_pruning, importance_scores, prunable_layers

TUTORIAL_LAYERS = ("conv1", "conv2", "fc1", "fc2", "fc3")
STRUCTURED = [m for m in list_methods() if get_method(m).structured]
UNSTRUCTURED_BY_AMOUNT = [m for m in list_methods() if not get_method(m).structured and get_method(m).uses_amount]
# methods whose amount (or threshold) decides how much goes; a fixed pattern (N:M) is tested in test_nm.py
BY_AMOUNT_OR_THRESHOLD = [m for m in list_methods() if get_method(m).uses_amount or get_method(m).uses_threshold]
RANDOM = [m for m in list_methods() if m.startswith("random")]
FAST_CALIBRATION = 64   # data-driven methods: fewer calibration digits keep the suite fast


def untrained(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)       # as the tutorial does: a fixed seed, untrained weights
    return create_model(name).eval()


def pretrained_copy(name: str) -> nn.Module:
    return copy.deepcopy(load_pretrained(name)[0])


def pruned(network: nn.Module, **config) -> nn.Module:
    """Prune `network` in place per PruneConfig(**config); returns it."""
    config.setdefault("calibration_size", FAST_CALIBRATION)
    apply_pruning(network, PruneConfig(**config))
    return network


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every Conv2d / Linear, found independently of the engine's own layer selection."""
    return {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def masks(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: b.clone() for n, b in model.named_buffers() if n.endswith("_mask")}


def zeros(model: nn.Module) -> dict[str, int]:
    return {n: int((m.weight == 0).sum()) for n, m in weight_layers(model).items()}


def units_removed(module: nn.Module) -> torch.Tensor:
    """(out_units,) bool: whole weight row zero."""
    return (module.weight.flatten(1) == 0).all(dim=1)


def assert_same_masks(ours: nn.Module, reference: nn.Module) -> None:
    ours_masks, reference_masks = masks(ours), masks(reference)
    assert ours_masks.keys() == reference_masks.keys()
    for name in ours_masks:
        assert torch.equal(ours_masks[name], reference_masks[name]), name


# ---- the tutorial's two results ---------------------------------------------------------------

def test_tutorial_multi_parameter_pruning_creates_the_five_weight_masks() -> None:
    model = pruned(untrained("lenet"), conv_amount=0.2, linear_amount=0.4)
    assert list(dict(model.named_buffers())) == [f"{n}.weight_mask" for n in TUTORIAL_LAYERS]
    for name, module in weight_layers(model).items():
        amount = 0.2 if isinstance(module, nn.Conv2d) else 0.4
        assert int((module.weight == 0).sum()) == round(amount * module.weight.numel()), name
    reference = untrained("lenet")
    for module in reference.modules():                       # the tutorial's own code
        if isinstance(module, nn.Conv2d):
            prune.l1_unstructured(module, name="weight", amount=0.2)
        elif isinstance(module, nn.Linear):
            prune.l1_unstructured(module, name="weight", amount=0.4)
    assert_same_masks(model, reference)


def test_tutorial_global_pruning_gives_20_percent_with_unequal_layers() -> None:
    model = pruned(untrained("lenet"), scope="global", amount=0.2)
    counts = zeros(model)
    total = sum(m.weight.numel() for m in weight_layers(model).values())
    assert f"{100 * sum(counts.values()) / total:.2f}%" == "20.00%"
    assert sum(counts.values()) == round(0.2 * total)
    sparsity = {n: counts[n] / m.weight.numel() for n, m in weight_layers(model).items()}
    assert len({round(s, 4) for s in sparsity.values()}) == len(TUTORIAL_LAYERS)   # unequal shares
    # as in the tutorial's output: fc1 (largest fan-in, smallest init) loses more than 20%, the others less
    assert sparsity["fc1"] > 0.2 and all(sparsity[n] < 0.2 for n in ("conv1", "conv2", "fc2", "fc3"))


# ---- l1_unstructured equals torch.nn.utils.prune --------------------------------------------------

@pytest.mark.parametrize("amount", [0.2, 0.55, 0.9])
@pytest.mark.parametrize("trained", [False, True], ids=["untrained", "pretrained"])
@pytest.mark.parametrize("name", list_models())
def test_l1_unstructured_local_equals_torch(name: str, trained: bool, amount: float) -> None:
    make = pretrained_copy if trained else untrained
    ours = pruned(make(name), model=name, amount=amount, scope="local")
    reference = make(name)
    for module in weight_layers(reference).values():
        prune.l1_unstructured(module, "weight", amount=amount)
    assert_same_masks(ours, reference)


@pytest.mark.parametrize("amount", [0.2, 0.55, 0.9])
@pytest.mark.parametrize("trained", [False, True], ids=["untrained", "pretrained"])
@pytest.mark.parametrize("name", list_models())
def test_l1_unstructured_global_equals_torch(name: str, trained: bool, amount: float) -> None:
    make = pretrained_copy if trained else untrained
    ours = pruned(make(name), model=name, amount=amount, scope="global")
    reference = make(name)
    prune.global_unstructured([(m, "weight") for m in weight_layers(reference).values()],
                              pruning_method=prune.L1Unstructured, amount=amount)
    assert_same_masks(ours, reference)


# ---- structured methods remove whole units ------------------------------------------------------

@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("method", STRUCTURED)
@pytest.mark.parametrize("name", list_models())
def test_structured_methods_zero_whole_units_and_keep_the_output_layer(name: str, method: str, scope: str) -> None:
    original = load_pretrained(name)[0]
    model = pruned(pretrained_copy(name), model=name, method=method, scope=scope, amount=0.5)
    layers = list(weight_layers(model).items())
    *hidden, (output_name, output) = layers
    assert torch.equal(output.weight, getattr(original, output_name).weight)
    assert torch.equal(output.bias, getattr(original, output_name).bias)
    assert not [n for n in masks(model) if n.startswith(f"{output_name}.")]
    removed_total = 0
    for layer_name, module in hidden:
        before = getattr(original, layer_name)
        removed = units_removed(module)                                    # (out_units,)
        assert removed.any() and not removed.all(), layer_name
        assert (module.bias[removed] == 0).all(), layer_name              # bias of removed units too
        kept = ~removed
        assert torch.equal(module.weight[kept], before.weight[kept]), layer_name   # others untouched
        assert torch.equal(module.bias[kept], before.bias[kept]), layer_name
        if scope == "local":
            assert int(removed.sum()) == round(0.5 * removed.numel()), layer_name
        removed_total += int(removed.sum())
    assert removed_total == round(0.5 * sum(m.weight.shape[0] for _, m in hidden))


@pytest.mark.parametrize("amount", [0.1, 0.3, 0.77])
@pytest.mark.parametrize("method", [m for m in STRUCTURED if not get_method(m).data_driven])
def test_structured_local_removes_the_requested_share_of_units(method: str, amount: float) -> None:
    model = pruned(pretrained_copy("convnet"), model="convnet", method=method, amount=amount)
    for layer_name, module in prunable_layers(model, structured=True).items():
        units = module.weight.shape[0]
        assert int(units_removed(module).sum()) == round(amount * units), layer_name


def test_structured_global_keeps_at_least_one_unit_per_layer() -> None:
    model = pruned(pretrained_copy("convnet"), model="convnet", method="ln_structured", scope="global", amount=1.0)
    for layer_name, module in prunable_layers(model, structured=True).items():
        assert int((~units_removed(module)).sum()) == 1, layer_name


def test_ln_structured_local_matches_torch_ln_structured() -> None:
    for norm in (1, 2):
        ours = pruned(pretrained_copy("lenet"), method="ln_structured", norm=norm, amount=0.4)
        reference = pretrained_copy("lenet")
        for module in list(weight_layers(reference).values())[:-1]:       # output layer kept whole
            prune.ln_structured(module, "weight", amount=0.4, n=norm, dim=0)
        for layer_name, module in list(weight_layers(ours).items())[:-1]:
            assert torch.equal(module.weight, getattr(reference, layer_name).weight), (norm, layer_name)


# ---- amounts: zero changes nothing, sparsity matches the request -------------------------------

@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("method", BY_AMOUNT_OR_THRESHOLD)
@pytest.mark.parametrize("name", list_models())
def test_amount_zero_changes_nothing(name: str, method: str, scope: str) -> None:
    original = load_pretrained(name)[0]
    model = pruned(pretrained_copy(name), model=name, method=method, scope=scope, amount=0.0, threshold=0.0)
    assert masks(model) and all(bool(mask.all()) for mask in masks(model).values())
    effective = _effective(model)
    assert effective.keys() == dict(original.named_parameters()).keys()
    for param_name, before in original.named_parameters():
        assert torch.equal(before, effective[param_name]), param_name


def _effective(model: nn.Module) -> dict[str, torch.Tensor]:
    """Each parameter by name as the network uses it (masked where pruned)."""
    return {f"{module_name}.{n.removesuffix('_orig')}".lstrip("."): getattr(m, n.removesuffix("_orig"))
            for module_name, m in model.named_modules() for n, _ in m.named_parameters(recurse=False)}


@pytest.mark.parametrize("amount", [0.05, 0.33, 0.9])
@pytest.mark.parametrize("method", UNSTRUCTURED_BY_AMOUNT)
def test_unstructured_local_sparsity_matches_amount_per_layer(method: str, amount: float) -> None:
    model = pruned(pretrained_copy("lenet"), method=method, amount=amount)
    for layer_name, module in weight_layers(model).items():
        n = module.weight.numel()
        assert int((module.weight == 0).sum()) == round(amount * n), layer_name   # |achieved - amount| <= 0.5/n


@pytest.mark.parametrize("amount", [0.05, 0.33, 0.9])
@pytest.mark.parametrize("method", UNSTRUCTURED_BY_AMOUNT)
def test_unstructured_global_sparsity_matches_amount_overall(method: str, amount: float) -> None:
    model = pruned(pretrained_copy("lenet"), method=method, amount=amount, scope="global")
    total = sum(m.weight.numel() for m in weight_layers(model).values())
    assert sum(zeros(model).values()) == round(amount * total)


def test_per_layer_type_amounts_apply_to_their_layer_type_only() -> None:
    model = pruned(pretrained_copy("convnet"), model="convnet", amount=0.1, conv_amount=0.6)
    for layer_name, module in weight_layers(model).items():
        amount = 0.6 if isinstance(module, nn.Conv2d) else 0.1
        assert int((module.weight == 0).sum()) == round(amount * module.weight.numel()), layer_name


def test_int_amount_one_means_everything_not_one_weight() -> None:
    model = pruned(pretrained_copy("lenet"), amount=1)
    assert all(not bool(m.weight.any()) for m in weight_layers(model).values())


@pytest.mark.parametrize("selected", [("conv",), ("linear",)])
def test_layer_types_select_which_layers_are_pruned(selected: tuple[str, ...]) -> None:
    model = pruned(pretrained_copy("lenet"), amount=0.5, layer_types=selected)
    kind = {"conv": nn.Conv2d, "linear": nn.Linear}[selected[0]]
    for layer_name, module in weight_layers(model).items():
        assert hasattr(module, "weight_mask") == isinstance(module, kind), layer_name


@pytest.mark.parametrize("threshold", [0.01, 0.05, 0.2])
def test_threshold_removes_exactly_the_weights_below_it(threshold: float) -> None:
    original = load_pretrained("mlp")[0]
    model = pruned(pretrained_copy("mlp"), model="mlp", method="threshold", threshold=threshold, amount=0.0)
    for layer_name, module in weight_layers(model).items():
        below = getattr(original, layer_name).weight.abs() < threshold
        assert torch.equal(module.weight == 0, below), layer_name


# ---- randomness and errors ------------------------------------------------------------------------

@pytest.mark.parametrize("method", list_methods())
def test_every_method_is_reproducible_with_its_seed(method: str) -> None:
    first = pruned(pretrained_copy("lenet"), method=method, amount=0.4, seed=7)
    assert_same_masks(first, pruned(pretrained_copy("lenet"), method=method, amount=0.4, seed=7))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("method", RANDOM)
def test_random_methods_differ_across_seeds(method: str, scope: str) -> None:
    masks_by_seed = [masks(pruned(pretrained_copy("lenet"), method=method, amount=0.4, scope=scope, seed=s))
                     for s in (0, 1)]
    assert any(not torch.equal(masks_by_seed[0][n], masks_by_seed[1][n]) for n in masks_by_seed[0])


def test_random_methods_are_registered() -> None:
    assert {"random_unstructured", "random_structured"} <= set(RANDOM)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("method", list_methods())
def test_no_selected_layer_is_a_clear_error(method: str, scope: str) -> None:
    with pytest.raises(ValueError, match="no conv layers"):
        pruned(pretrained_copy("mlp"), model="mlp", method=method, scope=scope, layer_types=("conv",))


def test_prunable_layers_skips_the_output_layer_only_when_structured() -> None:
    model = create_model("lenet")
    assert list(prunable_layers(model)) == list(TUTORIAL_LAYERS)
    assert list(prunable_layers(model, structured=True)) == list(TUTORIAL_LAYERS[:-1])
    assert list(prunable_layers(model, ("linear",))) == ["fc1", "fc2", "fc3"]


# ---- importance scores computed once, reused ------------------------------------------------------

@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("method", list_methods())
def test_precomputed_scores_give_the_same_masks(method: str, scope: str) -> None:
    config = PruneConfig(method=method, scope=scope, amount=0.6, threshold=0.05,
                         calibration_size=FAST_CALIBRATION)
    scores = importance_scores(pretrained_copy("lenet"), replace(config, amount=0.1))   # any amount/scope
    with_scores = pretrained_copy("lenet")
    apply_pruning(with_scores, config, scores=scores)
    assert_same_masks(with_scores, pruned(pretrained_copy("lenet"), method=method, scope=scope, amount=0.6,
                                          threshold=0.05))


@pytest.mark.parametrize("method", list_methods())
def test_scores_do_not_depend_on_amount_or_scope(method: str) -> None:
    """The sweep computes scores once per method and reuses them for every amount and scope."""
    config = PruneConfig(method=method, calibration_size=FAST_CALIBRATION, threshold=0.05)
    first = importance_scores(pretrained_copy("lenet"), replace(config, amount=0.1, scope="local"))
    second = importance_scores(pretrained_copy("lenet"), replace(config, amount=0.9, scope="global"))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_scores_for_other_layers_or_shapes_are_refused() -> None:
    config = PruneConfig(method="l1_unstructured")
    scores = importance_scores(pretrained_copy("lenet"), config)
    with pytest.raises(ValueError, match="are pruned"):
        apply_pruning(pretrained_copy("lenet"), config, scores={k: v for k, v in scores.items() if k != "fc3"})
    structured = PruneConfig(method="ln_structured")
    with pytest.raises(ValueError, match="expected"):
        apply_pruning(pretrained_copy("lenet"), structured, scores={k: v for k, v in scores.items() if k != "fc3"})
