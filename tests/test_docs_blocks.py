"""Every ```python block of README.md and docs/**/*.md runs as written; every notebook executes.

README.md is read when the tests run (not when this file was written), so a block added to it is
covered at once. The blocks of one page run in order in one fresh interpreter, in a temporary
folder, sharing their names as a reader pasting them one after another would. A block is skipped
only when the line above it says why: ``<!-- no-test: needs a GPU -->``.

README's short examples assume what a reader of it has: a run folder (``runs/r/model.npz``, and
``model.pt`` exported from it) and MNIST's files. The test makes those first: a fresh TwoLayerNet
saved there, and the shipped Fashion-MNIST sample written as MNIST's four IDX files (a stand-in,
so that the example runs offline; the shapes and format are MNIST's).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))

FENCE = re.compile(r"^```(\S*)\s*$")
NO_TEST = re.compile(r"<!--\s*no-test:\s*(\S.*?)\s*-->")
# Packages a page may use that layerwise does not require: a block needing one that is missing
# is skipped with the package's name, as the other tests skip through pytest.importorskip.
OPTIONAL = ("torch", "onnx", "onnxruntime", "matplotlib", "graphviz", "tqdm")


def python_blocks(text):
    """The ```python blocks of a Markdown text: a list of (line number, code, skip reason or None).

    The line number is that of the block's first line of code (1-based).
    """
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if m and m.group(1):
            lang, start = m.group(1), i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if lang == "python":
                above = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
                reason = NO_TEST.search(above)
                blocks.append((start + 1, "\n".join(lines[start:j]), reason and reason.group(1)))
            i = j + 1
        else:
            i += 1
    return blocks


RUNNER = """
import sys
if __name__ == "__main__":  # not when a worker process imports this script (spawn, forkserver)
    namespace = {"__name__": "__main__"}
    for path, line, code in BLOCKS:
        print(f"--- block at {path}:{line}", flush=True)
        # Blank lines before the code make tracebacks give the page's own line numbers.
        exec(compile("\\n" * (line - 1) + code, path, "exec"), namespace)
"""


def write_idx(path, array):
    """An IDX file of unsigned bytes (magic 0x08, then the number of dimensions)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_reader_files(folder):
    """What README's examples expect a reader to have: a run folder and MNIST's files."""
    import layerwise
    from layerwise.datasets import load_sample

    run = folder / "runs" / "r"
    run.mkdir(parents=True)
    layerwise.save(layerwise.TwoLayerNet(784, 50, 10, seed=0), run / "model.npz")
    try:
        import torch

        from layerwise.interop import to_torch

        module = to_torch(layerwise.load(run / "model.npz"))
        torch.save(module.state_dict(), folder / "model.pt")
    except ImportError:
        pass
    data = folder / "data" / "mnist"
    data.mkdir(parents=True)
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=False, flatten=False)
    write_idx(data / "train-images-idx3-ubyte", x_train[:, 0])
    write_idx(data / "train-labels-idx1-ubyte", t_train)
    write_idx(data / "t10k-images-idx3-ubyte", x_test[:, 0])
    write_idx(data / "t10k-labels-idx1-ubyte", t_test)


def run_blocks(blocks, folder, name):
    """Run (path, line, code) blocks in order in one fresh interpreter inside ``folder``."""
    script = folder / "_blocks.py"
    script.write_text(f"BLOCKS = {blocks!r}\n{RUNNER}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(
        MPLBACKEND="Agg",
        LAYERWISE_DATA=str(folder / "data"),
        XDG_CACHE_HOME=str(folder / "cache"),
    )
    # subprocess.run kills the interpreter when the timeout passes, so none is left behind.
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def skip_if_optional_missing(result):
    for package in OPTIONAL:
        if f"No module named '{package}'" in result.stderr:
            pytest.skip(f"needs the optional package {package}")
    if "GraphvizNotFoundError" in result.stderr:
        pytest.skip("needs Graphviz (pip install graphviz; apt-get install graphviz)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_as_written(page, tmp_path):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    runnable = [
        (str(page.relative_to(ROOT)), line, code) for line, code, skip in blocks if skip is None
    ]
    if not runnable:
        pytest.skip("no python block to run" if not blocks else "every block is marked no-test")
    make_reader_files(tmp_path)
    result = run_blocks(runnable, tmp_path, page.name)
    if result.returncode != 0:
        skip_if_optional_missing(result)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


def test_the_site_and_readme_have_python_blocks():
    # The pages the learner reads beside the book must show code, and README's blocks are found.
    for name in ["README.md", "docs/index.md", *(f"docs/chapters/ch{n}.md" for n in range(5, 9))]:
        assert python_blocks((ROOT / name).read_text(encoding="utf-8")), name


def test_a_failing_block_fails_and_names_its_line(tmp_path):
    page = "# A page\n\n```python\nx = 1\n```\n\ntext\n\n```python\n\n"
    page += "assert x == 2, 'x is 1'\n```\n"
    blocks = [("page.md", line, code) for line, code, _ in python_blocks(page)]
    assert [line for _, line, _ in blocks] == [4, 10]
    result = run_blocks(blocks, tmp_path, "page.md")
    assert result.returncode != 0
    assert 'File "page.md", line 11' in result.stderr and "x is 1" in result.stderr


def test_a_block_is_skipped_only_with_a_reason():
    page = (
        "```python\nok = 1\n```\n\n<!-- no-test: needs a GPU -->\n```python\nimport cupy\n```\n"
        "```bash\nls\n```\n"
    )
    assert [(line, skip) for line, _, skip in python_blocks(page)] == [
        (2, None),
        (7, "needs a GPU"),
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_ends_in_a_picture(notebook, tmp_path):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    nb = jupytext.read(notebook)
    source = "".join(nb.cells[1].source)
    assert 'find_spec("layerwise") is None' in source and "%pip install layerwise" in source
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env_before or ""])
    try:
        # The kernel is this interpreter (ipykernel's python3), started and shut down by nbclient.
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        )
        client.execute()
    finally:
        if env_before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_before
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert any("image/png" in out.get("data", {}) for out in code_cells[-1].outputs), (
        f"{notebook.name}'s last cell shows no picture"
    )
