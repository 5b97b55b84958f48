"""`layerwise train/evaluate/generate` of the sequel's models, run as a user would: in a subprocess.

Tiny models on text made here (a word file, additions in the sequel's format, PTB-named files),
so that each run takes seconds even with every core busy.
"""

import csv
import json
import os
import random
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cli import _interrupt_and_resume, run

from layerwise.cli import main
from layerwise.sequel.checkpoints import SequelCheckpoint
from layerwise.sequel.dataset import ptb, sequence
from layerwise.sequel.model_files import read_model_file, save_model
from layerwise.sequel.util import eval_perplexity


def _words(n_lines, seed):
    """Lines of words with a pattern to learn (each word tends to follow its predecessor)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_lines):
        start = rng.integers(0, 30)
        steps = rng.integers(0, 3, size=rng.integers(6, 14)).cumsum()
        lines.append(" ".join(f"w{(start + s) % 30}" for s in steps))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("texts")
    (folder / "words.txt").write_text(_words(500, 0), encoding="utf-8")
    (folder / "addition.txt").write_text(sequence.make_addition(1200, seed=0), encoding="utf-8")
    return folder


LM = ["--model", "better-rnnlm", "--hidden", "16", "--wordvec-size", "16", "--batch-size", "5"]
LM += ["--time-size", "8", "--lr", "5", "--dropout", "0.3", "--seed", "3"]
S2S = ["--model", "peeky-seq2seq", "--hidden", "24", "--wordvec-size", "8", "--batch-size", "32"]
S2S += ["--lr", "0.01", "--seed", "4", "--reverse"]
W2V = ["--model", "cbow", "--hidden", "32", "--window-size", "2", "--batch-size", "20"]
W2V += ["--seed", "3"]


def _history(folder):
    with open(folder / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_language_model_trains_evaluates_and_generates(tmp_path, texts, matplotlib):
    out = tmp_path / "lm"
    corpus = texts / "words.txt"
    result = run("train", *LM, "--dataset", str(corpus), "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "training better-rnnlm (BetterRnnlm, V 31, D 16, H 16)" in result.stdout
    names = {p.name for p in out.iterdir()}
    assert names >= {"model.npz", "run.json", "checkpoint.npz", "history.csv", "train_loss.csv"}
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _history(out)
    assert list(rows[0]) == ["epoch", "iterations", "train_perplexity", "val_perplexity"]
    ppl = [float(r["val_perplexity"]) for r in rows]
    assert len(ppl) == 3 and ppl[-1] < ppl[0] < 31 * 1.5  # learning, from about V
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["model"] == "better-rnnlm"
    assert record["val_perplexity"] == ppl[-1] and record["epochs_done"] == 3
    assert record["network"]["config"] == {
        "vocab_size": 31, "wordvec_size": 16, "hidden_size": 16, "dropout_ratio": 0.3
    }  # fmt: skip
    assert record["optimizer"] == {"name": "sgd", "lr": 5.0}
    assert f"final val perplexity: {ppl[-1]:.4f}" in result.stdout

    # The model file: the words in order of first appearance, <eos> after each line.
    loaded = read_model_file(out / "model.npz")
    words = [w for line in corpus.read_text().splitlines() for w in [*line.split(), "<eos>"]]
    assert loaded.vocab == list(dict.fromkeys(words))
    assert loaded.training["options"]["time_size"] == 8

    # evaluate: the perplexity of the text's last tenth, as eval_perplexity gives it.
    evaluated = run("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    ids = [loaded.word_to_id[w] for w in words]
    test = np.array(ids[len(ids) - len(ids) // 10 :])
    expected = eval_perplexity(loaded.model, test, 10, 35)
    assert f"perplexity {expected:.2f} on {len(test)} test words" in evaluated.stdout

    # generate: the same seed, the same text; another seed, another text.
    texts_written = [run("generate", str(out), "--seed", s, "--length", "40").stdout
                     for s in ("7", "7", "8")]  # fmt: skip
    assert texts_written[0] == texts_written[1] != texts_written[2]
    assert len(texts_written[0].replace(".", " ").split()) >= 20
    assert set(texts_written[0].replace(".", " ").split()) <= set(loaded.vocab)
    primed = run("generate", str(out), "--start", "w3 w4", "--seed", "7", "--length", "5")
    assert primed.returncode == 0 and primed.stdout.startswith("w3 w4"), primed.stderr


def test_a_seq2seq_model_trains_evaluates_and_answers(tmp_path, texts):
    out = tmp_path / "s2s"
    data = texts / "addition.txt"
    result = run("train", *S2S, "--dataset", str(data), "--epochs", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = _history(out)
    assert list(rows[0]) == ["epoch", "iterations", "mean_train_loss", "test_acc"]
    losses = [float(r["mean_train_loss"]) for r in rows]
    assert losses[-1] < losses[0]
    record = json.loads((out / "run.json").read_text())
    assert record["test_acc"] == float(rows[-1]["test_acc"]) and record["model"] == "peeky-seq2seq"
    loaded = read_model_file(out / "model.npz")
    assert loaded.class_name == "PeekySeq2seq"
    assert loaded.sequence == {"question_width": 7, "answer_width": 5, "reversed": True}

    # evaluate: the test split of the sequel's sequence.py, questions reversed as in training.
    evaluated = run("evaluate", str(out), "--wrong", "3")
    assert evaluated.returncode == 0, evaluated.stderr
    (_, _), (x_test, t_test) = sequence.load_data(data)
    _, id_to_char = sequence.get_vocab()
    guesses = loaded.model.generate_batch(x_test[:, ::-1], t_test[:, 0], 4)
    right = np.all(guesses == t_test[:, 1:], axis=1)
    assert f"accuracy {right.mean():.4f} ({right.sum()} of 120 test questions" in evaluated.stdout
    table = evaluated.stdout.split("wrong answers:\n")[1].splitlines()
    assert table[0].split() == ["question", "answer", "guess"] and len(table) == 4
    first = np.flatnonzero(~right)[0]
    question = "".join(id_to_char[i] for i in x_test[first]).strip()
    answer = "".join(id_to_char[i] for i in t_test[first, 1:]).strip()
    assert table[1].split()[:2] == [question, answer]

    # generate --input: the same answer as the model gives that question in the test set.
    answered = run("generate", str(out), "--input", question)
    assert answered.returncode == 0, answered.stderr
    guess = "".join(id_to_char[i] for i in guesses[first]).strip()
    assert answered.stdout == guess + "\n"


# ---------------------------------------------------------------- data sets


def test_addition_is_found_under_layerwise_data_and_said_absent_in_one_line(tmp_path, texts):
    (tmp_path / "data" / "sequel").mkdir(parents=True)
    (tmp_path / "data" / "sequel" / "addition.txt").write_bytes(
        (texts / "addition.txt").read_bytes()
    )
    env = {"LAYERWISE_DATA": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["train", *S2S, "--dataset", "addition", "--epochs", "1", "--quiet"]
    found = run(*args, "--out", str(tmp_path / "found"), env=env)
    assert found.returncode == 0, found.stderr
    record = json.loads((tmp_path / "found" / "run.json").read_text())
    assert record["dataset"]["folder"] == str(tmp_path / "data" / "sequel")

    env["LAYERWISE_DATA"] = str(tmp_path / "empty")
    missing = run(*args, "--out", str(tmp_path / "missing"), env=env, cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    assert "--dataset addition: addition.txt not found" in missing.stderr
    assert "deep-learning-from-scratch-2" in missing.stderr
    assert not (tmp_path / "missing").exists()  # a refused run leaves nothing


def test_ptb_is_read_from_files_made_here_and_said_absent_in_one_line(
    tmp_path, monkeypatch, capsys
):
    text = _words(300, 1)
    folder = tmp_path / "data" / "ptb"
    folder.mkdir(parents=True)
    lines = text.splitlines()
    for split, part in (("train", lines[:240]), ("valid", lines[240:270]), ("test", lines[270:])):
        (folder / ptb.FILES[split]).write_text("".join(f" {x} \n" for x in part))
    env = {"LAYERWISE_DATA": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = tmp_path / "ptb-run"
    args = [*LM[:-6], "--lr", "5", "--epochs", "1", "--quiet", "--out", str(out)]
    trained = run("train", *args, "--dataset", "ptb", env=env)
    assert trained.returncode == 0, trained.stderr
    corpus, _, id_to_word = ptb.load_data("train", folder)
    loaded = read_model_file(out / "model.npz")
    assert loaded.vocab == [id_to_word[i] for i in range(len(id_to_word))]
    evaluated = run("evaluate", str(out), env=env)
    test, _, _ = ptb.load_data("test", folder)
    assert f"on {len(test)} test words of ptb" in evaluated.stdout, evaluated.stderr

    # Absent, and no mirror answers: one line that says what to do, nothing written.
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(ptb, "MIRRORS", [(tmp_path / "no-mirror").as_uri() + "/"])
    assert main(["train", *args[:-1], str(tmp_path / "absent"), "--dataset", "ptb"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dataset ptb: the Penn Treebank was not found" in err
    assert "LAYERWISE_DATA" in err and not (tmp_path / "absent").exists()


# ---------------------------------------------------------------- kill and resume


def _final(folder):
    model = read_model_file(folder / "model.npz").model
    losses = (folder / "train_loss.csv").read_text()
    return model.params, (folder / "history.csv").read_text(), losses


@pytest.mark.signals
@pytest.mark.parametrize(
    "kind, args",
    [
        ("better-rnnlm", [*LM, "--epochs", "30", "--checkpoint-every", "23"]),
        ("attention-seq2seq", [
            "--model", "attention-seq2seq", "--hidden", "24", "--wordvec-size", "8",
            "--batch-size", "16", "--lr", "0.01", "--seed", "4", "--epochs", "12",
            "--checkpoint-every", "11", "--eval-samples", "40",
        ]),
        ("cbow", [*W2V, "--epochs", "40", "--checkpoint-every", "50"]),
    ],
    ids=["better-rnnlm", "attention-seq2seq", "cbow"],
)  # fmt: skip
def test_kill_and_resume_is_bit_identical(tmp_path, texts, kind, args):
    """SIGKILL at random points (and one SIGINT), resumed each time: the final parameters,
    the curves and every iteration's loss equal those of a run never stopped, bit for bit."""
    data = str(texts / ("addition.txt" if kind == "attention-seq2seq" else "words.txt"))
    args = ["train", *args, "--dataset", data, "--quiet"]
    reference = tmp_path / "reference"
    clean = run(*args, "--out", str(reference))
    assert clean.returncode == 0, clean.stderr
    expected = _final(reference)

    out = tmp_path / "stopped"
    rng = random.Random(os.environ.get("PYTEST_SEED", f"sequel-{kind}"))

    def after_kill(checkpoint):
        assert SequelCheckpoint.read(checkpoint).iteration > 0

    signals = (signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGKILL)
    outcomes = _interrupt_and_resume(args, out, signals, rng, after_kill)
    assert sum(1 for _, code in outcomes if code != 0) >= 2, outcomes
    params, history, losses = _final(out)
    assert losses == expected[2], outcomes
    assert history == expected[1], outcomes
    for p, q in zip(params, expected[0], strict=True):
        np.testing.assert_array_equal(p, q)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and len(record["resumed"]) >= 2


def test_a_killed_run_is_evaluated_from_its_checkpoint_and_resumed(tmp_path, texts):
    out = tmp_path / "lm"
    args = ["train", *LM, "--dataset", str(texts / "words.txt"), "--epochs", "1", "--quiet"]
    assert run(*args, "--out", str(out)).returncode == 0
    (out / "model.npz").unlink()  # as a run killed after its first epoch leaves it
    evaluated = run("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "using the model of its checkpoint.npz" in evaluated.stderr
    assert "perplexity" in evaluated.stdout
    extended = run("train", "--resume", str(out), "--epochs", "2")
    assert extended.returncode == 0, extended.stderr
    assert f"{out}: resuming at iteration" in extended.stdout and "epoch   2/2" in extended.stdout
    changed = run("train", "--resume", str(out), "--time-size", "9")
    assert changed.returncode == 2
    assert "--time-size 9 would change the run" in changed.stderr


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "seq2seq", "--batchnorm"], "--batchnorm does not apply to the sequel's"),
        (["--model", "rnnlm", "--workers", "2"], "--workers does not apply to the sequel's"),
        (["--time-size", "5"], "--time-size applies only to the sequel's models"),
        (["--reverse"], "--reverse applies only to the sequel's models"),
        (["--model", "rnnlm", "--dataset", "addition"], "--dataset addition is for the seq2seq"),
        (["--model", "seq2seq", "--dataset", "ptb"], "--dataset ptb is for the language models"),
        (["--model", "seq2seq", "--dataset", "sample"], "the sequel's models read text"),
        (["--dataset", "ptb"], "--dataset ptb is text, for the sequel's models"),
        (["--model", "rnnlm", "--hidden", "4", "5"], "takes one --hidden size"),
        (["--model", "better-rnnlm", "--hidden", "8"], "--wordvec-size (650) must equal"),
        (["--model", "rnnlm", "--dropout", "0.2"], "--dropout does not apply to --model rnnlm"),
        (["--model", "rnnlm", "--reverse"], "--reverse applies to the seq2seq models"),
        (["--model", "rnnlm", "--eval-samples", "9"], "--eval-samples applies to the seq2seq"),
        (["--model", "seq2seq", "--time-size", "4"], "--time-size applies to the language"),
        (["--model", "seq2seq", "--lr-decay", "4"], "--lr-decay applies to the language"),
        (["--lr-decay", "4"], "--lr-decay applies only to the sequel's models"),
        (["--model", "rnnn"], "did you mean 'rnnlm'"),
        (["--window-size", "2"], "--window-size applies only to the sequel's models"),
        (["--model", "rnnlm", "--window-size", "2"], "--window-size applies to --model cbow"),
        (["--model", "cbow", "--wordvec-size", "8"], "its word vectors are --hidden long"),
        (["--model", "skip-gram", "--time-size", "8"], "--time-size applies to the language"),
        (["--model", "cbow", "--lr-decay", "4"], "--lr-decay applies to the language"),
        (["--model", "cbow", "--dropout", "0.2"], "--dropout does not apply to --model cbow"),
        (["--model", "cbow", "--reverse"], "--reverse applies to the seq2seq models"),
        (["--model", "skip-gram", "--eval-samples", "9"], "--eval-samples applies to the seq2seq"),
        (["--model", "cbow", "--workers", "2"], "--workers does not apply to the sequel's"),
        (["--model", "cbow", "--dataset", "addition"], "--dataset addition is for the seq2seq"),
    ],
)
def test_options_a_model_does_not_take_are_usage_errors(tmp_path, args, message):
    result = run("train", *args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["rnnlm", "cbow", "seq2seq"])
def test_a_file_that_is_not_utf8_text_is_refused_in_one_line(tmp_path, capsys, model):
    data = tmp_path / "data.txt"
    data.write_bytes(b"one two \xb6 three\n" * 200)
    out = tmp_path / "o"
    assert main(["train", "--model", model, "--dataset", str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"layerwise: error: --dataset {data}: not UTF-8 text (byte 0xb6 at offset 8)\n"
    assert not out.exists()


TINY_S2S = ["--model", "seq2seq", "--hidden", "8", "--wordvec-size", "4", "--batch-size", "1"]


@pytest.mark.parametrize(
    "text, status, message",
    [
        ("1+1_2\n", 2, "its test part, the last tenth of its 1 line, is empty: give at least 10"),
        ("_\n_\n", 1, "the questions are empty (each line begins with its '_')"),
        ("_4\n_5\n_6\n", 1, "the questions are empty"),
        ("1+1_\n2+2_\n3+3_\n", 1, "the answers are empty (each line ends with its '_')"),
    ],
)
def test_regression_questions_that_cannot_train_are_refused_before_the_run(
    tmp_path, text, status, message
):
    """A test part of N // 10 = 0 rows trained, then failed in the accuracy (a bare
    ZeroDivisionError); questions or answers of no character failed in training: each left a
    failed run folder behind."""
    data, out = tmp_path / "data.txt", tmp_path / "o"
    data.write_text(text)
    args = [*TINY_S2S, "--epochs", "1", "--quiet", "--out", str(out)]
    result = run("train", *args, "--dataset", str(data))
    assert result.returncode == status, result.stderr
    assert f"error: --dataset {data}: {message}" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr and not out.exists()
    if status == 1:
        assert result.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def full_width(tmp_path_factory):
    """A seq2seq run on questions that are all 3 characters wide: its vocabulary has no space."""
    folder = tmp_path_factory.mktemp("full-width")
    data = folder / "full-width.txt"
    pairs = [(i % 10, i * 3 % 10) for i in range(1, 13)]
    data.write_text("".join(f"{a}+{b}_{(a + b) % 10}\n" for a, b in pairs))
    out = folder / "s2s"
    args = [*TINY_S2S, "--epochs", "1", "--quiet", "--out", str(out)]
    trained = run("train", *args, "--dataset", str(data))
    assert trained.returncode == 0, trained.stderr
    assert " " not in read_model_file(out / "model.npz").vocab
    return out


def test_regression_evaluate_refuses_a_test_part_of_no_questions(tmp_path, full_width):
    """np.concatenate's "need at least one array to concatenate" was all it said."""
    one = tmp_path / "one.txt"
    one.write_text("1+1_2\n")
    result = run("evaluate", str(full_width), "--dataset", str(one))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"layerwise evaluate: error: --dataset {one}: its test part, the last tenth of its 1 line, "
        "is empty: give at least 10 lines"
    )


def test_regression_generate_refuses_an_input_a_model_without_a_space_cannot_pad(full_width):
    """Padding '1+' with a space the model never saw failed with a bare KeyError: ' '; '' was
    answered as a question of spaces."""
    cases = [
        ("1+", "--input '1+': a question of this model has exactly 3 characters (its training "
         "questions were all that wide, so it knows no space to pad with)"),
        ("1+23", "--input '1+23': a question of this model has exactly 3 characters and no '_'"),
        ("", "--input '' is empty: give a question, as the data set writes one"),
    ]  # fmt: skip
    for question, message in cases:
        result = run("generate", str(full_width), "--input", question)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines()[-1] == f"layerwise generate: error: {message}"


def test_regression_a_checkpoint_named_is_said_to_be_used_as_named(full_width):
    """It was said to stand in for a model.npz absent, with model.npz beside it."""
    named = run("generate", str(full_width / "checkpoint.npz"), "--input", "1+2")
    assert named.returncode == 0, named.stderr
    assert named.stderr == (
        f"layerwise: using the model of the checkpoint {full_width / 'checkpoint.npz'}, at "
        "iteration 11 (epoch 1 finished)\n"
    )


def test_regression_evaluate_refuses_questions_of_other_widths(texts, full_width):
    """The widths the model file records were not compared: an accuracy of 0 on questions it
    could not have been asked."""
    data = texts / "addition.txt"
    result = run("evaluate", str(full_width), "--dataset", str(data))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"layerwise evaluate: error: --dataset {data}: its questions are 7 characters wide and "
        f"its answers 5 (the '_' included); {full_width / 'model.npz'} was trained on questions "
        "of 3 and answers of 2"
    )


def test_evaluating_a_language_model_on_too_short_a_text_is_refused_in_one_line(tmp_path, capsys):
    from layerwise.sequel.rnnlm import Rnnlm

    vocab = ["the", "a", "cat", "<eos>"]  # a text file's lines end in <eos>, as PTB's
    path = save_model(Rnnlm(4, 3, 3, seed=0), tmp_path / "lm.npz", vocab=vocab)
    short, enough = tmp_path / "short.txt", tmp_path / "enough.txt"
    short.write_text("the cat a the\n")  # a last tenth of 0 words
    enough.write_text("the cat a " * 7)  # 21 words and <eos>: the last 2 are read
    assert main(["evaluate", str(path), "--dataset", str(short)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"layerwise: error: --dataset {short}: its test text (the file's last tenth) has 0 words; "
        "a perplexity needs at least 2\n"
    )
    assert main(["evaluate", str(path), "--dataset", str(enough)]) == 0
    assert "perplexity" in capsys.readouterr().out


def test_generate_refuses_what_a_model_cannot_take(tmp_path, texts):
    lm, s2s = tmp_path / "lm", tmp_path / "s2s"
    common = ["--epochs", "1", "--quiet"]
    assert (
        run(
            "train", *LM, *common, "--dataset", str(texts / "words.txt"), "--out", str(lm)
        ).returncode
        == 0
    )
    assert (
        run(
            "train", *S2S, *common, "--dataset", str(texts / "addition.txt"), "--out", str(s2s)
        ).returncode
        == 0
    )
    cases = [
        ([str(lm), "--input", "1+2"], "--input is for seq2seq models"),
        ([str(lm), "--start", "w3 zz"], "'zz' is not in the model's vocabulary"),
        ([str(s2s)], "give it --input TEXT"),
        ([str(s2s), "--input", "1+2", "--seed", "3"], "--seed apply to language models"),
        ([str(s2s), "--input", "12345678"], "at most 7 characters"),
        ([str(s2s), "--input", "1*2"], "does not know the characters ['*']"),
    ]
    for args, message in cases:
        result = run("generate", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_commands_of_volume_1s_networks_refuse_a_sequel_model_by_name(tmp_path, capsys):
    from layerwise.run_folders import dataset_name
    from layerwise.sequel.rnnlm import Rnnlm

    path = save_model(Rnnlm(5, 3, 3, seed=0), tmp_path / "lm.npz")
    for command in (["gradcheck", str(path)], ["export", str(path), "--onnx", "x.onnx"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "is a model of the sequel's models, which this command does not take" in err
    record = {"dataset": {"name": str(tmp_path / "words.txt"), "files": ["words.txt"]}}
    assert dataset_name(record) == "words.txt"  # a file, not a folder "words.txt/"
    assert dataset_name({"dataset": {"name": "ptb"}}) == "ptb"


def test_a_diverging_run_is_recorded_diverged_exit_1_without_warnings(tmp_path, texts):
    out = tmp_path / "diverged"
    args = ["--model", "rnnlm", "--hidden", "8", "--wordvec-size", "8", "--batch-size", "5"]
    args += ["--time-size", "5", "--lr", "1e30", "--max-grad", "1", "--quiet"]
    result = run("train", *args, "--dataset", str(texts / "words.txt"), "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert "the run diverged: in epoch 1 the mean training loss" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "diverged" and "3 ln(31)" in record["message"]
    assert (out / "train_loss.csv").is_file() and not (out / "model.npz").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--model", "seq2seq"], {"reverse": False, "hidden": [128], "epochs": 25}),
        (["--model", "attention-seq2seq"], {"reverse": True, "hidden": [256], "dataset": "date"}),
        (["--model", "attention-seq2seq", "--no-reverse"], {"reverse": False}),
        (["--model", "peeky-seq2seq", "--reverse", "--lr", "0.01"], {"reverse": True, "lr": 0.01}),
        (["--model", "better-rnnlm"], {"dropout": 0.5, "wordvec_size": 650, "time_size": 35}),
        (["--model", "rnnlm"], {"optimizer": "sgd", "lr": 20.0, "max_grad": 0.25, "epochs": 4}),
        (["--model", "cbow"], {"window_size": 5, "hidden": [100], "batch_size": 100, "epochs": 10}),
        (["--model", "skip-gram"], {"optimizer": "adam", "lr": 0.001, "max_grad": None}),
    ],
)
def test_each_model_defaults_to_the_books_settings(args, expected):
    from layerwise.cli import _sequel, build_parser

    options = _sequel.new_options(build_parser().parse_args(["train", *args]))
    assert {k: options[k] for k in expected} == expected


def test_a_word2vec_model_trains_resumes_and_gives_nearest_words(tmp_path, texts):
    out = tmp_path / "sg"
    args = ["train", "--model", "skip-gram", "--hidden", "12", "--window-size", "2"]
    args += ["--batch-size", "50", "--dataset", str(texts / "words.txt")]
    result = run(*args, "--epochs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "training skip-gram (SkipGram, V 31, H 12, window 2)" in result.stdout
    assert [row["epoch"] for row in _history(out)] == ["1", "2"]
    loaded = read_model_file(out)
    assert loaded.class_name == "SkipGram" and loaded.config["window_size"] == 2
    assert loaded.vocab[:2] == ["w26", "w28"] and loaded.training["options"]["model"] == "skip-gram"
    extended = run("train", "--resume", str(out), "--epochs", "3", "--quiet")
    assert extended.returncode == 0, extended.stderr
    assert len(_history(out)) == 3
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["model"] == "skip-gram"

    nearest = run("evaluate", str(out), "--query", "w3", "w10")
    assert nearest.returncode == 0, nearest.stderr
    assert "[query] w3" in nearest.stdout and "[query] w10" in nearest.stdout
    # the five nearest, as most_similar ranks the model's word vectors
    vecs = read_model_file(out).model.word_vecs
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = {w: i for i, w in enumerate(loaded.vocab)}
    ranked = [loaded.vocab[i] for i in np.argsort(-(unit @ unit[ids["w3"]])) if i != ids["w3"]]
    shown = nearest.stdout.split("[query] w3")[1].split("[query]")[0].split()
    assert [w.rstrip(":") for w in shown[::2]][:5] == ranked[:5]
    generated = run("generate", str(out))
    assert generated.returncode == 2 and "is a word2vec model (SkipGram)" in generated.stderr
    unknown = run("evaluate", str(out), "--query", "nowhere")
    assert unknown.returncode == 2
    assert "--query: nowhere not in the model's 31 words" in unknown.stderr


# ---------------------------------------------------------------- the command line's edges


@pytest.fixture(scope="module")
def untrained(tmp_path_factory, texts):
    """An Rnnlm and a CBOW of the words of ``texts``, saved as built (no run: quick)."""
    from layerwise.sequel.rnnlm import Rnnlm
    from layerwise.sequel.word2vec import CBOW

    folder = tmp_path_factory.mktemp("untrained")
    text = (texts / "words.txt").read_text()
    vocab = list(dict.fromkeys(w for line in text.splitlines() for w in [*line.split(), "<eos>"]))
    corpus = np.arange(len(vocab))
    lm = save_model(Rnnlm(len(vocab), 4, 4, seed=0), folder / "lm.npz", vocab=vocab)
    cbow = save_model(CBOW(len(vocab), 4, 2, corpus, seed=0), folder / "cbow.npz", vocab=vocab)
    return {"lm": lm, "cbow": cbow}


def test_regression_a_start_of_whitespace_is_a_new_sentence(untrained, capsys):
    """--start " " failed with a bare IndexError (no word to start from); "" meant <eos>."""
    texts_written = []
    for start in ("", " ", " \t "):
        assert main(["generate", str(untrained["lm"]), "--start", start, "--seed", "5"]) == 0
        texts_written.append(capsys.readouterr().out)
    assert texts_written[0] == texts_written[1] == texts_written[2] != ""


@pytest.mark.signals
def test_regression_generate_shows_each_word_as_drawn_and_keeps_them_on_ctrl_c(untrained, capsys):
    """The whole text was built before anything was printed: --length 100000000 showed
    nothing, and Ctrl-C threw away all that had been drawn."""
    assert main(["generate", str(untrained["lm"]), "--seed", "5", "--length", "30"]) == 0
    expected = capsys.readouterr().out.split()[:20]
    argv = ["generate", str(untrained["lm"]), "--seed", "5", "--length", "100000000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerwise", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        shown, deadline = b"", time.monotonic() + 30
        while len(shown.split()) <= 20 and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 1)[0]:
                shown += os.read(proc.stdout.fileno(), 4096)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert err == b"layerwise: interrupted\n"
    text = (shown + out).decode()
    assert text.split()[:20] == expected and text.endswith("\n")


@pytest.mark.parametrize("decay", ["0.5", "0.0"])
def test_regression_an_lr_decay_below_one_is_refused(capsys, decay):
    """--lr-decay 0.5 was taken: the learning rate doubled after each epoch no better than
    the best."""
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--model", "rnnlm", "--lr-decay", decay])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.endswith(f"error: argument --lr-decay: must be a finite number >= 1, got {decay}")


@pytest.mark.parametrize(
    "model, text, message",
    [
        ("rnnlm", "", "the file holds no words (it is empty)"),
        ("rnnlm", " \n\t\n" * 50, "the file holds no words (only whitespace)"),
        ("skip-gram", "", "the file holds no words (it is empty)"),
        ("cbow", "a b a b\n" * 50, "its training text has 3 distinct words (<eos>, the end of a "
         "line, included), too few for 5 negative samples per word: give a text of at least 6"),
        ("skip-gram", "a b c d\n" * 50, "its training text has 5 distinct words"),
        # a NUL trained to the end, then the model file refused the word (save_model)
        ("rnnlm", "a b\x00 c\n" * 50, "it holds the NUL character ('b\\x00'), which a model "
         "file cannot keep: is it text?"),
        ("seq2seq", "1\x00_2\n" * 20, "it holds the NUL character ('\\x00'), which a model file "
         "cannot keep: is it text?"),
    ],
)  # fmt: skip
def test_regression_a_word_file_without_enough_words_is_refused_before_the_run(
    tmp_path, capsys, model, text, message
):
    """An empty file failed as "Rnnlm: vocab_size must be a whole number >= 1, got 0", one of
    too few distinct words as "UnigramSampler: 5 distinct negatives per target need ...": exit
    1, naming neither the file nor what it lacks."""
    data, out = tmp_path / "words.txt", tmp_path / "o"
    data.write_text(text)
    argv = ["train", "--model", model, "--hidden", "4", "--batch-size", "1", "--epochs", "1"]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--dataset", str(data), "--out", str(out), "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"layerwise train: error: --dataset {data}: {message}")
    assert not out.exists()


def test_regression_evaluate_refuses_the_options_a_model_does_not_take(
    tmp_path, capsys, untrained, full_width
):
    """evaluate ignored them without a word (--dataset and --wrong of a word2vec model, --wrong
    of a language model), where generate refuses the options a model does not take."""
    import layerwise

    volume_1 = layerwise.save(layerwise.TwoLayerNet(784, 8, 10, seed=0), tmp_path / "m.npz")
    lm, cbow, s2s = untrained["lm"], untrained["cbow"], full_width / "model.npz"
    cases = [
        ([cbow, "--dataset", "ptb"], f"{cbow} is a word2vec model (CBOW): --dataset does not "
         "apply to it; it takes --query"),
        ([cbow, "--wrong", "0", "--dataset", "date"], f"{cbow} is a word2vec model (CBOW): "
         "--dataset, --wrong do not apply to it; it takes --query"),
        ([lm, "--wrong", "3"], f"{lm} is a language model (Rnnlm): --wrong does not apply to it; "
         "it takes --dataset"),
        ([lm, "--query", "w3"], f"{lm} is a language model (Rnnlm): --query does not apply to "
         "it; it takes --dataset"),
        ([s2s, "--query", "1"], f"{s2s} is a seq2seq model (Seq2seq): --query does not apply to "
         "it; it takes --dataset, --wrong"),
        ([volume_1, "--wrong", "3"], "--wrong applies to the seq2seq models (seq2seq, "
         "peeky-seq2seq, attention-seq2seq)"),
    ]  # fmt: skip
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["evaluate", *map(str, args)])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == f"layerwise evaluate: error: {message}"
