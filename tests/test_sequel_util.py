"""layerwise.sequel.util against the sequel's loops (written here as the sequel writes them),
and a regression test per difference."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise.sequel.util import (
    analogy,
    clip_grads,
    convert_one_hot,
    cos_similarity,
    create_co_matrix,
    create_contexts_target,
    eval_perplexity,
    most_similar,
    normalize,
    ppmi,
    preprocess,
    to_cpu,
    to_gpu,
)

TEXT = "You say goodbye and I say hello."


def sequel_co_matrix(corpus, vocab_size, window_size):
    C = np.zeros((vocab_size, vocab_size), dtype=np.int32)
    for idx, word_id in enumerate(corpus):
        for i in range(1, window_size + 1):
            if idx - i >= 0:
                C[word_id, corpus[idx - i]] += 1
            if idx + i < len(corpus):
                C[word_id, corpus[idx + i]] += 1
    return C


def sequel_ppmi(C, eps=1e-8):
    M = np.zeros_like(C, dtype=np.float32)
    N, S = np.sum(C), np.sum(C, axis=0)
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            M[i, j] = max(0, np.log2(C[i, j] * N / (S[j] * S[i]) + eps))
    return M


def sequel_contexts_target(corpus, w):
    contexts = [
        [corpus[idx + t] for t in range(-w, w + 1) if t != 0] for idx in range(w, len(corpus) - w)
    ]
    return np.array(contexts), np.array(corpus[w:-w])


def test_preprocess_is_the_sequels():
    corpus, word_to_id, id_to_word = preprocess(TEXT)
    np.testing.assert_array_equal(corpus, [0, 1, 2, 3, 4, 1, 5, 6])
    assert word_to_id == {"you": 0, "say": 1, "goodbye": 2, "and": 3, "i": 4, "hello": 5, ".": 6}
    assert id_to_word == {i: w for w, i in word_to_id.items()}


@pytest.mark.parametrize("window_size", [1, 2, 3])
def test_co_matrix_contexts_and_one_hot_equal_the_sequels_loops(window_size):
    corpus = np.random.default_rng(window_size).integers(0, 9, 60)
    np.testing.assert_array_equal(
        create_co_matrix(corpus, 9, window_size), sequel_co_matrix(corpus, 9, window_size)
    )
    contexts, target = create_contexts_target(corpus, window_size)
    ref_contexts, ref_target = sequel_contexts_target(corpus, window_size)
    np.testing.assert_array_equal(contexts, ref_contexts)
    np.testing.assert_array_equal(target, ref_target)
    one_hot = convert_one_hot(contexts, 9)
    assert one_hot.dtype == np.int32 and one_hot.shape == (*contexts.shape, 9)
    np.testing.assert_array_equal(one_hot.argmax(-1), contexts)
    np.testing.assert_array_equal(one_hot.sum(-1), 1)


def test_ppmi_equals_the_sequels_loop():
    corpus, word_to_id, _ = preprocess(TEXT)
    C = create_co_matrix(corpus, len(word_to_id))
    np.testing.assert_allclose(ppmi(C), sequel_ppmi(C), rtol=1e-6)
    assert ppmi(C)[0, 1] == pytest.approx(1.807, abs=1e-3)  # the sequel's printed matrix


def test_regression_ppmi_of_a_word_that_never_occurs_is_zero():
    # The sequel's loop gives 0/0 = NaN for it, with a RuntimeWarning.
    C = create_co_matrix(np.array([0, 1, 0, 1]), 3)
    M = ppmi(C)
    assert np.all(np.isfinite(M)) and np.all(M[2] == 0) and np.all(M[:, 2] == 0)


def test_regression_most_similar_prints_and_returns_the_pairs(capsys):
    corpus, word_to_id, id_to_word = preprocess(TEXT)
    C = create_co_matrix(corpus, len(word_to_id))
    assert cos_similarity(C[word_to_id["you"]], C[word_to_id["i"]]) == pytest.approx(
        0.7071, abs=1e-4
    )
    top = most_similar("you", word_to_id, id_to_word, C, top=5)
    # Ties in the order of NumPy's argsort of -similarity, as the sequel's code gives them today
    # (the book prints goodbye, i, hello: an older NumPy's sort).
    assert [w for w, _ in top] == ["goodbye", "hello", "i", "and", "say"]
    assert top[0][1] == pytest.approx(0.7071, abs=1e-4)
    out = capsys.readouterr().out
    assert out.startswith("\n[query] you\n goodbye: 0.7071")
    assert most_similar("nobody", word_to_id, id_to_word, C) is None
    assert capsys.readouterr().out == "nobody is not found\n"


def test_analogy_finds_the_fourth_word(capsys):
    words = ["man", "king", "woman", "queen", "apple"]
    word_to_id = {w: i for i, w in enumerate(words)}
    id_to_word = dict(enumerate(words))
    vecs = normalize(np.array([[1, 0, 0.1], [1, 1, 0], [0, 0, 1.0], [0, 1, 1], [-1, -1, 0.2]]))
    top = analogy("man", "king", "woman", word_to_id, id_to_word, vecs, top=2, answer="queen")
    assert [w for w, _ in top] == ["queen", "apple"]
    assert "[analogy] man:king = woman:?\n==>queen:" in capsys.readouterr().out


def test_regression_normalize_returns_a_new_array():
    # The sequel's divides its argument in place (x /= s).
    x = np.array([[3.0, 4.0], [0.0, 2.0]])
    keep = x.copy()
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 1.0]])
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [0.6, 0.8])


def test_regression_normalize_leaves_a_row_of_zeros_zeros():
    # The sequel's divides by the row's length, 0: NaN and a RuntimeWarning (an error here).
    got = normalize(np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(got, [[0.0, 0.0], [0.6, 0.8]])
    np.testing.assert_array_equal(normalize(np.zeros(3)), 0)


@pytest.mark.parametrize("max_norm", [-1.0, float("nan")])
def test_regression_clip_grads_refuses_a_negative_or_nan_maximum(max_norm):
    # The sequel's multiplies by max_norm / |g|: a negative maximum turns the gradients round.
    grads = [np.full(2, 3.0)]
    with pytest.raises(ValueError, match=r"clip_grads: max_norm must be >= 0, got (-1\.0|nan)"):
        clip_grads(grads, max_norm)
    np.testing.assert_array_equal(grads[0], 3.0)


@pytest.mark.parametrize("max_norm", ["1", None, True, [1.0]])
def test_regression_clip_grads_refuses_a_maximum_that_is_no_number(max_norm):
    # The sequel's (and ours) compared it with 0: a bare TypeError from '>='.
    grads = [np.full(2, 3.0)]
    with pytest.raises(TypeError, match=r"^clip_grads: max_norm must be a finite number >= 0, got"):
        clip_grads(grads, max_norm)
    np.testing.assert_array_equal(grads[0], 3.0)
    clip_grads(grads, np.array(1.0))  # a 0-d array, as np.load gives, is a number
    clip_grads(grads, float("inf"))  # never clips, as in the sequel


def test_regression_clip_grads_refuses_integer_gradients_before_scaling_any():
    # An int gradient failed inside NumPy's in-place multiply, after the ones before it had been
    # scaled; the optimizers refuse integer parameters likewise.
    grads = [np.full(2, 30.0), np.full(3, 10)]
    with pytest.raises(TypeError, match=r"^clip_grads: grads\[1\] must be a floating-point array"):
        clip_grads(grads, 1.0)
    np.testing.assert_array_equal(grads[0], 30.0)


def test_clip_grads_scales_in_place_to_the_maximum_norm():
    grads = [np.full((2, 2), 3.0), np.full(1, 4.0)]  # norm sqrt(4 * 9 + 16) = sqrt(52)
    held = list(grads)
    clip_grads(grads, 1.0)
    assert held[0] is grads[0]
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    assert norm == pytest.approx(1.0 / (1 + 1e-6 / np.sqrt(52)), rel=1e-12)
    small = [np.full(3, 0.1)]
    clip_grads(small, 1.0)
    np.testing.assert_array_equal(small[0], 0.1)


class Recorder:
    """A model whose loss is the mean target id: records each batch."""

    def __init__(self, with_flag):
        self.batches = []
        self.with_flag = with_flag

    def forward(self, xs, ts, *args, **kwargs):
        if kwargs and not self.with_flag:
            raise TypeError("forward() got an unexpected keyword argument 'train_flg'")
        self.batches.append((xs.copy(), ts.copy(), kwargs))
        return ts.mean()


def sequel_batches(corpus, batch_size, time_size):
    size = len(corpus)
    max_iters = (size - 1) // (batch_size * time_size)
    jump = (size - 1) // batch_size
    for iters in range(max_iters):
        xs = np.zeros((batch_size, time_size), dtype=np.int32)
        ts = np.zeros((batch_size, time_size), dtype=np.int32)
        offsets = [iters * time_size + i * jump for i in range(batch_size)]
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                xs[i, t] = corpus[(offset + t) % size]
                ts[i, t] = corpus[(offset + t + 1) % size]
        yield xs, ts


@pytest.mark.parametrize("with_flag", [True, False])
def test_eval_perplexity_reads_the_corpus_as_the_sequel_does(with_flag, capsys):
    corpus = np.random.default_rng(0).integers(0, 20, 333)
    model = Recorder(with_flag)
    ppl = eval_perplexity(model, corpus, batch_size=4, time_size=7)
    ref = list(sequel_batches(corpus, 4, 7))
    assert len(model.batches) == len(ref) == 11
    for (xs, ts, kwargs), (rx, rt) in zip(model.batches, ref, strict=True):
        np.testing.assert_array_equal(xs, rx)
        np.testing.assert_array_equal(ts, rt)
        assert kwargs == ({"train_flg": False} if with_flag else {})
    assert ppl == pytest.approx(np.exp(np.mean([t.mean() for _, t in ref])), rel=1e-12)
    assert capsys.readouterr().out.startswith("evaluating perplexity ...")


def test_regression_eval_perplexity_of_a_short_corpus_says_so():
    # The sequel divides by max_iters = 0.
    with pytest.raises(ValueError, match="shorter than one batch of 10 x 35"):
        eval_perplexity(Recorder(True), np.arange(100))


@pytest.mark.parametrize("name", ["batch_size", "time_size"])
@pytest.mark.parametrize("size", [0, -1, 2.5, "2"])
def test_regression_eval_perplexity_refuses_sizes_that_are_not_whole_numbers_from_1(name, size):
    # 0 divided by zero, -1 was blamed on the corpus or failed in TimeEmbedding, 2.5 in arange.
    with pytest.raises(ValueError, match=rf"^eval_perplexity: {name} must be a whole number >= 1"):
        eval_perplexity(Recorder(True), np.arange(100), **{name: size})


def test_regression_convert_one_hot_refuses_ids_outside_the_vocabulary():
    # The sequel's loop raises an IndexError for 3, sets the last column for -1 and truncates
    # 0.5 to 0; ours compared with arange(V) and gave rows of zeros for all three.
    for ids in ([0, 3], [0, -1]):
        with pytest.raises(ValueError, match=r"^convert_one_hot: word ids must lie in \[0, 3\)"):
            convert_one_hot(np.array(ids), 3)
    with pytest.raises(TypeError, match="^convert_one_hot: word ids must be integers, got dtype"):
        convert_one_hot(np.array([0.5]), 3)
    with pytest.raises(ValueError, match="^convert_one_hot: vocab_size must be a whole number"):
        convert_one_hot(np.array([0]), 0)
    np.testing.assert_array_equal(
        convert_one_hot(np.array([2, 0], np.uint8), 3), [[0, 0, 1], [1, 0, 0]]
    )


def test_regression_similarities_of_integer_counts_do_not_wrap_round():
    # The sequel squares create_co_matrix's int32 counts in int32: 80000 ** 2 wraps round, and
    # a row's cosine with itself came out 3.04; normalize([[100000, 0]]) gave 2.663.
    C = create_co_matrix(np.array([0, 1] * 40000), 2)
    assert C.dtype == np.int32  # the sequel's counts, kept
    assert cos_similarity(C[0], C[0]) == pytest.approx(1.0)
    np.testing.assert_array_equal(normalize(np.array([[100000, 0]], np.int32)), [[1.0, 0.0]])
    assert most_similar("a", {"a": 0, "b": 1}, {0: "a", 1: "b"}, C, top=1) == [("b", 0.0)]
    x = np.array([[3.0, 4.0]], np.float32)
    assert normalize(x).dtype == np.float32  # floats keep their dtype


def test_regression_contexts_of_a_corpus_too_short_for_one_window_are_empty():
    # sliding_window_view raised "window shape cannot be larger than input array shape"; the
    # sequel returns np.array([]): shape (0,), float64. Ours keeps the shape (0, 2 w) and the
    # corpus's dtype, so that contexts[:, i] still reads.
    for corpus, w in ((np.array([0, 1, 2]), 2), (np.array([], np.int64), 1), (np.arange(2), 1)):
        contexts, target = create_contexts_target(corpus, w)
        assert contexts.shape == (0, 2 * w) and target.shape == (0,)
        assert contexts.dtype == target.dtype == corpus.dtype
    with pytest.raises(
        ValueError, match=r"^create_contexts_target: corpus must be 1-D .* \(2, 3\)$"
    ):
        create_contexts_target(np.zeros((2, 3), int))
    for w in (0, 1.5):
        with pytest.raises(
            ValueError, match="^create_contexts_target: window_size must be a whole"
        ):
            create_contexts_target(np.arange(9), w)


def test_to_cpu_and_to_gpu_go_through_the_backend():
    x = np.arange(3.0)
    assert to_cpu(x) is x
    np.testing.assert_array_equal(to_cpu([1, 2]), [1, 2])
    from layerwise.backend import DeviceUnavailableError, import_cupy

    try:
        import_cupy("cuda")
    except DeviceUnavailableError:
        with pytest.raises(DeviceUnavailableError):
            to_gpu(x)
    else:  # a GPU machine: the round trip
        np.testing.assert_array_equal(to_cpu(to_gpu(x)), x)
