"""Gradual pruning (AGP): the sparsity at every step equals Zhu & Gupta's formula, pruned weights stay
exactly zero while training goes on, and the comparison with one-shot and iterative is like for like."""
from __future__ import annotations

import pytest
import torch

from pruning import load_pretrained
from pruning.agp import AgpSchedule, agp_finetune, default_schedule, tighten, weights_to_prune
from pruning.pruner import prunable_layers
from pruning.schedules import SCHEDULES, compare_schedules, format_schedules
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from tests.oracle import evaluate, model_inputs, zero_counts


def cubic(t: float, s_i: float, s_f: float, t0: int, n: int, dt: int) -> float:
    """s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, written out from the paper (clamped outside)."""
    if t < t0:
        return s_i
    if t > t0 + n * dt:
        return s_f
    return s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3


def test_the_formula_hits_its_ends_and_rises_fastest_at_first():
    schedule = AgpSchedule(final=0.9, initial=0.1, start=5, updates=4, every=10)
    assert schedule.formula(5) == pytest.approx(0.1) and schedule.formula(45) == pytest.approx(0.9)
    for t in range(0, 60):
        assert schedule.formula(t) == pytest.approx(cubic(t, 0.1, 0.9, 5, 4, 10))
    gains = [schedule.formula(t + 10) - schedule.formula(t) for t in (5, 15, 25, 35)]
    assert gains == sorted(gains, reverse=True)
    assert schedule.update_steps() == [5, 15, 25, 35, 45]


def test_sparsity_at_each_step_equals_the_formula_and_zeros_stay_zero():
    schedule = AgpSchedule(final=0.8, initial=0.2, start=2, updates=3, every=3)      # updates at 2, 5, 8, 11
    dense = load_pretrained("mlp")[0]
    tuned, losses, measured = agp_finetune(dense, "mlp", schedule, steps=14, seed=0)
    total = sum(m.weight.numel() for m in prunable_layers(dense).values())
    assert len(measured) == len(losses) == 14
    for step, sparsity in enumerate(measured):
        last_update = max([u for u in schedule.update_steps() if u <= step], default=None)
        expected = 0.0 if last_update is None else cubic(last_update, 0.2, 0.8, 2, 3, 3)
        assert sparsity == weights_to_prune(expected, total) / total, step
    counts = zero_counts(tuned)                                 # zeros counted from the weights themselves
    assert sum(z for z, _ in counts.values()) >= weights_to_prune(0.8, total)
    for module in prunable_layers(tuned).values():
        assert torch.all(module.weight[module.weight_mask == 0] == 0)


def test_a_pruned_weight_is_never_revived_while_training():
    schedule = AgpSchedule(final=0.6, updates=2, every=2)
    masks_seen = []
    dense = load_pretrained("mlp")[0]

    import pruning.agp as agp
    real = agp.tighten

    def spy(layers, sparsity):
        real(layers, sparsity)
        masks_seen.append(layers["fc1"].weight_mask.clone())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agp, "tighten", spy)
        agp_finetune(dense, "mlp", schedule, steps=6, seed=0)
    assert len(masks_seen) == 3
    for earlier, later in zip(masks_seen, masks_seen[1:]):
        assert torch.all(later <= earlier)


def test_tighten_ranks_all_layers_together_by_magnitude():
    model = load_pretrained("mlp")[0]
    import copy
    import torch.nn.utils.prune as prune
    model = copy.deepcopy(model)
    layers = prunable_layers(model)
    for module in layers.values():
        prune.identity(module, "weight")
    tighten(layers, 0.5)
    kept = torch.cat([m.weight_orig[m.weight_mask == 1].abs() for m in layers.values()])
    cut = torch.cat([m.weight_orig[m.weight_mask == 0].abs() for m in layers.values()])
    assert cut.numel() == weights_to_prune(0.5, kept.numel() + cut.numel())
    assert cut.max() <= kept.min()


def test_default_schedule_ends_two_thirds_in():
    schedule = default_schedule(0.9, 300)
    assert schedule.end <= 200 and schedule.formula(schedule.end) == pytest.approx(0.9)


@pytest.mark.parametrize("bad", [dict(final=1.0), dict(final=0.5, initial=0.6), dict(final=0.5, every=0)])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        AgpSchedule(**bad)


def test_the_comparison_reaches_the_same_sparsity_with_the_same_steps(small_eval):
    result = compare_schedules("mlp", sparsity=0.9, steps=24, rounds=3, eval_set=small_eval)
    assert [r.schedule for r in result.rows] == list(SCHEDULES)
    total = sum(n for _, n in zero_counts(load_pretrained("mlp")[0]).values())
    for row in result.rows:
        assert row.steps == 24
        assert row.sparsity == pytest.approx(weights_to_prune(0.9, total) / total, abs=1e-4), row.schedule
        model = result.models[row.schedule]
        checked = evaluate(model, model_inputs(small_eval.images, "mlp"), small_eval.labels)
        assert row.accuracy == pytest.approx(checked.accuracy, abs=int(checked.near_ties.sum()) / checked.total + 1e-6)
    assert "gradual (AGP)" in format_schedules(result)


@pytest.mark.parametrize("kwargs", [dict(sparsity=1.0), dict(steps=301), dict(steps=100, rounds=3),
                                    dict(rounds=1)])
def test_comparison_limits_are_enforced_before_any_work(kwargs, monkeypatch):
    import pruning.schedules as schedules
    monkeypatch.setattr(schedules, "load_pretrained", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(ValueError):
        compare_schedules("mlp", **kwargs)
