"""Prune x quantize: int8 codes against hand computations, pruned zeros stay zero, accuracy recomputed
with a plain loop, the order lesson, file sizes, latency fields and bad inputs."""
from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pruning import DigitSet, PruneConfig, load_pretrained, prune_model
from pruning.int8 import Int8Conv2d, int8_state, layer_weights, quantize_model, quantize_per_channel
from pruning.quantize import CELLS, GridCell, prune_quantize_grid, quantize_then_prune, speed_note

L1_GLOBAL = PruneConfig(model="lenet", method="l1_unstructured", amount=0.5, scope="global")
STRUCTURED = PruneConfig(model="lenet", method="ln_structured", amount=0.5)


@pytest.fixture(scope="module")
def small(heldout) -> DigitSet:
    """300 held-out digits, 30 per class (the set is sorted by class, 100 each)."""
    index = torch.cat([torch.arange(c * 100, c * 100 + 30) for c in range(10)])
    return DigitSet("held-out slice", heldout.images[index], heldout.labels[index])


@pytest.fixture(scope="module")
def masked():
    """lenet with 50% global L1 masks (weight_orig * weight_mask)."""
    return prune_model("lenet", L1_GLOBAL).model


@pytest.fixture(scope="module")
def grid(small):
    return prune_quantize_grid("lenet", L1_GLOBAL, small, repeats=2)


def lenet_inputs(digits: DigitSet) -> torch.Tensor:
    """Normalized by hand and padded with background to 32x32: (N, 1, 32, 32)."""
    x = (digits.images.float() / 255 - 0.1307) / 0.3081
    return F.pad(x.unsqueeze(1), [2, 2, 2, 2], value=(0 - 0.1307) / 0.3081)


def loop_accuracy(model: torch.nn.Module, digits: DigitSet) -> float:
    """Accuracy by a plain loop over batches of 50, model called directly."""
    x, correct = lenet_inputs(digits), 0
    with torch.no_grad():
        for i in range(0, len(x), 50):
            correct += int((model(x[i:i + 50]).argmax(1) == digits.labels[i:i + 50]).sum())
    return correct / len(x)


def pruned_weight(module: torch.nn.Module) -> np.ndarray:
    """weight_orig * weight_mask of a masked layer, in numpy."""
    return module.weight_orig.detach().numpy() * module.weight_mask.numpy()


def test_conv_codes_and_scales_match_a_hand_computation(masked) -> None:
    quantized = quantize_model(masked, "lenet")
    for name in ("conv1", "conv2"):
        w = pruned_weight(getattr(masked, name))                                   # (O, I, 5, 5)
        scale = np.abs(w).reshape(len(w), -1).max(1) / np.float32(127)             # (O,)
        codes = np.clip(np.rint(w / scale[:, None, None, None]), -127, 127).astype(np.int8)
        layer = getattr(quantized, name)
        assert isinstance(layer, Int8Conv2d) and layer.weight_int8.dtype == torch.int8
        np.testing.assert_array_equal(layer.weight_int8.numpy(), codes)
        np.testing.assert_allclose(layer.weight_scale.numpy(), scale, rtol=1e-7)


def test_linear_codes_are_symmetric_per_row_int8_within_half_a_step(masked) -> None:
    quantized = quantize_model(masked, "lenet")
    for name in ("fc1", "fc2", "fc3"):
        w = pruned_weight(getattr(masked, name))                                   # (out, in)
        weight = getattr(quantized, name).weight                                   # torchao Int8Tensor
        codes, scale = weight.qdata.numpy(), weight.scale.numpy().reshape(-1, 1)
        assert codes.dtype == np.int8 and (weight.zero_point == 0).all()
        # torchao's symmetric int8 spreads max|w| of each row over the 255 steps of [-128, 127]
        np.testing.assert_allclose(scale, np.abs(w).max(1, keepdims=True) / 127.5, rtol=1e-6)
        assert np.abs(codes * scale - w).max() <= 0.5 * scale.max() * (1 + 1e-5)


@pytest.mark.parametrize("config", [L1_GLOBAL, STRUCTURED], ids=["l1_global", "ln_structured"])
def test_every_pruned_weight_has_int8_code_zero(config) -> None:
    masked = prune_model("lenet", config).model
    quantized = quantize_model(masked, "lenet")
    checked = 0
    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        layer, source = getattr(quantized, name), getattr(masked, name)
        if not hasattr(source, "weight_mask"):
            continue                                           # structured pruning keeps the output layer
        codes = layer.weight_int8 if isinstance(layer, Int8Conv2d) else layer.weight.qdata
        pruned = source.weight_mask == 0
        assert int(pruned.sum()) > 0
        assert torch.count_nonzero(codes[pruned]) == 0
        checked += int(pruned.sum())
    if config is L1_GLOBAL:
        assert checked == round(0.5 * sum(w.numel() for w in layer_weights(quantized).values()))


def test_all_zero_channel_gets_zero_codes_and_a_finite_scale() -> None:
    weight = torch.randn(4, 3, 3, 3)
    weight[1] = 0
    codes, scale = quantize_per_channel(weight)
    assert torch.count_nonzero(codes[1]) == 0 and torch.isfinite(scale).all() and (scale > 0).all()


def test_quantize_model_leaves_its_input_alone(masked) -> None:
    before = {k: v.clone() for k, v in masked.state_dict().items()}
    quantize_model(masked, "lenet")
    after = masked.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_weight_only_int8_computes_with_its_dequantized_weights(masked, small) -> None:
    quantized = quantize_model(masked, "lenet", scheme="weight_only")
    reference = copy.deepcopy(load_pretrained("lenet")[0])
    with torch.no_grad():
        for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
            layer = getattr(quantized, name)
            codes, scale = ((layer.weight_int8, layer.weight_scale) if isinstance(layer, Int8Conv2d)
                            else (layer.weight.qdata, layer.weight.scale.flatten()))
            getattr(reference, name).weight.copy_(codes.float() * scale.view(-1, *[1] * (codes.dim() - 1)))
            getattr(reference, name).bias.copy_(getattr(masked, name).bias)
    x = lenet_inputs(small)
    with torch.no_grad():
        torch.testing.assert_close(quantized(x), reference(x), rtol=1e-4, atol=1e-4)


def test_grid_accuracies_recomputed_with_a_plain_loop(grid, small, masked) -> None:
    assert list(grid.cells) == list(CELLS)
    assert grid.cells["dense_fp32"].accuracy == pytest.approx(loop_accuracy(load_pretrained("lenet")[0], small),
                                                              abs=1.5 / len(small))
    assert grid.cells["pruned_fp32"].accuracy == pytest.approx(loop_accuracy(masked, small), abs=1.5 / len(small))
    for kind, model in (("dense", load_pretrained("lenet")[0]), ("pruned", masked)):
        int8 = quantize_model(model, "lenet")
        assert grid.cells[f"{kind}_int8"].accuracy == pytest.approx(loop_accuracy(int8, small), abs=1.5 / len(small))


def test_grid_counts_sizes_and_latency_fields(grid, masked) -> None:
    pruned_count = sum(int((m.weight_mask == 0).sum()) for m in masked.modules() if hasattr(m, "weight_mask"))
    cells = grid.cells
    assert cells["dense_fp32"].weights == cells["pruned_int8"].weights == 60_195      # lenet's conv + fc weights
    assert cells["pruned_fp32"].nonzero_weights <= cells["dense_fp32"].weights - pruned_count
    assert cells["pruned_int8"].nonzero_weights <= cells["pruned_fp32"].nonzero_weights
    buffer = io.BytesIO()
    torch.save(load_pretrained("lenet")[0].state_dict(), buffer)
    assert cells["dense_fp32"].file_bytes == len(buffer.getvalue())
    for kind in ("dense", "pruned"):
        # int8: one byte per weight plus fp32 scales and biases, against four bytes per weight
        assert 60_195 < cells[f"{kind}_int8"].file_bytes < cells[f"{kind}_fp32"].file_bytes / 3
    assert cells["pruned_int8"].zlib_bytes < cells["dense_int8"].zlib_bytes         # zeros compress
    for cell in cells.values():
        assert 0 < cell.latency_min_ms <= cell.latency_ms <= cell.latency_max_ms
        assert cell.repeats == 2 and cell.threads >= 1 and cell.zlib_bytes < cell.file_bytes


def test_int8_file_holds_codes_and_scales_that_rebuild_the_weights(masked) -> None:
    quantized = quantize_model(masked, "lenet")
    buffer = io.BytesIO()
    torch.save(int8_state(quantized), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)          # plain tensors: no torchao needed to read it
    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        codes, scale = state[f"{name}.weight_int8"], state[f"{name}.weight_scale"]
        assert codes.dtype == torch.int8 and scale.dtype == torch.float32 and scale.shape == (codes.shape[0],)
        w = pruned_weight(getattr(masked, name))
        step = scale.numpy().reshape(-1, *[1] * (codes.dim() - 1))
        assert np.abs(codes.numpy() * step - w).max() <= 0.5 * step.max() * (1 + 1e-5)
        assert f"{name}.bias" in state and f"{name}.weight" not in state


def test_prune_then_quantize_keeps_every_pruned_weight_at_code_zero(grid, masked, small) -> None:
    order = grid.order
    pruned_count = sum(int((m.weight_mask == 0).sum()) for m in masked.modules() if hasattr(m, "weight_mask"))
    assert order.pruned_weights == pruned_count and order.pruned_nonzero_codes == 0 and order.zeros_kept
    assert order.weights == 60_195 and order.pruned_weights == round(0.5 * order.weights)
    # int8 rounding alone zeroes small weights: |w| < scale / 2 in the dense model, counted by hand
    dense, rounded = load_pretrained("lenet")[0], 0
    for name, steps in (("conv1", 127), ("conv2", 127), ("fc1", 127.5), ("fc2", 127.5), ("fc3", 127.5)):
        weight = getattr(dense, name).weight.detach().numpy()
        rows = weight.reshape(len(weight), -1)                                       # (out units, fan_in)
        scale = np.abs(rows).max(1, keepdims=True) / np.float32(steps)
        rounded += int(((rows != 0) & (np.rint(rows / scale) == 0)).sum())
    assert order.rounded_to_zero == rounded > 0


def test_quantize_then_prune_is_the_dense_int8_model_with_codes_zeroed(small, masked) -> None:
    dense = load_pretrained("lenet")[0]
    dense_int8 = quantize_model(dense, "lenet", scheme="weight_only")
    qtp, masks = quantize_then_prune(copy.deepcopy(dense).eval(), dense_int8, L1_GLOBAL)
    ptq, qtp_w, dense_w = layer_weights(quantize_model(masked, "lenet", "weight_only")), layer_weights(qtp), \
        layer_weights(dense_int8)
    mask_differences = value_differences = 0
    for name, weight in qtp_w.items():
        kept = masks[name][0] == 1
        assert torch.equal(weight[kept], dense_w[name][kept]) and torch.count_nonzero(weight[~kept]) == 0
        mask_differences += int((masks[name][0] != getattr(masked, name).weight_mask).sum())
        value_differences += int((weight != ptq[name]).sum())
    assert mask_differences > 0 and value_differences > 0            # the two orders give different models
    # the forward uses the zeroed codes: same outputs as fp32 layers holding those values
    reference = copy.deepcopy(dense)
    with torch.no_grad():
        for name, weight in qtp_w.items():
            getattr(reference, name).weight.copy_(weight)
        torch.testing.assert_close(qtp(lenet_inputs(small)), reference(lenet_inputs(small)), rtol=1e-4, atol=1e-4)


def test_grid_order_figures_match_an_independent_recount(grid, small, masked) -> None:
    dense_int8 = quantize_model(load_pretrained("lenet")[0], "lenet")
    qtp, masks = quantize_then_prune(copy.deepcopy(load_pretrained("lenet")[0]).eval(), dense_int8, L1_GLOBAL)
    ptq = quantize_model(masked, "lenet")
    order = grid.order
    assert order.mask_differences == sum(int((masks[n][0] != getattr(masked, n).weight_mask).sum()) for n in masks)
    assert order.mask_differences > 0
    assert order.accuracy_quantize_then_prune == pytest.approx(loop_accuracy(qtp, small), abs=1.5 / len(small))
    x = lenet_inputs(small)
    with torch.no_grad():
        differ = int((ptq(x).argmax(1) != qtp(x).argmax(1)).sum())
    assert abs(order.prediction_differences - differ) <= 1
    json.dumps(grid.to_dict())


def cell(name: str, ms: float) -> GridCell:
    return GridCell(name, 0.9, 400 if name.endswith("fp32") else 100, 90, 10, 10, ms, ms, ms, 1, 1)


@pytest.mark.parametrize("int8_ms, verdict", [(100.0, "not faster"), (50.0, "int8 is faster")])
def test_speed_note_says_plainly_whether_int8_was_faster(int8_ms, verdict) -> None:
    cells = {name: cell(name, int8_ms if name.endswith("int8") else 100.0) for name in CELLS}
    note = speed_note(cells, "dynamic", convs=True)
    assert verdict in note and "4.0x smaller" in note


@pytest.mark.parametrize("call, message", [
    (lambda s: prune_quantize_grid("resnet", L1_GLOBAL, s), "unknown model"),
    (lambda s: prune_quantize_grid("mlp", L1_GLOBAL, s), "PruneConfig for model 'mlp'"),
    (lambda s: prune_quantize_grid("lenet", {"amount": 0.5}, s), "PruneConfig"),
    (lambda s: prune_quantize_grid("lenet", L1_GLOBAL, "mnist"), "non-empty DigitSet"),
    (lambda s: prune_quantize_grid("lenet", L1_GLOBAL, DigitSet("none", s.images[:0], s.labels[:0])), "non-empty"),
    (lambda s: prune_quantize_grid("lenet", L1_GLOBAL, s, scheme="int4"), "unknown int8 scheme"),
    (lambda s: prune_quantize_grid("lenet", L1_GLOBAL, s, repeats=0), "repeats"),
    (lambda s: prune_quantize_grid("lenet", L1_GLOBAL, s, repeats=True), "repeats"),
    (lambda s: quantize_model(prune_model("lenet", L1_GLOBAL), "lenet"), "result.model"),
    (lambda s: quantize_model(load_pretrained("lenet")[0], "mlp"), "is a MLP"),
    (lambda s: quantize_model("lenet", "lenet"), "expected an nn.Module"),
    (lambda s: quantize_model(quantize_model(load_pretrained("mlp")[0], "mlp"), "mlp"), "already int8"),
    (lambda s: quantize_model(load_pretrained("mlp")[0], "mlp", scheme="fp8"), "unknown int8 scheme"),
])
def test_bad_inputs_are_clear_value_errors(small, call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(small)
