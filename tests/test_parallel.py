"""Data-parallel training (layerwise.parallel): the same mathematics on N processes, and safe.

Every test that starts worker processes ends them: DataParallel is a context manager, the
Trainer closes its pool in a ``finally``, and the subprocess tests kill what they start.
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
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
from layerwise.parallel import (
    START_METHOD,
    DataParallel,
    WorkerError,
    auto_workers,
    available_cores,
    children,
    resolve_workers,
)
from layerwise.training import TrainingInterrupted, predicted_labels

SRC = str(Path(layerwise.__file__).resolve().parent.parent)
METHODS = ["fork", "spawn", "forkserver"]

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
    kw = {"optimizer": "Adam", "optimizer_param": {"lr": 0.01}, "verbose": False, **kw}
    trainer = Trainer(
        net, x, t, x[:20], t[:20], epochs=epochs, mini_batch_size=batch, seed=3,
        workers=workers, start_method=start_method, **kw,
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


def test_auto_is_the_idle_cores_this_process_may_use():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert available_cores() == cores
    assert 1 <= resolve_workers("auto") <= cores
    assert resolve_workers("AUTO") == auto_workers()
    # The documented rule: min(cores, max(1, floor(cores - load + 1))).
    assert auto_workers(2, 0.0) == 2  # an idle machine: every core
    assert auto_workers(2, 0.9) == 2  # this process's own load
    assert auto_workers(2, 1.5) == 1  # another process keeps a core busy
    assert auto_workers(2, 5.0) == 1  # a shared machine: never more workers than idle cores
    assert auto_workers(16, 4.2) == 12
    assert auto_workers(1, 0.0) == 1


def test_the_epoch_line_says_how_many_workers_computed_it(capsys):
    make = _networks()["TwoLayerNet"]
    _train(make, 2, verbose=True)
    assert "(" in capsys.readouterr().out.split("2 workers)")[0]
    _train(make, 1, verbose=True)
    assert "worker" not in capsys.readouterr().out
    _, trainer = _train(make, "auto", verbose=True)  # what auto chose, even 1
    chosen = f", {trainer.workers} worker{'s' * (trainer.workers > 1)})"
    assert chosen in capsys.readouterr().out


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


@pytest.mark.parametrize("start_method", METHODS)
def test_a_killed_worker_ends_the_run_with_an_error_and_a_checkpoint(tmp_path, start_method):
    net, shape = _networks()["SimpleConvNet"]()
    x, t = _data(shape, n=400)
    path = tmp_path / "ck.npz"
    trainer = _KillingTrainer(
        net, x, t, x[:20], t[:20], epochs=1000, mini_batch_size=8, verbose=False, seed=0,
        workers=2, start_method=start_method, checkpoint_path=path, where="step", at=6,
    )  # fmt: skip
    killed = r"worker 1 \(pid \d+\) was killed by SIGKILL.* during a step"
    with pytest.raises(WorkerError, match=killed) as err:
        trainer.train()
    assert str(path) in str(err.value)
    meta = layerwise.training.read_checkpoint_meta(path)
    assert meta["iteration"] == trainer.iteration == 6
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
    except (FileNotFoundError, ProcessLookupError):  # reaped between the two looks: gone
        return False


def _shm_names():
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir()} if shm.is_dir() else set()


def _resource_trackers(pid):
    """multiprocessing's resource tracker processes started by ``pid`` (they would unlink
    what layerwise leaves, and so hide a leak)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"resource_tracker" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see process states")
@pytest.mark.parametrize("start_method", METHODS)
def test_sigkill_of_the_parent_leaves_no_worker_and_no_shared_memory(tmp_path, start_method):
    before = _shm_names()
    proc = _start_script(tmp_path, start_method)
    try:
        pids = _children(proc)
        # What layerwise unlinks itself is checked: the resource tracker, which would remove
        # a leaked segment after the parent's death, goes first.
        for tracker in _resource_trackers(proc.pid):
            os.kill(tracker, signal.SIGKILL)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
        # A segment of another process's may come and go meanwhile; a leak stays.
        deadline = time.monotonic() + 10
        while _shm_names() - before and time.monotonic() < deadline:
            time.sleep(0.1)
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


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see process states")
def test_ctrl_c_with_a_stopped_worker_stops_the_first_time(tmp_path):
    """Issue 27, item 7: with a worker stopped (SIGSTOP), the first Ctrl-C ends the run within
    about a second, with a checkpoint, and no worker is left (before, it was ignored)."""
    proc = _start_script(tmp_path, START_METHOD)
    try:
        pids = _children(proc)
        os.kill(pids[0], signal.SIGSTOP)
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert seconds < children.ANSWER_SECONDS / 2, seconds  # the interrupt, not the bound
    if "half updated" in err:  # stopped while updating its slice: no state worth saving
        assert proc.returncode == 1 and "had not answered while updating" in err, err
    else:  # stopped between messages or in a step: the last finished step is saved
        assert proc.returncode == 0, err
        assert out.count("stopped: training stopped by SIGINT") == 1, out + err
        assert "left: 0" in out
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


# ---------------------------------------------------------------------- issue 27: never silently
# different, nothing lost, no hang


def _schedule(trainer):
    """After each epoch: every hyperparameter changed, and W1 replaced by a new array."""
    optimizer = trainer.optimizer
    for name, value in optimizer.hyperparameters.items():
        setattr(optimizer, name, value * 0.5)
    trainer.network.params["W1"] = trainer.network.params["W1"] * 0.9  # a new array


@pytest.mark.parametrize("optimizer", ["Adam", "Momentum"])
@pytest.mark.parametrize("name", list(_networks()))
def test_a_schedule_and_a_parameter_assignment_are_followed_by_every_worker(name, optimizer):
    """Issue 27, items 1-2: an lr decay in on_epoch_end and ``params["W1"] = new`` while the
    workers train give the run of one process (before, the workers kept the first lr and the
    parent's W1 left the shared memory: 1.17 relative)."""
    make = _networks()[name]
    kw = {"optimizer": optimizer, "on_epoch_end": _schedule, "epochs": 3}
    one, trainer_one = _train(make, 1, **kw)
    assert trainer_one.optimizer.lr == 0.01 / 8
    net, trainer = _train(make, 2, **kw)
    assert trainer.optimizer.hyperparameters == trainer_one.optimizer.hyperparameters
    for key in one.params:
        assert _relative(net.params[key], one.params[key]) <= 1e-9, key
    plain, _ = _train(make, 2, optimizer=optimizer, epochs=3)  # the test can tell
    assert _relative(plain.params["W2"], one.params["W2"]) > 1e-6


def test_a_parameter_replaced_by_another_shape_is_refused_clearly():
    def bad(trainer):
        trainer.network.params["W1"] = np.zeros(3)

    with pytest.raises(ValueError, match=r"params\['W1'\] must keep its shape"):
        _train(_networks()["TwoLayerNet"], 2, epochs=2, on_epoch_end=bad)


def test_predicted_labels_with_workers_refuses_a_network_on_a_gpu():
    """Issue 27, item 3: the workers are CPU processes."""

    class OnAGpu(TwoLayerNet):
        device = "cuda:0"

    net = OnAGpu(4, 5, 3, seed=0)
    with pytest.raises(InvalidParameterError, match=r"workers=2 splits.*cuda:0.*use workers=1"):
        predicted_labels(net, np.zeros((10, 4)), workers=2)


def _child():
    import multiprocessing

    (child,) = multiprocessing.active_children()
    return child


def _kill(child):
    os.kill(child.pid, signal.SIGKILL)
    child.join(60)  # dead before the next message to it


class _KillingTrainer(Trainer):
    """Kills the worker once: before iteration ``at`` (a step), in epoch ``at``'s evaluation,
    or while a checkpoint is written."""

    def __init__(self, *args, where, at, **kw):
        super().__init__(*args, **kw)
        self.where, self.at, self.killed = where, at, False

    def _kill_here(self, where, when):
        if self.where == where and when == self.at and not self.killed:
            self.killed = True
            _kill(_child())

    def train_step(self, x, t):
        self._kill_here("step", self.iteration)
        return super().train_step(x, t)

    def accuracy(self, x, t, batch_size=1000):
        self._kill_here("evaluation", self.epoch)
        return super().accuracy(x, t, batch_size)

    def save_checkpoint(self, path):
        self._kill_here("checkpoint", self.iteration)
        return super().save_checkpoint(path)


def _dropout_and_batchnorm():
    return (
        MultiLayerNetExtend(36, [12, 8], 4, use_dropout=True, dropout_ration=0.3,
                            use_batchnorm=True, seed=0),
        (36,),
    )  # fmt: skip


@pytest.mark.parametrize(("where", "at"), [("step", 7), ("evaluation", 1), ("checkpoint", 9)])
def test_a_worker_killed_anywhere_leaves_the_last_step_and_resumes_bit_identical(
    tmp_path, where, at
):
    """Issue 27, items 4-5: wherever a worker dies (a step, the end-of-epoch evaluation, while
    a checkpoint is written), the checkpoint holds the last finished step, the trainer's counts
    (what run.json records) agree with it, and the resumed run equals the uninterrupted one
    bit for bit, with Dropout and BatchNorm. Before, the parent's masks of the failed step
    were drawn already (0.12 relative), and a death in the evaluation wrote no checkpoint."""
    x, t = _data((36,))
    path = tmp_path / "ck.npz"
    common = dict(
        epochs=3, mini_batch_size=16, optimizer="Adam", optimizer_param={"lr": 0.01},
        verbose=False, seed=3, workers=2, checkpoint_path=path, checkpoint_every=3,
    )  # fmt: skip
    whole, _ = _dropout_and_batchnorm()
    whole_trainer = Trainer(whole, x, t, x[:20], t[:20], **common).train()
    net, _ = _dropout_and_batchnorm()
    trainer = _KillingTrainer(net, x, t, x[:20], t[:20], where=where, at=at, **common)
    with pytest.raises(WorkerError, match="worker 1 .* was killed by SIGKILL") as err:
        trainer.train()
    assert f"checkpoint of iteration {trainer.iteration} written" in str(err.value)
    meta = layerwise.training.read_checkpoint_meta(path)
    assert (meta["epoch"], meta["iteration"]) == (trainer.epoch, trainer.iteration)
    if where == "evaluation":  # the epoch's steps are done, its evaluation is not
        assert (trainer.epoch, trainer.iteration) == (1, 2 * trainer.iter_per_epoch)
    resumed, _ = _dropout_and_batchnorm()
    again = Trainer(resumed, x, t, x[:20], t[:20], **common).load_checkpoint(path)
    again.train()
    for key, array in {**dict(whole.params.items()), **dict(whole.buffers.items())}.items():
        mine = resumed.params[key] if key in resumed.params else resumed.buffers[key]
        assert np.array_equal(mine, array), key
    assert again.train_loss_list == whole_trainer.train_loss_list
    assert again.test_acc_list == whole_trainer.test_acc_list


def test_the_default_start_method_is_the_same_on_every_python():
    """Issue 27, item 6: layerwise chooses (Python 3.14 changed multiprocessing's default)."""
    import multiprocessing

    expected = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    assert START_METHOD == expected
    net, shape = _networks()["TwoLayerNet"]()
    x, t = _data(shape)
    assert Trainer(net, x, t, x, t, verbose=False, workers=2).start_method == START_METHOD
    with pytest.raises(ValueError, match="start_method must be one of"):
        Trainer(net, x, t, x, t, workers=2, start_method="vfork")


class _StoppingTrainer(Trainer):
    """SIGSTOPs the worker before iteration 5's step (between messages: it is idle)."""

    stopped = None

    def train_step(self, x, t):
        if self.iteration == 5 and self.stopped is None:
            child = _child()
            os.kill(child.pid, signal.SIGSTOP)
            self.stopped = (child, time.monotonic())
        return super().train_step(x, t)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="POSIX signals")
def test_a_stopped_worker_ends_the_run_within_the_bound_with_a_checkpoint(tmp_path, monkeypatch):
    """Issue 27, item 7: a worker that does not answer (SIGSTOP, a debugger, swapped out) ends
    the run with an error naming it and a checkpoint, once the bound has passed (before, the
    run waited forever)."""
    monkeypatch.setattr(children, "ANSWER_SECONDS", 3.0)
    net, shape = _networks()["TwoLayerNet"]()
    x, t = _data(shape, n=400)
    path = tmp_path / "ck.npz"
    trainer = _StoppingTrainer(net, x, t, x[:20], t[:20], epochs=10**6, mini_batch_size=8,
                               verbose=False, workers=2, checkpoint_path=path)  # fmt: skip
    with pytest.raises(WorkerError, match=r"worker 1 \(pid \d+\) did not answer.*it is stopped"):
        trainer.train()
    child, when = trainer.stopped
    seconds = time.monotonic() - when
    assert seconds < 3.0 + 60, seconds  # the bound (this net's steps take far under 0.15 s),
    # and a loaded machine's slack
    assert layerwise.training.read_checkpoint_meta(path)["iteration"] == trainer.iteration == 5
    assert not child.is_alive()  # killed, stopped as it was


class _CountingSGD(optimizers.SGD):
    """SGD that records how many entries it updates in the process that made the pool."""

    home, sizes = os.getpid(), []

    def update(self, params, grads):
        if os.getpid() == self.home:
            self.sizes.append(sum(p.size for p in params.values()))
        super().update(params, grads)


@pytest.mark.parametrize("optimizer", [_CountingSGD, lambda: optimizers.Adam()])
def test_the_parent_updates_one_nth_of_the_parameters(optimizer):
    """The reduce-scatter: with N workers this process updates 1/N of the flat parameters
    (before, an optimizer without state, SGD, was applied whole in this process)."""
    net, shape = _networks()["SimpleConvNet"]()
    total = sum(p.size for p in net.params.values())
    x, t = _data(shape)
    for workers in (2, 3):
        opt = optimizer()
        with DataParallel(net, workers, shape, (), t.dtype, 16, optimizer=opt) as pool:
            pool.step(x[:16], t[:16])
            _CountingSGD.sizes.clear()
            pool._own_slice()  # the slice this process updates
            pool.update()
            mine = sum(p.size for p in pool._own_slice()[1].values())
        assert mine == -(-total // workers), (workers, mine, total)
        if isinstance(opt, _CountingSGD):
            assert _CountingSGD.sizes == [mine]


SCRIPT_WITHOUT_GUARD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from layerwise import TwoLayerNet, Trainer

    rng = np.random.default_rng(0)
    x, t = rng.random((200, 784)), rng.integers(0, 4, 200)
    net = TwoLayerNet(784, 100, 4, seed=0)  # more than a pipe holds, pickled
    Trainer(net, x, t, x, t, epochs=2, verbose=False, workers=2,
            start_method=sys.argv[1]).train()
    """
)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_script_without_the_main_guard_ends_with_how_to_fix_it(tmp_path, start_method):
    """Issue 28: spawn (macOS's and Windows' default) imports the script in every worker; one
    without the guard made the parent block forever writing to a dead child's pipe."""
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT_WITHOUT_GUARD)
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, str(script), start_method], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        _, err = proc.communicate(timeout=120)  # seconds on a quiet machine
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 1, err
    assert "WorkerError" in err and 'if __name__ == "__main__":' in err.splitlines()[-1], err


def test_the_command_line_caps_workers_at_the_cores_and_takes_a_start_method(tmp_path, capsys):
    """Issue 28: `--workers 999` started 999 processes for batches of 100 rows; it is capped
    with one line, as --threads is. Issue 27, item 6: --start-method chooses how they start."""
    import json

    from layerwise.cli import main

    out = tmp_path / "run"
    args = ["train", "--workers", "999", "--start-method", "spawn", "--epochs", "1",
            "--eval-samples", "100", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    cores = available_cores()
    warning = f"layerwise: warning: --workers 999 is more than the {cores} cores"
    assert [line for line in captured.err.splitlines() if "warning" in line] == [
        f"{warning} this process may use; using {cores}"
    ]
    assert json.loads((out / "run.json").read_text())["options"]["workers"] == cores
    if cores > 1:
        assert f", {cores} workers)" in captured.out
    with pytest.raises(SystemExit):
        main(["train", "--start-method", "vfork", "--out", str(tmp_path / "other")])
    assert "invalid choice: 'vfork'" in capsys.readouterr().err
