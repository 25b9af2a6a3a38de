"""Per-layer sensitivity equals independent one-layer prunes; allocation reaches its target and beats uniform."""
from __future__ import annotations

import pytest
import torch.nn.utils.prune as prune

from pruning import PruneConfig, load_pretrained
from pruning.sensitivity import allocate, compare_allocation, layer_sensitivity
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from tests.oracle import evaluate, model_inputs

AMOUNTS = (0.3, 0.6, 0.9)


@pytest.fixture(scope="module")
def lenet_scan(small_eval):
    return layer_sensitivity(PruneConfig(model="lenet", method="l1_unstructured"), small_eval, AMOUNTS)


def test_each_point_is_the_accuracy_with_only_that_layer_pruned(lenet_scan, small_eval):
    dense = load_pretrained("lenet")[0]
    for layer, accuracies in lenet_scan.accuracy.items():
        for amount, measured in zip(AMOUNTS, accuracies):
            model = __import__("copy").deepcopy(dense)
            prune.l1_unstructured(model.get_submodule(layer), "weight", amount)   # torch's own, one layer
            plain = evaluate(model, model_inputs(small_eval.images, "lenet"), small_eval.labels)
            # the engine's float32 (accuracy is a mean over N digits) vs the oracle's exact fraction
            assert measured == pytest.approx(plain.accuracy, abs=1e-6), \
                f"{layer} at {amount}: accuracy {measured} != plain evaluation {plain.accuracy}"


def test_allocation_reaches_the_target_and_predicts_less_loss_than_uniform(lenet_scan):
    per_layer = allocate(lenet_scan, 0.7)
    weights = lenet_scan.weights
    removed = sum(per_layer[n] * weights[n] for n in weights) / sum(weights.values())
    assert removed == pytest.approx(0.7, abs=1e-3)
    predicted = sum(lenet_scan.predicted_loss(n, a) for n, a in per_layer.items())
    uniform = sum(lenet_scan.predicted_loss(n, 0.7) for n in weights)
    assert predicted <= uniform


def test_the_comparison_uses_one_achieved_sparsity_for_all_three(lenet_scan, small_eval):
    comparison = compare_allocation(PruneConfig(model="lenet"), lenet_scan, 0.7, small_eval)
    sparsities = [s for _, s, _ in comparison.rows()]
    assert max(sparsities) - min(sparsities) < 2e-3
    assert comparison.allocated.config.layer_amounts and comparison.global_.config.scope == "global"


def test_structured_and_data_driven_methods_scan_their_own_layers(small_eval):
    scan = layer_sensitivity(PruneConfig(model="mlp", method="activation", calibration_size=32), small_eval, (0.5,))
    assert list(scan.accuracy) == ["fc1"]                  # the output layer is never pruned by units
    with pytest.raises(ValueError, match="does not use an amount"):
        layer_sensitivity(PruneConfig(model="mlp", method="nm_semi_structured"), small_eval)
    with pytest.raises(ValueError, match="amounts"):
        layer_sensitivity(PruneConfig(model="mlp"), small_eval, (0.5, 0.2))
    with pytest.raises(ValueError, match="target"):
        allocate(scan, 0.95)
