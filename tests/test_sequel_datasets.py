"""The sequel's datasets: PTB from files made here (no test touches the internet; mirrors are
file:// URLs), found in the search order, downloaded with its checksum, or a clear error."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from layerwise.datasets import DatasetNotFoundError
from layerwise.sequel.dataset import ptb

# The format of the PTB files: a space first, words separated by spaces, " \n" at the end.
TRAIN = " the cat sat on the mat \n a dog sat \n"
VALID = " the dog sat \n"
TEST = " a cat \n"


def write_ptb(directory, train=TRAIN, valid=VALID, test=TEST):
    directory.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (directory / ptb.FILES[split]).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $LAYERWISE_DATA, a cache of its own, no reachable mirror."""
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(ptb, "MIRRORS", [(tmp_path / "no-mirror").as_uri() + "/"])
    return tmp_path


def sequel_load(directory, data_type):
    """The sequel's dataset/ptb.py reading (its open().read() as read_text())."""
    word_to_id, id_to_word = {}, {}
    words = (directory / "ptb.train.txt").read_text().replace("\n", "<eos>").strip().split()
    for word in words:
        if word not in word_to_id:
            tmp_id = len(word_to_id)
            word_to_id[word] = tmp_id
            id_to_word[tmp_id] = word
    name = {"train": "ptb.train.txt", "val": "ptb.valid.txt", "test": "ptb.test.txt"}[data_type]
    words = (directory / name).read_text().replace("\n", "<eos>").strip().split()
    return np.array([word_to_id[w] for w in words]), word_to_id, id_to_word


@pytest.mark.parametrize("data_type", ["train", "val", "test"])
def test_ptb_reads_as_the_sequel_does(isolated, data_type):
    directory = write_ptb(isolated / "mine")
    corpus, word_to_id, id_to_word = ptb.load_data(data_type, directory)
    ref_corpus, ref_w2i, ref_i2w = sequel_load(directory, data_type)
    np.testing.assert_array_equal(corpus, ref_corpus)
    assert word_to_id == ref_w2i and id_to_word == ref_i2w
    if data_type == "train":
        assert [id_to_word[i] for i in corpus[:7]] == [
            "the",
            "cat",
            "sat",
            "on",
            "the",
            "mat",
            "<eos>",
        ]


def test_ptb_is_found_under_layerwise_data_then_in_the_cache(isolated, monkeypatch):
    write_ptb(isolated / "cache" / "layerwise" / "ptb", train=" cache words \n")
    assert list(ptb.load_vocab()[0]) == ["cache", "words", "<eos>"]
    write_ptb(isolated / "data" / "ptb", train=" env words \n")
    monkeypatch.setenv("LAYERWISE_DATA", str(isolated / "data"))
    assert list(ptb.load_vocab()[0]) == ["env", "words", "<eos>"]


def test_ptb_downloads_with_its_checksum_into_the_cache(isolated, monkeypatch):
    served = write_ptb(isolated / "served")
    for name in ptb.FILES.values():
        digest = hashlib.md5((served / name).read_bytes(), usedforsecurity=False).hexdigest()
        monkeypatch.setitem(ptb.MD5, name, digest)
    monkeypatch.setattr(
        ptb, "MIRRORS", [(isolated / "nowhere").as_uri() + "/", served.as_uri() + "/"]
    )
    corpus, _, _ = ptb.load_data("test")
    assert len(corpus) == 3
    assert (isolated / "cache" / "layerwise" / "ptb" / "ptb.test.txt").is_file()


def test_regression_ptb_download_with_a_wrong_checksum_keeps_nothing(isolated, monkeypatch):
    served = write_ptb(isolated / "served")
    monkeypatch.setattr(ptb, "MIRRORS", [served.as_uri() + "/"])  # the real MD5s: no match
    with pytest.raises(DatasetNotFoundError, match="MD5 checksum mismatch"):
        ptb.load_data()
    assert not (isolated / "cache" / "layerwise" / "ptb" / "ptb.train.txt").exists()


def test_ptb_not_found_says_where_it_looked_and_what_to_do(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        ptb.load_data("train", isolated / "empty", download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(isolated / "empty") in message and "download=False" in message
    assert "set LAYERWISE_DATA" in message


def test_ptb_refuses_an_unknown_split_and_foreign_words(isolated):
    directory = write_ptb(isolated / "mine", test=" a unicorn \n")
    with pytest.raises(ValueError, match="data_type must be 'train', 'val', 'valid' or 'test'"):
        ptb.load_data("validation", directory)
    with pytest.raises(ValueError, match="words the training file lacks"):
        ptb.load_data("test", directory)


def test_regression_a_ptb_file_not_utf8_is_refused_naming_it(isolated):
    """A damaged local file failed with the codec's bare UnicodeDecodeError."""
    directory = write_ptb(isolated / "mine")
    damaged = directory / ptb.FILES["train"]
    damaged.write_bytes(b" the cat \xff sat \n")
    with pytest.raises(ValueError, match=rf"^{damaged}: not UTF-8 text \(byte 0xff at offset 9\)$"):
        ptb.load_data("train", directory)
