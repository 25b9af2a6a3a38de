"""Property tests (hypothesis): the documented pruning rules hold for random small layers and amounts,
and pruned weights stay exactly zero through fine-tuning, export and reload."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from models import get_model_entry
from pruning import PruneConfig, get_method, list_methods, load_checkpoint, prune_model
from pruning.export import export_pruned
from pruning.finetune import finetune
from pruning.pruner import apply_pruning

# Small example counts keep the file at a few seconds; failures are replayed from .hypothesis/ (which
# hypothesis git-ignores itself).
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Plenty of repeated magnitudes (ties at the cut) next to arbitrary ones; never 0, so a zero is a prune.
VALUES = st.one_of(st.sampled_from([-1.0, -0.5, 0.25, 0.5, 1.0, 2.0]),
                   st.floats(-4, 4, width=32).filter(lambda v: v != 0))
AMOUNTS = st.floats(0.0, 1.0)


class Stack(nn.Module):
    """Layers to prune; no forward: the magnitude and random methods never run the model."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


@st.composite
def layer(draw, min_units: int = 1) -> nn.Module:
    """A Linear (1..6 -> min_units..6) or Conv2d (1..3 -> min_units..4 channels, 1..3 kernel) with drawn weights, all
    times a drawn power of 4: layers of different scales, as in real networks (what global structured
    pruning's per-layer normalisation is for)."""
    module = (nn.Conv2d(draw(st.integers(1, 3)), draw(st.integers(min_units, 4)), draw(st.integers(1, 3)))
              if draw(st.booleans()) else nn.Linear(draw(st.integers(1, 6)), draw(st.integers(min_units, 6))))
    scale = 4.0 ** draw(st.integers(-3, 3))
    with torch.no_grad():
        for tensor in (module.weight, module.bias):
            values = draw(st.lists(VALUES, min_size=tensor.numel(), max_size=tensor.numel()))
            tensor.copy_(scale * torch.tensor(values).view_as(tensor))
    return module


stacks = st.lists(layer(), min_size=1, max_size=3).map(Stack)
structured_stacks = st.lists(layer(), min_size=2, max_size=4).map(Stack)   # the last is the output layer
# Two or three hidden layers of 2+ units, then the output layer: a global ranking has choices to make.
ranked_stacks = st.tuples(st.lists(layer(min_units=2), min_size=2, max_size=3), layer()).map(
    lambda layers: Stack(layers[0] + [layers[1]]))


def masks(model: Stack, name: str = "weight") -> list[torch.Tensor]:
    """Each layer's keep mask as bool (all True when not pruned)."""
    return [getattr(m, f"{name}_mask", torch.ones_like(getattr(m, name))).bool() for m in model.layers]


def originals(model: Stack) -> list[torch.Tensor]:
    return [getattr(m, "weight_orig", m.weight).detach() for m in model.layers]


def prune(model: Stack, **settings_) -> Stack:
    apply_pruning(model, PruneConfig(model="mlp", **settings_))
    return model


# ---- single weights -----------------------------------------------------------------------------

@FAST
@given(stacks, AMOUNTS, st.sampled_from(["l1_unstructured", "random_unstructured"]))
def test_local_unstructured_removes_round_amount_n_of_each_layer(model, amount, method) -> None:
    prune(model, method=method, amount=amount, scope="local")
    for i, (keep, w) in enumerate(zip(masks(model), originals(model))):
        removed = int((~keep).sum())
        assert removed == round(amount * w.numel()), f"layer {i}: {removed} removed != round({amount} x {w.numel()})"
        if method == "l1_unstructured" and keep.any() and (~keep).any():
            went, stayed = float(w.abs()[~keep].max()), float(w.abs()[keep].min())
            assert went <= stayed, f"layer {i}: |w| {went:.4g} went, |w| {stayed:.4g} stayed"


@FAST
@given(stacks, AMOUNTS)
def test_global_l1_removes_round_amount_n_overall_smallest_first(model, amount) -> None:
    prune(model, method="l1_unstructured", amount=amount, scope="global")
    keep = torch.cat([k.flatten() for k in masks(model)])
    magnitude = torch.cat([w.abs().flatten() for w in originals(model)])
    assert int((~keep).sum()) == round(amount * keep.numel()), f"{int((~keep).sum())} removed of {keep.numel()}"
    if keep.any() and (~keep).any():
        went, stayed = float(magnitude[~keep].max()), float(magnitude[keep].min())
        assert went <= stayed, f"|w| {went:.4g} went, |w| {stayed:.4g} stayed"


@FAST
@given(stacks, st.floats(0.0, 4.0), st.sampled_from(["local", "global"]))
def test_threshold_keeps_exactly_the_weights_at_or_above_it(model, threshold, scope) -> None:
    prune(model, method="threshold", threshold=threshold, amount=0.5, scope=scope)
    for i, (keep, w) in enumerate(zip(masks(model), originals(model))):
        assert torch.equal(keep, w.abs() >= threshold), f"layer {i}: mask is not |w| >= {threshold}"


# ---- whole units ----------------------------------------------------------------------------------

def unit_keep(model: Stack) -> list[torch.Tensor]:
    """Per hidden layer: (units,) keep, after checking that weight rows and bias follow it whole."""
    keeps = []
    for i, (m, w_keep, b_keep) in enumerate(zip(model.layers, masks(model), masks(model, "bias"))):
        rows = w_keep.flatten(1)
        assert bool((rows.all(1) | ~rows.any(1)).all()), f"layer {i}: a unit is partly masked"
        assert torch.equal(b_keep, rows.all(1)), f"layer {i}: bias mask {b_keep.tolist()} != its rows'"
        keeps.append(rows.all(1))
    assert bool(keeps[-1].all()), "the output layer lost units"
    return keeps[:-1]


@FAST
@given(structured_stacks, AMOUNTS, st.sampled_from(["ln_structured", "random_structured"]))
def test_local_structured_removes_whole_rows_round_amount_units(model, amount, method) -> None:
    prune(model, method=method, amount=amount, scope="local")
    for i, (keep, w) in enumerate(zip(unit_keep(model), originals(model))):
        assert int((~keep).sum()) == round(amount * keep.numel()), f"layer {i}: {int((~keep).sum())} units removed"
        norms = w.flatten(1).abs().sum(1)                            # L1 (norm=1, the default)
        if method == "ln_structured" and keep.any() and (~keep).any():
            went, stayed = float(norms[~keep].max()), float(norms[keep].min())
            assert went <= stayed, f"layer {i}: a unit of norm {went:.4g} went, one of {stayed:.4g} stayed"


@FAST
@given(structured_stacks, AMOUNTS, st.sampled_from(["ln_structured", "random_structured"]))
def test_global_structured_removes_whole_rows_and_keeps_a_unit_per_layer(model, amount, method) -> None:
    prune(model, method=method, amount=amount, scope="global")
    keeps = unit_keep(model)
    units = sum(k.numel() for k in keeps)
    removed = sum(int((~k).sum()) for k in keeps)
    assert removed == min(round(amount * units), units - len(keeps)), f"{removed} of {units} units removed"
    assert all(k.any() for k in keeps), "a layer lost every unit"


@FAST
@given(ranked_stacks, st.floats(0.1, 0.9))
def test_global_ln_structured_ranks_units_by_norm_over_their_layers_mean(model, amount) -> None:
    # README: each layer's scores are divided by that layer's mean score; a layer's best unit always stays
    prune(model, method="ln_structured", amount=amount, scope="global")
    keep = torch.cat(unit_keep(model))
    scores = [w.flatten(1).abs().sum(1) for w in originals(model)[:-1]]          # L1 norms (norm=1)
    normalised = torch.cat([s / s.mean() for s in scores])
    forced = torch.cat([nn.functional.one_hot(s.argmax(), s.numel()).bool() for s in scores])
    if (~keep).any() and (keep & ~forced).any():
        went, stayed = float(normalised[~keep].max()), float(normalised[keep & ~forced].min())
        assert went <= stayed, f"a unit with normalised score {went:.4g} went, one with {stayed:.4g} stayed"


@FAST
@given(structured_stacks, AMOUNTS, st.integers(0, 2**31 - 1),
       st.sampled_from(["random_unstructured", "random_structured"]))
def test_random_methods_are_seeded(model, amount, seed, method) -> None:
    first, second = copy.deepcopy(model), copy.deepcopy(model)
    prune(first, method=method, amount=amount, seed=seed)
    prune(second, method=method, amount=amount, seed=seed)
    assert all(torch.equal(a, b) for a, b in zip(masks(first), masks(second))), f"seed {seed}: masks differ"


# ---- through fine-tuning, export and reload -------------------------------------------------------

def values(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every conv / linear weight and bias as the network uses it (masked when pruned), by name."""
    return {f"{n}.{t}": getattr(m, t).detach().clone() for n, m in model.named_modules()
            if type(m) in (nn.Conv2d, nn.Linear) for t in ("weight", "bias")}


def exported(model: nn.Module, model_name: str, config: PruneConfig, shrink: bool) -> nn.Module:
    """export_pruned to a temporary file, read back with load_checkpoint."""
    with tempfile.TemporaryDirectory() as folder:
        export_pruned(model, model_name, Path(folder) / "pruned.pt", config=config, shrink=shrink)
        return load_checkpoint(Path(folder) / "pruned.pt")[0]


SETTINGS = (st.sampled_from(list_methods()), st.sampled_from(["local", "global"]), st.floats(0.1, 0.9))


@FEW
@given(*SETTINGS)
def test_pruned_weights_stay_zero_through_finetune_export_and_reload(method, scope, amount) -> None:
    stays_zero_through_finetune_export_and_reload("mlp", method, scope, amount)


@pytest.mark.slow
@FEW
@given(*SETTINGS)
def test_pruned_lenet_weights_stay_zero_through_finetune_export_and_reload(method, scope, amount) -> None:
    stays_zero_through_finetune_export_and_reload("lenet", method, scope, amount)


def stays_zero_through_finetune_export_and_reload(model_name: str, method: str, scope: str, amount: float) -> None:
    """Pruned weights and biases are exactly 0 after a few fine-tuning steps, and after export + reload;
    a structured export (dead units removed) computes what the fine-tuned model computes."""
    config = PruneConfig(model=model_name, method=method, amount=amount, scope=scope, calibration_size=64)
    pruned_model = prune_model(model_name, config).model
    pruned = values(pruned_model)
    zeros = {n: v == 0 for n, v in pruned.items()}         # the shipped weights have no zeros of their own
    tuned_model, _ = finetune(pruned_model, model_name, steps=3, batch_size=16)     # tunes a copy
    tuned = values(tuned_model)
    assert any(not torch.equal(tuned[n][~z], pruned[n][~z]) for n, z in zeros.items()), \
        "fine-tuning changed no kept weight: nothing was tested"
    for stage, weights in (("fine-tuning", tuned), ("export + reload", values(exported(tuned_model, model_name,
                                                                                          config, shrink=False)))):
        for name, was_zero in zeros.items():
            nonzero = int((weights[name][was_zero] != 0).sum())
            assert nonzero == 0, f"{name}: {nonzero} pruned values nonzero after {stage} ({method}/{scope}/{amount:.3f})"
    if get_method(method).structured:               # the default export removes the dead units for real
        padding = get_model_entry(model_name).input_padding
        x = torch.randn(8, 1, 28 + 2 * padding, 28 + 2 * padding, generator=torch.Generator().manual_seed(0))
        shrunk = exported(tuned_model, model_name, config, shrink=True)
        with torch.inference_mode():
            difference = float((shrunk(x) - tuned_model(x)).abs().max())
        assert difference <= 1e-4, f"the shrunk export computes other outputs (max |difference| {difference:.2g})"
