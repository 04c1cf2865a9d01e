#!/usr/bin/python3
"""Writes the small ONNX test models under tests/data/ (committed; the build never runs this).

Needs Debian's python3-onnx and python3-numpy (`scripts/install-deps --train`); no network.
Deterministic: fixed seed, so rerunning reproduces the committed files byte for byte.

  tests/data/pool-relu-cnn.onnx  input 1x1x8x8: Conv(1->4, 3x3, pad 1) MaxPool(2x2) Relu
                                 Conv(4->8, 3x3, pad 1) MaxPool(2x2)
                                 Relu Flatten Gemm(8*2*2 -> 10), the relu(max_pool2d(conv(x)))
                                 pattern of PyTorch CNNs (ReLU after the pool, not before it),
                                 random weights.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def pool_relu_cnn():
    rng = np.random.default_rng(20261125)
    w1 = (rng.standard_normal((4, 1, 3, 3)) * 0.5).astype(np.float32)
    b1 = (rng.standard_normal(4) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((8, 4, 3, 3)) * 0.25).astype(np.float32)
    b2 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w3 = (rng.standard_normal((10, 32)) * 0.3).astype(np.float32)
    b3 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["p1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["p2"], ["r2"], name="relu2"),
        helper.make_node("Flatten", ["r2"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "pool-relu-cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, producer_name="enclaveml tools/gen-test-onnx.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    out = os.path.join(ROOT, "tests", "data", "pool-relu-cnn.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(pool_relu_cnn().SerializeToString())
    print("wrote", os.path.relpath(out, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
