"""The oldest onnxruntime layerwise supports (1.18) runs a model that layerwise exports.

Two steps, in two environments:

    python .ci/old_onnxruntime.py export DIR   # with layerwise and onnx: writes DIR/model.onnx,
                                               # DIR/x.npy and layerwise's DIR/expected.npy
    OLD/bin/python .ci/old_onnxruntime.py check DIR   # onnxruntime 1.18 and its NumPy 1.x only

``check`` imports neither layerwise nor onnx: onnxruntime 1.18 needs NumPy < 2, layerwise >= 2.
It runs the default export (its opset and IR version) and compares the scores with layerwise's:
a conv net's, and one step of the sequel's BetterRnnlm (the LSTM operator) from a zero state.
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

    from layerwise.sequel.rnnlm import BetterRnnlm

    lm = BetterRnnlm(50, 8, 8, seed=0)
    xs = np.random.default_rng(0).integers(0, 50, (4, 6))
    to_onnx(lm, folder / "lm.onnx")
    np.save(folder / "xs.npy", xs)
    np.save(folder / "lm_expected.npy", lm.predict(xs))


def run(folder, model, inputs, expected):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / model), providers=["CPUExecutionProvider"])
    expected = np.load(folder / expected)
    scores = session.run(None, inputs(session))[0]
    error = float(np.max(np.abs(scores - expected)) / np.max(np.abs(expected)))
    print(
        f"onnxruntime {onnxruntime.__version__} (NumPy {np.__version__}) ran the exported "
        f"{model}: largest difference from layerwise {error:.1e} of the largest score"
    )
    if scores.shape != expected.shape or not error <= 1e-5:
        sys.exit(
            f"{model}: the scores differ from layerwise's: shape {scores.shape}, error {error:.1e}"
        )


def check(folder):
    x, xs = np.load(folder / "x.npy"), np.load(folder / "xs.npy")
    run(folder, "model.onnx", lambda s: {s.get_inputs()[0].name: x}, "expected.npy")

    def step_inputs(session):  # word ids, and every layer's state (1, N, H) at zero
        states = session.get_inputs()[1:]
        zeros = {i.name: np.zeros((1, len(xs), i.shape[2]), np.float32) for i in states}
        return {"xs": xs, **zeros}

    run(folder, "lm.onnx", step_inputs, "lm_expected.npy")


if __name__ == "__main__":
    step, folder = sys.argv[1], Path(sys.argv[2])
    {"export": export, "check": check}[step](folder)
