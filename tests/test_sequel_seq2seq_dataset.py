"""layerwise.sequel.dataset.sequence against the sequel's algorithm, written here in Python.

The re-implementation seeds NumPy's global state, as the sequel does (and restores it).
"""

# ruff: noqa: NPY002

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from layerwise.datasets import DatasetNotFoundError
from layerwise.sequel.dataset import sequence

SHARED = Path("/work/shared/data/sequel")
CLONE = Path("/work/books/dlfs2/dataset")


def book_load(text, seed, vocab=None):
    """The sequel's ``sequence.load_data``, line for line, on ``text``; ``vocab`` carried over
    between calls as the sequel's module-level dicts are."""
    char_to_id, id_to_char = vocab if vocab is not None else ({}, {})
    questions, answers = [], []
    for line in io.StringIO(text, newline=None):  # as the sequel's open(file_path, 'r')
        idx = line.find("_")
        questions.append(line[:idx])
        answers.append(line[idx:-1])
    for q, a in zip(questions, answers, strict=True):
        for txt in (q, a):
            for char in txt:
                if char not in char_to_id:
                    tmp_id = len(char_to_id)
                    char_to_id[char] = tmp_id
                    id_to_char[tmp_id] = char
    x = np.zeros((len(questions), len(questions[0])), dtype=int)
    t = np.zeros((len(questions), len(answers[0])), dtype=int)
    for i, sentence in enumerate(questions):
        x[i] = [char_to_id[c] for c in sentence]
    for i, sentence in enumerate(answers):
        t[i] = [char_to_id[c] for c in sentence]
    indices = np.arange(len(x))
    state = np.random.get_state()
    np.random.seed(seed)
    np.random.shuffle(indices)
    np.random.set_state(state)
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    return ((x[:split_at], t[:split_at]), (x[split_at:], t[split_at:])), (char_to_id, id_to_char)


def _same(ours, theirs):
    for a, b in zip(
        (ours[0][0], ours[0][1], ours[1][0], ours[1][1]),
        (theirs[0][0], theirs[0][1], theirs[1][0], theirs[1][1]),
        strict=True,
    ):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [sequence.make_addition, sequence.make_dates])
@pytest.mark.parametrize("seed", [1984, 7])
def test_split_and_vocab_are_the_sequels_on_generated_text(tmp_path, make, seed):
    text = make(203, seed=3)
    path = tmp_path / "data.txt"
    path.write_text(text)
    ours = sequence.load_data(path, seed=seed)
    theirs, vocab = book_load(text, seed)
    _same(ours, theirs)
    assert sequence.get_vocab() == vocab
    assert len(ours[1][0]) == 203 // 10


@pytest.mark.parametrize(
    "name, shapes, vocab",
    [
        ("addition.txt", ((45000, 7), (45000, 5)), 13),
        ("date.txt", ((45000, 29), (45000, 11)), 59),
    ],
)
def test_the_sequels_files(name, shapes, vocab):
    if not (SHARED / name).is_file():
        pytest.skip(f"{SHARED / name} is not on this machine")
    ours = sequence.load_data(name, data_dir=SHARED)
    theirs, book_vocab = book_load((SHARED / name).read_text(), 1984)
    _same(ours, theirs)
    assert (ours[0][0].shape, ours[0][1].shape) == shapes
    assert len(sequence.get_vocab()[0]) == vocab  # ch08/AttentionSeq2seq.pkl's vocabulary: 59
    assert sequence.get_vocab() == book_vocab


def test_regression_the_vocabulary_does_not_grow_across_loads(tmp_path):
    """The sequel's dicts are module-level and never cleared: dates loaded after additions get
    ids shifted by the additions' 13 characters. Ours are the file's own."""
    add, dates = tmp_path / "a.txt", tmp_path / "d.txt"
    add.write_text(sequence.make_addition(50, seed=0))
    dates.write_text(sequence.make_dates(50, seed=0))
    sequence.load_data(add)
    after_addition = sequence.load_data(dates)
    fresh = sequence.load_data(dates)
    _same(after_addition, fresh)
    _, carried = book_load(add.read_text(), 1984)
    _, book_vocab = book_load(dates.read_text(), 1984, carried)
    assert sequence.get_vocab() == book_load(dates.read_text(), 1984)[1] != book_vocab


def test_regression_global_random_state_untouched(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(sequence.make_addition(30, seed=0))
    np.random.seed(5)
    expected = np.random.random_sample()
    np.random.seed(5)
    sequence.load_data(path)
    assert np.random.random_sample() == expected


def test_looked_up_in_data_dir_and_layerwise_data(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    (clone / "dataset").mkdir(parents=True)
    (clone / "dataset" / "addition.txt").write_text(sequence.make_addition(20, seed=1))
    expected = book_load((clone / "dataset" / "addition.txt").read_text(), 1984)[0]
    _same(sequence.load_data(data_dir=clone), expected)
    monkeypatch.setenv("LAYERWISE_DATA", str(clone / "dataset"))
    monkeypatch.chdir(tmp_path)
    _same(sequence.load_data("addition.txt"), expected)


def test_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="date.txt not found") as info:
        sequence.load_data("date.txt", data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "dataset" / "date.txt") in message
    assert "LAYERWISE_DATA: not set" in message and "make_dates" in message


@pytest.mark.parametrize(
    "text, match",
    [
        ("12+3  _15  ", "question_answer"),
        ("12+3  _15\n1+2    _3\n", "one width"),
        ("12+3 15 \n", "question_answer"),
        ("", "no lines"),
    ],
)
def test_malformed_text_is_refused(text, match):
    with pytest.raises(ValueError, match=match):
        sequence.split_text(text)


@pytest.mark.parametrize(
    "text, match",
    [
        ("_\n_\n", "the questions are empty"),
        ("_4\n_5\n_6\n", "the questions are empty"),
        ("1+1_\n2+2_\n3+3_\n", "the answers are empty"),
    ],
)
def test_regression_an_empty_question_or_answer_is_refused_naming_the_file(tmp_path, text, match):
    """The sequel's gives questions of width 0, or answers of the '_' alone: nothing to learn,
    and a model that fails only once trained."""
    path = tmp_path / "empty.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {match}"):
        sequence.load_data(path)
    with pytest.raises(ValueError, match=match):
        sequence.split_text(text)


def test_regression_a_vocabulary_given_earlier_is_not_rewritten_by_the_next_load():
    sequence.split_text(sequence.make_addition(30, seed=0))
    earlier = sequence.get_vocab()
    kept = (dict(earlier[0]), dict(earlier[1]))
    text = sequence.make_dates(30, seed=0)
    sequence.split_text(text)
    assert earlier == kept and sequence.get_vocab() is not earlier
    assert sequence.get_vocab() == book_load(text, 1984)[1]  # still afresh at each load


def test_regression_lines_end_at_newlines_only_as_in_a_file_read_in_text_mode(tmp_path):
    """str.splitlines also breaks at \\x0b, \\x0c, \\x1c-\\x1e, \\x85 and U+2028: characters of a
    question for the sequel, which reads the file in text mode (\\r\\n and \\r end a line)."""
    text = "a\x0bb_1\nc\x85d_2\r\ne\u2028f_3\rg\x1ch_4\n"
    path = tmp_path / "odd.txt"
    path.write_bytes(text.encode())
    with open(path) as f:  # the sequel's open(file_path, 'r')
        theirs, vocab = book_load(f.read(), 1984)
    _same(sequence.split_text(text), theirs)
    assert sequence.get_vocab() == vocab and "\r" not in vocab[0]
    _same(sequence.load_data(path), theirs)
    assert len(theirs[0][0]) == 4 and theirs[0][0].shape[1] == 3


def test_regression_a_byte_order_mark_is_dropped(tmp_path):
    """The sequel reads a UTF-8 BOM as a character of the first question, one wider than the
    rest: NumPy's broadcast error. Ours is an encoding mark, as utf-8-sig reads it."""
    text = sequence.make_addition(20, seed=0)
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    _same(sequence.load_data(path), book_load(text, 1984)[0])
    assert "\ufeff" not in sequence.get_vocab()[0]


def test_regression_a_file_that_is_not_utf8_is_refused_naming_it_the_byte_and_its_offset(
    tmp_path,
):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"\xef\xbb\xbf1+1_2\n1\xb62_3\n")
    with pytest.raises(ValueError) as info:
        sequence.load_data(path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xb6 at offset 10)"


@pytest.mark.parametrize("seed", [-1, 1.5, "x", 2**32, 2**40, True])
def test_regression_a_seed_randomstate_cannot_take_is_refused_in_our_words(tmp_path, seed):
    path = tmp_path / "a.txt"
    path.write_text(sequence.make_addition(20, seed=0))
    wanted = "seed must be a whole number >= 0 and < 4294967296"
    with pytest.raises(ValueError, match=f"^load_data: {wanted}"):
        sequence.load_data(path, seed=seed)
    with pytest.raises(ValueError, match=f"^split_text: {wanted}"):
        sequence.split_text(path.read_text(), seed=seed)


@pytest.mark.parametrize("seed", [0, 2**32 - 1, np.int64(5)])
def test_seeds_at_the_ends_of_the_range_are_the_sequels(tmp_path, seed):
    text = sequence.make_addition(40, seed=1)
    _same(sequence.split_text(text, seed), book_load(text, seed)[0])


def test_regression_a_folder_is_said_to_be_one(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"^{re.escape(str(tmp_path))} is a folder"):
        sequence.load_data(tmp_path)


def test_generators_are_seeded_and_correct():
    assert sequence.make_addition(40, seed=2) == sequence.make_addition(40, seed=2)
    for line in sequence.make_addition(300, seed=2).splitlines():
        q, a = line.split("_")
        assert len(q) == 7 and len(a) == 4
        left, right = q.split("+")
        assert int(left) + int(right) == int(a)
    months = {m.lower(): i for i, m in enumerate(sequence._MONTHS, 1)}
    for line in sequence.make_dates(300, seed=2).splitlines():
        q, a = line.split("_")
        assert len(q) == 29 and len(a) == 10
        y, m, d = (int(p) for p in a.split("-"))
        q = q.strip().lower()
        if "/" in q:
            assert [int(p) for p in q.split("/")] == [m, d, y % 100]
        else:
            words = q.replace(",", "").split()
            assert words[-1] == str(y) and int(words[-2]) == d
            assert any(name.startswith(words[-3]) for name, i in months.items() if i == m)


@pytest.mark.skipif(not CLONE.is_dir(), reason="the sequel's clone is not on this machine")
def test_the_clones_folder_is_found_from_a_chapter(monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.chdir(CLONE.parent / "ch08")
    assert sequence.locate("date.txt") == Path("..") / "dataset" / "date.txt"
    assert os.path.samefile(sequence.locate("date.txt"), CLONE / "date.txt")
