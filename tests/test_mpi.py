"""The data-parallel step over MPI (layerwise.parallel.mpi, `layerwise train --mpi`), 2 ranks.

Each run is a real ``mpiexec -n 2 python -m layerwise train --mpi ...`` in a session of its own,
ended (every rank included: MPICH makes each rank a session of its own) even when a
test fails. The references are the one-process and ``--workers 2`` runs of the same options.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise.cli import main
from layerwise.files import load

SRC = str(Path(layerwise.__file__).resolve().parent.parent)
# mpich's wheel puts mpiexec beside the Python of its environment, which may not be on PATH.
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                        os.environ.get("PATH", "")]))  # fmt: skip


def _mpi_missing() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return 'mpi4py is not installed (pip install "layerwise[mpi]" mpich)'
    if MPIEXEC is None:
        return "no mpiexec beside this Python or on PATH (pip install mpich)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))

#: A small run with Dropout, in float64, so that the comparisons are about the mathematics.
SMALL = ["--model", "mlp", "--hidden", "16", "16", "--dropout", "0.2", "--dtype", "float64",
         "--optimizer", "adam", "--lr", "0.001", "--eval-samples", "200", "--quiet"]  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """The processes started by ``pid``, their children, and so on (Linux's /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        with contextlib.suppress(OSError, IndexError, ValueError):
            if entry.name.isdigit():
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        pid = todo.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        todo += children
    return found


@contextlib.contextmanager
def _mpiexec(args, cwd, *, python=("-m", "layerwise", "train", "--mpi")):
    """``mpiexec -n 2 python PYTHON ARGS`` started in its own session; ended on the way out."""
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [MPIEXEC, "-n", "2", sys.executable, *python, *map(str, args)],
        cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:  # mpiexec, its proxy and the ranks (each rank is a session of its own)
        for pid in [*_descendants(proc.pid), proc.pid] if proc.poll() is None else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()


def _run(args, cwd, timeout=60):
    with _mpiexec(args, cwd) as proc:
        out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _train_here(args, cwd):
    """``layerwise train ARGS`` in this process (one process, or --workers)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["train", *map(str, args)]) == 0
    finally:
        os.chdir(old)


def _arrays(folder):
    net = load(Path(folder) / "model.npz")
    return {**dict(net.params.items()), **dict(net.buffers.items())}


def _max_relative(a, b):
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(b[k]))) for k in a)


@needs_mpi
def test_two_ranks_give_the_parameters_of_one_process_and_of_two_workers(tmp_path):
    # Without BatchNorm the step is the whole minibatch's gradient: one process's parameters.
    code, _, err = _run([*SMALL, "--epochs", "2", "--out", "ranks"], tmp_path)
    assert code == 0, err
    _train_here([*SMALL, "--epochs", "2", "--out", "one"], tmp_path)
    assert _max_relative(_arrays(tmp_path / "ranks"), _arrays(tmp_path / "one")) <= 1e-9
    # With BatchNorm each shard has its own statistics, as with --workers 2 (and not as one
    # process): the ranks give the parameters and running statistics of two workers.
    bn = [*SMALL, "--batchnorm", "--epochs", "2"]
    code, _, err = _run([*bn, "--out", "ranks-bn"], tmp_path)
    assert code == 0, err
    _train_here([*bn, "--workers", "2", "--out", "workers-bn"], tmp_path)
    _train_here([*bn, "--out", "one-bn"], tmp_path)
    ranks = _arrays(tmp_path / "ranks-bn")
    assert _max_relative(ranks, _arrays(tmp_path / "workers-bn")) <= 1e-9
    assert _max_relative(ranks, _arrays(tmp_path / "one-bn")) > 1e-6  # the test can tell


@needs_mpi
def test_only_rank_0_writes_and_the_run_folder_is_complete(tmp_path):
    code, out, err = _run([*SMALL, "--batchnorm", "--epochs", "2"], tmp_path)
    assert code == 0, err
    assert out.count("training mlp") == 1 and out.count("final test accuracy") == 1, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # one folder, nothing else
    (folder,) = (tmp_path / "runs").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert {"model.npz", "run.json", "checkpoint.npz", "history.csv", "train_loss.csv"} <= names
    assert not [n for n in names if n.startswith(".")]  # no temporary file left by a rank
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "finished" and record["mpi_ranks"] == 2
    assert record["options"]["mpi"] is True and record["epochs_done"] == 2
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        assert main(["runs", str(folder)]) == 0
    assert "finished" in shown.getvalue(), shown.getvalue()


@needs_mpi
def test_resume_under_mpiexec_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    args = [*SMALL, "--batchnorm"]
    assert _run([*args, "--epochs", "3", "--out", "whole"], tmp_path)[0] == 0
    assert _run([*args, "--epochs", "1", "--out", "part"], tmp_path)[0] == 0
    code, out, err = _run(["--resume", "part", "--epochs", "3", "--quiet"], tmp_path)
    assert code == 0, err
    whole, part = _arrays(tmp_path / "whole"), _arrays(tmp_path / "part")
    assert all(np.array_equal(whole[k], part[k]) for k in whole)
    history = [(tmp_path / run / "history.csv").read_text() for run in ("whole", "part")]
    assert history[0] == history[1]


@needs_mpi
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the ranks in /proc")
@pytest.mark.parametrize("to", ["mpiexec", "rank 1 alone"])
def test_ctrl_c_stops_every_rank_at_one_iteration_and_the_run_resumes_bit_identical(tmp_path, to):
    args = [*SMALL, "--batchnorm", "--eval-samples", "50"]
    with _mpiexec([*args, "--epochs", "1000", "--out", "stopped"], tmp_path) as proc:
        checkpoint = tmp_path / "stopped" / "checkpoint.npz"
        deadline = time.monotonic() + 30
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if to == "mpiexec":  # a terminal's Ctrl-C reaches mpiexec, which passes it to each rank
            os.kill(proc.pid, signal.SIGINT)
        else:  # the ranks agree on a stop: rank 0 does not wait forever for rank 1
            rank_0 = json.loads((tmp_path / "stopped" / "run.json").read_text())["pid"]
            ranks = [pid for pid in _descendants(proc.pid)
                     if b"\0layerwise\0" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # fmt: skip
            (rank_1,) = set(ranks) - {rank_0}
            os.kill(rank_1, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    record = json.loads((tmp_path / "stopped" / "run.json").read_text())
    assert record["status"] == "interrupted", err
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "training stopped by SIGINT" in err and "Traceback" not in err, err
    epochs = record["epochs_done"] + 1
    code, _, err = _run(["--resume", "stopped", "--epochs", epochs, "--quiet"], tmp_path)
    assert code == 0, err
    assert _run([*args, "--epochs", epochs, "--out", "whole"], tmp_path)[0] == 0
    whole, resumed = _arrays(tmp_path / "whole"), _arrays(tmp_path / "stopped")
    assert all(np.array_equal(whole[k], resumed[k]) for k in whole)


TRAINER_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    from layerwise import MultiLayerNetExtend, Trainer

    rng = np.random.default_rng(0)
    x, t = rng.random((90, 6)), rng.integers(0, 3, 90)
    net = MultiLayerNetExtend(6, [8], 3, use_dropout=True, dropout_ration=0.3,
                              use_batchnorm=True, seed=0)
    trainer = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=20, optimizer="adam",
                      seed=0, workers="mpi", checkpoint_path=sys.argv[1])
    trainer.train()
    state = b"".join(a.tobytes() for a in [*net.params.values(), *net.buffers.values()])
    # in a file per rank: mpiexec forwards the ranks' stdout in chunks that may split a line
    with open(f"state{trainer.rank}.txt", "w") as f:
        f.write(hashlib.sha256(state).hexdigest())
    """
)


@needs_mpi
def test_trainer_workers_mpi_keeps_every_replica_equal_and_rank_0_alone_writes(tmp_path):
    (tmp_path / "ck").mkdir()
    python = ("-c", TRAINER_SCRIPT)
    with _mpiexec([tmp_path / "ck" / "checkpoint.npz"], tmp_path, python=python) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    states = [(tmp_path / f"state{rank}.txt").read_text() for rank in (0, 1)]
    assert states[0] == states[1]  # parameters and running statistics, bit for bit
    assert out.count("epoch   2/2") == 1, out  # rank 0 alone prints
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["checkpoint.npz"]


FAILING_RANK = textwrap.dedent(
    """
    import sys
    from layerwise.cli import main
    from layerwise.parallel.mpi import MPIDataParallel, world

    step = MPIDataParallel.step
    calls = []

    def failing_step(self, x, t, train_flg=True):
        calls.append(1)
        if world().Get_rank() == 1 and len(calls) == 60:
            raise RuntimeError("rank 1's disk is on fire")
        return step(self, x, t, train_flg)

    MPIDataParallel.step = failing_step
    sys.exit(main(["train", "--mpi", *sys.argv[1:]]))
    """
)


def _mpich_segments():
    shm = Path("/dev/shm")
    return {p.name for p in shm.glob("mpich_shm_*")} if shm.is_dir() else set()


def _no_new_segment(before):
    """Issue 27, item 8: MPICH's segment goes with any end of the job (another job's may come
    and go meanwhile; a leak stays)."""
    deadline = time.monotonic() + 10
    while _mpich_segments() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _mpich_segments() - before == set()


@needs_mpi
def test_a_rank_that_raises_ends_the_run_with_its_message_and_no_hang(tmp_path):
    before = _mpich_segments()
    start = time.monotonic()
    args = [*SMALL, "--epochs", "3", "--out", "failed"]  # 50 steps an epoch: fails in the 2nd
    with _mpiexec(args, tmp_path, python=("-c", FAILING_RANK)) as proc:
        out, err = proc.communicate(timeout=120)
    assert time.monotonic() - start < 100  # seconds on a quiet machine
    assert proc.returncode != 0
    # Issue 28: the whole message, to its last line, reached the user before the abort.
    assert "rank 1 of 2 failed" in err and "RuntimeError: rank 1's disk is on fire" in err, err
    _no_new_segment(before)
    folder = tmp_path / "failed"
    assert json.loads((folder / "run.json").read_text())["epochs_done"] == 1
    assert (folder / "checkpoint.npz").exists()  # the finished epoch's
    deadline = time.monotonic() + 10  # mpiexec may end a moment before the ranks it killed
    while True:
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            main(["runs", str(folder)])
        if "killed" in shown.getvalue() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "killed" in shown.getvalue(), shown.getvalue()


SCHEDULE_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from layerwise import MultiLayerNetExtend, Trainer

    def schedule(trainer):  # every hyperparameter halved, W1 replaced by a new array
        for name, value in trainer.optimizer.hyperparameters.items():
            setattr(trainer.optimizer, name, value * 0.5)
        trainer.network.params["W1"] = trainer.network.params["W1"] * 0.9

    rng = np.random.default_rng(0)
    x, t = rng.random((90, 6)), rng.integers(0, 3, 90)
    net = MultiLayerNetExtend(6, [8], 3, use_dropout=True, dropout_ration=0.3, seed=0)
    trainer = Trainer(net, x, t, x, t, epochs=3, mini_batch_size=20, optimizer="adam", seed=0,
                      verbose=False, workers=int(sys.argv[1]) if len(sys.argv) > 1 else "mpi",
                      on_epoch_end=schedule)
    trainer.train()
    if trainer.rank == 0:
        np.savez("params.npz", **dict(net.params.items()))
    """
)


@needs_mpi
def test_an_lr_schedule_and_a_parameter_assignment_under_mpi_equal_one_process(tmp_path):
    """Issue 27: a schedule in on_epoch_end and a mid-run parameter assignment give, over 2
    ranks, the parameters of one process (float64, <= 1e-9 relative)."""
    with _mpiexec([], tmp_path, python=("-c", SCHEDULE_SCRIPT)) as proc:
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    ranks = dict(np.load(tmp_path / "params.npz"))
    one = tmp_path / "one"
    one.mkdir()
    env = {**os.environ, "PYTHONPATH": SRC}
    subprocess.run([sys.executable, "-c", SCHEDULE_SCRIPT, "1"], cwd=one, env=env, check=True,
                   timeout=120)  # fmt: skip
    assert _max_relative(ranks, dict(np.load(one / "params.npz"))) <= 1e-9


USERS_SCRIPT = textwrap.dedent(
    """
    import os
    import numpy as np
    from layerwise import MultiLayerNet, Trainer
    from mpi4py import MPI

    class Failing(MultiLayerNet):
        calls = 0

        def loss_and_gradient(self, x, t, train_flg=None):
            Failing.calls += 1
            if MPI.COMM_WORLD.Get_rank() == 1 and Failing.calls == 30:
                raise RuntimeError("rank 1's data went missing")
            return super().loss_and_gradient(x, t, train_flg)

    rng = np.random.default_rng(0)
    x, t = rng.random((400, 6)), rng.integers(0, 3, 400)
    net = Failing(6, [8], 3, seed=0)
    Trainer(net, x, t, x, t, epochs=5, mini_batch_size=20, seed=0, verbose=False,
            workers="mpi").train()
    """
)


@needs_mpi
def test_a_rank_that_raises_in_a_users_script_ends_the_job_with_its_message(tmp_path):
    """Issue 27, item 9: Trainer(workers="mpi") in a script; rank 1 raises, rank 0 is in the
    next Allreduce (before, it waited there forever)."""
    before = _mpich_segments()
    start = time.monotonic()
    with _mpiexec([], tmp_path, python=("-c", USERS_SCRIPT)) as proc:
        out, err = proc.communicate(timeout=120)
    assert time.monotonic() - start < 100  # seconds on a quiet machine
    assert proc.returncode != 0, err
    assert "layerwise: rank 1 of 2 failed:" in err, err
    assert "RuntimeError: rank 1's data went missing" in err, err
    _no_new_segment(before)


def test_mpi_without_mpi4py_says_what_to_install(tmp_path):
    script = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "from layerwise.cli import main\n"
        "sys.exit(main(['train', '--mpi', '--epochs', '1', '--out', 'run']))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert 'pip install "layerwise[mpi]" mpich' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("other", [["--workers", "2"], ["--device", "cuda"]])
def test_mpi_with_several_workers_or_a_gpu_is_refused(tmp_path, capsys, other):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--mpi", *other, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    assert f"--mpi cannot be combined with {' '.join(other)}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
