"""Lottery tickets: survivors rewound to exactly their recorded initial values, random re-init keeps the
masks, pruned weights stay zero through retraining, rounds and caps as documented."""
from __future__ import annotations

import pytest
import torch

from models import create_model
from pruning.finetune import finetune
from pruning.lottery import (MAX_LOTTERY_ROUNDS, MAX_LOTTERY_STEPS, format_lottery, initial_model, lottery_ticket,
                             next_masks, reinit_seed, remaining, rewind, round_amounts)
from pruning.masks import mask_snapshot
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from tests.oracle import evaluate, model_inputs


def test_initial_model_is_what_the_training_seed_builds_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = create_model("mlp")               # pruning.train: torch.manual_seed(seed); create_model(name)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    rebuilt = initial_model("mlp", 0)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), expected.state_dict().values()))
    assert not torch.equal(initial_model("mlp", reinit_seed(0, 1)).fc1.weight, rebuilt.fc1.weight)


def trained_and_masks(steps: int = 3):
    init = initial_model("mlp", 0)
    trained = finetune(init, "mlp", steps, seed=0)[0]
    return init, trained, next_masks(trained, "mlp", round_amounts(init, 0.5, 1), {})


def test_rewinding_restores_exactly_the_recorded_initial_values_of_the_survivors():
    init, trained, keep = trained_and_masks()
    ticket = rewind(init, keep)
    for name in ("fc1", "fc2"):
        layer, start, mask = ticket.get_submodule(name), init.get_submodule(name), keep[f"{name}.weight_mask"]
        survivors = mask.bool()
        assert torch.equal(layer.weight_orig[survivors], start.weight[survivors])     # bit for bit
        assert torch.equal(layer.weight, start.weight * mask)                         # pruned ones compute 0
        assert not torch.equal(start.weight, trained.get_submodule(name).weight)      # training moved them
        assert torch.equal(layer.bias, start.bias)
    assert torch.equal(keep["fc1.weight_mask"], mask_snapshot(ticket)["fc1.weight_mask"])


def test_masks_remove_the_smallest_trained_weights_at_the_rate_output_layer_at_half():
    _, trained, keep = trained_and_masks()
    fc1, fc2 = keep["fc1.weight_mask"], keep["fc2.weight_mask"]
    assert int((fc1 == 0).sum()) == round(0.5 * fc1.numel())
    assert int((fc2 == 0).sum()) == round(0.25 * fc2.numel())
    magnitudes = trained.fc1.weight.abs()
    assert magnitudes[fc1 == 0].max() <= magnitudes[fc1 == 1].min()
    assert remaining(keep) == pytest.approx(int(fc1.sum() + fc2.sum()) / (fc1.numel() + fc2.numel()))


def test_a_later_round_keeps_every_weight_pruned_before():
    init, trained, keep = trained_and_masks()
    again = finetune(rewind(init, keep), "mlp", 3, seed=0)[0]
    tighter = next_masks(again, "mlp", round_amounts(init, 0.5, 2), keep)
    for name, mask in tighter.items():
        assert torch.all(mask <= keep[name]), name
    assert remaining(tighter) == pytest.approx(0.5 * remaining(keep), abs=0.01)


def test_the_lesson_keeps_masks_for_the_random_reinit_and_zeros_stay_zero(small_eval, monkeypatch):
    import pruning.lottery as lottery
    trained_inputs = []
    real = lottery.finetune

    def spy(model, *args, **kwargs):
        trained_inputs.append(model)
        return real(model, *args, **kwargs)
    monkeypatch.setattr(lottery, "finetune", spy)
    result = lottery_ticket("mlp", rounds=2, rate=0.5, steps=4, eval_set=small_eval)
    dense, ticket1, random1, ticket2, random2 = trained_inputs
    for ticket, control in ((ticket1, random1), (ticket2, random2)):
        masks_ticket, masks_random = mask_snapshot(ticket), mask_snapshot(control)
        assert masks_ticket.keys() == masks_random.keys() == {"fc1.weight_mask", "fc2.weight_mask"}
        assert all(torch.equal(masks_ticket[k], masks_random[k]) for k in masks_ticket)
        assert torch.equal(ticket.fc1.weight_orig, result.start.fc1.weight)           # rewound to the init
        assert not torch.equal(control.fc1.weight_orig, result.start.fc1.weight)      # a fresh init
    final = result.ticket
    assert torch.all(final.fc1.weight[final.fc1.weight_mask == 0] == 0)
    assert int((final.fc1.weight == 0).sum()) >= int((final.fc1.weight_mask == 0).sum())
    assert [p.round for p in result.points] == [1, 2]
    assert result.points[0].remaining > result.points[1].remaining
    assert "random re-init" in format_lottery(result)


def test_the_lesson_is_deterministic_and_its_accuracy_matches_the_oracle(small_eval):
    first = lottery_ticket("mlp", rounds=1, rate=0.5, steps=3, eval_set=small_eval)
    second = lottery_ticket("mlp", rounds=1, rate=0.5, steps=3, eval_set=small_eval)
    assert first.to_dict() | {"seconds": 0} == second.to_dict() | {"seconds": 0}
    checked = evaluate(first.ticket, model_inputs(small_eval.images, "mlp"), small_eval.labels)
    assert first.points[0].accuracy_ticket == pytest.approx(checked.accuracy, abs=int(checked.near_ties.sum()) / checked.total + 1e-6)


def test_late_rewinding_rewinds_to_the_dense_run_after_k_steps(small_eval):
    result = lottery_ticket("mlp", rounds=1, rate=0.5, steps=4, rewind_steps=2)
    expected = finetune(initial_model("mlp", 0), "mlp", 2, 1.2e-3, seed=0)[0]
    assert torch.equal(result.start.fc1.weight, expected.fc1.weight)


@pytest.mark.parametrize("kwargs, cap", [
    (dict(rounds=0), "MAX_LOTTERY_ROUNDS"), (dict(rounds=MAX_LOTTERY_ROUNDS + 1), "MAX_LOTTERY_ROUNDS"),
    (dict(rate=0.95), "rate"), (dict(steps=5, rewind_steps=6), "rewind"),
    (dict(rounds=MAX_LOTTERY_ROUNDS, steps=MAX_LOTTERY_STEPS // (2 * MAX_LOTTERY_ROUNDS)), "MAX_LOTTERY_STEPS"),
])
def test_lottery_caps_are_enforced_before_any_work(kwargs, cap, monkeypatch):
    import pruning.lottery as lottery
    monkeypatch.setattr(lottery, "finetune", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(ValueError, match=cap):
        lottery_ticket("mlp", **kwargs)
