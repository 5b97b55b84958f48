"""The sequel's chapter guides (docs/sequel/), their figures and their notebooks (issues 30-32).

The guides' code blocks and the notebooks run in tests/test_docs_blocks.py with every other page;
here: each chapter has its guide (titles of both editions, in the site's navigation, linked from
README), its notebook and the figures it shows, made by a function of docs/figures_sequel.py; the
corpus the word-level figures train on keeps the PTB's conventions, and the PTB takes its place
where it can be had.
"""

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "docs" / "sequel"
# Each chapter's titles: ゼロから作るDeep Learning ❷ 自然言語処理編 and 深度学习进阶：自然语言处理.
TITLES = {
    1: ("ニューラルネットワークの復習", "神经网络的复习"),
    2: ("自然言語と単語の分散表現", "自然语言和单词的分布式表示"),
    3: ("word2vec", "word2vec"),
    4: ("word2vecの高速化", "word2vec的高速化"),
    5: ("リカレントニューラルネットワーク（RNN）", "RNN"),
    6: ("ゲート付きRNN", "Gated RNN"),
    7: ("RNNによる文章生成", "基于RNN生成文本"),
    8: ("Attention", "Attention"),
}
FIGURE = re.compile(
    r"\]\(\.\./figures/(sequel_[\w.]+)\)|^--8<-- \"docs/figures/(sequel_[\w.]+)\"", re.M
)


def guide(n):
    return (GUIDES / f"ch{n}.md").read_text(encoding="utf-8")


def load_figures(monkeypatch=None, corpus=None):
    """docs/figures_sequel.py as a module (its corpus chosen at import, as the build does)."""
    pytest.importorskip("matplotlib")
    if monkeypatch is not None and corpus is not None:
        monkeypatch.setenv("LAYERWISE_DOCS_CORPUS", corpus)
    path = ROOT / "docs" / "figures_sequel.py"
    spec = importlib.util.spec_from_file_location("docs_figures_sequel_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("n", sorted(TITLES))
def test_each_chapter_has_a_guide_with_both_editions_titles(n):
    text = guide(n)
    japanese, chinese = TITLES[n]
    head = text.split("\n## ", 1)[0]
    assert f"**{japanese}** (ゼロから作るDeep Learning ❷ 自然言語処理編, 第{n}章)" in head
    assert f"**{chinese}** (深度学习进阶：自然语言处理, 第{n}章)" in head
    assert "```python" in text and "$$" in text, f"ch{n}: code and maths"


@pytest.mark.parametrize("n", sorted(TITLES))
def test_each_guide_is_in_the_navigation_and_readme(n):
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    assert f"sequel/ch{n}.md" in nav
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"](docs/sequel/ch{n}.md)" in readme
    assert TITLES[n][0] in readme and TITLES[n][1] in readme


@pytest.mark.parametrize("n", sorted(TITLES))
def test_each_chapter_has_a_notebook(n):
    found = sorted((ROOT / "notebooks").glob(f"sequel_ch{n}_*.py"))
    assert len(found) == 1, found
    assert f"notebooks/{found[0].name}" in guide(n)
    assert f"`{found[0].name}`" in (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")


def test_every_figure_a_guide_shows_is_made_by_the_figure_script():
    # A picture or table the pages name but no function writes would break the build only
    # after minutes of training; this finds it at once.
    script = (ROOT / "docs" / "figures_sequel.py").read_text(encoding="utf-8")
    shown = {a or b for n in TITLES for a, b in FIGURE.findall(guide(n))}
    assert {"sequel_ch1_spiral.png", "sequel_ch8_attention.png"} <= shown
    made = set(re.findall(r'"(sequel_\w+\.(?:png|md))"', script))
    assert shown <= made, f"shown but never made: {sorted(shown - made)}"


def test_the_reference_pages_and_the_guides_link_each_other():
    reference = (ROOT / "docs" / "sequel.md").read_text(encoding="utf-8")
    seq2seq = (ROOT / "docs" / "sequel-seq2seq.md").read_text(encoding="utf-8")
    assert all(f"(sequel/ch{n}.md)" in reference for n in range(1, 9))
    assert "(sequel/ch7.md)" in seq2seq and "(sequel/ch8.md)" in seq2seq
    assert "(../sequel.md)" in guide(1) and "(../sequel-seq2seq.md)" in guide(7)


def test_the_reference_corpus_keeps_the_ptb_conventions():
    figures = load_figures()
    train, val, word_to_id, id_to_word, name = figures.load_corpus()
    assert name.startswith("Python 3.") and name.endswith("Language Reference")
    assert len(train) > 20000 and len(val) == pytest.approx(len(train) / 9, rel=0.01)
    words = set(word_to_id)
    assert {"<eos>", "<unk>", "N"} <= words
    assert all(w == w.lower() and not any(c.isdigit() for c in w) for w in words - {"N"})
    assert all(id_to_word[word_to_id[w]] == w for w in words)
    # Every validation word is a training word (or <unk>), as in the PTB's files.
    assert set(np.unique(val)) <= set(np.unique(train))
    # The prose only: no grammar rule ("::=") nor code block (indented) reached the words.
    assert "stmt" not in words


def test_the_ptb_takes_the_reference_texts_place_where_it_can_be_had(tmp_path, monkeypatch):
    lines = {
        "train": " the cat sat on the mat \n the dog sat \n",
        "valid": " the dog sat on the cat \n",
        "test": " the mat \n",
    }
    for split, text in lines.items():
        (tmp_path / f"ptb.{split}.txt").write_text(text)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path))
    figures = load_figures(monkeypatch, corpus="ptb")
    train, val, word_to_id, _, name = figures.load_corpus()
    assert name == "PTB"
    assert list(train[:4]) == [0, 1, 2, 3] and len(val) == 7
    assert figures.QUERIES["ptb"] == ["you", "year", "car", "toyota"]  # the book's queries


def test_the_spiral_figure_from_a_real_run(tmp_path):
    # Chapter 1's figure end to end (about a second): the picture, and the numbers the page
    # quotes, with the seeds.
    figures = load_figures()
    numbers = {}
    figures.sequel_ch1_spiral(tmp_path, numbers)
    png = (tmp_path / "sequel_ch1_spiral.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    assert numbers["sequel_ch1"]["train_accuracy"] > 0.9  # the book: the spiral separated
    assert numbers["sequel_ch1"]["seeds"] == {"spiral": 1984, "weights": 0, "shuffle": 0}


def test_remaking_some_figures_keeps_the_others_numbers(tmp_path):
    # `python docs/figures.py OUT NAME`: the figures not named keep their numbers.
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("docs_figures_test", ROOT / "docs" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "numbers.json").write_text(json.dumps({"ch5_test_acc": 0.8, "seconds": {"x": 1}}))
    numbers = module.make_all(tmp_path, ["sequel_ch1_spiral"])
    saved = json.loads((tmp_path / "numbers.json").read_text())
    assert saved == numbers
    assert saved["ch5_test_acc"] == 0.8 and "sequel_ch1" in saved
    assert set(saved["seconds"]) == {"x", "sequel_ch1_spiral"}
    assert "sequel_ch1_spiral" in [f.__name__ for f in module.FIGURES]


def test_the_hook_remakes_the_figures_when_the_sequels_script_changes(tmp_path, monkeypatch):
    pytest.importorskip("latex2mathml")
    spec = importlib.util.spec_from_file_location("docs_hooks_test", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    docs = tmp_path / "docs"
    (docs / "figures").mkdir(parents=True)
    made = []
    (docs / "figures.py").write_text(
        "def make_all(out):\n    import sys\n    sys.modules['made'].append(str(out))\n"
    )
    (docs / "figures_sequel.py").write_text("")
    stamp = docs / "figures" / "numbers.json"
    stamp.write_text("{}")
    monkeypatch.setattr(hooks, "HERE", docs)
    monkeypatch.setattr(hooks, "OUT", docs / "figures")
    monkeypatch.setitem(sys.modules, "made", made)
    monkeypatch.delenv("LAYERWISE_DOCS_FIGURES", raising=False)
    os.utime(docs / "figures.py", (1, 1))
    os.utime(docs / "figures_sequel.py", (1, 1))
    hooks.on_pre_build({})
    assert made == []  # fresh: nothing retrained
    os.utime(docs / "figures_sequel.py", None)  # the sequel's script edited after the stamp
    os.utime(stamp, (2, 2))
    hooks.on_pre_build({})
    assert made == [str(docs / "figures")]
