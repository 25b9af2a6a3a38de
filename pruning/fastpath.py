"""The fast inference path: an exact, faster copy of a model (torch.fx rewrite of conv/relu/pool, graph cache)."""
from __future__ import annotations

import threading

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from models import create_model, list_models

from .masks import permanent_copy

_GRAPH_LOCK = threading.Lock()
_GRAPHS: dict[tuple, fx.Graph] = {}   # traced + rewritten forwards, by class and structure


def inference_model(model: nn.Module) -> nn.Module:
    """An exact, faster equivalent of `model` (eval mode) for inference; `model` is not modified.

    A copy with pruning masks made permanent (prune.remove), traced with torch.fx and rewritten:
    relu -> 2x2 max-pool becomes 2x2 max-pool -> relu (the same numbers: relu is monotonic), the
    pool is done with two elementwise maxima instead of max_pool2d (10x faster here), convolutions
    with several input channels run channels-last (no layout reorders), and a convolution from one
    channel into few is computed for the four pool positions at once (phase_conv_pool). A model that
    fx cannot trace is returned as the masks-made-permanent copy."""
    plain = permanent_copy(model)
    with _GRAPH_LOCK:   # the cached graph is shared: build one GraphModule from it at a time
        try:
            graph = _rewritten_graph(plain)
        except Exception:  # noqa: BLE001  (fx raises many types for untraceable code)
            return plain
        root: dict[str, object] = dict(plain.named_modules())
        for node in graph.nodes:
            if "phase_of" in node.meta:
                weight, bias = phase_weights(root[node.meta["phase_of"]])
                root[node.target] = weight if node.target.endswith("_weight") else bias
        fast = fx.GraphModule(root, graph, class_name=f"Fast{type(model).__name__}").eval()
        graph.owning_module = None      # the graph is shared by every copy of this structure
    return fast


def _structure_key(model: nn.Module) -> tuple:
    """What the rewrite depends on: module names and types, conv geometry, and the two width tests
    (one input channel; fewer than 8 outputs). Models that differ only in other widths share a graph."""
    parts = []
    for name, module in model.named_modules():
        geometry = ()
        if isinstance(module, nn.Conv2d):
            geometry = (module.kernel_size, module.stride, module.padding, module.dilation, module.groups,
                        module.in_channels == 1, module.in_channels > 1, module.out_channels < 8)
        parts.append((name, type(module).__name__, geometry))
    return (type(model), tuple(parts))


def warm_up_graphs() -> None:
    """Trace the registered architectures now: torch.fx tracing patches nn.Module.__call__ for the
    whole process while it runs, so it must happen before other threads run models (runtime.start)."""
    variants = [create_model(name).eval() for name in list_models()]
    if "convnet" in list_models():
        variants.append(create_model("convnet", channels=(4, 32, 64)).eval())   # conv1 pruned below 8
    with _GRAPH_LOCK:
        for model in variants:
            try:
                _rewritten_graph(model)
            except Exception:  # noqa: BLE001  (an untraceable model is evaluated as it is)
                pass


def _rewritten_graph(model: nn.Module) -> fx.Graph:
    """The traced and rewritten forward of `model`, cached per class and structure (see _structure_key)."""
    key = _structure_key(model)
    if key not in _GRAPHS:
        graph = fx.Tracer().trace(model)
        modules = dict(model.named_modules())
        for node in list(graph.nodes):
            if _is_pool_2x2(node, modules):
                _rewrite_pool(graph, node, modules)
        for node in list(graph.nodes):
            if node.op == "call_module" and _is_plain_conv(modules[node.target]) \
                    and modules[node.target].in_channels > 1:
                with graph.inserting_before(node):
                    node.update_arg(0, graph.call_function(channels_last, (node.args[0],)))
        graph.lint()
        _GRAPHS[key] = graph
    return _GRAPHS[key]


def _rewrite_pool(graph: fx.Graph, pool: fx.Node, modules: dict[str, nn.Module]) -> None:
    """[conv ->] [relu ->] 2x2 max-pool  ==>  phase_conv_pool or pool_2x2 [-> relu]."""
    relu = pool.args[0]
    has_relu = _is_relu(relu, modules) and len(relu.users) == 1
    source = relu.args[0] if has_relu else relu                        # what the pool really reads
    conv = modules.get(source.target) if source.op == "call_module" else None
    by_phases = (has_relu and len(source.users) == 1 and _is_plain_conv(conv) and conv.in_channels == 1
                 and conv.out_channels < 8)            # measured: no gain from 8 output channels up
    with graph.inserting_before(pool):
        if by_phases:
            pooled = graph.call_function(phase_conv_pool, (source.args[0], *_phase_attrs(graph, source, conv),
                                                           conv.padding[0]))
        else:
            pooled = graph.call_function(pool_2x2, (source,))
        output = graph.call_function(torch.relu, (pooled,)) if has_relu else pooled
    pool.replace_all_uses_with(output)
    graph.erase_node(pool)
    if has_relu:
        graph.erase_node(relu)
    if by_phases:
        graph.erase_node(source)


def _phase_attrs(graph: fx.Graph, conv_node: fx.Node, conv: nn.Conv2d) -> tuple[fx.Node, fx.Node | None]:
    """get_attr nodes for the phase weight and bias of a conv; inference_model() fills them in."""
    prefix = conv_node.target.replace(".", "_")
    weight = graph.get_attr(f"{prefix}_phase_weight")
    bias = None if conv.bias is None else graph.get_attr(f"{prefix}_phase_bias")
    for node in (weight, bias):
        if node is not None:
            node.meta["phase_of"] = conv_node.target
    return weight, bias


def _is_relu(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """A ReLU call; an in-place one only if nothing else reads its input."""
    if node.op == "call_function" and node.target in (F.relu, torch.relu):
        inplace = node.kwargs.get("inplace", node.args[1] if len(node.args) > 1 else False)
    elif node.op == "call_method" and node.target == "relu":
        inplace = False
    elif node.op == "call_module" and type(modules[node.target]) is nn.ReLU:
        inplace = modules[node.target].inplace
    else:
        return False
    return not inplace or len(node.args[0].users) == 1


def _is_pool_2x2(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """A max-pool with 2x2 windows, stride 2, no padding/dilation/ceil mode/indices."""
    if node.op == "call_function" and node.target is F.max_pool2d:
        names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        options = {**dict(zip(names, node.args)), **node.kwargs}
    elif node.op == "call_module" and type(modules[node.target]) is nn.MaxPool2d:
        options = vars(modules[node.target])
    else:
        return False
    pair = lambda value, n: value in (n, (n, n), [n, n])  # noqa: E731
    return (pair(options.get("kernel_size"), 2) and (options.get("stride") in (None, []) or pair(options["stride"], 2))
            and pair(options.get("padding", 0), 0) and pair(options.get("dilation", 1), 1)
            and not options.get("ceil_mode") and not options.get("return_indices"))


def _is_plain_conv(conv: nn.Module | None) -> bool:
    """A hook-free Conv2d with stride 1, no dilation or groups, equal zero padding."""
    return (type(conv) is nn.Conv2d and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
            and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)
            and conv.padding[0] == conv.padding[1] and not conv._forward_hooks and not conv._forward_pre_hooks)


def phase_weights(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(O, I, k, k) kernel -> (4*O, I, k+1, k+1): one copy per position (dr, dc) of a 2x2 pool
    window, shifted by (dr, dc) in a frame of zeros; bias repeated 4 times."""
    weight = conv.weight.detach()
    o, i, kh, kw = weight.shape
    phases = weight.new_zeros(4, o, i, kh + 1, kw + 1)
    for p, (dr, dc) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        phases[p, :, :, dr:dr + kh, dc:dc + kw] = weight
    bias = None if conv.bias is None else conv.bias.detach().repeat(4)
    return phases.reshape(4 * o, i, kh + 1, kw + 1), bias


def phase_conv_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    padding: int) -> torch.Tensor:
    """max_pool2d(conv2d(x, w, b, padding), 2) from the phase kernels of w (phase_weights):
    a stride-2 convolution gives the four window positions as four channel groups."""
    y = F.conv2d(x, weight, bias, stride=2, padding=padding)    # (N, 4*O, H/2, W/2)
    g = y.view(y.shape[0], 4, y.shape[1] // 4, *y.shape[2:])     # (N, 4, O, H/2, W/2)
    return torch.maximum(torch.maximum(g[:, 0], g[:, 1]), torch.maximum(g[:, 2], g[:, 3]))


def pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """max_pool2d(x, 2) by elementwise maxima of rows, then columns; (N, C, H//2, W//2), any layout."""
    n, c, h, w = x.shape
    rows = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2 * 2)
    pairs = torch.maximum(rows[:, :, :, 0], rows[:, :, :, 1]).view(n, c, h // 2, w // 2, 2)
    return torch.maximum(pairs[..., 0], pairs[..., 1])


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """x in channels-last memory order (a no-op when it already is)."""
    return x.contiguous(memory_format=torch.channels_last)
