"""Running on a GPU with CuPy: layerwise.backend, ``net.to``, ``Trainer(device=)``, ``--device``.

Three kinds of test:

- The seam's CPU side, for real: device names, the errors for a missing CuPy or GPU (CuPy is
  absent on CI, so the command line's refusal is the real one), ``to('cpu')``, CuPy never
  imported by a CPU run.
- The GPU path through a stand-in for CuPy (:func:`fake_cupy`, ``tests/cupy_standin.py``) as
  strict as CuPy 13: its arrays are not NumPy arrays, refuse implicit conversion and host
  operands, have only CuPy's functions and methods, and index to 0-d views
  (``tests/test_cupy_standin.py`` proves it). A creation that forgot the array module, a host
  array leaking into a step, or code relying on ``x[i]`` being a copy fails here as it would on
  a GPU; the arithmetic is NumPy's, so the results are compared with a CPU run's exactly.
- Marked ``gpu``: the same on a real GPU, float32, against NumPy (skipped where there is none;
  ``benchmarks/gpu.py`` runs them and the timings on a GPU machine).
"""

import copy
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cupy_standin import make_cupy

from layerwise import backend, functions, interop
from layerwise.backend import (
    Device,
    DeviceUnavailableError,
    as_numpy,
    device_of,
    get_array_module,
    import_cupy,
    is_cupy_array,
    parse_device,
    to_device,
)
from layerwise.book_nets import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    TwoLayerNet,
)
from layerwise.checkpoints import read_checkpoint_meta
from layerwise.files import load, save
from layerwise.layers import (
    AddLayer,
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    MulLayer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from layerwise.network import Sequential
from layerwise.optimizers import OPTIMIZERS, Adam, get_optimizer
from layerwise.training import Trainer
from layerwise.util import col2im, im2col
from layerwise.viz import record_step

CUPY_INSTALLED = importlib.util.find_spec("cupy") is not None
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

# ---------------------------------------------------------------- a strict stand-in for CuPy


@pytest.fixture(autouse=True)
def _forget_cupy():
    """backend caches the CuPy it checked: forget it around each test (some fake it)."""
    backend._checked_cupy.cache_clear()
    yield
    backend._checked_cupy.cache_clear()


def _install(monkeypatch, module):
    """``import cupy`` gives ``module`` (None: ImportError) until the test ends."""
    monkeypatch.setitem(sys.modules, "cupy", module)


@pytest.fixture
def fake_cupy(monkeypatch):
    """CuPy and one "GPU", the stand-in of ``tests/cupy_standin.py``; removed after the test."""
    _install(monkeypatch, make_cupy())
    return sys.modules["cupy"]


# ---------------------------------------------------------------- networks


def _images(n, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28))


def _rows(n, seed=0):
    return np.random.default_rng(seed).random((n, 784))


def _conv_sequential(dtype):
    rng = np.random.default_rng(1)
    return Sequential(
        Convolution(0.1 * rng.standard_normal((4, 1, 3, 3)).astype(dtype), np.zeros(4, dtype)),
        Relu(),
        Pooling(3, 3, stride=2, pad=1),  # overlapping windows and padding: the im2col path
        Convolution(0.1 * rng.standard_normal((8, 4, 3, 3)).astype(dtype), np.zeros(8, dtype)),
        Pooling(2, 2),
        Dropout(0.3, seed=2),
        Affine(0.1 * rng.standard_normal((8 * 5 * 5, 10)).astype(dtype), np.zeros(10, dtype)),
    )


#: Every network class, small, with what it takes: (make(dtype), input of n samples).
NETWORKS = {
    "TwoLayerNet": (lambda d: TwoLayerNet(784, 20, 10, dtype=d, seed=0), _rows),
    "MultiLayerNet": (
        lambda d: MultiLayerNet(784, [20, 20], 10, weight_decay_lambda=0.1, dtype=d, seed=0),
        _rows,
    ),
    "MultiLayerNetExtend": (
        lambda d: MultiLayerNetExtend(
            784,
            [20, 20],
            10,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            dtype=d,
            seed=0,
        ),  # fmt: skip
        _rows,
    ),
    "SimpleConvNet": (lambda d: SimpleConvNet(dtype=d, seed=0), _images),
    "DeepConvNet": (lambda d: DeepConvNet(dtype=d, seed=0), _images),
    "Sequential": (_conv_sequential, _images),
}
LABELS = np.array([3, 1, 4, 1, 5, 9])


def _arrays_of(net):
    return [*net.params.values(), *net.buffers.values()]


@pytest.mark.parametrize("name", NETWORKS)
def test_to_cpu_of_a_cpu_network_changes_nothing_and_keeps_the_sharing(name):
    net = NETWORKS[name][0](np.float64)
    before = _arrays_of(net)
    assert net.to("cpu") is net and net.to_cpu() is net and net.device == "cpu"
    assert all(a is b for a, b in zip(before, _arrays_of(net), strict=True))
    for key, (layer, attr) in net.params._slots.items():
        assert net.params[key] is getattr(layer, attr)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_on_the_gpu_computes_what_it_computes_on_the_cpu(fake_cupy, name):
    make, inputs = NETWORKS[name]
    cpu = make(np.float64)
    gpu = copy.deepcopy(cpu)  # the same weights and Dropout generators
    assert gpu.to("cuda") is gpu and gpu.device == "cuda:0"
    assert all(is_cupy_array(a) for a in _arrays_of(gpu))
    for key, (layer, attr) in gpu.params._slots.items():  # params is still the layers' arrays
        assert gpu.params[key] is getattr(layer, attr)
    x, t = inputs(6), LABELS
    loss_cpu, grads_cpu = cpu.loss_and_gradient(x, t)
    loss_gpu, grads_gpu = gpu.loss_and_gradient(x, t)  # host input is copied to the GPU
    assert is_cupy_array(loss_gpu)  # no host round trip inside the step
    np.testing.assert_allclose(float(loss_gpu), float(loss_cpu), rtol=1e-12)
    for key in grads_cpu:
        assert is_cupy_array(grads_gpu[key])
        np.testing.assert_allclose(as_numpy(grads_gpu[key]), grads_cpu[key], rtol=1e-9, atol=1e-12)
    y_gpu = gpu.predict(fake_cupy.asarray(x), train_flg=False)
    np.testing.assert_allclose(as_numpy(y_gpu), cpu.predict(x, train_flg=False), rtol=1e-9)
    assert gpu.accuracy(x, t) == cpu.accuracy(x, t)
    for a, b in zip(_arrays_of(gpu), _arrays_of(cpu), strict=True):  # BatchNorm's statistics
        np.testing.assert_allclose(as_numpy(a), b, rtol=1e-12)
    assert gpu.to_cpu().device == "cpu" and all(type(a) is np.ndarray for a in _arrays_of(gpu))


def test_dropout_masks_are_drawn_on_the_host_so_cpu_and_gpu_drop_the_same_units(fake_cupy):
    cpu, gpu = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    x = np.ones((4, 5))
    out_cpu, out_gpu = cpu.forward(x), gpu.forward(fake_cupy.asarray(x))
    assert is_cupy_array(gpu.mask)
    np.testing.assert_array_equal(as_numpy(out_gpu), out_cpu)
    assert cpu.rng.bit_generator.state == gpu.rng.bit_generator.state


def test_arrays_given_to_a_gpu_network_go_to_the_gpu(fake_cupy):
    net = TwoLayerNet(784, 10, 10, seed=0).to("cuda")
    w = np.full((784, 10), 0.5)
    net.params["W1"] = w  # a host array assigned into a GPU network
    assert is_cupy_array(net.params["W1"]) and net.params["W1"] is net.layers["Affine1"].W
    state = TwoLayerNet(784, 10, 10, seed=1).state_dict()  # host arrays, as a file holds
    net.load_state_dict(state)
    assert all(is_cupy_array(a) for a in _arrays_of(net))
    np.testing.assert_array_equal(as_numpy(net.params["W2"]), state["W2"])
    assert "Affine1" in net.summary(input_shape=(784,))  # its zero sample is made on the GPU


def test_optimizer_state_is_made_with_the_parameters_module_and_follows_them(fake_cupy):
    net = TwoLayerNet(784, 10, 10, seed=0)
    x, t = _rows(6), LABELS
    opt = Adam()
    opt.update(net.params, net.gradient(x, t))
    assert all(type(v) is np.ndarray for v in opt.m.values())  # made by NumPy on the CPU
    host_state = opt.state_dict()
    net.to("cuda")
    opt.update(net.params, net.gradient(x, t))
    assert all(is_cupy_array(v) for v in [*opt.m.values(), *opt.v.values()])  # followed them
    fresh = Adam()
    fresh.load_state_dict(host_state)  # from a checkpoint: host arrays
    fresh.update(net.params, net.gradient(x, t))
    assert all(is_cupy_array(v) for v in [*fresh.m.values(), *fresh.v.values()])
    assert all(type(v) is np.ndarray for v in map(as_numpy, fresh.state_dict().values()))
    new = Adam()
    new.update(net.params, net.gradient(x, t))
    assert all(is_cupy_array(v) for v in new.m.values())  # zeros made on the GPU


# ---------------------------------------------------------------- training and files


def _data(n_train=60, n_test=20):
    rng = np.random.default_rng(5)
    x = (rng.random((n_train + n_test, 1, 28, 28)) * 255).astype(np.uint8)
    t = rng.integers(0, 10, n_train + n_test)
    return x[:n_train], t[:n_train], x[n_train:], t[n_train:]


def _trainer(net, path=None, epochs=2, **kwargs):
    return Trainer(
        net, *_data(), epochs=epochs, mini_batch_size=20, optimizer="adam",
        optimizer_param={"lr": 0.01}, verbose=False, seed=0, checkpoint_path=path, **kwargs,
    )  # fmt: skip


def _npz_layout(path):
    """Every array of an .npz as (name, dtype, shape), and that each is a plain .npy."""
    with np.load(path, allow_pickle=False) as f:
        return sorted((k, str(f[k].dtype), f[k].shape) for k in f.files)


def test_trainer_device_cpu_is_the_trainer_as_it_was():
    plain = _trainer(TwoLayerNet(784, 10, 10, seed=0)).train()
    cpu = _trainer(TwoLayerNet(784, 10, 10, seed=0), device="cpu").train()
    assert cpu.device == "cpu" and plain.device == "cpu"
    assert cpu.train_loss_list == plain.train_loss_list
    assert cpu.test_acc_list == plain.test_acc_list


def test_a_gpu_run_is_a_cpu_run_bit_for_bit_and_writes_the_same_files(fake_cupy, tmp_path):
    # TwoLayerNet computes the same NumPy calls on both devices: the runs agree exactly.
    cpu = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "cpu.npz").train()
    gpu = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "gpu.npz", device="cuda")
    assert gpu.device == "cuda:0" and gpu.network.device == "cuda:0"
    x_batch, t_batch = gpu.get_batch(np.arange(5))  # copied as uint8, scaled on the GPU
    assert is_cupy_array(x_batch) and x_batch.dtype == np.float64 and is_cupy_array(t_batch)
    gpu.train()
    assert gpu.train_loss_list == cpu.train_loss_list
    assert gpu.test_acc_list == cpu.test_acc_list and gpu.train_acc_list == cpu.train_acc_list
    history = [*gpu.train_loss_list, *gpu.train_acc_list, *gpu.test_acc_list]
    assert all(type(v) is float for v in history)  # no device arrays in run.json or CSV
    json.dumps(history)
    assert _npz_layout(tmp_path / "gpu.npz") == _npz_layout(tmp_path / "cpu.npz")
    meta_cpu, meta_gpu = (read_checkpoint_meta(tmp_path / f"{d}.npz") for d in ("cpu", "gpu"))
    assert meta_gpu == meta_cpu
    save(gpu.network, tmp_path / "gpu-model.npz")
    save(cpu.network, tmp_path / "cpu-model.npz")
    assert _npz_layout(tmp_path / "gpu-model.npz") == _npz_layout(tmp_path / "cpu-model.npz")
    with (
        zipfile.ZipFile(tmp_path / "gpu-model.npz") as a,
        zipfile.ZipFile(tmp_path / "cpu-model.npz") as b,
    ):
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}


def test_a_checkpoint_written_on_the_gpu_resumes_on_the_cpu(fake_cupy, tmp_path):
    whole = _trainer(TwoLayerNet(784, 10, 10, seed=0), epochs=3).train()
    first = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "run.npz", device="cuda")
    first.train()  # two epochs on the GPU
    rest = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "run.npz", device="cpu")
    rest.load_checkpoint(tmp_path / "run.npz", epochs=3).train()
    assert rest.train_loss_list == whole.train_loss_list
    assert all(type(a) is np.ndarray for a in _arrays_of(rest.network))
    back = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "run.npz", device="cuda")
    back.load_checkpoint(tmp_path / "run.npz")  # and onto the GPU again
    assert all(is_cupy_array(a) for a in _arrays_of(back.network))


def test_a_conv_net_trained_on_the_gpu_loads_and_exports_on_the_cpu(fake_cupy, tmp_path):
    net = SimpleConvNet(dtype=np.float32, seed=0)
    trainer = _trainer(net, tmp_path / "run.npz", epochs=1, device="cuda").train()
    assert trainer.network is net and net.device == "cuda:0"
    save(net, tmp_path / "model.npz")
    host = load(tmp_path / "model.npz")
    assert host.device == "cpu"
    x = _images(5).astype(np.float32)
    y = as_numpy(net.predict(x, train_flg=False))
    np.testing.assert_allclose(host.predict(x, train_flg=False), y, rtol=1e-5, atol=1e-6)
    torch = pytest.importorskip("torch")
    module = interop.to_torch(net)
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, y, rtol=1e-4, atol=1e-5)
    pytest.importorskip("onnxruntime")
    path = interop.to_onnx(net, tmp_path / "model.onnx")
    onnx_y = interop.load_onnx(path).predict(x)
    np.testing.assert_allclose(onnx_y, y, rtol=1e-4, atol=1e-5)


def test_trainer_refuses_cuda_with_workers_and_for_the_books_own_networks():
    with pytest.raises(ValueError, match="workers=2 .* use workers=1"):
        _trainer(TwoLayerNet(784, 10, 10, seed=0), device="cuda", workers=2)

    class BookNet:  # the book's interface: params, gradient, loss, accuracy
        params = {"W": np.zeros(1)}
        gradient = loss = accuracy = None

    with pytest.raises(TypeError, match="needs a layerwise network"):
        _trainer(BookNet(), device="cuda")


# ---------------------------------------------------------------- the seam itself


@pytest.mark.parametrize(
    ("text", "device"),
    [("cpu", Device("cpu")), ("cuda", Device("cuda", 0)), ("CUDA:1", Device("cuda", 1))],
)
def test_device_names(text, device):
    assert parse_device(text) == device and str(parse_device(str(device))) == str(device)


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "cpu:0", "", 0, None, "mps"])
def test_other_device_names_are_refused_naming_the_choices(bad):
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'cuda:N'"):
        parse_device(bad)
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'cuda:N'"):
        TwoLayerNet(4, 3, 2).to(bad)


def test_numpy_arrays_stay_numpy_and_cost_no_copy():
    a = np.ones((2, 3))
    assert get_array_module(a, 1.0, None, [1]) is np
    assert as_numpy(a) is a and to_device(a, "cpu") is a and device_of(a) == Device("cpu")
    assert type(as_numpy([1, 2])) is np.ndarray


def test_a_missing_cupy_is_named_with_how_to_install_it(monkeypatch):
    _install(monkeypatch, None)  # `import cupy` raises ImportError
    for call in (import_cupy, lambda: to_device(np.ones(2), "cuda")):
        with pytest.raises(DeviceUnavailableError, match=r"CuPy is not installed: pip install "):
            call()
    net = TwoLayerNet(4, 3, 2)
    before = net.params["W1"]
    with pytest.raises(DeviceUnavailableError, match=r"layerwise\[gpu\]"):
        net.to("cuda")
    assert net.params["W1"] is before  # nothing moved


@pytest.mark.parametrize(
    ("count", "message"),
    [(None, "no CUDA GPU: cudaErrorNoDevice"), (1, "no CUDA GPU number 3: it sees 1")],
)
def test_a_cupy_without_that_gpu_is_named(monkeypatch, count, message):
    _install(monkeypatch, make_cupy(device_count=count))
    with pytest.raises(DeviceUnavailableError, match=message):
        import_cupy("cuda:3" if count else "cuda")


def test_a_cpu_run_never_imports_cupy(tmp_path):
    script = """
import sys
import numpy as np
from layerwise import backend, load, save
from layerwise.book_nets import SimpleConvNet
from layerwise.training import Trainer
net = SimpleConvNet(seed=0).to("cpu")
x = np.random.default_rng(0).random((20, 1, 28, 28)); t = np.arange(20) % 10
Trainer(net, x, t, x, t, epochs=1, mini_batch_size=10, verbose=False, device="cpu").train()
save(net, sys.argv[1]); load(sys.argv[1]).predict(x)
assert backend.get_array_module(x) is np and backend.as_numpy(x) is x
assert "cupy" not in sys.modules, "CuPy was imported"
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m.npz")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- the command line


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "layerwise", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@pytest.mark.skipif(CUPY_INSTALLED, reason="CuPy is installed here: nothing is missing")
@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["evaluate", "model.npz"]])
def test_device_cuda_without_cupy_is_one_line_naming_the_install_exit_1(tmp_path, command):
    result = _cli(*command, "--device", "cuda", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "CuPy is not installed: pip install 'layerwise[gpu]' (cupy-cuda12x)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--device", "tpu"], "--device: must be 'cpu', 'cuda' or 'cuda:N'"),
        (["train", "--device", "cuda", "--workers", "2"], "use one or the other"),
        (["evaluate", "m.npz", "--device", "cuda", "--workers", "2"], "use one or the other"),
    ],
)
def test_device_usage_errors_exit_2(tmp_path, args, message):
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "runs").exists()


def test_train_records_the_device_in_run_json(tmp_path):
    result = _cli(
        "train", "--epochs", "1", "--device", "cpu", "--quiet", "--out", "r", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["options"]["device"] == "cpu"
    result = _cli("evaluate", "r", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0 and "accuracy" in result.stdout, result.stderr


# ---------------------------------------------------------------- on a real GPU (marked)


def _relative(a, b):
    """``max |a - b| / max |b|``: float32's rounding, measured against the array's scale."""
    a, b = as_numpy(a).astype(np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.mark.gpu
@pytest.mark.parametrize("name", NETWORKS)
def test_gpu_predict_and_gradient_equal_numpys_float32(name):
    make, inputs = NETWORKS[name]
    cpu = make(np.float32)
    gpu = copy.deepcopy(cpu).to("cuda")
    x, t = inputs(6).astype(np.float32), LABELS
    assert _relative(gpu.predict(x, train_flg=False), cpu.predict(x, train_flg=False)) <= 1e-4
    loss_cpu, grads_cpu = cpu.loss_and_gradient(x, t)
    loss_gpu, grads_gpu = gpu.loss_and_gradient(x, t)
    assert abs(float(loss_gpu) - float(loss_cpu)) <= 1e-4 * abs(float(loss_cpu))
    for key in grads_cpu:
        assert _relative(grads_gpu[key], grads_cpu[key]) <= 1e-4, key


@pytest.mark.gpu
def test_gpu_simple_convnet_trains_saves_loads_on_cpu_and_exports(tmp_path):
    net = SimpleConvNet(dtype=np.float32, seed=0)
    trainer = _trainer(net, tmp_path / "run.npz", epochs=1, device="cuda").train()
    assert net.device.startswith("cuda") and all(type(v) is float for v in trainer.train_loss_list)
    save(net, tmp_path / "model.npz")
    host = load(tmp_path / "model.npz")
    x = _images(8).astype(np.float32)
    y = as_numpy(net.predict(x, train_flg=False))
    assert _relative(host.predict(x, train_flg=False), y) <= 1e-4
    pytest.importorskip("onnxruntime")
    path = interop.to_onnx(net, tmp_path / "model.onnx")
    assert _relative(interop.load_onnx(path).predict(x), y) <= 1e-4


@pytest.mark.gpu
def test_gpu_checkpoint_resumes_on_the_cpu_in_the_cpu_format(tmp_path):
    cpu = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "cpu.npz").train()
    gpu = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "gpu.npz", device="cuda").train()
    assert _npz_layout(tmp_path / "gpu.npz") == _npz_layout(tmp_path / "cpu.npz")
    rest = _trainer(TwoLayerNet(784, 10, 10, seed=0), tmp_path / "gpu.npz", device="cpu")
    rest.load_checkpoint(tmp_path / "gpu.npz", epochs=3).train()
    assert rest.epoch == 3 and len(rest.train_loss_list) == 3 * rest.iter_per_epoch
    np.testing.assert_allclose(gpu.train_loss_list, cpu.train_loss_list, rtol=1e-6)


@pytest.mark.gpu
def test_gpu_command_line_train_and_evaluate(tmp_path):
    result = _cli("train", "--model", "convnet", "--epochs", "1", "--device", "cuda", "--quiet",
                  "--out", "r", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "r" / "run.json").read_text())["options"]["device"] == "cuda:0"
    result = _cli("evaluate", "r", "--device", "cuda", cwd=tmp_path)
    assert result.returncode == 0 and "accuracy" in result.stdout, result.stderr


# ---------------------------------------------------------------- benchmarks/gpu.py


def test_the_gpu_script_runs_its_checks_on_the_cpu_in_a_dry_run():
    """benchmarks/gpu.py is for a GPU machine; its dry run keeps it from rotting elsewhere."""
    script = str(BENCHMARKS / "gpu.py")
    result = subprocess.run(
        [sys.executable, script, "--cpu-dry-run"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for part in ("(a)", "(b)", "(c)", "(d)", "DeepConvNet", "book's algorithm", "pytest -m gpu"):
        assert part in result.stdout
    assert "FAIL" not in result.stdout and "all checks passed" in result.stdout
    if not CUPY_INSTALLED:  # without --cpu-dry-run it needs CuPy, and says so
        result = subprocess.run([sys.executable, script], capture_output=True, text=True)
        assert result.returncode == 2 and "CuPy is not installed" in result.stderr


def test_the_gpu_script_runs_its_cupy_path_through_the_stand_in(fake_cupy, tmp_path, capsys):
    """benchmarks/gpu.py's checks (a), (b) and the CuPy half of (c) with CuPy's refusals.

    The dry run computes on NumPy; here the same script meets arrays that refuse what CuPy
    refuses, so code that only a GPU machine runs (the book's algorithm on CuPy, say) cannot
    break unseen. PyTorch CUDA and the timing targets stay for a GPU.
    """
    spec = importlib.util.spec_from_file_location("gpu_script", BENCHMARKS / "gpu.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    report = script.Report()
    script.check_networks(report, "cuda", batch=4)
    script.check_round_trip(report, "cuda", 200, tmp_path)
    script.check_step_time(report, "cuda", batch=4, rounds=1, steps=1, dry_run=True)
    out = capsys.readouterr().out
    assert not report.failed, out
    assert "book's algorithm" in out and "on cuda:0" in out and "DeepConvNet" in out


# ---------------------------------------------------------------- what the strict stand-in found


def _to_gpu(cupy, arrays):
    return [cupy.asarray(a) for a in arrays]


def _host(a):
    return as_numpy(a) if is_cupy_array(a) else np.asarray(a)


def test_regression_numerical_gradient_on_the_gpu_restores_every_parameter_exactly(fake_cupy):
    # Issue 29: it read x.flags.writeable (CuPy's flags have no such entry), and kept
    # `saved = x[idx]`, a 0-d view in CuPy, so the restore wrote back x - h.
    cpu = MultiLayerNetExtend(12, [5], 10, use_dropout=True, use_batchnorm=True, seed=0)
    gpu = copy.deepcopy(cpu).to("cuda")
    before = {k: as_numpy(v).tobytes() for k, v in gpu.params.items()}
    x, t = _rows(3)[:, :12], LABELS[:3]
    numeric_gpu = gpu.numerical_gradient(x, t)
    assert {k: as_numpy(v).tobytes() for k, v in gpu.params.items()} == before
    numeric_cpu = cpu.numerical_gradient(x, t)
    backprop_gpu, backprop_cpu = gpu.gradient(x, t), cpu.gradient(x, t)
    for key, value in numeric_cpu.items():
        assert is_cupy_array(numeric_gpu[key])
        np.testing.assert_allclose(as_numpy(numeric_gpu[key]), value, rtol=1e-7, atol=1e-10)
        # backprop agrees with the numerical gradient on the GPU as closely as on the CPU
        err_gpu = np.max(np.abs(as_numpy(backprop_gpu[key]) - as_numpy(numeric_gpu[key])))
        err_cpu = np.max(np.abs(backprop_cpu[key] - value))
        assert err_gpu <= max(2 * err_cpu, 1e-9), key


def test_regression_numerical_gradient_of_a_function_of_a_device_array(fake_cupy):
    x = fake_cupy.asarray(np.array([[1.0, -2.0], [0.5, 3.0]]))
    kept = x.get()
    grad = functions.numerical_gradient(lambda v: np.sum(v**3), x)
    assert is_cupy_array(grad) and x.get().tobytes() == kept.tobytes()
    np.testing.assert_allclose(as_numpy(grad), 3 * kept**2, rtol=1e-7)


def test_regression_batchnorm_built_from_device_arrays_keeps_its_statistics_there(fake_cupy):
    # Issue 29: _buffer made the running statistics with np.full on the host, so the first
    # training forward added a device array into a host one.
    rng = np.random.default_rng(0)
    gamma, beta, x = rng.random(4) + 0.5, rng.random(4), rng.random((6, 4, 3, 3))
    cpu = BatchNormalization(gamma, beta)
    gpu = BatchNormalization(*_to_gpu(fake_cupy, [gamma, beta]))
    assert is_cupy_array(gpu.running_mean) and is_cupy_array(gpu.running_var)
    for train in (True, True, False):
        out_gpu = gpu.forward(fake_cupy.asarray(x), train_flg=train)
        np.testing.assert_allclose(as_numpy(out_gpu), cpu.forward(x, train_flg=train), rtol=1e-12)
    dout = rng.random(x.shape)
    np.testing.assert_allclose(as_numpy(gpu.backward(fake_cupy.asarray(dout))), cpu.backward(dout))
    for name in ("running_mean", "running_var", "dgamma", "dbeta"):
        np.testing.assert_allclose(as_numpy(getattr(gpu, name)), getattr(cpu, name), rtol=1e-12)
    read_only = np.full(4, 2.0)
    read_only.flags.writeable = False  # given on the host: copied to gamma's device
    given = BatchNormalization(*_to_gpu(fake_cupy, [gamma, beta]), running_var=read_only)
    assert is_cupy_array(given.running_var) and float(given.running_var.sum()) == 8.0
    given.forward(fake_cupy.asarray(x))
    mine = fake_cupy.zeros(4)
    assert (
        BatchNormalization(*_to_gpu(fake_cupy, [gamma, beta]), running_mean=mine).running_mean
        is mine
    )


def test_regression_network_accuracy_copies_the_evaluation_set_chunk_by_chunk(
    fake_cupy, monkeypatch
):
    # It copied all of x to the device before predicting a chunk at a time.
    net = TwoLayerNet(784, 10, 10, seed=0)
    x, t = _rows(50), np.arange(50) % 10
    expected = net.accuracy(x, t)
    net.to("cuda")
    copied = []
    asarray = fake_cupy.asarray

    def counting(a, *args, **kwargs):
        copied.append(np.shape(a))
        return asarray(a, *args, **kwargs)

    monkeypatch.setattr(fake_cupy, "asarray", counting)
    assert net.accuracy(x, t, batch_size=8) == expected
    assert copied and max(shape[0] for shape in copied) <= 8
    assert net.accuracy(fake_cupy.asarray(x), fake_cupy.asarray(t), batch_size=8) == expected
    onehot = np.eye(10)[t]
    assert net.accuracy(x, onehot, batch_size=16) == expected


def _functions_on(x, y, t_index, t_onehot):
    return {
        "identity_function": functions.identity_function(x),
        "step_function": functions.step_function(x),
        "sigmoid": functions.sigmoid(x),
        "sigmoid_grad": functions.sigmoid_grad(x),
        "relu": functions.relu(x),
        "relu_grad": functions.relu_grad(x),
        "softmax": functions.softmax(x),
        "log_softmax": functions.log_softmax(x),
        "sum_squared_error": functions.sum_squared_error(y, t_onehot),
        "mean_squared_error": functions.mean_squared_error(y, t_onehot),
        "cross_entropy_error (labels)": functions.cross_entropy_error(y, t_index),
        "cross_entropy_error (one-hot)": functions.cross_entropy_error(y, t_onehot),
        "softmax_loss (labels)": functions.softmax_loss(x, t_index),
        "softmax_loss (one-hot)": functions.softmax_loss(x, t_onehot),
    }


def test_every_function_computes_on_the_device_what_it_computes_on_the_host(fake_cupy):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    x[0, 0] = 0.0
    t_index = np.array([0, 3, 1, 2, 3])
    t_onehot = np.eye(4)[t_index]
    y = functions.softmax(x)
    cpu = _functions_on(x, y, t_index, t_onehot)
    gpu = _functions_on(*_to_gpu(fake_cupy, [x, y, t_index, t_onehot]))
    for name, value in cpu.items():
        assert is_cupy_array(gpu[name]), name  # computed there, nothing came back
        assert as_numpy(gpu[name]).dtype == np.asarray(value).dtype, name
        np.testing.assert_allclose(as_numpy(gpu[name]), value, rtol=1e-12, err_msg=name)


def _layers(dtype=np.float64):
    """Each layer class with what it takes: (make(arrays), input shape, forward extra)."""
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((12, 5)).astype(dtype), rng.standard_normal(5).astype(dtype)
    F, c = (
        0.3 * rng.standard_normal((4, 3, 3, 3)).astype(dtype),
        rng.standard_normal(4).astype(dtype),
    )
    gamma, beta = (rng.random(3) + 0.5).astype(dtype), rng.random(3).astype(dtype)
    return {
        "Affine": (lambda a: Affine(*a), [W, b], (6, 12)),
        "Affine 4-D input": (lambda a: Affine(*a), [W, b], (6, 3, 2, 2)),
        "Convolution": (lambda a: Convolution(*a, stride=1, pad=1), [F, c], (2, 3, 5, 5)),
        "Convolution strided": (lambda a: Convolution(*a, stride=2), [F, c], (2, 3, 7, 7)),
        "Pooling": (lambda a: Pooling(2, 2), [], (2, 3, 4, 4)),
        "Pooling padded": (lambda a: Pooling(3, 3, stride=2, pad=1), [], (2, 3, 5, 5)),
        "Relu": (lambda a: Relu(), [], (4, 6)),
        "Sigmoid": (lambda a: Sigmoid(), [], (4, 6)),
        "BatchNormalization": (lambda a: BatchNormalization(*a), [gamma, beta], (5, 3)),
        "BatchNormalization per channel": (
            lambda a: BatchNormalization(*a),
            [gamma, beta],
            (5, 3, 2, 2),
        ),
        "Dropout": (lambda a: Dropout(0.4, seed=1), [], (4, 6)),
    }


@pytest.mark.parametrize("name", _layers())
def test_every_layer_built_from_device_arrays_computes_what_it_computes_on_the_host(
    fake_cupy, name
):
    make, arrays, shape = _layers()[name]
    cpu, gpu = make(arrays), make(_to_gpu(fake_cupy, arrays))
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    out_cpu = cpu.forward(x)
    out_gpu = gpu.forward(fake_cupy.asarray(x))
    assert is_cupy_array(out_gpu)
    np.testing.assert_allclose(as_numpy(out_gpu), out_cpu, rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal(out_cpu.shape)
    dx_cpu, dx_gpu = cpu.backward(dout), gpu.backward(fake_cupy.asarray(dout))
    assert is_cupy_array(dx_gpu)
    np.testing.assert_allclose(as_numpy(dx_gpu), dx_cpu, rtol=1e-12, atol=1e-14)
    for grad in ("dW", "db", "dgamma", "dbeta"):
        if getattr(cpu, grad, None) is not None:
            assert is_cupy_array(getattr(gpu, grad)), grad
            np.testing.assert_allclose(as_numpy(getattr(gpu, grad)), getattr(cpu, grad), rtol=1e-11)


def test_the_loss_and_the_books_nodes_on_device_arrays(fake_cupy):
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    cpu, gpu = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss = gpu.forward(*_to_gpu(fake_cupy, [x, t]))
    assert is_cupy_array(loss) and float(loss) == pytest.approx(float(cpu.forward(x, t)), rel=1e-12)
    np.testing.assert_allclose(as_numpy(gpu.backward()), cpu.backward(), rtol=1e-12)
    mul, add = MulLayer(), AddLayer()
    a, b = _to_gpu(fake_cupy, [x, 2 * x])
    product = mul.forward(a, b)
    assert is_cupy_array(product) and is_cupy_array(add.forward(product, a))
    da, db = mul.backward(fake_cupy.ones((4, 3)))
    np.testing.assert_array_equal(as_numpy(da), 2 * x)
    assert all(is_cupy_array(d) for d in add.backward(fake_cupy.ones((4, 3))))


def test_im2col_and_col2im_on_device_arrays(fake_cupy):
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 5))
    col = im2col(fake_cupy.asarray(x), 3, 3, stride=2, pad=1)
    assert is_cupy_array(col)
    np.testing.assert_array_equal(as_numpy(col), im2col(x, 3, 3, stride=2, pad=1))
    back = col2im(col, x.shape, 3, 3, stride=2, pad=1)
    assert is_cupy_array(back)
    np.testing.assert_array_equal(as_numpy(back), col2im(as_numpy(col), x.shape, 3, 3, 2, 1))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_updates_a_gpu_network_as_a_cpu_one(fake_cupy, name):
    cpu = TwoLayerNet(784, 10, 10, seed=0)
    gpu = copy.deepcopy(cpu).to("cuda")
    opt_cpu, opt_gpu = get_optimizer(name), get_optimizer(name)
    x, t = _rows(6), LABELS
    for _ in range(3):
        opt_cpu.update(cpu.params, cpu.gradient(x, t))
        opt_gpu.update(gpu.params, gpu.gradient(x, t))
    for key, value in cpu.params.items():
        assert is_cupy_array(gpu.params[key])
        np.testing.assert_allclose(as_numpy(gpu.params[key]), value, rtol=1e-12, atol=1e-15)


def test_regression_recording_a_gpu_network_describes_it_as_a_cpu_recording_does(fake_cupy):
    # Value.of called np.asarray, which CuPy refuses: every arrow read "a ndarray".
    cpu = MultiLayerNetExtend(12, [5], 10, use_batchnorm=True, seed=0)
    gpu = copy.deepcopy(cpu).to("cuda")
    x, t = _rows(4)[:, :12], LABELS[:4]
    assert str(record_step(gpu, x, t)) == str(record_step(cpu, x, t))
    assert "a ndarray" not in str(record_step(gpu, x, t))


def test_the_command_line_trains_and_evaluates_on_the_gpu_as_on_the_cpu(
    fake_cupy, tmp_path, monkeypatch, capsys
):
    from layerwise.cli import main

    monkeypatch.chdir(tmp_path)
    for device in ("cuda", "cpu"):
        assert main(["train", "--epochs", "1", "--device", device, "--quiet", "--out", device]) == 0
    assert (tmp_path / "cuda" / "history.csv").read_text() == (
        tmp_path / "cpu" / "history.csv"
    ).read_text()
    assert json.loads((tmp_path / "cuda" / "run.json").read_text())["options"]["device"] == "cuda:0"
    capsys.readouterr()
    reports = []
    for device in ("cuda", "cpu"):
        assert main(["evaluate", device, "--device", device]) == 0
        reports.append(capsys.readouterr().out.replace(f"{device}/", "run/"))
    assert "accuracy" in reports[0] and reports[0] == reports[1]


@pytest.mark.parametrize("suffix", [".pkl", ".npz"])
def test_the_books_save_params_and_load_params_on_a_gpu_network(fake_cupy, tmp_path, suffix):
    net = MultiLayerNetExtend(784, [10], 10, use_batchnorm=True, seed=0).to("cuda")
    path = tmp_path / f"params{suffix}"
    net.save_params(path)
    other = MultiLayerNetExtend(784, [10], 10, use_batchnorm=True, seed=1).to("cuda")
    other.load_params(path)
    for key, value in net.params.items():
        assert is_cupy_array(other.params[key]) and other.params[key] is not value
        np.testing.assert_array_equal(as_numpy(other.params[key]), as_numpy(value))


def test_regression_gradcheck_sampling_leaves_a_gpu_networks_parameters_as_they_were(fake_cupy):
    # cli/gradcheck.py kept `flat[i]` to restore it: a 0-d view in CuPy, not a copy.
    from layerwise.cli.gradcheck import sampled_gradients

    cpu = TwoLayerNet(12, 5, 10, seed=0)
    gpu = copy.deepcopy(cpu).to("cuda")
    before = {k: as_numpy(v).tobytes() for k, v in gpu.params.items()}
    x, t = _rows(3)[:, :12], LABELS[:3]
    pairs_gpu, _ = sampled_gradients(gpu, x, t, 4, np.random.default_rng(0))
    assert {k: as_numpy(v).tobytes() for k, v in gpu.params.items()} == before
    pairs_cpu, _ = sampled_gradients(cpu, x, t, 4, np.random.default_rng(0))
    for key, (backprop, numerical) in pairs_cpu.items():
        np.testing.assert_allclose(as_numpy(pairs_gpu[key][0]), backprop, rtol=1e-12)
        np.testing.assert_allclose(pairs_gpu[key][1], numerical, rtol=1e-7)
