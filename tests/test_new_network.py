"""A new network is its class plus one declaration: defined here, outside the package.

``BottleneckNet`` is written as a learner would write it: a plan of the book's layers (no
array allocated), a constructor that builds from it, and one ``register_network`` call with
its ``--model`` entry. It is then used through every edge of layerwise: model files (with the
hostile-file checks), checkpoints with kill-and-resume, ``gradcheck``, the graph drawing and
the command line. No file of the package names it; the registration is undone after each test.
"""

import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise import Relu, Sigmoid, Trainer
from layerwise.cli import main
from layerwise.container import ModelFileError, read_npz
from layerwise.network import PlannedNetwork
from layerwise.plans import (
    MODELS,
    NETWORKS,
    LayerPlan,
    ModelEntry,
    NetworkPlan,
    affine,
    check_dtype,
    check_size,
    dropout,
    register_network,
)
from layerwise.viz import record_step


class BottleneckNet(PlannedNetwork):
    """Affine1 Relu1 [Dropout1] Affine2 Sigmoid1 Affine3: a wide layer, then a narrow one."""

    def __init__(
        self, input_size, hidden_size, bottleneck_size, output_size, dropout_ratio=0.0, *,
        dtype="float64", seed=None,
    ):  # fmt: skip
        plan = self.plan(
            input_size=input_size,
            hidden_size=hidden_size,
            bottleneck_size=bottleneck_size,
            output_size=output_size,
            dropout_ratio=dropout_ratio,
            dtype=dtype,
        )
        super().__init__(plan, seed)

    @classmethod
    def plan(cls, *, input_size, hidden_size, bottleneck_size, output_size, dropout_ratio, dtype):
        owner = cls.__name__
        dtype = check_dtype(dtype, owner)
        sizes = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "bottleneck_size": bottleneck_size,
            "output_size": output_size,
        }
        i, h, b, o = (check_size(value, owner, name) for name, value in sizes.items())
        layers = [affine("Affine1", i, h, "he", dtype, owner), LayerPlan("Relu1", Relu)]
        if dropout_ratio:
            layers.append(dropout("Dropout1", dropout_ratio))
        layers += [
            affine("Affine2", h, b, "xavier", dtype, owner),
            LayerPlan("Sigmoid1", Sigmoid),
            affine("Affine3", b, o, "xavier", dtype, owner),
        ]
        arguments = {
            "input_size": i,
            "hidden_size": h,
            "bottleneck_size": b,
            "output_size": o,
            "dropout_ratio": float(dropout_ratio),
            "dtype": dtype.name,
        }
        return NetworkPlan(cls, arguments, layers, input_shape=(i,))


def _from_options(options, input_size, classes):
    if len(options["hidden"]) != 2:
        raise layerwise.InvalidParameterError("--model bottleneck takes two --hidden sizes")
    hidden, bottleneck = options["hidden"]
    return BottleneckNet(
        input_size, hidden, bottleneck, classes, options["dropout"],
        dtype=options["dtype"], seed=options["seed"],
    )  # fmt: skip


ENTRY = ModelEntry(
    "bottleneck",
    "BottleneckNet, a test's own",
    _from_options,
    options=("hidden", "dropout"),
    defaults={"optimizer": "adam", "lr": 0.01, "hidden": [40, 10]},
    examples=lambda seed: {
        "BottleneckNet(12, 8, 3, 4, 0.2)": BottleneckNet(12, 8, 3, 4, 0.2, seed=seed)
    },
)


@contextlib.contextmanager
def registered():
    """BottleneckNet registered for model files and as ``--model bottleneck``, then removed."""
    register_network(BottleneckNet, model=ENTRY)
    try:
        yield
    finally:
        del NETWORKS["BottleneckNet"]
        del MODELS["bottleneck"]


@pytest.fixture
def bottleneck():
    with registered():
        yield BottleneckNet


# A user's own launcher: import the module that registers the network, then the command line.
LAUNCHER = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_new_network "
    "as m; from layerwise.cli import main\nwith m.registered(): sys.exit(main(sys.argv[1:]))"
)


def _batch(rng, n=6, features=12, classes=4):
    return rng.uniform(-1, 1, (n, features)), rng.integers(0, classes, n)


def test_registration_enters_both_registries_and_is_undone():
    assert "BottleneckNet" not in NETWORKS and "bottleneck" not in MODELS
    with registered():
        assert NETWORKS["BottleneckNet"] is BottleneckNet and MODELS["bottleneck"] is ENTRY
    assert "BottleneckNet" not in NETWORKS and "bottleneck" not in MODELS


def test_a_second_class_or_model_of_the_same_name_is_refused(bottleneck):
    impostor = type("BottleneckNet", (PlannedNetwork,), {})
    with pytest.raises(ValueError, match="another network class is registered as 'BottleneckNet'"):
        register_network(impostor)
    with pytest.raises(ValueError, match="another network is registered as --model bottleneck"):
        register_network(
            type("Other", (PlannedNetwork,), {}),
            model=dataclasses.replace(ENTRY, summary="another"),
        )
    assert NETWORKS["BottleneckNet"] is BottleneckNet and "Other" not in NETWORKS


def test_the_plan_allocates_nothing_and_the_constructor_builds_it(bottleneck):
    plan = BottleneckNet.plan(
        input_size=10**11,
        hidden_size=10**11,
        bottleneck_size=3,
        output_size=2,
        dropout_ratio=0.5,
        dtype="float32",
    )
    assert plan.arrays()["W1"] == ((10**11, 10**11), np.float32)  # records, not arrays
    net = BottleneckNet(12, 8, 3, 4, 0.2, seed=0)
    assert list(net.layers) == ["Affine1", "Relu1", "Dropout1", "Affine2", "Sigmoid1", "Affine3"]
    assert {k: (a.shape, a.dtype) for k, a in net.state_dict().items()} == (
        BottleneckNet.plan(**{k: v for k, v in net.get_config().items() if k != "class"}).arrays()
    )
    again = BottleneckNet(12, 8, 3, 4, 0.2, seed=0)
    for key, value in net.params.items():
        np.testing.assert_array_equal(value, again.params[key])
    assert float(np.std(net.params["W1"])) == pytest.approx(np.sqrt(2 / 12), rel=0.3)  # He


def test_model_files_round_trip(bottleneck, tmp_path):
    net = BottleneckNet(12, 8, 3, 4, 0.3, dtype="float32", seed=1)
    x, _ = _batch(np.random.default_rng(1))
    loaded = layerwise.load(layerwise.save(net, tmp_path / "net.npz"))
    assert type(loaded) is BottleneckNet and loaded.get_config() == net.get_config()
    assert not loaded.training  # ready for inference: predicting twice gives one answer
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    np.testing.assert_array_equal(loaded.predict(x), loaded.predict(x))


def _description(arrays):
    return json.loads(arrays["__architecture__"].item())


def test_a_description_promising_huge_layers_is_refused_without_allocating(bottleneck, tmp_path):
    arrays = read_npz(layerwise.save(BottleneckNet(12, 8, 3, 4, seed=0), tmp_path / "net.npz"))
    description = _description(arrays)
    description["network"]["hidden_size"] = 10**11
    arrays["__architecture__"] = np.array(json.dumps(description))
    np.savez(tmp_path / "huge.npz", **arrays)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"'W1' has shape \(12, 8\).*\(12, 100000000000\)"):
            layerwise.load(tmp_path / "huge.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # 10**12 float64 would be 8 TB


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(hidden_size=0), "hidden_size must be a whole number >= 1, got 0"),
        (dict(seed=3), "invalid.*unexpected keyword argument 'seed'"),
        (dict(dtype="int8"), "dtype must be float32 or float64"),
        (dict(dropout_ratio=2.0), "invalid.*dropout_ratio"),
    ],
)
def test_bad_descriptions_are_refused_by_the_plan(bottleneck, tmp_path, change, message):
    arrays = read_npz(layerwise.save(BottleneckNet(12, 8, 3, 4, 0.2, seed=0), tmp_path / "n.npz"))
    description = _description(arrays)
    description["network"].update(change)
    arrays["__architecture__"] = np.array(json.dumps(description))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=message):
        layerwise.load(tmp_path / "bad.npz")


def test_an_unregistered_network_is_refused_by_name(tmp_path):
    with registered():
        path = layerwise.save(BottleneckNet(12, 8, 3, 4, seed=0), tmp_path / "net.npz")
    with pytest.raises(ModelFileError, match="unknown network class 'BottleneckNet'"):
        layerwise.load(path)


def test_backprop_matches_numerical_gradients(bottleneck):
    net = BottleneckNet(12, 8, 3, 4, 0.2, seed=2)
    x, t = _batch(np.random.default_rng(2))
    numerical = net.numerical_gradient(x, t)  # rewinds Dropout's masks: one function
    for key, grad in net.gradient(x, t).items():
        np.testing.assert_allclose(grad, numerical[key], rtol=1e-5, atol=1e-8, err_msg=key)


def test_checkpoint_resume_is_bit_identical(bottleneck, tmp_path):
    rng = np.random.default_rng(4)
    x_train, t_train = _batch(rng, n=60)
    x_test, t_test = _batch(rng, n=20)

    def trainer(epochs):
        net = BottleneckNet(12, 8, 3, 4, 0.2, seed=3)
        data = (x_train, t_train, x_test, t_test)
        return Trainer(net, *data, epochs=epochs, mini_batch_size=20, verbose=False, seed=0)

    reference = trainer(2).train()
    first = trainer(1)
    first.train()
    first.epochs = 2  # the run it belongs to
    first.save_checkpoint(tmp_path / "ckpt.npz")
    resumed = trainer(2).load_checkpoint(tmp_path / "ckpt.npz")
    resumed.train()
    assert resumed.train_loss_list == reference.train_loss_list
    for key, value in resumed.network.state_dict().items():
        np.testing.assert_array_equal(value, reference.network.state_dict()[key])


def test_graph_drawing_records_its_layers(bottleneck):
    net = BottleneckNet(12, 8, 3, 4, 0.2, seed=5)
    x, t = _batch(np.random.default_rng(5))
    graph = record_step(net, x, t)
    names = [node.name for node in graph.nodes]
    assert names == [*net.layers, "SoftmaxWithLoss"]
    assert "Sigmoid1" in graph.to_dot() and "Dropout1" in graph.to_dot()


# ---------------------------------------------------------------------- the command line


def test_command_line_offers_the_model(bottleneck, capsys):
    with pytest.raises(SystemExit):
        layerwise.cli.build_parser().parse_args(["train", "--help"])
    assert "two-layer,mlp,convnet,deep-convnet,bottleneck" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "bottleneck", "--batchnorm"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--batchnorm does not apply to --model bottleneck" in err
    with pytest.raises(SystemExit):
        main(["train", "--model", "bottleneck", "--hidden", "5"])
    assert "--model bottleneck takes two --hidden sizes" in capsys.readouterr().err


def test_regression_an_option_a_model_does_not_take_is_named_alone(capsys):
    """Issue 28: `--dropout 0.5` on the two-layer model said `--batchnorm needs ...`."""
    with pytest.raises(SystemExit):
        main(["train", "--dropout", "0.5"])
    err = capsys.readouterr().err
    assert "--dropout does not apply to --model two-layer" in err
    assert "--dropout needs --model mlp" in err and "batchnorm" not in err


def test_gradcheck_checks_the_registered_model(bottleneck, capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "BottleneckNet(12, 8, 3, 4, 0.2)" in out and "TwoLayerNet(20, 10, 4)" in out
    assert out.rstrip().endswith("(threshold 1e-7, float64)") and "OK" in out


RUN = ["train", "--model", "bottleneck", "--dropout", "0.2", "--seed", "3", "--quiet"]


def _start(*args):
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _state(folder):
    model = layerwise.load(folder / "model.npz")
    return model.state_dict(), (folder / "history.csv").read_text()


def test_train_kill_resume_evaluate_graph_and_gradcheck_from_the_command_line(
    bottleneck, tmp_path, capsys
):
    """The model trains through `layerwise train --model bottleneck` (in a user's launcher
    script); a run killed by SIGKILL mid-run and resumed equals the run left alone, bit for
    bit; evaluate, graph and gradcheck read its model file."""
    args = [*RUN, "--epochs", "3", "--checkpoint-every", "5"]
    reference = tmp_path / "reference"
    assert main([*args, "--out", str(reference)]) == 0
    expected = _state(reference)

    for attempt in range(3):  # a run that ends before the signal lands is run again
        out = tmp_path / f"killed{attempt}"
        proc = _start(*args, "--out", str(out))
        try:
            deadline = time.monotonic() + 120
            while not (out / "checkpoint.npz").exists() and proc.poll() is None:
                assert time.monotonic() < deadline, "no checkpoint within 120 s"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if proc.returncode != 0:
            break
    assert proc.returncode == -signal.SIGKILL, err  # killed mid-run: no model.npz yet
    assert not (out / "model.npz").exists()
    resumed = _start("train", "--resume", str(out), "--quiet")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    state, history = _state(out)
    assert history == expected[1]
    for key, value in expected[0].items():
        np.testing.assert_array_equal(state[key], value)

    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["graph", str(out), "--batch-size", "5"]) == 0
    dot = capsys.readouterr().out
    assert "Sigmoid1" in dot and "Dropout1" in dot
    assert main(["gradcheck", str(out), "--entries", "3"]) == 0
    assert "BottleneckNet, 3 entries of each parameter" in capsys.readouterr().out
