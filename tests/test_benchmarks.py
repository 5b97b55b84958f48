"""The benchmark runs end to end in quick mode and writes its tables and JSON.

Times are not asserted (they depend on the machine and its load); the structure is.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import accuracy
import accuracy_conv
import numpy as np
import pytest
import textbook
import workloads as wl

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
STEP_KEYS = ["step_784-50-10_b100", "step_784-1000-1000-10_b256"]
LAYER_KEYS = [
    "relu_100x784",
    "relu_1024x784",
    "sigmoid_100x784",
    "sigmoid_1024x784",
    "affine_b100",
    "affine_b1024",
    "softmax_100x10",
    "softmax_1024x10",
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    # run.py pins BLAS threads by threadpoolctl, and its tables hold PyTorch's floors.
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("bench")
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    # One timing round (--quick's are 3, its conv workloads' 2): no time is asserted here.
    command = [sys.executable, str(BENCH / "run.py"), "--quick", "--rounds", "1"]
    proc = subprocess.run(
        [*command, "--threads", "both", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, out


def test_quick_run_writes_markdown_and_json(quick_run):
    proc, out = quick_run
    md = (out / "latest.md").read_text()
    assert md.strip() in proc.stdout
    report = json.loads((out / "latest.json").read_text())
    assert report["quick"] is True
    assert set(report["micro"]) == {"1", "default"}
    for threads in ("1", "default"):
        micro = report["micro"][threads]
        # --quick times the conv nets with one thread only
        assert list(micro) == LAYER_KEYS + STEP_KEYS + (CONV_KEYS if threads == "1" else [])
        for key in LAYER_KEYS + STEP_KEYS:
            times = micro[key]["times"]
            assert {"textbook", "layerwise f64", "layerwise f32"} <= set(times)
            assert all(t["median"] > 0 for t in times.values())
        for key in STEP_KEYS + ["affine_b100", "affine_b1024"]:
            assert {"limit f64", "limit f32"} <= set(micro[key]["times"])
        for key in STEP_KEYS:  # the floors the targets are read against
            assert {"bare NumPy f32", "torch f32", "torch limit f32"} <= set(micro[key]["times"])


def test_quick_run_tables_have_the_expected_rows(quick_run):
    proc, _ = quick_run
    text = proc.stdout
    for row in (
        "| Relu fwd+bwd 100x784 |",
        "| Sigmoid fwd+bwd 1024x784 |",
        "| Affine 784->100 fwd+bwd b100 |",
        "| SoftmaxWithLoss fwd+bwd 1024x10 |",
        "| step 784-50-10 b100 |",
        "| step 784-1000-1000-10 b256 |",
        "## Targets (1 BLAS thread, layerwise float32)",
        "| step 784-50-10 b100: % of matmul limit |",
        "| Relu fwd+bwd 100x784: speed-up vs textbook |",
        "| target | measured | goal | met | straight-line NumPy, same run |",
        "## Default threads vs 1 thread",
    ):
        assert row in text, row


@pytest.mark.skipif(not DATA_DIR.exists(), reason="Fashion-MNIST is not installed")
def test_quick_run_end_to_end_rows(quick_run):
    proc, out = quick_run
    report = json.loads((out / "latest.json").read_text())
    e2e = report["e2e"]["1"]
    assert {"textbook", "layerwise"} <= set(e2e)
    for result in e2e.values():
        assert result["iters"] == 200
        assert result["peak_rss_mib"] > 0
        assert 0.0 <= result["final_test_acc"] <= 1.0
    assert "| end to end: layerwise peak RSS |" in proc.stdout
    assert "| textbook |" in proc.stdout and "| layerwise |" in proc.stdout


def test_textbook_gradient_matches_layerwise():
    """The yardstick computes the same gradients as the library (it is slow, not wrong)."""
    import layerwise

    rng = np.random.default_rng(0)
    x = rng.random((8, 784))
    t = rng.integers(0, 10, 8)
    net = layerwise.MultiLayerNet(784, [30, 20], 10, seed=1)
    np.random.seed(0)  # noqa: NPY002 - the textbook code draws from the global generator
    book = textbook.MultiLayerNet(784, [30, 20], 10)
    for key in net.params:
        book.params[key][...] = net.params[key]
    ours, theirs = net.gradient(x, t), book.gradient(x, t)
    for key in ours:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-6, atol=1e-9)


def test_bare_numpy_step_is_the_same_step_as_layerwise():
    """The straight-line floor does what layerwise's Trainer step does, so the two compare."""
    import layerwise
    from layerwise.optimizers import SGD

    rng = np.random.default_rng(0)
    data = wl.Data(rng.integers(0, 256, (500, 784), dtype=np.uint8), rng.integers(0, 10, 500))
    sizes, batch, lr = [784, 40, 30, 10], 50, 0.1
    bare = wl._bare_step(sizes, batch, lr, data, seed=3, two_layer=False)
    net = layerwise.MultiLayerNet(784, [40, 30], 10, dtype=np.float32)
    for k, (W, b) in enumerate(bare.params, start=1):
        net.params[f"W{k}"], net.params[f"b{k}"] = W.copy(), b.copy()
    trainer = layerwise.training.Trainer(
        net, data.x_u8, data.t_u8, data.x_u8[:1], data.t_u8[:1], verbose=False
    )
    optimizer = SGD(lr=lr)
    batches = wl._batches(len(data.x_u8), batch, seed=3)
    for _ in range(3):
        bare()
        loss, grads = net.loss_and_gradient(*trainer.get_batch(next(batches)))
        optimizer.update(net.params, grads)
        np.testing.assert_allclose(bare.loss, loss, rtol=1e-5)
    for k, (W, b) in enumerate(bare.params, start=1):
        np.testing.assert_allclose(W, net.params[f"W{k}"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b, net.params[f"b{k}"], rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------- accuracy.py


def test_accuracy_quick_run_of_the_chapter6_entries(tmp_path):
    """accuracy.py's BatchNorm + Dropout network and batch_norm_test.py, on the shipped sample:
    the tables, the JSON (merged into what is there) and figure 6-19."""
    (tmp_path / "accuracy.json").write_text(json.dumps({"chapter5": {"test_acc": [0.87]}}))
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "accuracy.py"),
            "--quick",
            "--dataset",
            "sample",
            "--only",
            "extend_adam",
            "batchnorm",
            "convnet",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = proc.stdout
    assert "| MultiLayerNetExtend 784-512-512-10, BatchNorm + Dropout 0.2, Adam 0.001" in text
    assert "| epoch | test acc seed 0 | mean test acc | mean train acc (first 10,000) |" in text
    assert "| weight_init_std | epoch 1 | epoch 2 | BN faster |" in text
    assert "| 0.0001 |" in text and "BatchNorm learns faster" in text
    assert "| SimpleConvNet (ch. 7), Adam 0.001, batch 100, 1 epochs |" in text

    report = json.loads((tmp_path / "accuracy.json").read_text())
    assert report["chapter5"] == {"test_acc": [0.87]}  # the entries not run are kept
    extend = report["extend_adam"]
    assert extend["quick"] is True and extend["dataset"] == "sample"
    assert extend["epochs"] == 1 and extend["seeds"] == [0] and len(extend["runs"]) == 1
    run = extend["runs"][0]
    assert len(run["test_acc"]) == len(run["seconds_per_epoch"]) == 1
    assert 0.5 < run["test_acc"][0] == extend["final_test_acc_mean"] <= 1.0
    assert all(s > 0 for s in run["seconds_per_epoch"])
    conv = report["convnet"]
    assert conv["network"]["class"] == "SimpleConvNet" and len(conv["test_acc"]) == 1
    assert 0.3 < conv["test_acc"][0] <= 1.0 and conv["seconds"][0] > 0
    bn = report["batchnorm"]
    assert bn["train_size"] == 1000 and len(bn["scales"]) == 4
    for name in ("bn_train_acc", "plain_train_acc", "bn_book_train_acc"):
        assert np.array(bn[name]).shape == (4, 1, 3)  # scales, seeds, epochs 0..2
    pytest.importorskip("matplotlib")
    assert (tmp_path / "batch_norm_test.png").stat().st_size > 10_000


def test_batch_norm_test_trains_three_nets_from_one_start():
    """The three nets of one weight scale start from the same weights and see the same
    batches: with BatchNorm left out, "bn" and "plain" would be one net."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 784), dtype=np.uint8)
    t = rng.integers(0, 10, 200)
    acc = accuracy.batch_norm_test(x, t, 0.05, max_epochs=3, seed=1, hidden=(20, 20))
    assert set(acc) == {"bn", "bn_book", "plain"}
    assert all(len(curve) == 4 for curve in acc.values())
    # Epoch 0 is before training, in inference mode: BatchNorm with running statistics (0, 1)
    # is x / sqrt(1 + eps), a positive scale that ReLU passes on, so from the same weights the
    # two nets rank the classes alike.
    assert acc["bn"][0] == acc["plain"][0]


# ---------------------------------------- convolutional workloads (run.py, workloads, textbook)

CONV_KEYS = ["conv3x3_16-16_b100", "step_simpleconvnet_b100", "step_deepconvnet_b100"]


def test_quick_run_conv_workloads_and_targets(quick_run):
    proc, out = quick_run
    report = json.loads((out / "latest.json").read_text())
    micro = report["micro"]["1"]
    for key in CONV_KEYS:
        times = micro[key]["times"]
        assert {"textbook", "layerwise f32", "limit f32", "limit f64"} <= set(times)
        assert all(t["median"] > 0 for t in times.values())
    for key in CONV_KEYS[1:]:
        assert {"bare NumPy f32", "torch f32", "torch limit f32"} <= set(micro[key]["times"])
    rows = {row["target"]: row for row in report["targets"]}
    at_most = rows["step DeepConvNet b100: time / PyTorch's time"]
    assert at_most["goal_str"] == "<= 2.50x"
    assert at_most["met"] == (at_most["measured"] <= 2.5)
    assert rows["step SimpleConvNet b100: speed-up vs textbook"]["goal_str"] == ">= 4.00x"
    assert rows["step DeepConvNet b100: % of matmul limit"]["met"] is None  # reported only
    for row in (
        "| Convolution 16->16 3x3 pad 1 fwd+bwd 100x16x28x28 |",
        "| step SimpleConvNet b100 (Adam) |",
        "| step DeepConvNet b100 (Adam) |",
        "| step SimpleConvNet b100: time / PyTorch's time |",
        "| step DeepConvNet b100: speed-up vs textbook |",
    ):
        assert row in proc.stdout, row


@pytest.mark.skipif(not DATA_DIR.exists(), reason="Fashion-MNIST is not installed")
def test_quick_run_deepconvnet_peak_memory_rows(quick_run):
    proc, out = quick_run
    runs = json.loads((out / "latest.json").read_text())["e2e_conv"]
    assert set(runs) == {"textbook", "layerwise"}
    for r in runs.values():
        assert r["steps"] == 2 and r["threads"] == 1
        assert r["peak_rss_mib"] >= r["peak_rss_after_step_mib"]["1"] > r["rss_loaded_mib"] > 0
        assert r["ms_per_step"] > 0
    assert "## DeepConvNet training in a fresh process" in proc.stdout


def test_textbook_im2col_and_col2im_are_the_books():
    """The yardstick's im2col/col2im give what layerwise.util's (checked against the book's
    definition in test_util) give: the book's column layout, the padding's share dropped."""
    from layerwise.util import col2im, im2col

    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    col = textbook.im2col(x, 3, 3, 1, 1)
    np.testing.assert_array_equal(col, im2col(x, 3, 3, 1, 1))
    back = textbook.col2im(col, x.shape, 3, 3, 1, 1)
    np.testing.assert_allclose(back, col2im(col, x.shape, 3, 3, 1, 1))


def _share_the_books_dropout_masks(net, seed):
    """Give every Dropout layer of ``net`` one Generator on the stream ``np.random.rand`` draws
    from after ``np.random.seed(seed)``: the book's masks, drawn in the same order."""
    np.random.seed(seed)  # noqa: NPY002 - the book's Dropout draws from the global generator
    bits = np.random.MT19937()
    state = np.random.get_state(legacy=False)["state"]  # noqa: NPY002
    bits.state = {"bit_generator": "MT19937", "state": state}
    shared = np.random.Generator(bits)
    for layer in net.layers.values():
        if hasattr(layer, "dropout_ratio"):
            layer.rng = shared


@pytest.mark.parametrize("name", ["SimpleConvNet", "DeepConvNet"])
def test_textbook_convnet_gradient_matches_layerwise(name):
    """The book's conv nets, as the yardstick writes them, compute layerwise's loss and
    gradients (float64, the same weights and Dropout masks): slow, not wrong."""
    import layerwise

    rng = np.random.default_rng(0)
    x = rng.random((4, 1, 28, 28))
    t = rng.integers(0, 10, 4)
    net = getattr(layerwise, name)(seed=1)
    book = getattr(textbook, name)()
    for key in net.params:
        book.params[key][...] = net.params[key]
    _share_the_books_dropout_masks(net, seed=7)
    loss, ours = net.loss_and_gradient(x, t)
    np.random.seed(7)  # noqa: NPY002
    theirs = book.gradient(x, t)
    np.testing.assert_allclose(book.last_layer.loss, loss, rtol=1e-5)  # the book's log(y + 1e-7)
    assert set(theirs) == set(ours)
    for key in ours:
        scale = np.abs(ours[key]).max()
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-6, atol=1e-9 * scale)


@pytest.mark.parametrize("name", ["SimpleConvNet", "DeepConvNet"])
def test_bare_conv_step_is_the_same_step_as_layerwise(name):
    """The straight-line conv-net step computes layerwise's loss and gradients from the same
    weights, images and Dropout masks, and updates the weights as layerwise's Adam does.

    The weights are synchronised before every step: float32 rounding in one step moves a few
    near-zero pre-activations across ReLU's kink in the next, so free-running trajectories part.
    """
    import layerwise
    from layerwise.optimizers import Adam

    rng = np.random.default_rng(0)
    data = wl.Data(rng.integers(0, 256, (300, 784), dtype=np.uint8), rng.integers(0, 10, 300))
    images = wl._images(data)
    ops = {"SimpleConvNet": wl.SIMPLE_OPS, "DeepConvNet": wl.DEEP_OPS}[name]
    net = getattr(layerwise, name)(dtype=np.float32, seed=2)
    index = wl.fixed_batches(len(images.x_u8), 20, count=3, seed=1)
    params = {key: value.copy() for key, value in net.params.items()}
    bare = wl._bare_conv_step(ops, params, 0.001, images, iter(index), seed=5)
    shared = np.random.default_rng(5)  # the bare step's Dropout generator, seeded alike
    for layer in net.layers.values():
        if hasattr(layer, "dropout_ratio"):
            layer.rng = shared
    trainer = layerwise.training.Trainer(
        net, images.x_u8, images.t_u8, images.x_u8[:1], images.t_u8[:1], verbose=False
    )
    optimizer = Adam(lr=0.001)
    for idx in index:
        before = {key: value.copy() for key, value in bare.params.items()}
        for key, value in before.items():
            net.params[key] = value.copy()
        loss, grads = net.loss_and_gradient(*trainer.get_batch(idx))
        bare()
        np.testing.assert_allclose(bare.loss, loss, rtol=1e-5)
        for key in grads:
            scale = np.abs(grads[key]).max()
            np.testing.assert_allclose(bare.grads[key], grads[key], rtol=1e-4, atol=1e-5 * scale)
        optimizer.update(before, bare.grads)  # the same gradients through layerwise's Adam
        for key in before:
            np.testing.assert_allclose(bare.params[key], before[key], rtol=1e-6, atol=1e-8)


def test_torch_conv_step_starts_from_layerwise_weights():
    """PyTorch's SimpleConvNet step is layerwise's network: same weights, same first loss."""
    if wl.torch is None:
        pytest.skip("torch is not installed")
    import layerwise

    rng = np.random.default_rng(0)
    data = wl.Data(rng.integers(0, 256, (200, 784), dtype=np.uint8), rng.integers(0, 10, 200))
    images = wl._images(data)
    net = layerwise.SimpleConvNet(dtype=np.float32, seed=3)
    index = wl.fixed_batches(200, 20, count=1)
    step = wl._torch_conv_step("SimpleConvNet", net.params, 0.001, data, index, seed=0)
    step()
    x = images.x_u8[index[0]].astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(float(step.loss), net.loss(x, images.t_u8[index[0]]), rtol=1e-5)


def test_network_products_are_the_im2col_products_of_deepconvnet():
    """The DeepConvNet limit: one im2col product per convolution and direction, worked out by
    hand: 28x28 (pad 1) -> 28x28, pool 14x14, pad 2 -> 16x16, pool 8x8, pool 4x4."""
    import layerwise

    net = layerwise.DeepConvNet(dtype=np.float32, seed=0)
    assert wl.network_products(net, 100) == [
        (100 * 28 * 28, 1 * 9, 16, False),  # the first layer: no dx
        (100 * 28 * 28, 16 * 9, 16, True),
        (100 * 14 * 14, 16 * 9, 32, True),
        (100 * 16 * 16, 32 * 9, 32, True),
        (100 * 8 * 8, 32 * 9, 64, True),
        (100 * 8 * 8, 64 * 9, 64, True),
        (100, 64 * 4 * 4, 50, True),
        (100, 50, 10, True),
    ]


@pytest.mark.parametrize("key", ["convnet", "deep_convnet"])
def test_torch_conv_yardstick_starts_from_layerwise_and_learns(key):
    """``accuracy_conv.py --torch`` trains the book's network in PyTorch from layerwise's weights:
    at the start both compute the same (inference mode: SimpleConvNet's class scores, DeepConvNet's
    hidden layer before the Dropouts, whose inference scaling differs), and a short run learns."""
    torch = pytest.importorskip("torch")
    network = accuracy_conv.NETWORKS[key](3).eval()
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    model = wl.torch_conv_model(type(network).__name__, network.params).eval()
    # up to the first Dropout: the book's scales by 1 - p at inference, torch's (inverted) not
    stop = list(network.layers).index("Dropout1") if key == "deep_convnet" else None
    expected = x
    for layer in list(network.layers.values())[:stop]:
        expected = layer.forward(expected)
    torch_stop = None if stop is None else -3  # before torch's Dropout, Linear, Dropout
    with torch.no_grad():
        scores = model[:torch_stop](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    rng = np.random.default_rng(1)
    data = (
        (rng.random((1000, 1, 28, 28), dtype=np.float32), np.repeat(np.arange(10), 100)),
        (rng.random((100, 1, 28, 28), dtype=np.float32), np.repeat(np.arange(10), 10)),
    )
    data[0][0][np.arange(1000), 0, data[0][1], :] += 2.0  # the label is a bright row: learnable
    data[1][0][np.arange(100), 0, data[1][1], :] += 2.0
    result = accuracy_conv.run_torch(key, epochs=3, seed=0, data=data, log=lambda *a: None)
    assert len(result["test_acc"]) == len(result["seconds"]) == 3
    assert result["test_acc"][-1] > 0.5  # chance: 0.1
