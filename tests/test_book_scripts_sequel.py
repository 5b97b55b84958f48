"""``layerwise book SCRIPT`` in a clone of the sequel: its scripts run unchanged, on layerwise.

``tests/book_scripts/sequel`` stands for a reader's clone of "Deep Learning from Scratch 2":
chapter folders of scripts written for these tests in the sequel's style, decoy ``common`` and
``dataset`` packages that raise if imported (its ``common/time_layers.py`` is what marks the
clone as the sequel's) and a small ``dataset/addition.txt``. Each test copies it to a temporary
folder, runs a script in a subprocess and checks what it prints and that the clone gained or lost
no file. A small Penn Treebank in PTB's format is written where ``LAYERWISE_DATA`` points; where
PTB is to be missing, its download goes to a closed local port, so it fails at once, as it does
on a machine without internet.
"""

import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_book_scripts import refused_url

from layerwise.book import BookFinder, recognise
from layerwise.book.books import FIRST, SEQUEL
from layerwise.sequel.dataset import spiral

SCRIPTS = Path(__file__).parent / "book_scripts"
SRC = Path(__file__).parents[1] / "src"


@pytest.fixture
def clone(tmp_path):
    root = tmp_path / "deep-learning-from-scratch-2"
    shutil.copytree(SCRIPTS / "sequel", root)
    return root


@pytest.fixture
def ptb_dir(tmp_path):
    """Three PTB files of a 30-word language, lines as PTB's (a space at each end)."""
    rng = np.random.default_rng(0)
    words = ["the", "N", "<unk>", "$", *(f"w{i}" for i in range(25))]
    folder = tmp_path / "data" / "ptb"
    folder.mkdir(parents=True)
    for split, n_lines in (("train", 120), ("valid", 10), ("test", 20)):
        lines = [f" {' '.join(words)} "] if split == "train" else []  # every word in train
        for _ in range(n_lines):
            start = int(rng.integers(0, len(words) - 6))
            lines.append(f" {' '.join(words[start : start + 6])} ")  # a predictable order
        (folder / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")
    return folder.parent


def files_in(folder):
    return sorted(
        (str(p.relative_to(folder)), p.read_bytes() if p.is_file() else b"")
        for p in folder.rglob("*")
    )


def run_book(clone, script, *args, data=None, options=()):
    """``python -m layerwise book SCRIPT ARGS`` in the clone, which must not change at all."""
    before = files_in(clone)
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "XDG_CACHE_HOME": str(clone.parent / "cache"),  # no PTB in a real cache
        "LAYERWISE_BOOK_RUNS": str(clone.parent / "runs"),
        "LAYERWISE_PTB_MIRRORS": refused_url(),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("LAYERWISE_DATA", None)
    if data is not None:
        env["LAYERWISE_DATA"] = str(data)
    result = subprocess.run(
        [sys.executable, "-m", "layerwise", "book", *options, script, *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert files_in(clone) == before, "the clone changed"
    return result


def run_folder(clone):
    (folder,) = (clone.parent / "runs").iterdir()
    return folder


# What the sequel's own modules give on a star-import (read from its repository, December 2026;
# common.trainer's ``plt`` left out: matplotlib is imported only where a figure is drawn).
STAR = {
    "common.np": ["GPU", "np"],
    "common.functions": ["GPU", "cross_entropy_error", "np", "relu", "sigmoid", "softmax"],
    "common.layers": [
        *("Affine", "Dropout", "Embedding", "GPU", "MatMul", "Sigmoid", "SigmoidWithLoss"),
        *("Softmax", "SoftmaxWithLoss", "cross_entropy_error", "np", "softmax"),
    ],
    "common.time_layers": [
        *("Affine", "Dropout", "Embedding", "GPU", "GRU", "LSTM", "MatMul", "RNN", "Sigmoid"),
        *("SigmoidWithLoss", "Simple_TimeAffine", "Simple_TimeSoftmaxWithLoss", "Softmax"),
        *("SoftmaxWithLoss", "TimeAffine", "TimeBiLSTM", "TimeDropout", "TimeEmbedding"),
        *("TimeGRU", "TimeLSTM", "TimeRNN", "TimeSigmoidWithLoss", "TimeSoftmaxWithLoss"),
        *("cross_entropy_error", "np", "sigmoid", "softmax"),
    ],
    "common.optimizer": [
        *("AdaGrad", "Adam", "GPU", "Momentum", "Nesterov", "RMSprop", "SGD", "np", "sys"),
    ],
    "common.trainer": [
        *("GPU", "RnnlmTrainer", "Trainer", "clip_grads", "np", "numpy", "remove_duplicate"),
        *("sys", "time"),
    ],
    "common.util": [
        *("GPU", "analogy", "clip_grads", "convert_one_hot", "cos_similarity"),
        *("create_co_matrix", "create_contexts_target", "eval_perplexity", "eval_seq2seq"),
        *("most_similar", "normalize", "np", "os", "ppmi", "preprocess", "sys", "to_cpu"),
        "to_gpu",
    ],
    "common.base_model": [
        *("BaseModel", "GPU", "np", "os", "pickle", "sys", "to_cpu", "to_gpu"),
    ],
    "common.config": ["GPU"],
}


def test_star_imports_give_what_the_sequels_modules_give(clone):
    result = run_book(clone, "ch02/star_imports.py", *STAR)
    assert result.returncode == 0, result.stderr
    given = dict(json.loads(line) for line in result.stdout.splitlines())
    assert given == STAR


def test_recognition_of_the_sequel_and_of_the_first_book(clone, tmp_path):
    assert recognise(clone).book is SEQUEL
    assert recognise(clone).because == "common/time_layers.py"
    assert recognise(SCRIPTS).book is FIRST  # volume 1's fake clone: ch07/simple_convnet.py
    # Without common/time_layers.py, a chapter file of the sequel's still tells.
    (clone / "common" / "time_layers.py").unlink()
    (clone / "ch07" / "seq2seq.py").write_text("")
    assert recognise(clone).because == "ch07/seq2seq.py"
    bare = tmp_path / "bare"
    (bare / "common").mkdir(parents=True)
    assert recognise(bare).book is FIRST and recognise(bare).because is None
    assert "assumed" in recognise(bare).describe()
    for path, book in (("/work/books/dlfs1", FIRST), ("/work/books/dlfs2", SEQUEL)):
        if Path(path).is_dir():  # the real clones, where this machine has them
            assert recognise(Path(path)).book is book


def test_the_run_says_which_book_and_a_module_of_the_other_book_is_named_so(clone):
    result = run_book(clone, "ch02/unanswered.py")
    assert result.returncode == 1
    said = 'a clone of the sequel, "Deep Learning from Scratch 2" (it has common/time_layers.py)'
    assert said in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("ModuleNotFoundError: No module named 'common.multi_layer_net'")
    assert "taken for the sequel" in error and "common.time_layers" in error
    assert "common.multi_layer_net is the first book's" in error
    # And the other way round, in-process: the first book's finder names the sequel's module.
    finder = BookFinder(recognise(SCRIPTS))
    with pytest.raises(ModuleNotFoundError, match="common.time_layers is the sequel's"):
        finder.find_spec("common.time_layers")
    assert finder.find_spec("ch07").submodule_search_locations == [str(SCRIPTS / "ch07")]


def test_ch01_spiral_trainer_and_the_books_global_generator(clone):
    result = run_book(clone, "ch01/train.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["x (300, 2) float64", "t (300, 3) int32"]
    # The sequel's load_data leaves NumPy's global generator seeded and past its 300 draws;
    # the script's first weight is then the book's.
    rng = np.random.RandomState(1984)
    rng.randn(300)
    assert lines[2] == f"W1[0, 0] {float(0.01 * rng.randn(2, 10)[0, 0])!r}"
    assert sum(line.startswith("| epoch") for line in lines) == 60  # one line an epoch (10 steps)
    first, last = map(float, lines[-1].split()[1:])
    assert last < 0.8 * first  # the loss falls: 1.10 (chance) to about 0.8 in 60 epochs
    x, t = spiral.load_data()
    assert x.shape == (300, 2)


def test_ch04_run_folder_cross_chapter_module_and_pickles_read_safely(clone):
    result = run_book(clone, "ch04/train_vectors.py")
    assert result.returncode == 0, result.stderr
    first, last = map(float, result.stdout.splitlines()[0].split()[1:])
    assert last < 0.5 * first
    assert result.stdout.splitlines()[-1] == "GPU False"
    written = run_folder(clone) / "ch04" / "vectors.pkl"
    assert f"the script wrote {written}" in result.stderr
    assert not (clone / "ch04" / "vectors.pkl").exists()
    # A later script of the chapter reads it there, with the script's own pickle.load.
    result = run_book(clone, "ch04/read_vectors.py")
    assert result.returncode == 0, result.stderr
    assert "vectors float16 (7, 5)" in result.stdout
    assert "[query] you" in result.stdout
    # A pickle that asks for more than arrays is refused by name, in one line; nothing runs.
    marker = clone.parent / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = clone.parent / "evil.pkl"
    evil.write_bytes(pickle.dumps({"word_vecs": Payload()}))
    result = run_book(clone, "ch04/read_vectors.py", str(evil))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("layerwise book: refused to unpickle: the pickle asks for ")
    assert "system" in last_line
    assert not marker.exists()


def test_gpu_switch_without_cupy_is_one_line_naming_what_to_install(clone):
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: the switch would work")
    result = run_book(clone, "ch04/gpu.py")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("layerwise book: common.config.GPU = True asks for CuPy")
    assert "pip install 'layerwise[gpu]'" in line


def test_ch06_ch07_time_layers_save_params_and_the_next_chapter_reads_them(clone, ptb_dir):
    result = run_book(clone, "ch06/train_tiny.py", data=ptb_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("corpus ")
    assert result.stdout.splitlines()[0].endswith(" vocabulary 30")
    perplexity = float(result.stdout.split("test perplexity: ")[1].split()[0])
    assert perplexity < 10  # the next word is nearly certain; chance would be 30
    saved = run_folder(clone) / "ch06" / "TinyRnnlm.pkl"
    assert f"the script wrote {saved}" in result.stderr
    assert saved.read_bytes()[:2] == b"PK"  # layerwise's safe file, whatever the name
    result = run_book(clone, "ch07/generate_tiny.py", data=ptb_dir)
    assert result.returncode == 0, result.stderr
    generated = result.stdout.splitlines()[-1].split()
    assert generated == ["the", "N", "<unk>", "$", "w0"]  # the language's order, learned


def test_a_shipped_pickle_of_the_sequels_kind_is_read_through_the_run_folder(clone, ptb_dir):
    # The sequel ships ch06/Rnnlm.pkl: a pickled list of float16 arrays. Here the clone ships
    # one for TinyRnnlm (8-wide embedding of 30 words, LSTM, affine), read from ../ch06.
    rng = np.random.default_rng(1)
    shapes = [(30, 8), (8, 32), (8, 32), (32,), (8, 30), (30,)]
    arrays = [rng.standard_normal(shape).astype(np.float16) for shape in shapes]
    with open(clone / "ch06" / "TinyRnnlm.pkl", "wb") as f:
        pickle.dump(arrays, f)
    result = run_book(clone, "ch07/generate_tiny.py", data=ptb_dir)
    assert result.returncode == 0, result.stderr
    shipped = f"embed[0, 0] {float(arrays[0][0, 0].astype(np.float32))!r}"
    assert shipped in result.stdout
    copy = run_folder(clone) / "ch06" / "TinyRnnlm.pkl"
    assert copy.read_bytes() == pickle.dumps(arrays)
    assert "written by an earlier run" not in result.stderr
    # Trained weights replace the shipped ones in the run folder only, and are read, said so.
    assert run_book(clone, "ch06/train_tiny.py", data=ptb_dir).returncode == 0
    result = run_book(clone, "ch07/generate_tiny.py", data=ptb_dir)
    assert result.returncode == 0, result.stderr
    assert "../ch06/TinyRnnlm.pkl there was written by an earlier run" in result.stderr
    assert shipped not in result.stdout


def test_without_ptb_one_line_says_it_could_not_be_had_and_how_to_provide_it(clone):
    result = run_book(clone, "ch06/train_tiny.py")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "layerwise: downloading http://127.0.0.1:" in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("layerwise book: PTB could not be had: ptb.train.txt")
    assert "set LAYERWISE_DATA" in line and "LAYERWISE_PTB_MIRRORS" in line
    # The failed download is remembered: not tried again for an hour, and said so.
    result = run_book(clone, "ch07/generate_tiny.py")
    assert result.returncode == 1 and "downloading" not in result.stderr
    failed = clone.parent / "cache" / "layerwise" / "ptb" / "download-failed.txt"
    line = result.stderr.strip().splitlines()[-1]
    assert "the download failed 0 minutes ago (http://127.0.0.1:" in line
    assert f"once you delete {failed})" in line


def test_ch07_sequence_reads_the_clones_dataset_and_eval_seq2seq(clone):
    result = run_book(clone, "ch07/show_sequence.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The sequel's load_data leaves the global generator seeded and past its shuffle.
    rng = np.random.RandomState(1984)
    rng.shuffle(np.arange(200))
    assert lines[0] == f"next draw {rng.randint(1000)}"
    assert lines[1:3] == ["(180, 7) (180, 5)", "(20, 7) (20, 5)"]
    question, answer = lines[3].split("|")
    assert answer.startswith("_") and eval(question) == int(answer[1:])  # noqa: S307 - a sum
    assert lines[4].startswith("Q ") and lines[5].startswith("T ")
    assert lines[-1] == "val acc 100.000%"


def test_a_chapter_module_importing_its_neighbour_by_bare_name_from_another_chapter(clone):
    # The sequel's ch08/train.py imports ch07.peeky_seq2seq, which says `from seq2seq import`:
    # under plain python that fails outside ch07. The one chapter that has it is taken.
    result = run_book(clone, "ch08/reuse.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "accuracy 1.0\n"
    assert "no module named 'answerer' beside the script: taking ch07/answerer.py" in result.stderr


def test_without_a_display_each_show_saves_its_figures_and_closes_them(clone):
    # The sequel's ch01/train_custom_loop.py draws the loss, shows it, then draws the decision
    # regions: under Agg both went into one figure, the second drawn over the first.
    pytest.importorskip("matplotlib")
    result = run_book(clone, "ch01/show_twice.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "open after the first show: 0\n"
    folder = run_folder(clone) / "ch01"
    saved = [line for line in result.stderr.splitlines() if "no display: figure" in line]
    assert saved == [
        f"layerwise book: no display: figure {n} saved as {folder}/show_twice-figure{n}.png"
        for n in (1, 2, 3)
    ]
    assert "the script wrote" not in result.stderr  # the pictures are named once


def test_in_process_runs_leave_no_book_module_no_finder_and_import_afresh(
    clone, monkeypatch, capsys
):
    from layerwise.book import run_script

    monkeypatch.setenv("LAYERWISE_BOOK_RUNS", str(clone.parent / "runs"))
    finders = list(sys.meta_path)
    for _ in range(2):  # the second run imports the chapter modules again, from the clone
        run_script(clone / "ch08" / "reuse.py")
        assert capsys.readouterr().out == "accuracy 1.0\n"
        assert sys.meta_path == finders
        left = [n for n in sys.modules if n.split(".")[0] in ("common", "dataset", "ch07")]
        assert left == [] and "answerer" not in sys.modules
