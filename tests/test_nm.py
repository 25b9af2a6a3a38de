"""N:M semi-structured sparsity: exactly N of every M consecutive weights kept, the largest |w|."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models import list_models
from pruning import PruneConfig, prune_model
from pruning.config import parse_nm
from pruning.nm import fan_in

PATTERNS = ["2:4", "1:4", "4:8"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("model_name", list_models())
def test_every_pruned_layer_keeps_exactly_n_of_each_m_largest_weights(model_name, pattern):
    n, m = parse_nm(pattern)
    result = prune_model(model_name, PruneConfig(model=model_name, method="nm_semi_structured", nm=pattern))
    for stats, (name, module) in zip(result.layers, [(n_, mod) for n_, mod in result.model.named_modules()
                                                      if type(mod) in (nn.Conv2d, nn.Linear)]):
        if fan_in(module) % m:
            assert stats.zeros == 0, f"{name}: fan-in {fan_in(module)} is not a multiple of {m}: left dense"
            continue
        assert stats.sparsity == 1 - n / m, name                               # exactly, in every layer
        kept = (module.weight_mask.reshape(module.weight.shape[0], -1, m) != 0)   # (out, groups, m)
        assert torch.all(kept.sum(2) == n)
        magnitude = module.weight_orig.detach().abs().reshape(module.weight.shape[0], -1, m)
        smallest_kept = magnitude.masked_fill(~kept, float("inf")).min(2).values
        largest_dropped = magnitude.masked_fill(kept, -1.0).max(2).values
        assert torch.all(smallest_kept >= largest_dropped), name               # the largest |w| stay


def test_a_hand_worked_group():
    model = nn.Sequential(nn.Linear(8, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -0.9, 0.3, 0.2, 5.0, -4.0, 0.0, 1.0]]))
    from pruning.nm import nm_masker
    nm_masker({"0": model[0]}, {"0": model[0].weight.detach().abs()}, PruneConfig(nm="2:4"))
    assert model[0].weight_mask.tolist() == [[0, 1, 1, 0, 1, 1, 0, 0]]


def test_amount_and_scope_do_not_change_the_pattern():
    a = prune_model("mlp", PruneConfig(model="mlp", method="nm_semi_structured", amount=0.1, scope="local"))
    b = prune_model("mlp", PruneConfig(model="mlp", method="nm_semi_structured", amount=0.9, scope="global"))
    assert [s.zeros for s in a.layers] == [s.zeros for s in b.layers]


@pytest.mark.parametrize("bad", ["2-4", "4:2", "0:4", "2:64", 24, "a:b", ""])
def test_bad_patterns_are_clear_errors(bad):
    with pytest.raises(ValueError, match="N:M"):
        PruneConfig(method="nm_semi_structured", nm=bad)
