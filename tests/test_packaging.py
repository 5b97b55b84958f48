"""The package as users install it: one version everywhere, files that name their writer,
type hints on the public API, and the wheel checker that CI runs (``.ci/check_wheel.py``)."""

import importlib
import importlib.metadata
import inspect
import json
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import check_wheel  # CI's script, importable through pytest's pythonpath (pyproject.toml)
import numpy as np
import pytest

import layerwise
from layerwise import TwoLayerNet, load, save
from layerwise.checkpoints import CHECKPOINT_VERSION, Checkpoint, read_checkpoint_meta
from layerwise.files import ARCHITECTURE_KEY, FORMAT_VERSION, ModelFileError, read_npz
from layerwise.optimizers import SGD

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------- one version


def test_version_is_written_in_one_place():
    # pyproject takes it from layerwise._version; no other file may spell it out.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'version = { attr = "layerwise._version.__version__" }' in pyproject
    assert 'dynamic = ["version"]' in pyproject
    spelled = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "layerwise").rglob("*.py")
        if f'"{layerwise.__version__}"' in p.read_text() and p.name != "_version.py"
    ]
    assert spelled == []


def test_installed_metadata_and_command_line_report_the_same_version():
    assert importlib.metadata.version("layerwise") == layerwise.__version__
    result = subprocess.run(
        [sys.executable, "-m", "layerwise", "--version"], capture_output=True, text=True
    )
    assert result.stdout == f"layerwise {layerwise.__version__}\n"


def test_import_layerwise_needs_neither_torch_nor_onnx():
    code = (
        "import sys\n"
        "for name in ('torch', 'onnx', 'onnxruntime'): sys.modules[name] = None\n"
        "import layerwise, layerwise.interop, layerwise.cli\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ---------------------------------------------------------------------- files name their writer


def _rewrite(path, out, key, change):
    """Copy the .npz at ``path`` to ``out`` with the JSON entry ``key`` edited by ``change``."""
    arrays = read_npz(path)
    description = json.loads(arrays[key].item())
    change(description)
    np.savez(out, **{**arrays, key: np.array(json.dumps(description))})
    return out


def test_model_file_records_the_layerwise_that_wrote_it(tmp_path):
    path = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz")
    description = json.loads(read_npz(path)[ARCHITECTURE_KEY].item())
    assert description["layerwise"] == layerwise.__version__
    assert description["version"] == FORMAT_VERSION


def test_newer_model_file_names_its_writer_and_says_to_upgrade(tmp_path):
    path = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz")

    def from_the_future(d):
        d.update(version=FORMAT_VERSION + 1, layerwise="9.4.0")

    newer = _rewrite(path, tmp_path / "newer.npz", ARCHITECTURE_KEY, from_the_future)
    message = (
        f"model file format version {FORMAT_VERSION + 1}; layerwise {layerwise.__version__} "
        r"reads version 2; it was written by layerwise 9\.4\.0 \(upgrade layerwise to read it"
    )
    with pytest.raises(ModelFileError, match=message):
        load(newer)


def test_unknown_older_or_odd_versions_do_not_suggest_upgrading(tmp_path):
    path = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz")

    # A file from before layerwise recorded itself, with an odd version: no writer, no upgrade.
    def odd_and_unsigned(d):
        d.update(version=0)
        d.pop("layerwise")

    odd = _rewrite(path, tmp_path / "odd.npz", ARCHITECTURE_KEY, odd_and_unsigned)
    with pytest.raises(ModelFileError) as err:
        load(odd)
    assert "written by" not in str(err.value) and "upgrade" not in str(err.value)

    # What a file claims as its writer is quoted only when it looks like a version.
    def long_writer(d):
        d.update(version=FORMAT_VERSION + 1, layerwise="x" * 10_000)

    odd = _rewrite(path, tmp_path / "long.npz", ARCHITECTURE_KEY, long_writer)
    with pytest.raises(ModelFileError, match="upgrade layerwise") as err:
        load(odd)
    assert "written by" not in str(err.value) and len(str(err.value)) < 300

    # A version-2 file without the "layerwise" entry (from before files recorded it) loads.
    old = _rewrite(path, tmp_path / "old.npz", ARCHITECTURE_KEY, lambda d: d.pop("layerwise"))
    np.testing.assert_array_equal(load(old).params["W1"], load(path).params["W1"])


def _checkpoint(tmp_path):
    net = TwoLayerNet(4, 3, 2, seed=0)
    history = {"train_loss": [1.0], "train_acc": [0.5], "test_acc": [0.5]}
    checkpoint = Checkpoint.of(net, SGD(lr=0.1), epochs=1, mini_batch_size=1, train_size=1)
    checkpoint.history, checkpoint.epoch = history, 1
    return checkpoint.write(tmp_path / "ckpt.npz")


def test_checkpoint_records_the_layerwise_that_wrote_it(tmp_path):
    meta = read_checkpoint_meta(_checkpoint(tmp_path))
    assert meta["layerwise"] == layerwise.__version__
    assert meta["version"] == CHECKPOINT_VERSION


def test_newer_checkpoint_names_its_writer_and_says_to_upgrade(tmp_path):
    def from_the_future(d):
        d.update(version=CHECKPOINT_VERSION + 1, layerwise="9.4.0")

    newer = _rewrite(_checkpoint(tmp_path), tmp_path / "n.npz", "__checkpoint__", from_the_future)
    message = (
        f"checkpoint format version {CHECKPOINT_VERSION + 1}; layerwise {layerwise.__version__} "
        f"reads version {CHECKPOINT_VERSION}; it was written by layerwise 9\\.4\\.0 \\(upgrade"
    )
    with pytest.raises(ValueError, match=message):
        read_checkpoint_meta(newer)
    # An older checkpoint format is not cured by upgrading.
    older = _rewrite(newer, tmp_path / "o.npz", "__checkpoint__", lambda d: d.update(version=1))
    with pytest.raises(ValueError, match="checkpoint format version 1;") as err:
        read_checkpoint_meta(older)
    assert "upgrade" not in str(err.value)


# ---------------------------------------------------------------------- type hints

# The modules a user imports from. The command line (cli/) is a command, not an API.
PUBLIC_MODULES = [
    "layerwise",
    "layerwise.functions",
    "layerwise.layers",
    "layerwise.network",
    "layerwise.book_nets",
    "layerwise.optimizers",
    "layerwise.training",
    "layerwise.container",
    "layerwise.files",
    "layerwise.checkpoints",
    "layerwise.run_folders",
    "layerwise.datasets",
    "layerwise.util",
    "layerwise.viz",
    "layerwise.viz.graph",
    "layerwise.viz.recorder",
    "layerwise.viz.plots",
    "layerwise.interop",
    "layerwise.parallel",
]


def _public_callables():
    """Every public function, method and property of the public modules, once each."""
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module_name
        ]
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                seen.setdefault(obj, f"{obj.__module__}.{obj.__qualname__}")
            if not inspect.isclass(obj):
                continue
            for klass in obj.__mro__:
                if not klass.__module__.startswith("layerwise"):
                    continue
                for attr, value in vars(klass).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    function = value.fget if isinstance(value, property) else value
                    if inspect.isfunction(function):
                        seen.setdefault(function, f"{klass.__module__}.{function.__qualname__}")
    return seen


def test_public_api_is_annotated_and_the_package_says_so():
    callables = _public_callables()
    assert len(callables) > 130  # the layers, networks, optimizers, files, datasets, ...
    unannotated = []
    for function, name in callables.items():
        signature = inspect.signature(function)
        arguments = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
        if signature.return_annotation is signature.empty or any(
            p.annotation is p.empty for p in arguments
        ):
            unannotated.append(name)
    assert unannotated == []
    # py.typed tells type checkers and editors to read these annotations (PEP 561).
    assert (Path(layerwise.__file__).parent / "py.typed").is_file()


def test_every_module_postpones_its_annotations():
    # The convention (ruff's I002 adds the line): hints stay the text the code wrote.
    missing = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "src" / "layerwise").rglob("*.py"))
        if "from __future__ import annotations" not in p.read_text()
    ]
    assert missing == []


def test_signatures_read_as_written():
    """help() and inspect.signature show each hint as written, not NumPy's expansion of it.

    Without postponed annotations ``npt.ArrayLike`` is shown expanded into the union it stands
    for, some 300 characters of ``Union[numpy._typing._array_like._Buffer, ...]``:
    BatchNormalization's signature was 1,372 characters, Convolution's 649.
    """
    signatures = {name: str(inspect.signature(f)) for f, name in _public_callables().items()}
    assert [name for name, text in signatures.items() if "_typing" in text] == []
    # A parameter as written takes 20 to 45 characters (`gamma: 'npt.ArrayLike'`,
    # `conv_param_1: 'dict[str, int] | None' = None`) and a return hint up to 64 (array_keys);
    # one expanded ArrayLike alone takes 300. So at most 120 characters and 40 a parameter: the
    # longest today is the Trainer's (18 parameters, 558 characters), then DeepConvNet's (the
    # book's six conv_param_N, 502).
    too_long = {
        name: len(text)
        for f, name in _public_callables().items()
        if len(text := signatures[name]) > 120 + 40 * len(inspect.signature(f).parameters)
    }
    assert too_long == {}
    help_text = pydoc.render_doc(layerwise.BatchNormalization, renderer=pydoc.plaintext)
    # Python 3.13's pydoc writes a long signature a parameter a line: read it as one line.
    one_line = re.sub(r"\(\s*\|?\s+", "(", re.sub(r",\n\s*\|?\s*", ", ", help_text))
    assert "BatchNormalization(gamma: 'npt.ArrayLike', beta: 'npt.ArrayLike'," in one_line
    assert "forward(self, x: 'npt.ArrayLike', train_flg: 'bool' = True)" in one_line
    assert "Union[" not in help_text
    sequential = pydoc.render_doc(layerwise.Sequential, renderer=pydoc.plaintext)
    assert "predict(self, x: 'npt.ArrayLike'" in sequential and "Union[" not in sequential


# ---------------------------------------------------------------------- the wheel checker


def test_wheel_checker_accepts_the_package_and_its_metadata():
    expected = check_wheel.package_files()
    assert "layerwise/data/fashion_mnist_sample.npz" in expected
    assert "layerwise/py.typed" in expected and "layerwise/layers/conv.py" in expected
    assert not any("__pycache__" in name for name in expected)
    dist_info = ["layerwise-0.1.0.dist-info/METADATA", "layerwise-0.1.0.dist-info/licenses/LICENSE"]
    assert check_wheel.wheel_problems([*expected, *dist_info], expected) == []


def test_wheel_checker_names_missing_and_stray_files():
    expected = check_wheel.package_files()
    names = [n for n in expected if not n.endswith(("sample.npz", "conv.py"))] + ["tests/x.py"]
    assert check_wheel.wheel_problems(names, expected) == [
        "missing from the wheel: layerwise/data/fashion_mnist_sample.npz",
        "missing from the wheel: layerwise/layers/conv.py",
        "missing from the wheel: the license, *.dist-info/licenses/LICENSE",
        "not part of the package: tests/x.py",
    ]
    wanted = ["LICENSE", "pyproject.toml", "tests/conftest.py", *("src/" + n for n in expected)]
    sdist = ["layerwise-0.1.0/" + n for n in wanted if n not in ("LICENSE", "tests/conftest.py")]
    assert check_wheel.sdist_problems(sdist, wanted) == [
        "missing from the sdist: LICENSE",
        "missing from the sdist: tests/conftest.py",
    ]
