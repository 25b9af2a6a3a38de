"""Fine-tuning keeps pruned weights exactly zero; iterative pruning reaches its target; caps hold."""
from __future__ import annotations

import pytest
import torch

from pruning.config import PruneConfig
from pruning.data import DigitSet
from pruning.engine import prune_model
from pruning.finetune import (MAX_BATCH_SIZE, MAX_FINETUNE_STEPS, MAX_ROUNDS, MAX_TOTAL_STEPS, _masks,
                              _prune_round, finetune, iterative_prune, prune_and_finetune, pruned_fraction,
                              round_targets)
from pruning.shrink import permanent_copy
from pruning.threads import single_threaded


@pytest.fixture(scope="module")
def small_eval(heldout) -> DigitSet:
    index = torch.cat([torch.arange(c * 100, c * 100 + 20) for c in range(10)])
    return DigitSet("held-out slice", heldout.images[index], heldout.labels[index])


def masked_tensors(model: torch.nn.Module) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, effective tensor, mask) for every pruned tensor."""
    found = []
    for module_name, module in model.named_modules():
        for buffer_name, mask in module.named_buffers(recurse=False):
            if buffer_name.endswith("_mask"):
                tensor = getattr(module, buffer_name[:-5])
                found.append((f"{module_name}.{buffer_name[:-5]}", tensor.detach().clone(), mask.clone()))
    return found


@pytest.mark.parametrize("config", [
    PruneConfig(model="lenet", method="l1_unstructured", amount=0.8, scope="global"),
    PruneConfig(model="convnet", method="ln_structured", amount=0.5),      # masks biases too
], ids=["lenet-l1-global", "convnet-ln-structured"])
def test_masks_stay_fixed_and_pruned_weights_stay_exactly_zero(config):
    pruned = prune_model(config.model, config).model
    before = masked_tensors(pruned)
    tuned, losses = finetune(pruned, config.model, steps=8, lr=1e-2, batch_size=32)
    after = masked_tensors(tuned)
    assert len(losses) == 8 and [n for n, _, _ in after] == [n for n, _, _ in before]
    assert any(name.endswith("bias") for name, _, _ in after) == (config.method == "ln_structured")
    changed = False
    for (name, old, old_mask), (_, new, new_mask) in zip(before, after):
        assert torch.equal(new_mask, old_mask), name
        assert torch.count_nonzero(new[new_mask == 0]) == 0, name     # exactly zero, not just small
        changed |= not torch.equal(new[new_mask == 1], old[new_mask == 1])
    assert changed, "fine-tuning did not change any kept weight"
    with torch.no_grad():                                             # the forward pass agrees
        for name, _, mask in after:
            assert torch.count_nonzero(permanent_copy(tuned).get_parameter(name)[mask == 0]) == 0


def test_finetune_leaves_its_input_unchanged():
    pruned = prune_model("mlp", PruneConfig(model="mlp", amount=0.5)).model
    state = {k: v.clone() for k, v in pruned.state_dict().items()}
    finetune(pruned, "mlp", steps=3)
    assert all(torch.equal(state[k], v) for k, v in pruned.state_dict().items())


def test_finetune_is_reproducible_with_a_seed_and_reports_progress():
    pruned = prune_model("mlp", PruneConfig(model="mlp", amount=0.5)).model
    seen = []
    _, first = finetune(pruned, "mlp", steps=12, seed=3, progress=lambda f, m: seen.append(f))
    _, second = finetune(pruned, "mlp", steps=12, seed=3)
    assert first == second
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_prune_and_finetune_recovers_accuracy(small_eval):
    config = PruneConfig(model="lenet", method="l1_unstructured", amount=0.9, scope="global")
    result = prune_and_finetune("lenet", config, steps=60, eval_set=small_eval, lr=1e-3)
    assert result.accuracy_dense > result.accuracy_pruned
    assert result.accuracy_finetuned > result.accuracy_pruned
    assert abs(result.sparsity - 0.9) < 1e-3
    assert set(result.to_dict()) >= {"accuracy_dense", "accuracy_pruned", "accuracy_finetuned", "losses"}


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
    old = _masks(first)
    with single_threaded():
        second, achieved = _prune_round(permanent_copy(first), config, 0.7, old)
    for name, mask in _masks(second).items():
        assert torch.all(mask <= old[name]), name
    assert achieved == pytest.approx(0.7, abs=0.005)


@pytest.mark.parametrize("kwargs, cap", [
    ({"steps": 0}, "MAX_FINETUNE_STEPS"), ({"steps": MAX_FINETUNE_STEPS + 1}, "MAX_FINETUNE_STEPS"),
    ({"steps": 2.5}, "MAX_FINETUNE_STEPS"), ({"batch_size": MAX_BATCH_SIZE + 1}, "MAX_BATCH_SIZE"),
    ({"lr": 0.0}, "learning rate"), ({"lr": float("nan")}, "learning rate"),
])
def test_finetune_caps_are_enforced_before_any_work(kwargs, cap, monkeypatch):
    import pruning.finetune as finetune_module
    pruned = prune_model("mlp", PruneConfig(model="mlp", amount=0.5)).model
    monkeypatch.setattr(finetune_module, "prune_model", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setattr(finetune_module, "random_affine", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(ValueError, match=cap):
        finetune(pruned, "mlp", **kwargs)
    with pytest.raises(ValueError, match=cap):
        prune_and_finetune("mlp", PruneConfig(model="mlp", amount=0.5), **{"steps": 1, **kwargs})
    with pytest.raises(ValueError, match=cap):
        iterative_prune("mlp", PruneConfig(model="mlp", amount=0.5), rounds=2,
                        **{"steps_per_round": 1, **{("steps_per_round" if k == "steps" else k): v
                                                    for k, v in kwargs.items()}})


@pytest.mark.parametrize("rounds, steps, cap", [
    (0, 10, "MAX_ROUNDS"), (MAX_ROUNDS + 1, 10, "MAX_ROUNDS"), (2, MAX_FINETUNE_STEPS + 1, "MAX_FINETUNE_STEPS"),
    (MAX_ROUNDS, MAX_TOTAL_STEPS // MAX_ROUNDS + 1, "MAX_TOTAL_STEPS"),
])
def test_iterative_caps_are_enforced_before_any_work(rounds, steps, cap, monkeypatch):
    import pruning.finetune as finetune_module
    monkeypatch.setattr(finetune_module, "prune_model", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(ValueError, match=cap):
        iterative_prune("mlp", PruneConfig(model="mlp", amount=0.5), rounds=rounds, steps_per_round=steps)
