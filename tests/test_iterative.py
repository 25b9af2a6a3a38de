"""Iterative pruning reaches its target, keeps earlier masks, and enforces its caps."""
from __future__ import annotations

import pytest
import torch

from pruning.config import PruneConfig
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from pruning.engine import prune_model
from pruning.finetune import MAX_FINETUNE_STEPS
from pruning.iterative import MAX_ROUNDS, MAX_TOTAL_STEPS, iterative_prune, prune_round, pruned_fraction, round_targets
from pruning.masks import mask_snapshot, permanent_copy


def test_round_targets_end_at_the_target_and_remove_equal_shares():
    targets = round_targets(0.9, 3)
    assert targets[-1] == 0.9 and targets == sorted(targets)
    remaining = [1 - t for t in [0.0] + targets]
    ratios = [b / a for a, b in zip(remaining, remaining[1:])]
    assert max(ratios) - min(ratios) < 1e-9
    assert round_targets(1.0, 4) == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("method", ["l1_unstructured", "gradient", "threshold"])
def test_iterative_pruning_reaches_the_target_sparsity(method, small_eval):
    config = PruneConfig(model="lenet", method=method, amount=0.9, scope="global")
    result = iterative_prune("lenet", config, rounds=3, steps_per_round=4, eval_set=small_eval)
    assert [r.round for r in result.rounds] == [1, 2, 3]
    achieved = [r.achieved for r in result.rounds]
    assert achieved == sorted(achieved)
    assert abs(achieved[-1] - 0.9) <= 0.005
    assert abs(pruned_fraction(result.model, config) - achieved[-1]) < 1e-12
    assert all(r.accuracy_pruned is not None and r.accuracy_finetuned is not None for r in result.rounds)


def test_iterative_structured_pruning_removes_as_many_units_as_one_shot():
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    result = iterative_prune("convnet", config, rounds=2, steps_per_round=3)
    one_shot = prune_model("convnet", config).model
    assert result.rounds[-1].achieved == pytest.approx(pruned_fraction(one_shot, config), abs=1e-9)


def test_a_round_keeps_every_weight_pruned_before():
    config = PruneConfig(model="lenet", method="gradient", amount=0.5, scope="global")
    first = prune_model("lenet", config).model
    old = mask_snapshot(first)
    second, achieved = prune_round(permanent_copy(first), config, 0.7, old)
    for name, mask in mask_snapshot(second).items():
        assert torch.all(mask <= old[name]), name
    assert achieved == pytest.approx(0.7, abs=0.005)


@pytest.mark.parametrize("rounds, steps, cap", [
    (0, 10, "MAX_ROUNDS"), (MAX_ROUNDS + 1, 10, "MAX_ROUNDS"), (2, MAX_FINETUNE_STEPS + 1, "MAX_FINETUNE_STEPS"),
    (MAX_ROUNDS, MAX_TOTAL_STEPS // MAX_ROUNDS + 1, "MAX_TOTAL_STEPS"),
])
def test_iterative_caps_are_enforced_before_any_work(rounds, steps, cap, monkeypatch):
    import pruning.iterative as iterative_module
    monkeypatch.setattr(iterative_module, "prune_model", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(ValueError, match=cap):
        iterative_prune("mlp", PruneConfig(model="mlp", amount=0.5), rounds=rounds, steps_per_round=steps)
