"""Hand-worked examples of every documented pruning rule (README "Methods", pruning/pruner.py).

Each test builds a tiny model with weights written out here, prunes it with the public pruner, and
compares the masks with ones worked out by hand in the comments: the expected answers come from the
rule as documented, never from running the code.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pruning import PruneConfig, get_method, list_methods
from pruning.pruner import apply_pruning

T = torch.tensor


class Chain(nn.Module):
    """Linear layers in a row with ReLUs between; reads the first pixels of a (N, 1, 28, 28) digit."""

    def __init__(self, *weights: list[list[float]], zero_bias: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(len(w[0]), len(w)) for w in weights)
        with torch.no_grad():
            for layer, w in zip(self.layers, weights):
                layer.weight.copy_(T(w))
                layer.bias.copy_(torch.zeros(len(w)) if zero_bias else torch.arange(1, len(w) + 1) / 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:               # x: (N, 1, 28, 28)
        h = x.flatten(1)[:, :self.layers[0].in_features]                # (N, in): the first pixels
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return self.layers[-1](h)


class TinyConvNet(nn.Module):
    """conv (1 -> 2 filters, 2x2) -> fc (2 -> 2) -> out (2 -> 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc, self.out = nn.Conv2d(1, 2, 2), nn.Linear(2, 2), nn.Linear(2, 2)
        with torch.no_grad():
            self.conv.weight.copy_(T([[[[0.1, -0.2], [0.3, -0.4]]],           # filter 0: L1 norm 1.0
                                      [[[0.5, 0.6], [-0.7, 0.8]]]]))          # filter 1: L1 norm 2.6
            self.fc.weight.copy_(T([[0.9, -0.15], [0.25, 0.35]]))             # row L1 norms 1.05, 0.6
            self.out.weight.copy_(T([[0.45, -0.55], [0.05, 0.65]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:               # x: (N, 1, 28, 28)
        h = self.conv(x[:, :, :2, :2]).flatten(1)                       # (N, 2)
        return self.out(F.relu(self.fc(F.relu(h))))


def prune(model: nn.Module, calibration=None, **settings) -> nn.Module:
    """apply_pruning with PruneConfig(model="mlp", **settings): "mlp" (28x28 inputs, no padding)
    only names a registered architecture; the tiny model is what gets pruned."""
    apply_pruning(model, PruneConfig(model="mlp", **settings), calibration)
    return model


def mask(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """The module's keep mask as 0/1 ints (all ones when the tensor is not pruned)."""
    return getattr(module, f"{name}_mask", torch.ones_like(getattr(module, name))).int()


def assert_masks(model: nn.Module, expected: dict[str, list], name: str = "weight") -> None:
    layers = dict(model.named_modules())
    for layer, keep in expected.items():
        assert torch.equal(mask(layers[layer], name), T(keep).int()), (
            f"{layer}.{name} mask {mask(layers[layer], name).tolist()} != hand-worked {keep}")


# ---- local vs global (single weights) ---------------------------------------------------------

def two_layers() -> Chain:
    return Chain([[0.1, -0.4], [0.3, 0.2]],         # layers.0: |w| 0.1 0.4 0.3 0.2
                 [[1.0, -0.05], [0.6, 0.7]])        # layers.1: |w| 1.0 0.05 0.6 0.7


def test_local_l1_removes_half_of_each_layer() -> None:
    # round(0.5 x 4) = 2 per layer: layers.0 loses 0.1 and 0.2, layers.1 loses 0.05 and 0.6
    model = prune(two_layers(), method="l1_unstructured", amount=0.5, scope="local")
    assert_masks(model, {"layers.0": [[0, 1], [1, 0]], "layers.1": [[1, 0], [0, 1]]})


def test_global_l1_ranks_all_layers_together() -> None:
    # round(0.5 x 8) = 4 smallest of all: 0.05, 0.1, 0.2, 0.3 -> layers.0 loses 3, layers.1 loses 1
    model = prune(two_layers(), method="l1_unstructured", amount=0.5, scope="global")
    assert_masks(model, {"layers.0": [[0, 1], [0, 0]], "layers.1": [[1, 0], [1, 1]]})
    assert_masks(model, {"layers.0": [1, 1], "layers.1": [1, 1]}, "bias")   # single weights: biases stay


# ---- structured: global normalisation, keep-one, output layer -----------------------------------

def three_layers() -> Chain:
    return Chain([[0.5, -0.5], [-1.5, 0.5], [1.0, 2.0]],               # layers.0 unit L1 norms 1, 2, 3
                 [[2.0, -3.0, 3.0], [4.0, 4.0, -4.0], [-10.0, 20.0, 10.0]],  # layers.1: 8, 12, 40
                 [[1.0, 1.0, 1.0], [1.0, -1.0, 1.0]])                 # layers.2: the output layer


def test_global_structured_divides_each_layer_by_its_mean_score() -> None:
    # Normalised by each layer's mean norm (2 and 20): layers.0 0.5 1.0 1.5, layers.1 0.4 0.6 2.0.
    # round(0.35 x 6 units) = 2 lowest: layers.1 unit 0 (0.4) and layers.0 unit 0 (0.5).
    model = prune(three_layers(), method="ln_structured", amount=0.35, scope="global")
    assert_masks(model, {"layers.0": [[0, 0], [1, 1], [1, 1]],
                         "layers.1": [[0, 0, 0], [1, 1, 1], [1, 1, 1]]})
    assert_masks(model, {"layers.0": [0, 1, 1], "layers.1": [0, 1, 1]}, "bias")   # their biases go too
    # Ranked by raw norms instead (1, 2, 3, 8, 12, 40) the two lowest are both in layers.0:
    unnormalised = {"layers.0": [0, 0, 1], "layers.1": [1, 1, 1]}
    got = {n: mask(model.get_submodule(n), "bias").tolist() for n in unnormalised}
    assert got != unnormalised, f"global structured masks {got} are the un-normalised ranking's"


def test_global_structured_keeps_each_layers_best_unit() -> None:
    # round(0.8 x 6) = 5, but each layer keeps its best unit (layers.0 unit 2, layers.1 unit 2):
    # min(5, 6 - 2) = 4 go, the four others. Without that rule layers.0 unit 2 (1.5) would go too.
    model = prune(three_layers(), method="ln_structured", amount=0.8, scope="global")
    assert_masks(model, {"layers.0": [0, 0, 1], "layers.1": [0, 0, 1]}, "bias")
    assert_masks(model, {"layers.0": [[0, 0], [0, 0], [1, 1]]})


@pytest.mark.parametrize("method", [m for m in list_methods() if get_method(m).structured])
@pytest.mark.parametrize("scope", ["local", "global"])
def test_structured_methods_never_touch_the_output_layer(method: str, scope: str) -> None:
    model = prune(three_layers(), method=method, amount=0.9, scope=scope)
    assert_masks(model, {"layers.2": [[1, 1, 1], [1, 1, 1]]})
    assert_masks(model, {"layers.2": [1, 1]}, "bias")


def test_local_structured_removes_the_lowest_norm_units_of_each_layer() -> None:
    # round(0.5 x 3) = 2 per layer (Python rounds 1.5 to 2): norms 1, 2 go in layers.0, 8, 12 in layers.1
    model = prune(three_layers(), method="ln_structured", amount=0.5, scope="local")
    assert_masks(model, {"layers.0": [0, 0, 1], "layers.1": [0, 0, 1], "layers.2": [1, 1]}, "bias")


def test_structured_pruning_refuses_a_model_whose_only_layer_is_the_output_layer() -> None:
    with pytest.raises(ValueError, match="output layer"):
        prune(Chain([[1.0, 2.0], [3.0, 4.0]]), method="ln_structured", amount=0.5)


# ---- the threshold boundary ---------------------------------------------------------------------

def threshold_pair() -> Chain:                          # powers of two: exact in float32
    return Chain([[0.25, -0.25], [0.125, 0.5]], [[-0.0625, 1.0], [0.25, -0.375]])


@pytest.mark.parametrize("scope", ["local", "global"])
def test_threshold_keeps_weights_equal_to_it(scope: str) -> None:
    # |w| < 0.25 goes, |w| == 0.25 stays; amount and scope play no part
    model = prune(threshold_pair(), method="threshold", threshold=0.25, amount=0.9, scope=scope)
    assert_masks(model, {"layers.0": [[1, 1], [0, 1]], "layers.1": [[0, 1], [1, 1]]})


def test_threshold_just_above_removes_them() -> None:
    model = prune(threshold_pair(), method="threshold", threshold=0.26)
    assert_masks(model, {"layers.0": [[0, 0], [0, 1]], "layers.1": [[0, 1], [0, 1]]})


# ---- per-type amounts ---------------------------------------------------------------------------

def test_per_type_amounts_override_amount_for_their_layers() -> None:
    # conv: round(0.25 x 8) = 2 smallest |w| (0.1, 0.2); each linear: round(0.5 x 4) = 2;
    # fc loses 0.15 and 0.25, out loses 0.05 and 0.45; amount 0.9 applies to nothing
    model = prune(TinyConvNet(), method="l1_unstructured", amount=0.9, conv_amount=0.25, linear_amount=0.5)
    assert_masks(model, {"conv": [[[[0, 0], [1, 1]]], [[[1, 1], [1, 1]]]],
                         "fc": [[1, 0], [0, 1]], "out": [[0, 1], [0, 1]]})


def test_a_type_without_its_own_amount_uses_amount() -> None:
    # linear layers: round(0.75 x 4) = 3 smallest go: fc keeps 0.9, out keeps 0.65
    model = prune(TinyConvNet(), method="l1_unstructured", amount=0.75, conv_amount=0.25)
    assert_masks(model, {"conv": [[[[0, 0], [1, 1]]], [[[1, 1], [1, 1]]]],
                         "fc": [[1, 0], [0, 0]], "out": [[0, 0], [0, 1]]})


def test_per_type_amounts_with_structured_pruning() -> None:
    # conv: round(0.5 x 2 filters) = 1, filter 0 (norm 1.0 < 2.6); fc: round(0.5 x 2) = 1, row 1
    # (0.6 < 1.05); out: the output layer, whole
    model = prune(TinyConvNet(), method="ln_structured", amount=0.0, conv_amount=0.5, linear_amount=0.5)
    assert_masks(model, {"conv": [0, 1], "fc": [1, 0], "out": [1, 1]}, "bias")


def test_layer_types_limit_pruning_to_those_layers() -> None:
    model = prune(TinyConvNet(), method="l1_unstructured", amount=0.5, layer_types=("conv",))
    # round(0.5 x 8) = 4 smallest conv weights, 0.1 0.2 0.3 0.4: all of filter 0; no linear layer masked
    assert_masks(model, {"conv": [[[[0, 0], [0, 0]]], [[[1, 1], [1, 1]]]],
                         "fc": [[1, 1], [1, 1]], "out": [[1, 1], [1, 1]]})


# ---- data-driven scores on one calibration digit ------------------------------------------------

def one_digit(*pixels: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibration (x, labels): one normalised digit whose first pixels are `pixels`, the rest 0; label 0."""
    x = torch.zeros(1, 1, 28, 28)
    x.view(-1)[:len(pixels)] = T(pixels)
    return x, T([0])


def test_activation_removes_the_silent_unit_not_the_smallest() -> None:
    # one digit, pixels (1, 0): unit outputs relu(w0 + b) = relu(2 + 0.1), relu(-1 + 0.2), relu(0.5 + 0.3)
    # = 2.1, 0, 0.8 -> round(0.34 x 3) = 1 unit goes: unit 1 (mean activation 0), although unit 2 has the
    # smallest weights (row L1 norms 2.1, 1.1, 0.6: ln_structured removes unit 2)
    def chain() -> Chain:
        return Chain([[2.0, 0.1], [-1.0, 0.1], [0.5, 0.1]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    by_activation = prune(chain(), one_digit(1.0, 0.0), method="activation", amount=0.34)
    assert_masks(by_activation, {"layers.0": [1, 0, 1], "layers.1": [1, 1]}, "bias")
    by_norm = prune(chain(), method="ln_structured", amount=0.34)
    assert_masks(by_norm, {"layers.0": [1, 1, 0]}, "bias")


def gradient_chain() -> Chain:
    # pixels x = (1, 3): h = relu(W1 x) = (0.85 + 0.15, 1.7 + 0.3) = (1, 2); z = W2 h = (2 - 2, -1 + 1) = (0, 0)
    return Chain([[0.85, 0.05], [1.7, 0.1]], [[2.0, -1.0], [-1.0, 0.5]], zero_bias=True)


# Cross-entropy with label 0 at z = (0, 0): softmax (0.5, 0.5), dL/dz = (-0.5, 0.5).
#   dL/dW2 = dL/dz h^T = [[-0.5, -1], [0.5, 1]]
#   dL/dh  = W2^T dL/dz = (2(-0.5) - 0.5, 0.5 + 0.25) = (-1.5, 0.75), both units active
#   dL/dW1 = dL/dh x^T = [[-1.5, -4.5], [0.75, 2.25]]

def test_gradient_removes_the_weights_with_the_smallest_loss_gradient() -> None:
    # |dL/dW1| 1.5 4.5 0.75 2.25 -> 0.75 and 1.5 go; |dL/dW2| 0.5 1 0.5 1 -> both 0.5 go
    model = prune(gradient_chain(), one_digit(1.0, 3.0), method="gradient", amount=0.5)
    assert_masks(model, {"layers.0": [[0, 1], [0, 1]], "layers.1": [[0, 1], [0, 1]]})


def test_taylor_removes_the_smallest_weight_times_gradient() -> None:
    # |W1 * dL/dW1| = 1.275 0.225 1.275 0.225 -> both 0.225 go (the opposite of gradient's choice);
    # |W2 * dL/dW2| = 1 1 0.5 0.5 -> the second row goes
    model = prune(gradient_chain(), one_digit(1.0, 3.0), method="taylor", amount=0.5)
    assert_masks(model, {"layers.0": [[1, 0], [1, 0]], "layers.1": [[1, 1], [0, 0]]})
