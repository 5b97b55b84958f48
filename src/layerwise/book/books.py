"""Which book a clone is: "Deep Learning from Scratch" or its sequel, told from its files.

Both repositories have ``common/``, ``dataset/`` and chapter folders ``ch01`` ... ``ch08``,
but their contents differ: only the sequel has ``common/time_layers.py`` (and chapter files
such as ``ch06/rnnlm.py``), only the first book ``dataset/mnist.py`` (and
``ch07/simple_convnet.py``). :func:`recognise` looks for those files in that order and names
the one it found, so that every message can say why the clone was taken for that book.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FIRST", "SEQUEL", "Book", "BookScriptError", "Recognised", "recognise"]

_HERE = Path(__file__).parent


class BookScriptError(RuntimeError):
    """What a book script asked for cannot be had here (CuPy for ``config.GPU = True``, the
    Penn Treebank without internet); the message is one line that says what to do, and
    ``layerwise book`` prints it instead of a traceback."""


@dataclass(frozen=True)
class Book:
    """One of the two books: its names, where its answering modules live, what they answer.

    Attributes
    ----------
    key : str
        ``"first"`` or ``"sequel"``.
    name : str
        How messages call it: ``"the first book"``, ``"the sequel"``.
    title : str
        The English title, for messages.
    modules : Path
        The folder holding this package's ``common/`` and ``dataset/`` for the book.
    answered : frozenset of str
        The book's module names the import hook answers.
    markers : tuple of str
        Files of a clone, relative to it, that only this book's repository has.
    """

    key: str
    name: str
    title: str
    modules: Path
    answered: frozenset[str]
    markers: tuple[str, ...]

    def listing(self) -> str:
        """The answered modules, ``common`` and ``dataset`` themselves left out."""
        return ", ".join(sorted(name for name in self.answered if "." in name))


FIRST = Book(
    "first",
    "the first book",
    '"Deep Learning from Scratch"',
    _HERE,
    frozenset(
        {
            "common",
            "common.functions",
            "common.gradient",
            "common.layers",
            "common.multi_layer_net",
            "common.multi_layer_net_extend",
            "common.optimizer",
            "common.trainer",
            "common.util",
            "dataset",
            "dataset.mnist",
        }
    ),
    (
        "common/multi_layer_net.py",
        "dataset/mnist.py",
        "ch07/simple_convnet.py",
        "ch08/deep_convnet.py",
        "ch05/two_layer_net.py",
    ),
)

SEQUEL = Book(
    "sequel",
    "the sequel",
    '"Deep Learning from Scratch 2"',
    _HERE / "sequel",
    frozenset(
        {
            "common",
            "common.base_model",
            "common.config",
            "common.functions",
            "common.layers",
            "common.np",
            "common.optimizer",
            "common.time_layers",
            "common.trainer",
            "common.util",
            "dataset",
            "dataset.ptb",
            "dataset.sequence",
            "dataset.spiral",
        }
    ),
    (
        "common/time_layers.py",
        "dataset/ptb.py",
        "ch06/rnnlm.py",
        "ch07/seq2seq.py",
        "ch08/attention_seq2seq.py",
        "ch04/negative_sampling_layer.py",
        "ch05/simple_rnnlm.py",
    ),
)


@dataclass(frozen=True)
class Recognised:
    """A clone and the book it was taken for: ``because`` is the marker file found, or None
    when no marker was (the first book is then assumed, as before the sequel was answered)."""

    clone: Path
    book: Book
    because: str | None

    def describe(self) -> str:
        """``'the sequel, "..." (it has common/time_layers.py)'``, for messages."""
        named = f"{self.book.name}, {self.book.title}"
        if self.because is None:
            return (
                f"{named} (assumed: none of the files that tell the books apart is there, "
                f"e.g. {FIRST.markers[0]} or {SEQUEL.markers[0]})"
            )
        return f"{named} (it has {self.because})"


def recognise(clone: Path) -> Recognised:
    """Which book ``clone`` (the folder holding ``common/``, ``dataset/``, ``ch01`` ...) is.

    The sequel's markers are looked for first: its ``common/time_layers.py`` settles it.
    """
    for book in (SEQUEL, FIRST):
        for marker in book.markers:
            if (clone / marker).is_file():
                return Recognised(clone, book, marker)
    return Recognised(clone, FIRST, None)


def dataset_folders() -> list[Path]:
    """The clone's ``dataset/`` folder: beside the running script's chapter folder, then
    beside the working directory's (``python`` run from a chapter folder of the clone)."""
    from layerwise.book import running_script  # here: the package imports this module

    script = running_script()
    folders = [Path.cwd().parent / "dataset"]
    if script is not None:
        folders.insert(0, script.parent.parent / "dataset")
    return list(dict.fromkeys(folders))
