"""int8 copies of a model: torchao for linear layers, a per-output-channel symmetric int8 of our own for convs."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models import get_model_entry

from .engine import PruneResult
from .masks import permanent_copy

SCHEMES = ("dynamic", "weight_only")   # torchao config for nn.Linear: int8 activations too, or weights only
CONV_QMAX = 127                        # conv codes in [-127, 127]: a grid symmetric about 0, so 0.0 -> code 0
TORCHAO_PIN = "torchao==0.18.0"


class Int8Conv2d(nn.Module):
    """A Conv2d stored as int8 codes plus one fp32 scale per output channel (symmetric, weight only).

    Why not torchao: its int8 configs (0.18) target nn.Linear. Applied to a Conv2d they quantize the
    weight but the forward raises (its Int8Tensor implements no aten.convolution), and the per-channel
    IntxWeightOnlyConfig raises on 4-D conv weights. The forward dequantizes (codes * scale) and runs
    an fp32 convolution: it shows the accuracy and size of int8 weights, not int8 speed."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if conv.padding_mode != "zeros":
            raise ValueError(f"Int8Conv2d supports zero padding only, not {conv.padding_mode!r}")
        codes, scale = quantize_per_channel(conv.weight)
        self.register_buffer("weight_int8", codes)          # (O, I/groups, kh, kw) int8
        self.register_buffer("weight_scale", scale)         # (O,) float32
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:     # x: (N, I, H, W)
        weight = self.weight_int8.float() * self.weight_scale.view(-1, 1, 1, 1)    # (O, I/groups, kh, kw)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(O, ...) float weight -> (int8 codes of the same shape, float32 scales (O,)):
    scale = max|w| of the output channel / 127, code = round(w / scale) clipped to [-127, 127]."""
    w = weight.detach().float()
    amax = w.abs().flatten(1).amax(1)                                           # (O,)
    scale = torch.where(amax > 0, amax / CONV_QMAX, torch.ones_like(amax))     # all-zero channel: codes 0 anyway
    codes = torch.round(w / scale.view(-1, *[1] * (w.dim() - 1)))
    return codes.clamp(-CONV_QMAX, CONV_QMAX).to(torch.int8), scale


def _check_model(model: Any, model_name: str, scheme: Any) -> None:
    """model: a float module of registry architecture model_name (not a PruneResult, not already int8)."""
    builder = get_model_entry(model_name).builder           # unknown names: a ValueError listing known ones
    if isinstance(model, PruneResult):
        raise ValueError("got a PruneResult: pass its pruned network, result.model")
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected an nn.Module, got {type(model).__name__}")
    if isinstance(builder, type) and not isinstance(model, builder):
        raise ValueError(f"model_name {model_name!r} is a {builder.__name__}, got a {type(model).__name__}")
    if any(int8_codes(m) is not None for m in model.modules()):
        raise ValueError("the model is already int8; quantize its float version")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown int8 scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")


def quantize_model(model: nn.Module, model_name: str, scheme: str = "dynamic") -> nn.Module:
    """An int8 copy of `model` (masks made permanent first; `model` is not changed), eval mode.
    nn.Linear: torchao, symmetric per-row int8 weights ("dynamic": int8 activations quantized per
    batch as well; "weight_only"). nn.Conv2d: Int8Conv2d (symmetric per-output-channel weights)."""
    _check_model(model, model_name, scheme)
    plain = permanent_copy(model)
    for name, conv in [(n, m) for n, m in plain.named_modules() if type(m) is nn.Conv2d]:
        parent, _, attribute = name.rpartition(".")
        setattr(plain.get_submodule(parent), attribute, Int8Conv2d(conv))
    if any(type(m) is nn.Linear for m in plain.modules()):
        try:
            from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_
        except ImportError as err:
            raise ImportError(f"int8 linear layers need torchao: .venv/bin/pip install {TORCHAO_PIN}") from err
        # set_inductor_config=True would change torch._inductor settings process-wide; nothing compiles here
        config = (Int8DynamicActivationInt8WeightConfig if scheme == "dynamic" else Int8WeightOnlyConfig)(
            set_inductor_config=False)
        quantize_(plain, config)                            # default filter: every nn.Linear
    return plain.eval()


def int8_codes(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(int8 codes, float32 scale per output unit (O,)) of an int8 layer; None for other modules."""
    if isinstance(module, Int8Conv2d):
        return module.weight_int8, module.weight_scale
    weight = getattr(module, "weight", None)
    if not hasattr(weight, "qdata"):                        # torchao's Int8Tensor holds qdata, scale, zero_point
        return None
    if weight.zero_point is not None and bool(weight.zero_point.any()):
        raise ValueError("asymmetric int8 (nonzero zero point): pruned zeros would not stay code 0")
    return weight.qdata, weight.scale.flatten().float()


def layer_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every conv / linear weight as the forward pass uses it (int8: codes * scale), by layer name."""
    weights = {}
    for name, module in model.named_modules():
        quantized = int8_codes(module)
        if quantized is not None:
            codes, scale = quantized
            weights[name] = codes.float() * scale.view(-1, *[1] * (codes.dim() - 1))
        elif type(module) in (nn.Conv2d, nn.Linear):
            weights[name] = module.weight.detach()
    return weights


def int8_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What an int8 file needs: per int8 layer its int8 codes and fp32 scales; every other tensor as it is."""
    state = {}
    for name, module in model.named_modules():
        prefix, quantized = f"{name}." if name else "", int8_codes(module)
        if quantized is not None:
            state[prefix + "weight_int8"], state[prefix + "weight_scale"] = quantized[0].clone(), quantized[1].clone()
            tensors = [] if module.bias is None else [("bias", module.bias)]
        else:
            tensors = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        state.update({prefix + key: tensor.detach().clone() for key, tensor in tensors})
    return state
