"""The oldest onnxruntime layerwise supports (1.18) runs a model that layerwise exports.

Two steps, in two environments:

    python .ci/old_onnxruntime.py export DIR   # with layerwise and onnx: writes DIR/model.onnx,
                                               # DIR/x.npy and layerwise's DIR/expected.npy
    OLD/bin/python .ci/old_onnxruntime.py check DIR   # onnxruntime 1.18 and its NumPy 1.x only

``check`` imports neither layerwise nor onnx: onnxruntime 1.18 needs NumPy < 2, layerwise >= 2.
It runs the default export (its opset and IR version) and compares the scores with layerwise's.
"""

import sys
from pathlib import Path

import numpy as np


def export(folder):
    import layerwise
    from layerwise.interop import to_onnx

    # A conv net with every node kind the exporter writes: Conv, Relu, MaxPool, BatchNorm,
    # Flatten (Reshape), Gemm; sizes that do not tile (28 -> 14 -> 7 with stride 2).
    net = layerwise.SimpleConvNet(
        conv_param={"filter_num": 6, "filter_size": 3, "pad": 1, "stride": 2},
        hidden_size=20,
        use_batchnorm=True,
        dtype="float32",
        seed=0,
    ).eval()
    x = np.random.default_rng(0).random((16, 1, 28, 28), np.float32)
    to_onnx(net, folder / "model.onnx")
    np.save(folder / "x.npy", x)
    np.save(folder / "expected.npy", net.predict(x, train_flg=False))


def check(folder):
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(folder / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    x, expected = np.load(folder / "x.npy"), np.load(folder / "expected.npy")
    (scores,) = session.run(None, {session.get_inputs()[0].name: x})
    error = float(np.max(np.abs(scores - expected)) / np.max(np.abs(expected)))
    print(
        f"onnxruntime {onnxruntime.__version__} (NumPy {np.__version__}) ran the exported "
        f"model: largest difference from layerwise {error:.1e} of the largest score"
    )
    if scores.shape != expected.shape or not error <= 1e-5:
        sys.exit(f"the scores differ from layerwise's: shape {scores.shape}, error {error:.1e}")


if __name__ == "__main__":
    step, folder = sys.argv[1], Path(sys.argv[2])
    {"export": export, "check": check}[step](folder)
