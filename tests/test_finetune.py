"""Fine-tuning keeps pruned weights exactly zero and recovers accuracy; its caps hold."""
from __future__ import annotations

import pytest
import torch

from pruning.config import PruneConfig
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from pruning.data import DigitSet
from pruning.engine import prune_model
from pruning.finetune import MAX_BATCH_SIZE, MAX_FINETUNE_STEPS, finetune, prune_and_finetune
from pruning.iterative import iterative_prune
from pruning.masks import permanent_copy


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


@pytest.mark.parametrize("kwargs, cap", [
    ({"steps": 0}, "MAX_FINETUNE_STEPS"), ({"steps": MAX_FINETUNE_STEPS + 1}, "MAX_FINETUNE_STEPS"),
    ({"steps": 2.5}, "MAX_FINETUNE_STEPS"), ({"batch_size": MAX_BATCH_SIZE + 1}, "MAX_BATCH_SIZE"),
    ({"lr": 0.0}, "learning rate"), ({"lr": float("nan")}, "learning rate"),
])
def test_finetune_caps_are_enforced_before_any_work(kwargs, cap, monkeypatch):
    import pruning.finetune as finetune_module
    import pruning.iterative as iterative_module
    monkeypatch.setattr(iterative_module, "prune_model", lambda *a, **k: pytest.fail("work started"))
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


