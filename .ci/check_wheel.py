"""Check that the built wheel and sdist ship the whole package: ``python .ci/check_wheel.py DIST``.

Every file under ``src/layerwise`` (modules, the shipped Fashion-MNIST sample and its README,
the ``py.typed`` marker) must be in the wheel under ``layerwise/``, and the wheel must hold
nothing else but its ``.dist-info`` (with the license text in ``licenses/``). The sdist must
hold every file git tracks (the package, ``LICENSE``, ``pyproject.toml``, the tests, examples,
benchmarks and CI scripts). Prints what the wheel contains; exits 1 naming every missing or
unexpected file.
"""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "layerwise"
# Files that must be there whatever the source tree holds: the sample `layerwise train` reads
# and the marker that tells type checkers the package is typed.
REQUIRED = ("layerwise/data/fashion_mnist_sample.npz", "layerwise/py.typed")


def package_files(package=PACKAGE):
    """The package's files as the wheel names them (``layerwise/...``), bytecode left out."""
    return sorted(
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def wheel_problems(names, expected):
    """What is wrong with a wheel holding ``names`` when the package is ``expected``."""
    names = set(names)
    problems = [f"missing from the wheel: {n}" for n in sorted({*expected, *REQUIRED} - names)]
    dist_info = {n for n in names if n.split("/")[0].endswith(".dist-info")}
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in dist_info):
        problems.append("missing from the wheel: the license, *.dist-info/licenses/LICENSE")
    problems += [f"not part of the package: {n}" for n in sorted(names - set(expected) - dist_info)]
    return problems


def tracked_files(root=ROOT):
    """The files git tracks, as paths relative to ``root`` (``.gitignore`` left out)."""
    listing = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in listing.splitlines() if name != ".gitignore"]


def sdist_problems(names, wanted):
    """What is wrong with an sdist holding ``names`` (each under one top folder)."""
    inside = {n.partition("/")[2] for n in names}
    return [f"missing from the sdist: {n}" for n in sorted(set(wanted) - inside)]


def main(dist):
    dist = Path(dist)
    (wheel,) = dist.glob("layerwise-*.whl")
    (sdist,) = dist.glob("layerwise-*.tar.gz")
    expected = package_files()
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    with tarfile.open(sdist) as tf:
        sdist_names = [m.name for m in tf.getmembers() if m.isfile()]
    problems = wheel_problems(names, expected) + sdist_problems(sdist_names, tracked_files())
    print(f"{wheel.name}: {len(names)} files")
    for name in sorted(names):
        print(f"  {name}")
    print(f"{sdist.name}: {len(sdist_names)} files")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[0])
    sys.exit(main(sys.argv[1]))
