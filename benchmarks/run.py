"""layerwise against the book's code, PyTorch and the matrix-product limit, in one command.

Usage::

    python benchmarks/run.py            # full run, 1-thread and default-thread tables
    python benchmarks/run.py --quick    # under a minute: fewer repeats, a short end-to-end
    python benchmarks/run.py --threads 1
    python benchmarks/run.py --workers 1,2,4,8,16 --only step_deepconvnet_b100   # many cores

How it measures:

- every implementation of a workload runs in this one process, side by side;
- repeats are interleaved: each round times every implementation once (the order rotating from
  round to round), so drift in clock speed or cache state hits all of them alike; the reported
  time is the median over rounds of the per-call time;
- BLAS is pinned to one thread with ``threadpoolctl.threadpool_limits(1)`` (and
  ``torch.set_num_threads(1)``) for the main table; the "default" table leaves the thread pools
  as they start (all cores);
- the hardware limit is the time of the bare matrix products the same work needs
  (:func:`workloads.matmul_limit`); "% of limit" is limit time / implementation time;
- the end-to-end chapter-5 experiment runs in a subprocess per implementation
  (:mod:`e2e`), which reports its own peak RSS (``VmHWM``) and accuracy; so do the
  DeepConvNet training steps of :mod:`e2e_conv` (peak RSS and time per step).

Prints markdown tables, writes ``benchmarks/results/latest.md`` and a JSON file
``benchmarks/results/<timestamp>.json`` (also ``latest.json``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import workloads as wl  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

RESULTS = HERE / "results"

# (key, label, factory); a factory takes the Data and returns {implementation: callable}


def _act(kind, shape):
    return lambda data: wl.activation_workload(kind, shape)


def _step(sizes, batch, lr):
    return lambda data: wl.step_workload(data, sizes, batch, lr=lr)


def _conv_step(name):
    return lambda data: wl.conv_step_workload(data, name, batch=100, lr=0.001)


# (key, label, factory); a factory takes the Data and returns {implementation: callable}
LAYER_WORKLOADS = [
    ("relu_100x784", "Relu fwd+bwd 100x784", _act("Relu", (100, 784))),
    ("relu_1024x784", "Relu fwd+bwd 1024x784", _act("Relu", (1024, 784))),
    ("sigmoid_100x784", "Sigmoid fwd+bwd 100x784", _act("Sigmoid", (100, 784))),
    ("sigmoid_1024x784", "Sigmoid fwd+bwd 1024x784", _act("Sigmoid", (1024, 784))),
    ("affine_b100", "Affine 784->100 fwd+bwd b100", lambda data: wl.affine_workload(100)),
    ("affine_b1024", "Affine 784->100 fwd+bwd b1024", lambda data: wl.affine_workload(1024)),
    ("softmax_100x10", "SoftmaxWithLoss fwd+bwd 100x10", lambda data: wl.softmax_workload(100)),
    ("softmax_1024x10", "SoftmaxWithLoss fwd+bwd 1024x10", lambda data: wl.softmax_workload(1024)),
]
SMALL, BIG = "step_784-50-10_b100", "step_784-1000-1000-10_b256"
STEP_WORKLOADS = [
    (SMALL, "step 784-50-10 b100", _step([784, 50, 10], 100, lr=0.1)),
    (BIG, "step 784-1000-1000-10 b256", _step([784, 1000, 1000, 10], 256, lr=0.01)),
]
SCN, DCN = "step_simpleconvnet_b100", "step_deepconvnet_b100"
CONV_WORKLOADS = [
    (
        "conv3x3_16-16_b100",
        "Convolution 16->16 3x3 pad 1 fwd+bwd 100x16x28x28",
        lambda data: wl.conv_workload(100, 16, 16, 28, pad=1),
    ),
    (SCN, "step SimpleConvNet b100 (Adam)", _conv_step("SimpleConvNet")),
    (DCN, "step DeepConvNet b100 (Adam)", _conv_step("DeepConvNet")),
]
WORKLOADS = LAYER_WORKLOADS + STEP_WORKLOADS + CONV_WORKLOADS
# --quick measures these in 2 rounds and with one thread only: a few seconds each there, but
# half a minute or more with the default threads on a busy two-core machine.
SLOW_WORKLOADS = {key for key, _, _ in CONV_WORKLOADS}

# (label, workload key, kind, target); kind picks how the measured value is computed: a speed-up
# or a share of the limit must reach the target, "time_vs_torch" (layerwise's time / PyTorch's)
# must stay at or below it; a target of None is reported only.
TARGETS = [
    ("step 784-50-10 b100: speed-up vs textbook", SMALL, "vs_textbook", 2.8),
    ("step 784-50-10 b100: speed-up vs PyTorch", SMALL, "vs_torch", 1.6),
    ("step 784-50-10 b100: % of matmul limit", SMALL, "of_limit", 0.65),
    ("step 784-1000-1000-10 b256: speed-up vs textbook", BIG, "vs_textbook", 2.6),
    ("step 784-1000-1000-10 b256: speed-up vs PyTorch", BIG, "vs_torch", 1.15),
    ("step 784-1000-1000-10 b256: % of matmul limit", BIG, "of_limit", 0.88),
    ("Relu fwd+bwd 100x784: speed-up vs textbook", "relu_100x784", "vs_textbook", 15.0),
    ("step SimpleConvNet b100: speed-up vs textbook", SCN, "vs_textbook", 4.0),
    ("step SimpleConvNet b100: time / PyTorch's time", SCN, "time_vs_torch", 1.3),
    ("step DeepConvNet b100: speed-up vs textbook", DCN, "vs_textbook", 6.0),
    ("step DeepConvNet b100: time / PyTorch's time", DCN, "time_vs_torch", 2.5),
    ("step DeepConvNet b100: % of matmul limit", DCN, "of_limit", None),
]


# --- timing ----------------------------------------------------------------------------------


def _calibrate(fn, min_time):
    """Number of calls that take at least ``min_time`` seconds (after one warm-up call)."""
    t0 = time.perf_counter()
    fn()
    if time.perf_counter() - t0 >= min_time:  # a slow call (a conv-net step): one per sample
        return 1
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return loops
        loops = max(loops * 2, int(loops * min_time / max(elapsed, 1e-9) * 1.2))


def measure_interleaved(funcs, rounds, min_time):
    """Median per-call seconds of each function over ``rounds`` interleaved rounds.

    Returns ``{name: {"median": s, "min": s, "max": s, "loops": n, "rounds": r}}``.
    """
    names = list(funcs)
    loops = {name: _calibrate(funcs[name], min_time) for name in names}
    samples = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                fn, n = funcs[name], loops[name]
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - t0) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        name: {
            "median": statistics.median(s),
            "min": min(s),
            "max": max(s),
            "loops": loops[name],
            "rounds": rounds,
        }
        for name, s in samples.items()
    }


class ThreadSetting:
    """``threads=1``: BLAS/OpenMP and torch pinned to one thread. ``0``: left at the default."""

    def __init__(self, threads):
        self.threads = threads
        self._limiter = None
        self._torch_default = None

    def __enter__(self):
        torch = wl.torch
        if self.threads:
            self._limiter = threadpool_limits(self.threads)
        if torch is not None:
            self._torch_default = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        if self._torch_default is not None:
            wl.torch.set_num_threads(self._torch_default)


def run_micro(data, threads, rounds, min_time, only=None, quick=False, log=print):
    """Time every workload (or those in ``only``); ``quick`` thins out the slow ones."""
    results = {}
    with ThreadSetting(threads):
        for key, label, factory in WORKLOADS:
            slow = quick and key in SLOW_WORKLOADS
            if (only and key not in only) or (slow and not threads):
                continue
            funcs = factory(data)
            t0 = time.perf_counter()
            times = measure_interleaved(funcs, min(rounds, 2) if slow else rounds, min_time)
            results[key] = {"label": label, "times": times}
            notes = {name: fn.flavour for name, fn in funcs.items() if hasattr(fn, "flavour")}
            if notes:
                results[key]["how"] = notes
            log(f"  {label}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return results


# --- end to end ------------------------------------------------------------------------------


def run_e2e(impl, threads, quick, data_dir, timeout):
    """Run ``e2e.py IMPL`` in a fresh process; return its JSON report plus the wall time."""
    cmd = [sys.executable, str(HERE / "e2e.py"), impl, "--threads", str(threads)]
    cmd += ["--data-dir", data_dir]
    if quick:
        cmd += ["--iters", "200", "--train-size", "5000", "--test-size", "1000"]
    return _json_subprocess(cmd, impl, threads, timeout)


def run_e2e_conv(impl, steps, data_dir, timeout):
    """Run ``e2e_conv.py IMPL --steps STEPS`` (one BLAS thread) in a fresh process."""
    cmd = [sys.executable, str(HERE / "e2e_conv.py"), impl, "--steps", str(steps)]
    cmd += ["--threads", "1", "--data-dir", data_dir]
    return _json_subprocess(cmd, impl, 1, timeout)


def _json_subprocess(cmd, impl, threads, timeout):
    """The JSON line a benchmark script prints last, plus its wall time (or an error)."""
    env = dict(os.environ)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}", file=sys.stderr)
        return {"impl": impl, "error": f"exit status {proc.returncode}: {tail[0]}"}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


# --- reports ---------------------------------------------------------------------------------


def _us(seconds):
    return f"{seconds * 1e6:,.1f}" if seconds < 1e-2 else f"{seconds * 1e6:,.0f}"


def _ratio(a, b):
    return a / b if a is not None and b else None


def derived(times):
    """Speed-ups and %-of-limit of layerwise f32 (and the others) from one workload's times."""
    med = {name: t["median"] for name, t in times.items()}
    lw, bare = med.get(wl.LW32), med.get(wl.BARE)
    out = {
        "vs_textbook": _ratio(med.get(wl.TEXTBOOK), lw),
        "vs_torch": _ratio(med.get(wl.TORCH), lw),
        "time_vs_torch": _ratio(lw, med.get(wl.TORCH)),
        "of_limit": _ratio(med.get(wl.LIMIT32), lw),
        # The same measures for straight-line NumPy, and for a step costing only its products.
        "bare": {
            "vs_textbook": _ratio(med.get(wl.TEXTBOOK), bare),
            "vs_torch": _ratio(med.get(wl.TORCH), bare),
            "time_vs_torch": _ratio(bare, med.get(wl.TORCH)),
            "of_limit": _ratio(med.get(wl.LIMIT32), bare),
        },
        "products_only_vs_torch": _ratio(med.get(wl.TORCH), med.get(wl.LIMIT32)),
    }
    limit_for = {
        wl.TEXTBOOK: wl.LIMIT64,
        wl.LW64: wl.LIMIT64,
        wl.LW32: wl.LIMIT32,
        wl.BARE: wl.LIMIT32,
        wl.TORCH: wl.LIMIT32,
    }
    out["of_limit_all"] = {
        name: _ratio(med.get(limit), med[name])
        for name, limit in limit_for.items()
        if name in med and limit in med
    }
    return out


SHORT = {wl.TEXTBOOK: "tb", wl.LW64: "lw64", wl.LW32: "lw32", wl.BARE: "bare", wl.TORCH: "torch"}


def _fmt_x(v):
    return "—" if v is None else f"{v:.2f}x"


def _fmt_pct(v):
    return "—" if v is None else f"{100 * v:.0f}%"


def micro_table(results):
    impls = [
        i
        for i in (*wl.IMPLEMENTATIONS, *wl.LIMITS)
        if any(i in r["times"] for r in results.values())
    ]
    head = [
        "workload",
        *[f"{i} µs" for i in impls],
        "lw f32 vs textbook",
        "lw f32 vs torch",
        "% of limit (" + " / ".join(SHORT[i] for i in wl.IMPLEMENTATIONS) + ")",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results.values():
        d = derived(r["times"])
        cells = [r["label"]]
        cells += [_us(r["times"][i]["median"]) if i in r["times"] else "—" for i in impls]
        cells += [_fmt_x(d["vs_textbook"]), _fmt_x(d["vs_torch"])]
        if d["of_limit_all"]:
            cells.append(" / ".join(_fmt_pct(d["of_limit_all"].get(i)) for i in wl.IMPLEMENTATIONS))
        else:
            cells.append("—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def e2e_table(e2e):
    head = [
        "implementation",
        "wall s",
        "train loop s",
        "load s",
        "peak RSS MiB",
        "final test acc",
        "final train acc",
        "iterations / evaluations",
        "vs textbook wall",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = e2e.get("textbook", {}).get("wall_s")
    for impl, r in e2e.items():
        if "error" in r:
            lines.append(f"| {impl} | {r['error']} |" + " |" * (len(head) - 2))
            continue
        lines.append(
            f"| {impl} | {r['wall_s']:.2f} | {r['train_s']:.2f} | {r['load_s']:.2f} | "
            f"{r['peak_rss_mib']:.0f} | {r['final_test_acc']:.4f} | {r['final_train_acc']:.4f} | "
            f"{r['iters']} / {r['epochs_evaluated']} | "
            f"{_fmt_x(_ratio(base, r['wall_s']))} |"
        )
    return "\n".join(lines)


E2E_CONV_MARKS = (1, 10, 50, 200, 600)  # the steps after which e2e_conv.py reads the peak


def e2e_conv_table(runs):
    head = [
        "implementation",
        "steps",
        "load s",
        "first step ms",
        "ms / step after",
        "RSS after loading MiB",
        "peak RSS MiB",
        "peak - loaded MiB",
        "peak after step " + " / ".join(map(str, E2E_CONV_MARKS)),
        "peak vs textbook",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = runs.get("textbook", {}).get("peak_rss_mib")
    for impl, r in runs.items():
        if "error" in r:
            lines.append(f"| {impl} | {r['error']} |" + " |" * (len(head) - 2))
            continue
        marks = r["peak_rss_after_step_mib"]
        after = " / ".join(
            f"{marks[str(k)]:.0f}" if str(k) in marks else "—" for k in E2E_CONV_MARKS
        )
        per_step = "—" if r["ms_per_step"] is None else f"{r['ms_per_step']:,.0f}"
        lines.append(
            f"| {impl} | {r['steps']} | {r['load_s']:.2f} | {r['first_step_ms']:,.0f} | "
            f"{per_step} | {r['rss_loaded_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
            f"{r['peak_rss_mib'] - r['rss_loaded_mib']:.0f} | {after} | "
            f"{_fmt_x(_ratio(r['peak_rss_mib'], base))} |"
        )
    return "\n".join(lines)


def targets(micro1, e2e1, acc_tolerance):
    rows = []
    for label, key, kind, target in TARGETS:
        if key not in micro1:
            continue
        d = derived(micro1[key]["times"])
        value = d[kind]
        shown = _fmt_pct if kind == "of_limit" else _fmt_x
        at_most = kind == "time_vs_torch"
        if value is None or target is None:
            met = None
        else:
            met = value <= target if at_most else value >= target
        floor = d["bare"][kind] if key.startswith("step") else None
        floor_str = "—" if floor is None else shown(floor)
        products_only = d["products_only_vs_torch"]
        if kind == "vs_torch" and products_only is not None:
            floor_str += f"; products alone {_fmt_x(products_only)}"
        if at_most and products_only:
            floor_str += f"; products alone {_fmt_x(1 / products_only)}"
        if target is None:
            goal_str = "(reported)"
        else:
            goal_str = ("<= " if at_most else ">= ") + shown(target)
        rows.append(
            {
                "target": label,
                "measured": value,
                "goal": target,
                "met": met,
                "bare_numpy": floor,
                "measured_str": shown(value),
                "goal_str": goal_str,
                "bare_str": floor_str,
            }
        )
    ok = {k: v for k, v in (e2e1 or {}).items() if "error" not in v}
    if "textbook" in ok and "layerwise" in ok:
        tb, lw = e2e1["textbook"], e2e1["layerwise"]
        frac = lw["wall_s"] / tb["wall_s"]
        rows.append(
            {
                "target": "end to end: layerwise wall / textbook wall",
                "measured": frac,
                "goal": 1 / 3,
                "met": frac <= 1 / 3,
                "measured_str": f"{frac:.3f}",
                "goal_str": "<= 0.333",
            }
        )
        rss = lw["peak_rss_mib"]
        rows.append(
            {
                "target": "end to end: layerwise peak RSS",
                "measured": rss,
                "goal": 250,
                "met": rss <= 250,
                "measured_str": f"{rss:.0f} MiB",
                "goal_str": "<= 250 MiB",
            }
        )
        diff = lw["final_test_acc"] - tb["final_test_acc"]
        rows.append(
            {
                "target": "end to end: test accuracy, layerwise - textbook",
                "measured": diff,
                "goal": acc_tolerance,
                "met": abs(diff) <= acc_tolerance,
                "measured_str": f"{100 * diff:+.2f} pt",
                "goal_str": f"within ±{100 * acc_tolerance:.1f} pt",
            }
        )
    lines = [
        "| target | measured | goal | met | straight-line NumPy, same run |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        met = "n/a" if r["met"] is None else ("met" if r["met"] else "NOT met")
        lines.append(
            f"| {r['target']} | {r['measured_str']} | {r['goal_str']} | {met} | "
            f"{r.get('bare_str', '—')} |"
        )
    return rows, "\n".join(lines)


def threads_table(micro1, micro2):
    head = ["workload", "impl", "1 thread µs", "default µs", "default / 1 thread"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = []
    for key, r1 in micro1.items():
        if key not in micro2:
            continue
        for impl in (wl.TEXTBOOK, wl.LW32, wl.TORCH, wl.LIMIT32):
            if impl not in r1["times"] or impl not in micro2[key]["times"]:
                continue
            a = r1["times"][impl]["median"]
            b = micro2[key]["times"][impl]["median"]
            rows.append({"workload": key, "impl": impl, "t1": a, "tdefault": b, "ratio": b / a})
            lines.append(f"| {r1['label']} | {impl} | {_us(a)} | {_us(b)} | {b / a:.2f} |")
    return rows, "\n".join(lines)


def _load(avg):
    return ", ".join(f"{v:.2f}" for v in avg)


def environment():
    info = threadpool_info()
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threadpools": [
            {
                k: i.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "version",
                    "num_threads",
                    "architecture",
                    "threading_layer",
                )
            }
            for i in info
        ],
        "blas_architecture": [i.get("architecture") for i in info if i["user_api"] == "blas"],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "load_average_at_start": os.getloadavg(),
    }
    if wl.torch is not None:
        env["torch"] = wl.torch.__version__
        env["torch_default_threads"] = wl.torch.get_num_threads()
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark layerwise (see the module docstring).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few repeats, a 200-iteration end-to-end on a subset, the conv nets with one "
        "thread only and 2 DeepConvNet steps for the peak memory (about 1 min)",
    )
    parser.add_argument(
        "--threads",
        choices=["1", "2", "both"],
        default="both",
        help="1: BLAS pinned to one thread; 2: the default thread pools "
        "(all cores); both (default): one table each",
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 21, quick 3)")
    parser.add_argument("--min-time", type=float, help="seconds per sample (default 0.02)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end runs")
    parser.add_argument(
        "--e2e-default-threads",
        action="store_true",
        help="also run the end-to-end experiment with the default threads (the textbook "
        "can take minutes there); implied by --threads 2",
    )
    parser.add_argument(
        "--e2e-timeout", type=float, default=1200, help="seconds per end-to-end run"
    )
    parser.add_argument(
        "--conv-steps",
        type=int,
        help="DeepConvNet training steps of the peak-memory run (default 50, quick 2; 600 is an "
        "epoch of Fashion-MNIST at batch 100)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--only", nargs="*", help="workload keys to run (default: all)")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--workers",
        help="comma-separated worker counts (e.g. 1,2,4,8,16): add the data-parallel table "
        "(benchmarks/workers.py: SimpleConvNet and DeepConvNet steps on N processes against "
        "PyTorch on N threads); with --only, the conv-step keys pick the networks",
    )
    args = parser.parse_args(argv)

    if args.no_torch:
        wl.torch = None
    rounds = args.rounds or (3 if args.quick else 21)
    min_time = args.min_time or (0.004 if args.quick else 0.02)
    settings = {"1": [1], "2": [0], "both": [1, 0]}[args.threads]
    have_data = all(
        (Path(args.data_dir) / f).exists()
        for f in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    )
    e2e_impls = ["textbook", "layerwise"] + (["torch"] if wl.torch is not None else [])

    t_start = time.perf_counter()
    data = wl.Data.load()
    print(f"data for the steps: {data.source}, {data.x_f32.shape}", file=sys.stderr)
    report = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "rounds": rounds,
        "min_time": min_time,
        "environment": environment(),
        "step_data": data.source,
        "micro": {},
        "e2e": {},
        "e2e_conv": {},
    }
    for threads in settings:
        name = "1" if threads else "default"
        print(f"micro-benchmarks, threads={name}", file=sys.stderr)
        report["micro"][name] = run_micro(data, threads, rounds, min_time, args.only, args.quick)
        want_e2e = threads or args.e2e_default_threads or settings == [0]
        if have_data and not args.no_e2e and want_e2e:
            report["e2e"][name] = {}
            for impl in e2e_impls:
                print(f"end to end {impl}, threads={name}", file=sys.stderr)
                report["e2e"][name][impl] = run_e2e(
                    impl, threads, args.quick, args.data_dir, args.e2e_timeout
                )
        if have_data and not args.no_e2e and threads == 1:
            conv_steps = args.conv_steps or (2 if args.quick else 50)
            report["e2e_conv"] = {}
            for impl in ("textbook", "layerwise"):
                print(f"DeepConvNet steps {impl}, threads=1", file=sys.stderr)
                report["e2e_conv"][impl] = run_e2e_conv(
                    impl, conv_steps, args.data_dir, args.e2e_timeout
                )

    md = [f"# layerwise benchmark ({report['date']}{', quick' if args.quick else ''})", ""]
    env = report["environment"]
    md.append(
        f"numpy {env['numpy']}, torch {env.get('torch', 'not installed')}, "
        f"{env['cpu_count']} cores, BLAS kernel (threadpoolctl architecture): "
        f"{', '.join(map(str, env['blas_architecture']))}; OPENBLAS_CORETYPE="
        f"{env['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}. "
        f"Median of {rounds} interleaved rounds, per call, µs"
        + (
            f" (the convolutional workloads: {min(rounds, 2)} rounds, one thread only)"
            if args.quick
            else ""
        )
        + f". Step data: {data.source}."
    )
    for name, micro in report["micro"].items():
        title = "BLAS pinned to 1 thread" if name == "1" else "default threads (no limit)"
        md += ["", f"## Layers and training steps, {title}", "", micro_table(micro)]
        how = sorted({h for r in micro.values() for h in r.get("how", {}).values()})
        if how:
            md += ["", f"layerwise training step measured as: {'; '.join(how)}."]
        if report["e2e"].get(name):
            done = [r for r in report["e2e"][name].values() if "error" not in r]
            iters = (
                done[0]
                if done
                else {"iters": "?", "batch": "?", "lr": "?", "train_size": "?", "test_size": "?"}
            )
            md += [
                "",
                f"## Chapter-5 experiment end to end, {title} "
                f"({iters['iters']} iterations, batch {iters['batch']}, SGD lr {iters['lr']}, "
                f"train {iters['train_size']} / test {iters['test_size']} images)",
                "",
                e2e_table(report["e2e"][name]),
            ]
    if report["e2e_conv"]:
        steps = next(iter(report["e2e_conv"].values())).get("steps", "?")
        md += [
            "",
            f"## DeepConvNet training in a fresh process, 1 BLAS thread ({steps} steps, batch "
            "100, Adam, 60,000 Fashion-MNIST images held as each implementation loads them)",
            "",
            e2e_conv_table(report["e2e_conv"]),
        ]
    if "1" in report["micro"]:
        acc_tol = 0.03 if args.quick else 0.01
        rows, table = targets(report["micro"]["1"], report["e2e"].get("1"), acc_tol)
        report["targets"] = rows
        md += ["", "## Targets (1 BLAS thread, layerwise float32)", "", table]
    if "1" in report["micro"] and "default" in report["micro"]:
        rows, table = threads_table(report["micro"]["1"], report["micro"]["default"])
        report["threads"] = rows
        md += ["", "## Default threads vs 1 thread (> 1: the default is slower)", "", table]
    if args.workers:
        from workers import workers_table

        counts = [int(n) for n in args.workers.split(",")]
        names = [n for key, n in ((SCN, "SimpleConvNet"), (DCN, "DeepConvNet"))
                 if not args.only or key in args.only]  # fmt: skip
        print(f"workers {counts}: {', '.join(names)}", file=sys.stderr)
        rows, table = workers_table(counts, names, rounds=max(3, min(rounds, 11)),
                                    log=lambda s: print(s, file=sys.stderr))  # fmt: skip
        report["workers"] = rows
        md += ["", "## Data-parallel steps: N worker processes vs PyTorch on N threads", "",
               table]  # fmt: skip
    report["total_s"] = time.perf_counter() - t_start
    report["load_average_at_end"] = os.getloadavg()
    md += [
        "",
        f"Load average (1, 5, 15 min) at start {_load(env['load_average_at_start'])}, "
        "at end "
        f"{_load(report['load_average_at_end'])}: other processes on this machine share its "
        f"{env['cpu_count']} cores; a load near or above the core count inflates the times, "
        "the default-thread ones most.",
    ]
    text = "\n".join(md) + "\n"
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    stamp = report["date"].replace(":", "").replace("-", "")
    payload = json.dumps(report, indent=1, default=float)
    (args.out / f"{stamp}{'-quick' if args.quick else ''}.json").write_text(payload)
    (args.out / "latest.json").write_text(payload)
    print(
        f"wrote {args.out / 'latest.md'} and {args.out / 'latest.json'} "
        f"({report['total_s']:.0f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
