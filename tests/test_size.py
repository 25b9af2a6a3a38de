"""Honest sizes: MACs and bytes of dense / masked / shrunk models, and sparse file encodings."""
from __future__ import annotations

import pytest
import torch
import torch_pruning as tp

from pruning.checkpoint import load_pretrained
from pruning.config import PruneConfig
from pruning.data import DigitSet
from pruning.engine import prune_model
from pruning.shrink import example_input, permanent_copy
from pruning.size import (MASKING_NOTE, count_macs, csr_decode, csr_encode, model_cost, shrink_report,
                          sparse_size, state_dict_bytes)


@pytest.fixture(scope="module")
def small_eval(heldout) -> DigitSet:
    index = torch.cat([torch.arange(c * 100, c * 100 + 20) for c in range(10)])
    return DigitSet("held-out slice", heldout.images[index], heldout.labels[index])


@pytest.mark.parametrize("name", ["lenet", "convnet", "mlp"])
def test_macs_agree_with_torch_pruning(name):
    model = permanent_copy(load_pretrained(name)[0]).requires_grad_(True)
    macs, nonzero = count_macs(model, name)
    library_macs, _ = tp.utils.count_ops_and_params(model, example_input(name))
    bias_adds = {}

    def hook(module, _inputs, output):
        bias_adds[module] = output[0].numel() if module.bias is not None else 0

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(example_input(name))
    for handle in handles:
        handle.remove()
    assert macs == int(library_macs) - sum(bias_adds.values())     # torch-pruning also counts bias adds
    assert nonzero == macs                                           # a trained dense model has no zeros


def test_masking_changes_neither_parameters_nor_macs_but_doubles_the_file():
    config = PruneConfig(model="lenet", method="l1_unstructured", amount=0.8, scope="global")
    dense = model_cost("dense", load_pretrained("lenet")[0], "lenet")
    masked = model_cost("masked", prune_model("lenet", config).model, "lenet")
    assert (masked.params, masked.macs) == (dense.params, dense.macs)
    assert masked.nonzero_params < dense.params and masked.nonzero_macs < 0.5 * masked.macs
    assert 1.8 * dense.file_bytes < masked.file_bytes < 2.2 * dense.file_bytes
    assert masked.latency_ms is None


def test_csr_round_trip_is_exact():
    masked = prune_model("convnet", PruneConfig(model="convnet", amount=0.7, scope="global")).model
    plain = permanent_copy(masked).state_dict()
    decoded = csr_decode(csr_encode(masked))
    assert decoded.keys() == plain.keys()
    assert all(torch.equal(decoded[k], plain[k]) for k in plain)


def test_sparse_encodings_pay_off_only_at_high_sparsity():
    low = sparse_size(prune_model("lenet", PruneConfig(model="lenet", amount=0.0)).model)
    high = sparse_size(prune_model("lenet", PruneConfig(model="lenet", amount=0.9, scope="global")).model)
    assert low.csr_bytes > low.dense_bytes                 # indices cost more than they save
    assert high.csr_bytes < 0.3 * high.dense_bytes and high.zlib_bytes < 0.3 * high.dense_bytes
    assert high.masked_bytes > high.dense_bytes
    assert high.dense_bytes == pytest.approx(low.dense_bytes, rel=0.01)   # zeros cost as much as weights
    assert high.sparsity == pytest.approx(0.9, abs=1e-3) and high.note == MASKING_NOTE
    assert "speeds nothing up" in MASKING_NOTE


def test_shrink_report_compares_dense_masked_and_shrunk(small_eval):
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    report = shrink_report("convnet", config, small_eval, repeats=1)
    dense, masked, shrunk = (report.costs[k] for k in ("dense", "masked", "shrunk"))
    assert report.outputs_match and report.accuracy["masked"] == report.accuracy["shrunk"]
    assert shrunk.params < 0.5 * dense.params and shrunk.macs < 0.5 * dense.macs
    assert masked.macs == dense.macs and shrunk.file_bytes < dense.file_bytes < masked.file_bytes
    assert all(c.latency_ms > 0 for c in report.costs.values()) and report.speedup > 0
    assert report.to_dict()["outputs_match"] is True


def test_shrink_report_refuses_unstructured_methods(small_eval):
    with pytest.raises(ValueError, match="structured method"):
        shrink_report("lenet", PruneConfig(model="lenet", method="l1_unstructured"), small_eval)


def test_state_dict_bytes_counts_the_serialized_file(tmp_path):
    state = load_pretrained("mlp")[0].state_dict()
    torch.save(state, tmp_path / "mlp.pt")            # the zip's record names differ by the file's stem
    assert state_dict_bytes(state) == pytest.approx((tmp_path / "mlp.pt").stat().st_size, abs=200)
