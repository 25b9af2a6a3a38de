"""Sweeps: every point equals the single prune at its settings; lines are reported as they finish."""
from __future__ import annotations

import pytest
import torch

from pruning.checkpoint import load_pretrained
from pruning.config import SCOPES, PruneConfig
from pruning.data import DigitSet
from pruning.engine import prune_model
from pruning.evaluate import predictions
from pruning.methods import get_method, list_methods
from pruning.stats import global_sparsity, layer_stats
from pruning.sweep import DEFAULT_AMOUNTS, SweepResult, evaluation_model, sweep
from tests.helpers import small_eval  # noqa: F401  (a fixture)

AMOUNTS = (0.0, 0.5, 0.9)


@pytest.fixture(scope="module")
def lenet_sweep(small_eval) -> SweepResult:
    return sweep("lenet", small_eval, amounts=AMOUNTS)


def test_default_grid_is_0_to_095_in_steps_of_005():
    assert len(DEFAULT_AMOUNTS) == 20
    assert DEFAULT_AMOUNTS[0] == 0.0 and DEFAULT_AMOUNTS[-1] == 0.95
    assert all(abs(b - a - 0.05) < 1e-9 for a, b in zip(DEFAULT_AMOUNTS, DEFAULT_AMOUNTS[1:]))


def test_sweep_covers_every_method_scope_and_amount(lenet_sweep):
    assert len(lenet_sweep.points) == len(list_methods()) * len(SCOPES) * len(AMOUNTS)
    for method in list_methods():
        for scope in SCOPES:
            assert [p.amount for p in lenet_sweep.curve(method, scope)] == list(AMOUNTS)


def assert_equals_single_prune(point, result: SweepResult, eval_set: DigitSet) -> None:
    single = prune_model(result.model, point.config(result.base_config), eval_set=eval_set)
    assert point.sparsity == single.global_sparsity, point
    assert point.accuracy == single.accuracy_after, point


@pytest.mark.parametrize("method, scope, amount", [
    ("l1_unstructured", "global", 0.5), ("threshold", "local", 0.9), ("gradient", "local", 0.9),
    ("ln_structured", "global", 0.5), ("activation", "local", 0.9)])
def test_sweep_points_equal_single_prunes(lenet_sweep, small_eval, method, scope, amount):
    assert_equals_single_prune(lenet_sweep.point(method, scope, amount), lenet_sweep, small_eval)


@pytest.mark.slow
def test_every_sweep_point_equals_the_single_prune_at_its_settings(lenet_sweep, small_eval):
    for point in lenet_sweep.points:
        if point.amount > 0:                          # amount 0: test_amount_zero_is_the_dense_model
            assert_equals_single_prune(point, lenet_sweep, small_eval)


def test_amount_zero_is_the_dense_model(lenet_sweep):
    dense = [p.accuracy for p in lenet_sweep.points if p.amount == 0.0 and p.method != "nm_semi_structured"]
    assert dense == [lenet_sweep.dense_accuracy] * len(dense)


def test_a_fixed_pattern_gives_one_flat_line(lenet_sweep):
    line = lenet_sweep.curve("nm_semi_structured", "local")
    assert len({(p.sparsity, p.accuracy) for p in line}) == 1            # the amount does not matter


def test_threshold_points_reach_their_sparsity_and_ignore_scope(lenet_sweep):
    local, global_ = lenet_sweep.curve("threshold", "local"), lenet_sweep.curve("threshold", "global")
    assert [(p.threshold, p.accuracy, p.sparsity) for p in local] == \
           [(p.threshold, p.accuracy, p.sparsity) for p in global_]
    for point in local:
        assert point.threshold is not None
        assert abs(point.sparsity - point.amount) < 1e-3     # all layers are selected: weights = conv+linear


def test_sweep_reports_progress_from_0_to_1(small_eval):
    seen = []
    sweep("mlp", small_eval, methods=["l1_unstructured"], amounts=(0.0, 0.5),
          progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


def test_sweep_counts_and_times_each_distinct_model_once(small_eval):
    # amount 0 is the dense model (measured before the lines); "threshold" 0.5 is the same model
    # under both scopes: 4 points, 1 model evaluated
    result = sweep("mlp", small_eval, methods=["threshold"], amounts=(0.0, 0.5))
    assert len(result.points) == 4 and result.models_evaluated == 1
    assert 0 < result.evaluation_seconds < result.seconds
    assert result.to_dict()["models_evaluated"] == 1


def test_sweep_reports_each_finished_line_as_it_comes(small_eval):
    seen = []
    result = sweep("mlp", small_eval, methods=["l1_unstructured", "ln_structured"], amounts=(0.0, 0.5),
                   on_line=lambda partial: seen.append(list(partial.points)))
    assert [len(points) for points in seen] == [2, 4, 6, 8]
    assert seen[-1] == result.points and all(seen[i] == seen[-1][:len(seen[i])] for i in range(4))


def test_a_sweep_result_survives_a_round_trip_through_json(small_eval):
    import json
    result = sweep("mlp", small_eval, methods=["threshold"], amounts=(0.0, 0.5))
    again = SweepResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.to_dict() == result.to_dict() and again.base_config == result.base_config


def test_sweep_of_a_given_model_uses_that_model(small_eval):
    model = load_pretrained("mlp")[0]
    from_name = sweep("mlp", small_eval, methods=["ln_structured"], amounts=(0.5,))
    from_module = sweep(model, small_eval, methods=["ln_structured"], amounts=(0.5,),
                        base_config=PruneConfig(model="mlp"))
    assert [p.accuracy for p in from_name.points] == [p.accuracy for p in from_module.points]


@pytest.mark.parametrize("model_name", ["lenet", "convnet", "mlp"])
@pytest.mark.parametrize("method, amount", [("ln_structured", 0.5), ("activation", 0.8), ("l1_unstructured", 0.9)])
def test_evaluation_model_predicts_like_the_masked_model(heldout, model_name, method, amount):
    masked = prune_model(model_name, PruneConfig(model=model_name, method=method, amount=amount,
                                                 calibration_size=64)).model
    measured = evaluation_model(masked, model_name)
    if get_method(method).structured:
        assert sum(p.numel() for p in measured.parameters()) < 0.6 * sum(p.numel() for p in masked.parameters())
    else:
        assert measured is masked                     # unstructured: nothing to remove
    assert torch.equal(predictions(measured, model_name, heldout), predictions(masked, model_name, heldout))


def test_evaluation_model_keeps_a_barely_pruned_model(heldout):
    masked = prune_model("lenet", PruneConfig(method="ln_structured", amount=0.05)).model
    assert evaluation_model(masked, "lenet") is masked


@pytest.mark.parametrize("grid, message", [
    ({"amounts": ()}, "1 to 50 amounts"),
    ({"amounts": tuple(i / 100 for i in range(51))}, "1 to 50 amounts"),
    ({"amounts": (0.5, 1.0)}, "fractions from 0 to below 1"),
    ({"amounts": (-0.1,)}, "fractions from 0 to below 1"),
    ({"amounts": (float("nan"),)}, "fractions from 0 to below 1"),
    ({"amounts": ("half",)}, "fractions from 0 to below 1"),
    ({"scopes": ("everywhere",)}, "scopes must be some of"),
    ({"methods": ["magic"]}, "magic"),
])
def test_a_bad_grid_is_refused_before_any_work(small_eval, grid, message):
    with pytest.raises(ValueError, match=message):
        sweep("lenet", small_eval, **grid)
