"""Data-parallel training (layerwise.parallel): the same mathematics on N processes, and safe.

Every test that starts worker processes ends them: DataParallel is a context manager, the
Trainer closes its pool in a ``finally``, and the subprocess tests kill what they start.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    Trainer,
    TwoLayerNet,
    optimizers,
)
from layerwise._checks import InvalidParameterError
from layerwise.parallel import DataParallel, WorkerError, resolve_workers
from layerwise.training import TrainingInterrupted, predicted_labels

SRC = str(Path(layerwise.__file__).resolve().parent.parent)
METHODS = ["fork", "spawn"]

TINY_CONV = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}


def _networks():
    """Every network class, small, float64 (name -> factory)."""
    return {
        "TwoLayerNet": lambda: (TwoLayerNet(36, 10, 4, seed=0), (36,)),
        "MultiLayerNet": lambda: (
            MultiLayerNet(36, [12, 8], 4, activation="sigmoid", weight_decay_lambda=0.05, seed=0),
            (36,),
        ),
        "MultiLayerNetExtend+Dropout": lambda: (
            MultiLayerNetExtend(
                36,
                [12, 8],
                4,
                use_dropout=True,
                dropout_ration=0.3,
                weight_decay_lambda=0.01,
                seed=0,
            ),  # fmt: skip
            (36,),
        ),
        "SimpleConvNet": lambda: (
            SimpleConvNet((1, 6, 6), TINY_CONV, hidden_size=8, output_size=4, seed=0),
            (1, 6, 6),
        ),
        "DeepConvNet": lambda: (
            DeepConvNet((1, 8, 8), *[TINY_CONV] * 6, hidden_size=6, output_size=4, seed=0),
            (1, 8, 8),
        ),
    }


def _data(shape, n=70, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)), rng.integers(0, classes, n)


def _train(make, workers, epochs=1, batch=16, start_method=None, **kw):
    net, shape = make()
    x, t = _data(shape)
    trainer = Trainer(
        net, x, t, x[:20], t[:20], epochs=epochs, mini_batch_size=batch, optimizer="Adam",
        optimizer_param={"lr": 0.01}, verbose=False, seed=3, workers=workers,
        start_method=start_method, **kw,
    )  # fmt: skip
    trainer.train()
    return net, trainer


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("name", list(_networks()))
def test_workers_give_the_parameters_of_one_worker(name):
    """The step is the gradient of the whole minibatch whatever N (float64, one epoch)."""
    make = _networks()[name]
    one, trainer_one = _train(make, 1)
    for workers in (2, 3):
        net, trainer = _train(make, workers)
        for key in one.params:
            assert _relative(net.params[key], one.params[key]) <= 1e-9, (workers, key)
        np.testing.assert_allclose(trainer.train_loss_list, trainer_one.train_loss_list, rtol=1e-9)
        assert trainer.test_acc_list == trainer_one.test_acc_list
        assert net.get_rng_state() == one.get_rng_state()  # Dropout drew the same masks


@pytest.mark.parametrize("start_method", METHODS)
def test_both_start_methods_train_alike(start_method):
    make = _networks()["MultiLayerNetExtend+Dropout"]
    one, _ = _train(make, 1)
    net, _ = _train(make, 2, start_method=start_method)
    for key in one.params:
        assert _relative(net.params[key], one.params[key]) <= 1e-9


def test_same_seed_and_workers_is_bit_identical():
    make = _networks()["MultiLayerNetExtend+Dropout"]
    a, ta = _train(make, 2, epochs=2)
    b, tb = _train(make, 2, epochs=2)
    for key in a.params:
        assert np.array_equal(a.params[key], b.params[key])
    assert ta.train_loss_list == tb.train_loss_list


def test_the_network_keeps_its_own_arrays_with_the_trained_values():
    net, shape = _networks()["TwoLayerNet"]()
    before = {key: array for key, array in net.params.items()}
    start = {key: array.copy() for key, array in before.items()}
    x, t = _data(shape)
    Trainer(net, x, t, x, t, epochs=1, verbose=False, workers=2).train()
    for key, array in net.params.items():
        assert array is before[key]  # references taken before training stay live
        assert not np.array_equal(array, start[key])


def test_batchnorm_uses_shard_statistics_and_averages_the_running_ones():
    """Per-shard batch statistics (as DistributedDataParallel), the running ones averaged."""

    def make():
        return MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, seed=0)

    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    halves = [make(), make()]
    shards = (slice(0, 5), slice(5, 10))
    grads = [h.loss_and_gradient(x[s], t[s])[1] for h, s in zip(halves, shards, strict=True)]
    net = make()
    optimizer = optimizers.SGD(lr=0.5)
    with DataParallel(net, 2, (6,), (), t.dtype, max_rows=10) as pool:
        pool.step(x, t)
        pool.update(optimizer)
    reference = make()
    for key in reference.params:
        expected = reference.params[key] - 0.5 * (grads[0][key] + grads[1][key]) / 2
        np.testing.assert_allclose(net.params[key], expected, rtol=1e-12, atol=1e-15)
    for key in reference.buffers:
        expected = (halves[0].buffers[key] + halves[1].buffers[key]) / 2
        np.testing.assert_allclose(net.buffers[key], expected, rtol=1e-12)
    # The running mean is the whole batch's: m * 0 + (1 - m) * mean of the Affine output.
    h = x @ reference.params["W1"] + reference.params["b1"]
    np.testing.assert_allclose(net.buffers["running_mean1"], 0.1 * h.mean(axis=0), rtol=1e-12)


def test_checkpoint_and_resume_with_workers_is_bit_identical(tmp_path):
    make = _networks()["MultiLayerNetExtend+Dropout"]
    whole, trainer_whole = _train(make, 2, epochs=2)
    net, shape = make()
    x, t = _data(shape)
    path = tmp_path / "ck.npz"
    common = dict(
        mini_batch_size=16, optimizer="Adam", optimizer_param={"lr": 0.01}, verbose=False,
        seed=3, workers=2, checkpoint_path=path,
    )  # fmt: skip
    Trainer(net, x, t, x[:20], t[:20], epochs=1, checkpoint_every=3, **common).train()
    net2, _ = make()
    resumed = Trainer(net2, x, t, x[:20], t[:20], epochs=2, **common)
    resumed.load_checkpoint(path, epochs=2).train()
    for key in whole.params:
        assert np.array_equal(net2.params[key], whole.params[key])
    assert resumed.train_loss_list == trainer_whole.train_loss_list


def test_a_checkpoint_from_workers_resumes_on_one(tmp_path):
    """Files are the same whatever N: a 2-worker checkpoint continues on one process."""
    make = _networks()["TwoLayerNet"]
    whole, _ = _train(make, 1, epochs=2)
    net, shape = make()
    x, t = _data(shape)
    path = tmp_path / "ck.npz"
    common = dict(
        mini_batch_size=16, optimizer="Adam", optimizer_param={"lr": 0.01}, verbose=False,
        seed=3, checkpoint_path=path, checkpoint_every=1,
    )  # fmt: skip
    Trainer(net, x, t, x[:20], t[:20], epochs=1, workers=2, **common).train()
    net2, _ = make()
    Trainer(net2, x, t, x[:20], t[:20], epochs=2, **common).load_checkpoint(path, epochs=2).train()
    for key in whole.params:
        assert _relative(net2.params[key], whole.params[key]) <= 1e-9


def test_predicted_labels_and_accuracy_split_over_workers():
    net, shape = _networks()["SimpleConvNet"]()
    x, t = _data(shape, n=123)
    expected = predicted_labels(net, x, 50)
    assert np.array_equal(predicted_labels(net, x, 50, workers=2), expected)
    uint8 = (x * 255).astype(np.uint8)
    assert np.array_equal(predicted_labels(net, uint8, 50, workers=3), predicted_labels(net, uint8))
    with DataParallel(net, 2, shape, (), t.dtype, max_rows=50) as pool:
        assert pool.accuracy(x, t, 50) == net.accuracy(x, t)
        assert pool.accuracy(x, np.eye(4)[t], 50) == net.accuracy(x, t)


def test_batches_smaller_than_the_number_of_workers():
    make = _networks()["TwoLayerNet"]
    one, _ = _train(make, 1, batch=3)
    net, _ = _train(make, 4, batch=3)  # 70 rows: the last batch has one row
    for key in one.params:
        assert _relative(net.params[key], one.params[key]) <= 1e-9


@pytest.mark.parametrize("bad", [0, -2, 1.5, "many", None])
def test_bad_workers_are_refused(bad):
    with pytest.raises((InvalidParameterError, ValueError, TypeError), match="workers"):
        resolve_workers(bad)


def test_auto_is_the_cores_this_process_may_use():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert resolve_workers("auto") == expected
    assert resolve_workers("AUTO") == expected


def test_a_random_layer_without_shards_is_refused():
    class Noise(layerwise.layers.Layer):
        def __init__(self):
            self.rng = np.random.default_rng(0)

        def forward(self, x):
            return x + self.rng.random(x.shape)

        def backward(self, dout):
            return dout

    net = layerwise.Sequential(Noise(), layerwise.Affine(np.ones((2, 2)), np.zeros(2)))
    with pytest.raises(TypeError, match="Noise.*shard"):
        DataParallel(net, 2, (2,), (), np.int64, 4)


class _FailsInWorkers(layerwise.layers.Layer):
    """Raises in a worker process, not in the process that built it."""

    def __init__(self):
        self.home = os.getpid()

    def forward(self, x):
        if os.getpid() != self.home:
            raise ArithmeticError("deliberate failure in a worker")
        return x

    def backward(self, dout):
        return dout


def test_an_error_in_a_worker_is_raised_with_its_traceback():
    net = layerwise.Sequential(_FailsInWorkers(), layerwise.Affine(np.ones((2, 2)), np.zeros(2)))
    x, t = np.ones((4, 2)), np.array([0, 1, 0, 1])
    with DataParallel(net, 2, (2,), (), t.dtype, 4, start_method="fork") as pool:
        with pytest.raises(WorkerError, match=r"worker 1 \(pid \d+\) raised(?s:.*)deliberate"):
            pool.step(x, t)


def _kill_first_child_soon(trainer, stop):
    import multiprocessing

    while not stop.is_set():
        children = multiprocessing.active_children()
        if children and trainer.iteration > 5:
            os.kill(children[0].pid, signal.SIGKILL)
            return
        time.sleep(0.01)


@pytest.mark.parametrize("start_method", METHODS)
def test_a_killed_worker_ends_the_run_with_an_error_and_a_checkpoint(tmp_path, start_method):
    net, shape = _networks()["SimpleConvNet"]()
    x, t = _data(shape, n=400)
    path = tmp_path / "ck.npz"
    trainer = Trainer(
        net, x, t, x[:20], t[:20], epochs=1000, mini_batch_size=8, verbose=False, seed=0,
        workers=2, start_method=start_method, checkpoint_path=path,
    )  # fmt: skip
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_child_soon, args=(trainer, stop))
    killer.start()
    try:
        killed = r"worker 1 \(pid \d+\) was killed by SIGKILL.* during a step"
        with pytest.raises(WorkerError, match=killed) as err:
            trainer.train()
    finally:
        stop.set()
        killer.join()
    assert str(path) in str(err.value)
    meta = layerwise.training.read_checkpoint_meta(path)
    assert meta["iteration"] == trainer.iteration > 0
    import multiprocessing

    assert multiprocessing.active_children() == []


SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys, threading, time
    import numpy as np
    from layerwise import SimpleConvNet, Trainer

    def report(trainer):
        while len(multiprocessing.active_children()) < 2 or trainer.iteration < 3:
            time.sleep(0.01)
        print("children", *[p.pid for p in multiprocessing.active_children()], flush=True)

    if __name__ == "__main__":  # spawn imports this file in every worker
        rng = np.random.default_rng(0)
        x, t = rng.random((400, 1, 6, 6)), rng.integers(0, 4, 400)
        conv = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}
        net = SimpleConvNet((1, 6, 6), conv, hidden_size=8, output_size=4, seed=0)
        trainer = Trainer(net, x, t, x[:20], t[:20], epochs=100000, mini_batch_size=8,
                          verbose=False, workers=3, start_method=sys.argv[1],
                          checkpoint_path=sys.argv[2])
        threading.Thread(target=report, args=(trainer,), daemon=True).start()
        try:
            trainer.train()
        except KeyboardInterrupt as error:
            print("stopped:", error, flush=True)
            print("left:", len(multiprocessing.active_children()), flush=True)
    """
)


def _start_script(tmp_path, start_method):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, str(script), start_method, str(tmp_path / "ck.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # its own process group, as a terminal's job
    )  # fmt: skip


def _children(proc):
    line = proc.stdout.readline()
    assert line.startswith("children"), line + proc.stderr.read()
    return [int(pid) for pid in line.split()[1:]]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _shm_names():
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir()} if shm.is_dir() else set()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see process states")
@pytest.mark.parametrize("start_method", METHODS)
def test_sigkill_of_the_parent_leaves_no_worker_and_no_shared_memory(tmp_path, start_method):
    before = _shm_names()
    proc = _start_script(tmp_path, start_method)
    try:
        pids = _children(proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
        time.sleep(0.5)  # the resource tracker, if any, cleans up in its own time
        assert _shm_names() - before == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see process states")
@pytest.mark.parametrize("start_method", METHODS)
def test_ctrl_c_stops_once_with_a_checkpoint_and_ends_the_workers(tmp_path, start_method):
    proc = _start_script(tmp_path, start_method)
    try:
        pids = _children(proc)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.count("stopped: training stopped by SIGINT") == 1, out + err
    assert "left: 0" in out
    assert "Traceback" not in err, err
    assert (tmp_path / "ck.npz").exists()
    assert not any(_alive(pid) for pid in pids)


def test_training_interrupted_is_a_keyboard_interrupt():
    assert issubclass(TrainingInterrupted, KeyboardInterrupt)


class _AdamFailingInWorkers(optimizers.Adam):
    """Adam whose update raises in a worker process (the parent's slice goes through)."""

    home = os.getpid()

    def update(self, params, grads):
        if os.getpid() != self.home:
            raise ArithmeticError("deliberate failure while updating")
        super().update(params, grads)


def test_a_failure_while_updating_writes_no_half_updated_checkpoint(tmp_path):
    net, shape = _networks()["TwoLayerNet"]()
    x, t = _data(shape)
    path = tmp_path / "ck.npz"
    trainer = Trainer(
        net, x, t, x[:20], t[:20], epochs=1, mini_batch_size=16, optimizer=_AdamFailingInWorkers(),
        verbose=False, workers=2, start_method="fork", checkpoint_path=path,
    )  # fmt: skip
    with pytest.raises(WorkerError, match="raised an error while updating(?s:.*)no checkpoint"):
        trainer.train()
    assert not path.exists()


class _WholeArraySGD(optimizers.SGD):
    """SGD declared not element-wise: the pool must hand it whole arrays, in this process."""

    elementwise = False

    def update(self, params, grads):
        assert all(params[key].shape == grads[key].shape for key in params)
        assert os.getpid() == _AdamFailingInWorkers.home
        super().update(params, grads)


def test_an_optimizer_that_is_not_elementwise_gets_whole_arrays():
    make = _networks()["MultiLayerNet"]
    results = []
    for workers in (1, 2):
        net, shape = make()
        x, t = _data(shape)
        Trainer(net, x, t, x[:20], t[:20], epochs=1, mini_batch_size=16, verbose=False, seed=3,
                optimizer=_WholeArraySGD(lr=0.1), workers=workers).train()  # fmt: skip
        results.append(net)
    for key in results[0].params:
        assert _relative(results[1].params[key], results[0].params[key]) <= 1e-9
