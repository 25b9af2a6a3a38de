"""Evidence for issue 5's open decision: lenet accuracy() vs onnxruntime on the same pool-phase graph.

Not one of `python -m bench`'s suites: it needs two packages the product does not depend on
(`pip install onnx==1.23.2 onnxruntime==1.32.0`, ~114 MB). It builds, for one pruned lenet, the ONNX
graph of the rewrite that pruning/fastpath.py runs (first conv + pool as one stride-2 "phase" conv,
then ReduceMax over the 4 phases), runs it on the same 2-worker pool in batches of 200, and alternates
it with the engine's accuracy() on the 10,000 test digits (session building included, as the sweep
would pay it per model). Run: `python -m bench.onnxruntime_lead`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench.common import alternate, mnist_dir, record

BATCH = 200


def lenet_session(model):
    """An onnxruntime session computing lenet's logits with the first conv's pool phases."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper
    from pruning.fastpath import phase_weights
    from pruning.masks import permanent_copy
    plain = permanent_copy(model)
    weights = {k: v.detach().numpy() for k, v in plain.state_dict().items()}
    phase_weight, phase_bias = phase_weights(plain.conv1)          # (4*O, 1, 6, 6), (4*O,)
    weights.update(pw=phase_weight.numpy(), pb=phase_bias.numpy(),
                   shape5=np.array([0, 4, plain.conv1.out_channels, 14, 14], dtype=np.int64))
    node = helper.make_node
    nodes = [node("Conv", ["x", "pw", "pb"], ["c1"], strides=[2, 2]),          # (N, 4*O, 14, 14)
             node("Reshape", ["c1", "shape5"], ["c1r"]),                      # (N, 4, O, 14, 14)
             node("ReduceMax", ["c1r"], ["p1"], axes=[1], keepdims=0),        # (N, O, 14, 14)
             node("Relu", ["p1"], ["r1"]),
             node("Conv", ["r1", "conv2.weight", "conv2.bias"], ["c2"]),
             node("MaxPool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Relu", ["p2"], ["r2"]), node("Flatten", ["r2"], ["f"], axis=1),
             node("Gemm", ["f", "fc1.weight", "fc1.bias"], ["g1"], transB=1), node("Relu", ["g1"], ["h1"]),
             node("Gemm", ["h1", "fc2.weight", "fc2.bias"], ["g2"], transB=1), node("Relu", ["g2"], ["h2"]),
             node("Gemm", ["h2", "fc3.weight", "fc3.bias"], ["y"], transB=1)]
    names = ["pw", "pb", "shape5", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
             "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    graph = helper.make_graph(nodes, "lenet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
                              [numpy_helper.from_array(weights[n], n) for n in names])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(repeats: int = 15) -> list[dict]:
    from pruning.config import PruneConfig
    from pruning.data import load_mnist_test
    from pruning.engine import prune_model
    from pruning.evaluate import accuracy, prepared_inputs
    eval_set = load_mnist_test(mnist_dir())
    inputs, labels = prepared_inputs(eval_set, 2).numpy(), eval_set.labels.numpy()   # (N, 1, 32, 32)
    model = prune_model("lenet", PruneConfig(amount=0.5)).model
    pool = ThreadPoolExecutor(2)

    def ort_accuracy() -> float:
        session = lenet_session(model)
        logits = pool.map(lambda i: session.run(None, {"x": inputs[i:i + BATCH]})[0], range(0, len(labels), BATCH))
        return float((np.concatenate(list(logits)).argmax(1) == labels).mean())

    same = abs(ort_accuracy() - accuracy(model, "lenet", eval_set)) < 1e-6
    ort_times, torch_times = alternate(ort_accuracy, lambda: accuracy(model, "lenet", eval_set), repeats=repeats)
    ratios = [a / b for a, b in zip(ort_times, torch_times)]
    return [record("lenet 50% l1: onnxruntime phase graph (session included)", ort_times, "ms", None, scale=1000),
            record("lenet 50% l1: engine accuracy()", torch_times, "ms", None, scale=1000),
            record("onnxruntime / engine", ratios, "x", None, same_accuracy=same)]


if __name__ == "__main__":
    from bench.__main__ import print_table
    try:
        import onnx, onnxruntime  # noqa: F401  (optional: this script only)
    except ImportError as missing:
        raise SystemExit(f"{missing}: this experiment needs `pip install onnx==1.23.2 onnxruntime==1.32.0`")
    rows = run()
    print_table(rows)
    print("same accuracy:", rows[-1]["same_accuracy"])
