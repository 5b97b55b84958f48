"""layerwise on a GPU: check it and time it, in one command (well under five minutes).

Usage::

    python benchmarks/gpu.py                 # a CUDA machine: CuPy, PyTorch with CUDA, NumPy
    python benchmarks/gpu.py --cpu-dry-run   # anywhere: NumPy in place of CuPy, tiny sizes

What it checks, each printed with its measured figure (exit status 1 if any fails):

(a) every network class (TwoLayerNet, MultiLayerNet with weight decay, MultiLayerNetExtend with
    BatchNorm and Dropout, SimpleConvNet, DeepConvNet, a Sequential with overlapping padded
    pooling) predicts and differentiates on CuPy as on NumPy: float32, ``max |gpu - cpu| /
    max |cpu|`` <= 1e-4 for the scores and for every gradient;
(b) a SimpleConvNet trains on the GPU (``Trainer(device="cuda")``), is saved, loads on the CPU
    with the same predictions (<= 1e-4), and exports to ONNX (onnxruntime's predictions, the
    same; skipped, and said so, where onnx is not installed);
(c) one DeepConvNet training step (forward, backward, Adam) at batch 100, timed in interleaved
    rounds against PyTorch CUDA (the same architecture and weights, float32, torch.optim.Adam)
    and against the book's own algorithm on CuPy (``benchmarks/textbook.py`` with ``numpy``
    swapped for ``cupy``: float64, tap-by-tap im2col). Targets: layerwise <= 2x PyTorch's
    time, and >= 3x faster than the book's. The GPU is synchronised before and after each
    timed run (``cupy.cuda.Device().synchronize()``, ``torch.cuda.synchronize()``);
(d) ``pytest -m gpu tests/test_gpu.py tests/test_sequel_gpu.py``: the test suite's GPU tests;
(e) the sequel's models at the issue's sizes (Rnnlm V 10000, D = H = 100, batch 20, 35 steps;
    BetterRnnlm D = H = 650; CBOW with negative sampling, H 100, window 5, batch 100): loss and
    every gradient of a step on CuPy as on NumPy (float32, <= 1e-4), and the time of a training
    step (forward, backward, SGD) on the GPU and on the CPU, printed (no target yet).

The dry run computes everything on NumPy ("cpu" in place of "cuda"), at tiny sizes, without
PyTorch CUDA, and does not hold the timings to the targets: it is there so that this script
cannot rot on machines without a GPU (tests/test_benchmarks.py runs it).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from layerwise import interop, load, save  # noqa: E402
from layerwise.backend import (  # noqa: E402
    DeviceUnavailableError,
    array_module,
    as_numpy,
    to_device,
)
from layerwise.book_nets import (  # noqa: E402
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    TwoLayerNet,
)
from layerwise.layers import Affine, Convolution, Dropout, Pooling, Relu  # noqa: E402
from layerwise.network import Sequential  # noqa: E402
from layerwise.optimizers import Adam  # noqa: E402
from layerwise.sequel.optimizer import SGD  # noqa: E402
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm  # noqa: E402
from layerwise.sequel.trainer import remove_duplicate  # noqa: E402
from layerwise.sequel.word2vec import CBOW  # noqa: E402
from layerwise.training import Trainer  # noqa: E402

TOLERANCE = 1e-4
MAX_VS_TORCH = 2.0  # layerwise's step time / PyTorch CUDA's, at most
MIN_VS_BOOK = 3.0  # the book's step time on CuPy / layerwise's, at least


def relative(a, b):
    """``max |a - b| / max |b|``: float32 rounding measured against the array's scale."""
    a, b = as_numpy(a).astype(np.float64), as_numpy(b).astype(np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


class Report:
    """Prints each check as it finishes and remembers the failures."""

    def __init__(self):
        self.failed = []

    def check(self, name, ok, detail):
        print(f"  {'ok  ' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)

    def skip(self, name, why):
        print(f"  skip  {name}: {why}", flush=True)


# ---------------------------------------------------------------- (a) every network class


def _conv_sequential(dtype):
    rng = np.random.default_rng(1)
    return Sequential(
        Convolution(0.1 * rng.standard_normal((4, 1, 3, 3)).astype(dtype), np.zeros(4, dtype)),
        Relu(),
        Pooling(3, 3, stride=2, pad=1),
        Convolution(0.1 * rng.standard_normal((8, 4, 3, 3)).astype(dtype), np.zeros(8, dtype)),
        Pooling(2, 2),
        Dropout(0.3, seed=2),
        Affine(0.1 * rng.standard_normal((8 * 5 * 5, 10)).astype(dtype), np.zeros(10, dtype)),
    )


NETWORKS = {
    "TwoLayerNet": (lambda: TwoLayerNet(784, 50, 10, dtype=np.float32, seed=0), "rows"),
    "MultiLayerNet": (
        lambda: MultiLayerNet(
            784, [100, 100], 10, weight_decay_lambda=0.1, dtype=np.float32, seed=0
        ),  # fmt: skip
        "rows",
    ),
    "MultiLayerNetExtend": (
        lambda: MultiLayerNetExtend(
            784,
            [100, 100],
            10,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            dtype=np.float32,
            seed=0,
        ),  # fmt: skip
        "rows",
    ),
    "SimpleConvNet": (lambda: SimpleConvNet(dtype=np.float32, seed=0), "images"),
    "DeepConvNet": (lambda: DeepConvNet(dtype=np.float32, seed=0), "images"),
    "Sequential (padded 3x3/2 pooling)": (lambda: _conv_sequential(np.float32), "images"),
}


def check_networks(report, device, batch):
    print(f"(a) predict and gradient on {device} against NumPy, float32, batch {batch}")
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10, batch)
    for name, (make, kind) in NETWORKS.items():
        shape = (batch, 784) if kind == "rows" else (batch, 1, 28, 28)
        x = rng.random(shape, dtype=np.float32)
        cpu = make()
        gpu = copy.deepcopy(cpu).to(device)  # the same weights and Dropout generators
        worst = relative(gpu.predict(x, train_flg=False), cpu.predict(x, train_flg=False))
        loss_cpu, grads_cpu = cpu.loss_and_gradient(x, t)
        loss_gpu, grads_gpu = gpu.loss_and_gradient(x, t)
        worst = max(worst, abs(float(loss_gpu) - float(loss_cpu)) / abs(float(loss_cpu)))
        worst = max(worst, *(relative(grads_gpu[k], grads_cpu[k]) for k in grads_cpu))
        report.check(name, worst <= TOLERANCE, f"largest relative difference {worst:.2e}")


# ---------------------------------------------------------------- (b) train, save, load, export


def check_round_trip(report, device, n, folder):
    print(f"(b) SimpleConvNet trained on {device}, saved, loaded on the CPU, exported to ONNX")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    t = rng.integers(0, 10, n)
    net = SimpleConvNet(dtype=np.float32, seed=0)
    trainer = Trainer(net, x, t, x[:100], t[:100], epochs=1, mini_batch_size=min(100, n // 2),
                      optimizer="adam", optimizer_param={"lr": 0.001}, verbose=False, seed=0,
                      checkpoint_path=folder / "run.npz", device=device)  # fmt: skip
    trainer.train()
    losses = trainer.train_loss_list
    floats = all(type(v) is float for v in [*losses, *trainer.test_acc_list])
    report.check(
        "trains",
        floats and net.device == str(trainer.device) and all(map(np.isfinite, losses)),
        f"{len(losses)} steps on {trainer.device}, loss {losses[0]:.4f} -> {losses[-1]:.4f}, "
        f"history of Python floats: {floats}",
    )
    save(net, folder / "model.npz")
    host = load(folder / "model.npz")
    images = x[:64].astype(np.float32) / 255
    y = as_numpy(net.predict(images, train_flg=False))
    error = relative(host.predict(images, train_flg=False), y)
    report.check("saved, loaded on the CPU", error <= TOLERANCE, f"predictions differ {error:.2e}")
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        report.skip("exported to ONNX", "onnx or onnxruntime is not installed")
        return
    path = interop.to_onnx(net, folder / "model.onnx")
    error = relative(interop.load_onnx(path).predict(images), y)
    report.check("exported to ONNX", error <= TOLERANCE, f"onnxruntime's predictions {error:.2e}")


# ---------------------------------------------------------------- (c) the step, timed


def _textbook_on(xp):
    """benchmarks/textbook.py as a module whose ``np`` is ``xp``: the book's code on CuPy."""
    spec = importlib.util.spec_from_file_location(f"textbook_{xp.__name__}", HERE / "textbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.np = xp  # its functions read the global `np` at each call
    return module


def _step_implementations(device, batch, dry_run):
    """{name: (step, synchronize)} for layerwise, the book's algorithm and PyTorch CUDA."""
    xp = array_module(device)
    rng = np.random.default_rng(0)
    n = 20 * batch
    x_u8 = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    t = rng.integers(0, 10, n)
    batches = [rng.permutation(n)[:batch] for _ in range(16)]
    sync = (lambda: None) if xp is np else (lambda: xp.cuda.Device().synchronize())
    impls = {}

    net = DeepConvNet(dtype=np.float32, seed=0)
    params = {k: v.copy() for k, v in net.params.items()}  # the weights every one starts from
    trainer = Trainer(net, x_u8, t, x_u8[:1], t[:1], mini_batch_size=batch, optimizer=Adam(),
                      verbose=False, seed=0, device=device)  # fmt: skip
    order = itertools.cycle(batches)

    def layerwise_step():  # the Trainer's step: uint8 rows to the GPU, scaled there, Adam
        trainer.train_step(*trainer.get_batch(next(order)))

    impls["layerwise f32"] = (layerwise_step, sync)

    book = _textbook_on(xp)
    book_net = book.DeepConvNet()
    for key, value in params.items():
        book_net.params[key][...] = xp.asarray(value.astype(np.float64))
    book_opt = book.Adam(lr=0.001)
    book_x = xp.asarray(x_u8.astype(np.float32) / 255)
    book_t = xp.asarray(t)
    book_order = itertools.cycle([xp.asarray(b) for b in batches])

    def book_step():  # the book's Trainer.train_step, less its second loss: f64, on the GPU
        mask = next(book_order)
        book_opt.update(book_net.params, book_net.gradient(book_x[mask], book_t[mask]))

    impls["book's algorithm (textbook.py)"] = (book_step, sync)

    if dry_run:
        return impls
    import torch
    import workloads

    model = workloads.torch_conv_model("DeepConvNet", params).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx = torch.from_numpy(x_u8.astype(np.float32) / 255).cuda()  # the data set on the GPU once
    tt = torch.from_numpy(t).cuda()
    t_order = itertools.cycle([torch.from_numpy(b).cuda() for b in batches])

    def torch_step():
        idx = next(t_order)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(tx[idx]), tt[idx]).backward()
        optimizer.step()

    impls["PyTorch CUDA f32"] = (torch_step, torch.cuda.synchronize)
    return impls


def check_step_time(report, device, batch, rounds, steps, dry_run):
    print(f"(c) DeepConvNet training step at batch {batch} on {device}, {rounds} interleaved "
          f"rounds of {steps} steps (median ms per step)")  # fmt: skip
    impls = _step_implementations(device, batch, dry_run)
    times = {name: [] for name in impls}
    for step, sync in impls.values():  # warm up: kernels compiled, memory pools filled
        for _ in range(3):
            step()
        sync()
    names = list(impls)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotating order
            step, sync = impls[name]
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ms in median.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        print(f"        {name:<32} {ms:8.2f} ms  (rounds {spread})")
    ours = median["layerwise f32"]
    vs_book = median["book's algorithm (textbook.py)"] / ours
    if dry_run:
        report.skip("targets", f"dry run: {vs_book:.2f}x the book's speed, not held to targets")
        return
    vs_torch = ours / median["PyTorch CUDA f32"]
    report.check(
        f"<= {MAX_VS_TORCH:g}x PyTorch CUDA's time", vs_torch <= MAX_VS_TORCH, f"{vs_torch:.2f}x"
    )
    report.check(
        f">= {MIN_VS_BOOK:g}x faster than the book's algorithm on CuPy",
        vs_book >= MIN_VS_BOOK,
        f"{vs_book:.2f}x",
    )


# ---------------------------------------------------------------- (d) the GPU tests


def check_gpu_tests(report):
    print("(d) pytest -m gpu tests/test_gpu.py tests/test_sequel_gpu.py")
    missing = [m for m in ("pytest", "hypothesis") if importlib.util.find_spec(m) is None]
    if missing:  # the test suite's conftest needs both
        report.skip("pytest -m gpu", f"{' and '.join(missing)} not installed")
        return
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
               str(HERE.parent / "tests" / "test_gpu.py"),
               str(HERE.parent / "tests" / "test_sequel_gpu.py")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent, timeout=240)
    last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    report.check("pytest -m gpu", result.returncode == 0, last)
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-2000:], sep="\n")


# ---------------------------------------------------------------- (e) the sequel's models


def _sequel_models(dry_run):
    """{name: (make(), x, t)}: the sequel's models at the issue's sizes (tiny in a dry run)."""
    rng = np.random.default_rng(0)
    V, H, H2, N, T = (50, 8, 8, 4, 5) if dry_run else (10000, 100, 650, 20, 35)
    corpus = rng.integers(0, V, 20 * V)
    lm = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    contexts, target = rng.integers(0, V, (5 * N, 10)), rng.integers(0, V, 5 * N)
    return {
        f"Rnnlm (V {V}, D = H = {H}, batch {N}, {T} steps)": (lambda: Rnnlm(V, H, H, seed=0), *lm),
        f"BetterRnnlm (D = H = {H2})": (lambda: BetterRnnlm(V, H2, H2, seed=0), *lm),
        f"CBOW (negative sampling, H {H}, window 5, batch {5 * N})": (
            lambda: CBOW(V, H, 5, corpus, seed=0),
            contexts,
            target,
        ),
    }


def check_sequel(report, device, dry_run):
    print(f"(e) the sequel's models on {device}: a step against NumPy (float32), and its time "
          "(median ms per step: forward, backward, SGD)")  # fmt: skip
    xp = array_module(device)
    sync = (lambda: None) if xp is np else (lambda: xp.cuda.Device().synchronize())
    rounds, steps = (1, 1) if dry_run else (5, 3)
    for name, (make, x, t) in _sequel_models(dry_run).items():
        cpu, gpu = make(), make().to(device)  # the same seed: the same weights and draws
        x_gpu, t_gpu = to_device(x, device), to_device(t, device)
        loss_cpu, loss_gpu = cpu.forward(x, t), gpu.forward(x_gpu, t_gpu)
        cpu.backward()
        gpu.backward()
        worst = abs(float(loss_gpu) - float(loss_cpu)) / abs(float(loss_cpu))
        worst = max(worst, *(relative(a, b) for a, b in zip(gpu.grads, cpu.grads, strict=True)))
        report.check(name, worst <= TOLERANCE, f"largest relative difference {worst:.2e}")
        times = {"gpu": [], "cpu": []}
        for _ in range(rounds):  # interleaved: the GPU's rounds and the CPU's alternate
            for where, model, batch, wait in (("gpu", gpu, (x_gpu, t_gpu), sync),
                                              ("cpu", cpu, (x, t), lambda: None)):  # fmt: skip
                optimizer = SGD(0.1)
                wait()
                start = time.perf_counter()
                for _ in range(steps):
                    model.forward(*batch)
                    model.backward()
                    optimizer.update(*remove_duplicate(model.params, model.grads))
                wait()
                times[where].append((time.perf_counter() - start) / steps * 1e3)
        ms = {where: statistics.median(ts) for where, ts in times.items()}
        print(f"        {device}: {ms['gpu']:8.2f} ms   cpu: {ms['cpu']:8.2f} ms   "
              f"({ms['cpu'] / ms['gpu']:.1f}x)")  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="NumPy in place of CuPy, tiny sizes, no PyTorch CUDA, timings not held to targets",
    )
    args = parser.parse_args(argv)
    dry = args.cpu_dry_run
    device = "cpu" if dry else "cuda"
    try:
        array_module(device)  # without CuPy or a GPU: say so now, naming what to install
    except DeviceUnavailableError as err:
        print(f"gpu.py: {err} (or run it with --cpu-dry-run)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = Report()
    check_networks(report, device, batch=4 if dry else 32)
    with tempfile.TemporaryDirectory() as folder:
        check_round_trip(report, device, 200 if dry else 1000, Path(folder))
    if dry:
        check_step_time(report, device, batch=4, rounds=2, steps=1, dry_run=True)
    else:
        check_step_time(report, device, batch=100, rounds=15, steps=20, dry_run=False)
    check_gpu_tests(report)
    check_sequel(report, device, dry_run=dry)
    seconds = time.perf_counter() - started
    if report.failed:
        print(f"FAILED ({seconds:.0f} s): {', '.join(report.failed)}")
        return 1
    print(f"all checks passed ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
