"""The sequel's layers and models on CuPy arrays (``layerwise.sequel`` through the device seam).

Two kinds of test, as in ``test_gpu.py``:

- Through the stand-in for CuPy (``tests/cupy_standin.py``, as strict as CuPy 13: no implicit
  conversion to NumPy, no host operand in arithmetic, only CuPy's functions): every layer of
  :data:`~layerwise.sequel.SEQUEL_LAYERS` (the gradient-check harness's cases) forward and
  backward on device arrays, a training step of every model, the optimizers, ``clip_grads``,
  the trainers, ``eval_perplexity``, generation, the weight files and ``state_dict``. The
  stand-in computes with NumPy, so each result is compared with the CPU's bit for bit; a
  forgotten array module, a host array leaking into a step or a silent copy back to the host
  fails here as it would on a GPU.
- Marked ``gpu``: layers and a step of each model on real CuPy in float32 against NumPy
  (skipped, with the reason, where CuPy or a GPU is missing).
"""

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from cupy_standin import make_cupy
from test_sequel_gradcheck import CASES

from layerwise import backend
from layerwise.backend import as_numpy, import_cupy, is_cupy_array
from layerwise.sequel import SEQUEL_LAYERS, TimeLSTM, optimizer
from layerwise.sequel.attention import AttentionSeq2seq, TimeAttention
from layerwise.sequel.base import is_transposed_view, move_arrays
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.rnnlm_gen import BetterRnnlmGen, RnnlmGen
from layerwise.sequel.seq2seq import PeekySeq2seq, Seq2seq, seq2seq_accuracy
from layerwise.sequel.trainer import RnnlmTrainer, Trainer, remove_duplicate
from layerwise.sequel.util import clip_grads, eval_perplexity, most_similar, to_cpu, to_gpu
from layerwise.sequel.word2vec import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram


@pytest.fixture
def standin(monkeypatch):
    """``import cupy`` gives the stand-in, with one "GPU", until the test ends."""
    backend._checked_cupy.cache_clear()  # the CuPy that backend checked and cached
    monkeypatch.setitem(sys.modules, "cupy", make_cupy())
    yield sys.modules["cupy"]
    backend._checked_cupy.cache_clear()


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _on(cupy, value):
    """``value`` on the device when it is a host array, else itself."""
    return cupy.asarray(value) if isinstance(value, np.ndarray) else value


def _same(device_value, host_value, what=""):
    """``device_value`` is a device array holding exactly ``host_value``."""
    assert is_cupy_array(device_value), f"{what}: {type(device_value).__name__} on the host"
    np.testing.assert_array_equal(as_numpy(device_value), host_value, err_msg=what)


def _on_device(layer, cupy, case):
    """A copy of ``case.layer`` on the device, with its carried state there too."""
    gpu = copy.deepcopy(layer)
    move_arrays(gpu, "cuda")
    for name, value in case.state.items():
        setattr(gpu, name, cupy.asarray(value))
    return gpu


# ---------------------------------------------------------------- every layer


def test_every_sequel_layer_has_a_device_case():
    assert {case.name.split("-")[0] for case in CASES} == set(SEQUEL_LAYERS)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_every_layer_on_device_arrays_computes_what_it_computes_on_the_host(standin, case):
    cpu = case.layer
    gpu = _on_device(cpu, standin, case)
    assert all(is_cupy_array(p) for p in [*gpu.params, *gpu.grads])
    case.prepare(cpu)
    case.prepare(gpu)
    for name, value in case.state.items():  # prepare set the host state: the device's again
        setattr(gpu, name, standin.asarray(value))
    outs_cpu = _tuple(cpu.forward(*case.args))
    outs_gpu = _tuple(gpu.forward(*(_on(standin, a) for a in case.args)))
    for k, (a, b) in enumerate(zip(outs_gpu, outs_cpu, strict=True)):
        _same(a, b, f"output {k}")  # a loss too: a 0-d device array, nothing read back
    rng = np.random.default_rng(0)
    douts = [rng.standard_normal(np.shape(o)) for o in outs_cpu if np.ndim(o)]
    backs_cpu = _tuple(cpu.backward(*douts))
    backs_gpu = _tuple(gpu.backward(*(standin.asarray(d) for d in douts)))
    for k, (a, b) in enumerate(zip(backs_gpu, backs_cpu, strict=True)):
        if b is None:
            assert a is None
        else:
            _same(a, b, f"input gradient {k}")
    for k, (a, b) in enumerate(zip(gpu.grads, cpu.grads, strict=True)):
        _same(a, b, f"grads[{k}]")
    if "h" in case.state:
        _same(gpu.dh, cpu.dh, "dh")


def _first_float(case):
    return next(i for i, a in enumerate(case.args) if np.asarray(a).dtype.kind == "f")


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.layer.params and any(np.asarray(a).dtype.kind == "f" for a in c.args)],
    ids=repr,
)
def test_a_host_float_input_to_a_device_layer_is_refused(standin, case):
    # What CuPy does with a NumPy operand: a TypeError, never a silent copy either way.
    gpu = _on_device(case.layer, standin, case)
    case.prepare(gpu)
    args = [_on(standin, a) for a in case.args]
    args[_first_float(case)] = case.args[_first_float(case)]
    with pytest.raises(TypeError):
        gpu.forward(*args)


def test_a_host_array_mixed_into_a_parameterless_layer_is_refused(standin):
    hs_enc = np.random.default_rng(0).standard_normal((2, 5, 3))
    with pytest.raises(TypeError):
        TimeAttention().forward(hs_enc, standin.asarray(hs_enc[:, :2]))


def test_ids_and_labels_given_on_the_host_go_to_the_parameters_device(standin):
    # As CuPy copies a host index array; here once, explicitly, and documented.
    model = Rnnlm(11, 4, 5, seed=0, dtype=np.float64).to("cuda")
    xs = np.array([[1, 2, 3], [4, 5, 6]])
    loss = model.forward(xs, xs + 1)
    assert is_cupy_array(loss) and is_cupy_array(model.layers[0].idx)


def test_to_moves_a_layer_there_and_back(standin):
    rng = np.random.default_rng(0)
    layer = TimeLSTM(rng.random((3, 8)), rng.random((2, 8)), np.zeros(8), stateful=True)
    layer.forward(rng.random((4, 2, 3)))
    assert layer.to("cuda") is layer and layer.device == "cuda:0"
    assert all(is_cupy_array(a) for a in [*layer.params, *layer.grads, layer.h, layer.c])
    assert layer.Wx is layer.params[0] and layer.dWx is layer.grads[0]
    assert layer.to_cpu().device == "cpu" and all(type(p) is np.ndarray for p in layer.params)


# ---------------------------------------------------------------- every model, one step


def _ids(shape, high, seed):
    return np.random.default_rng(seed).integers(0, high, shape)


V = 13
CORPUS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 5, 1])


def _onehot(ids):
    return np.eye(V)[ids]


LM_BATCH = (_ids((3, 4), V, 1), _ids((3, 4), V, 2))
S2S_BATCH = (_ids((3, 5), V, 1), _ids((3, 4), V, 2))

#: Each model, small, in float64, with a batch: (make(), x, t).
MODELS = {
    "SimpleCBOW": (
        lambda: SimpleCBOW(V, 5, seed=0, dtype=np.float64),
        _onehot(_ids((6, 2), V, 1)),
        _ids(6, V, 2),
    ),
    "SimpleSkipGram": (
        lambda: SimpleSkipGram(V, 5, seed=0, dtype=np.float64),
        _onehot(_ids((6, 2), V, 1)),
        _onehot(_ids(6, V, 2)),
    ),
    "CBOW": (
        lambda: CBOW(V, 5, 2, CORPUS, seed=0, dtype=np.float64),
        _ids((6, 4), V, 1),
        _ids(6, V, 2),
    ),
    "SkipGram": (
        lambda: SkipGram(V, 5, 2, CORPUS, seed=0, dtype=np.float64),
        _ids((6, 4), V, 1),
        _ids(6, V, 2),
    ),
    "SimpleRnnlm": (lambda: SimpleRnnlm(V, 4, 5, seed=0, dtype=np.float64), *LM_BATCH),
    "Rnnlm": (lambda: Rnnlm(V, 4, 5, seed=0, dtype=np.float64), *LM_BATCH),
    "BetterRnnlm": (lambda: BetterRnnlm(V, 5, 5, 0.3, seed=0, dtype=np.float64), *LM_BATCH),
    "Seq2seq": (lambda: Seq2seq(V, 4, 5, seed=0, dtype=np.float64), *S2S_BATCH),
    "PeekySeq2seq": (lambda: PeekySeq2seq(V, 4, 5, seed=0, dtype=np.float64), *S2S_BATCH),
    "AttentionSeq2seq": (lambda: AttentionSeq2seq(V, 4, 5, seed=0, dtype=np.float64), *S2S_BATCH),
}


def _step(model, opt, x, t):
    """The trainers' step: loss, backward, ties merged, clipped, updated. Returns the loss."""
    loss = model.forward(x, t)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    clip_grads(grads, 0.05)  # small enough to clip
    opt.update(params, grads)
    return loss


def _pair(name):
    """The model on the CPU and, built alike (the same seed), on the device."""
    make = MODELS[name][0]
    return make(), make().to("cuda")


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_on_the_device_as_on_the_host(standin, name):
    _, x, t = MODELS[name]
    cpu, gpu = _pair(name)
    assert gpu.device == "cuda:0" and all(is_cupy_array(p) for p in gpu.params)
    opt_cpu, opt_gpu = optimizer.Adam(0.01), optimizer.Adam(0.01)
    for step in range(2):  # the second step reads the optimizer's state and carried states
        loss_cpu = _step(cpu, opt_cpu, x, t)
        loss_gpu = _step(gpu, opt_gpu, standin.asarray(x), standin.asarray(t))
        _same(loss_gpu, loss_cpu, f"loss at step {step}")
    for k, (a, b) in enumerate(zip(gpu.params, cpu.params, strict=True)):
        _same(a, b, f"params[{k}]")
    assert all(is_cupy_array(m) for m in opt_gpu.m.values())


def _reads(standin, monkeypatch):
    """The sizes of the arrays read back to the host (``float``, ``bool``, ``get``...)."""
    sizes = []
    get = standin.ndarray.get

    def counted(self, *args, **kwargs):
        sizes.append(self.size)
        return get(self, *args, **kwargs)

    monkeypatch.setattr(standin.ndarray, "get", counted)
    return sizes


@pytest.mark.parametrize("name", ["SimpleRnnlm", "BetterRnnlm", "PeekySeq2seq", "AttentionSeq2seq"])
def test_a_training_step_reads_back_scalars_only(standin, monkeypatch, name):
    # The ids' range checks and clipping's norm are single numbers; no array makes a round
    # trip through the host.
    _, x, t = MODELS[name]
    gpu = MODELS[name][0]().to("cuda")
    x, t = standin.asarray(x), standin.asarray(t)
    sizes = _reads(standin, monkeypatch)
    _step(gpu, optimizer.Adam(), x, t)
    assert sizes and set(sizes) == {1}, sizes


def test_negative_sampling_reads_back_only_the_targets(standin, monkeypatch):
    _, x, t = MODELS["CBOW"]
    gpu = MODELS["CBOW"][0]().to("cuda")
    sizes = _reads(standin, monkeypatch)
    _step(gpu, optimizer.Adam(), standin.asarray(x), standin.asarray(t))
    assert set(sizes) == {1, len(t)}, sizes  # the N targets, for the sampler on the host
    sizes.clear()
    _step(gpu, optimizer.Adam(), standin.asarray(x), t)  # targets given on the host
    assert set(sizes) == {1}, sizes


def test_weight_tying_survives_the_move_there_and_back(standin):
    model = BetterRnnlm(V, 5, 5, seed=0).to("cuda")
    embed_W, affine_W = model.params[0], model.params[7]
    assert model.layers[6].params[0] is affine_W and is_transposed_view(embed_W, affine_W)
    assert len(remove_duplicate(model.params, model.grads)[0]) == len(model.params) - 1
    model.to("cpu")
    assert type(model.params[0]) is np.ndarray and is_transposed_view(*model.params[0:8:7])


def test_the_sampler_stays_on_the_host_and_draws_the_same_negatives(standin):
    cpu, gpu = _pair("CBOW")
    sampler = gpu.ns_loss.sampler
    assert type(sampler._keep) is np.ndarray and type(sampler.word_p) is np.ndarray
    _, x, t = MODELS["CBOW"]
    cpu.forward(x, t)
    gpu.forward(standin.asarray(x), standin.asarray(t))
    _same(gpu.ns_loss.negative_sample, cpu.ns_loss.negative_sample, "negatives")
    assert sampler.rng.bit_generator.state == cpu.ns_loss.sampler.rng.bit_generator.state


@pytest.mark.parametrize("name", optimizer.__all__)
def test_every_list_optimizer_updates_device_arrays_as_host_ones(standin, name):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    params_gpu = [standin.asarray(p) for p in params]
    grads_gpu = [standin.asarray(g) for g in grads]
    opt_cpu, opt_gpu = getattr(optimizer, name)(), getattr(optimizer, name)()
    for _ in range(3):
        opt_cpu.update(params, grads)
        opt_gpu.update(params_gpu, grads_gpu)
    for a, b in zip(params_gpu, params, strict=True):
        _same(a, b, name)


def test_clip_grads_scales_device_gradients_in_place(standin):
    grads = [np.full((2, 3), 2.0), np.arange(4.0)]
    grads_gpu = [standin.asarray(g) for g in grads]
    kept = list(grads_gpu)
    clip_grads(grads, 1.0)
    clip_grads(grads_gpu, 1.0)
    for a, b, same in zip(grads_gpu, grads, kept, strict=True):
        assert a is same
        _same(a, b, "clipped")


# ---------------------------------------------------------------- trainers, evaluation, files


@pytest.mark.parametrize("data_on", ["device", "host"])
def test_the_trainer_of_a_device_model_is_the_host_run(standin, capsys, data_on):
    # Data on the device, as the sequel's scripts put it, or left on the host (ids copied over).
    cpu, gpu = _pair("CBOW")
    contexts, target = _ids((40, 4), V, 3), _ids(40, V, 4)
    gpu_data = (
        map(standin.asarray, (contexts, target)) if data_on == "device" else (contexts, target)
    )
    runs = []
    for model, data in ((cpu, (contexts, target)), (gpu, gpu_data)):
        trainer = Trainer(model, optimizer.Adam(0.01), seed=0)
        trainer.fit(*data, max_epoch=2, batch_size=8, max_grad=0.5, eval_interval=2)
        runs.append(trainer.loss_list)
    assert runs[0] == runs[1] and all(type(v) is float for v in runs[1])
    for a, b in zip(gpu.params, cpu.params, strict=True):
        _same(a, b, "params after fit")
    capsys.readouterr()


def test_the_rnnlm_trainer_and_eval_perplexity_on_a_device_corpus(standin, capsys):
    cpu, gpu = _pair("Rnnlm")
    corpus = _ids(200, V, 5)
    ppl = []
    for model, data in ((cpu, corpus), (gpu, standin.asarray(corpus))):
        trainer = RnnlmTrainer(model, optimizer.SGD(0.5))
        trainer.fit(data[:-1], data[1:], max_epoch=2, batch_size=3, time_size=5, max_grad=0.25,
                    eval_interval=4)  # fmt: skip
        model.reset_state()
        ppl.append((trainer.ppl_list, eval_perplexity(model, data, batch_size=2, time_size=6)))
    assert ppl[0] == ppl[1] and type(ppl[1][1]) is float
    capsys.readouterr()


def test_generation_on_the_device_writes_the_texts_of_the_host(standin):
    for cls in (RnnlmGen, BetterRnnlmGen):
        cpu, gpu = cls(V, 5, 5, seed=0), cls(V, 5, 5, seed=0).to("cuda")
        text = gpu.generate(1, skip_ids=[3], sample_size=8, seed=2)
        assert text == cpu.generate(1, skip_ids=[3], sample_size=8, seed=2)
        pairs = gpu.get_state() if cls is BetterRnnlmGen else [gpu.get_state()]
        assert all(is_cupy_array(a) for pair in pairs for a in pair)  # (h, c) of each LSTM
    cpu, gpu = _pair("AttentionSeq2seq")
    _, xs, ts = MODELS["AttentionSeq2seq"]
    _same(gpu.generate_batch(standin.asarray(xs), 2, 4), cpu.generate_batch(xs, 2, 4))
    _same(gpu.decoder.attention_map, cpu.decoder.attention_map, "attention map")
    assert seq2seq_accuracy(gpu, standin.asarray(xs), ts) == seq2seq_accuracy(cpu, xs, ts)
    assert gpu.generate(standin.asarray(xs[:1]), 2, 3) == cpu.generate(xs[:1], 2, 3)


def test_most_similar_reads_device_word_vectors(standin, capsys):
    vecs = np.random.default_rng(0).standard_normal((5, 3))
    words = dict(enumerate("abcde"))
    ids = {w: i for i, w in words.items()}
    host = most_similar("a", ids, words, vecs, top=3)
    assert most_similar("a", ids, words, standin.asarray(vecs), top=3) == host
    capsys.readouterr()


def test_save_params_from_the_device_loads_on_the_host_and_back(standin, tmp_path):
    cpu, gpu = _pair("BetterRnnlm")
    _step(gpu, optimizer.SGD(0.1), *map(standin.asarray, MODELS["BetterRnnlm"][1:]))
    path = gpu.save_params(tmp_path / "better.pkl")
    cpu.load_params(path)  # a host file: the CPU model reads it
    for a, b in zip(gpu.params, cpu.params, strict=True):
        _same(a, b, "loaded on the host")
    other = MODELS["BetterRnnlm"][0]().to("cuda")
    kept = list(other.params)
    other.load_params(path)
    assert all(a is b and is_cupy_array(a) for a, b in zip(other.params, kept, strict=True))
    for a, b in zip(other.params, cpu.params, strict=True):
        _same(a, b, "loaded on the device")


def test_state_dict_of_a_device_model_resumes_on_the_host_and_back(standin, tmp_path):
    cpu, gpu = _pair("Rnnlm")
    _, xs, ts = MODELS["Rnnlm"]
    gpu.forward(standin.asarray(xs), standin.asarray(ts))
    state = gpu.state_dict()
    assert all(is_cupy_array(a) for a in state.values())  # copies, on the device
    np.savez(tmp_path / "state.npz", **{k: as_numpy(a) for k, a in state.items()})
    with np.load(tmp_path / "state.npz") as f:
        cpu.load_state_dict(f)
        fresh = MODELS["Rnnlm"][0]().to("cuda")
        fresh.load_state_dict(f)
    assert is_cupy_array(fresh.layers[1].h) and type(cpu.layers[1].h) is np.ndarray
    loss_gpu = fresh.forward(standin.asarray(xs), standin.asarray(ts))
    _same(loss_gpu, cpu.forward(xs, ts), "loss after resuming")


def test_to_cuda_without_cupy_says_what_is_missing_and_moves_nothing(monkeypatch):
    backend._checked_cupy.cache_clear()
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy: ImportError
    model = Rnnlm(V, 4, 5, seed=0)
    with pytest.raises(backend.DeviceUnavailableError, match="CuPy is not installed"):
        model.to("cuda")
    assert model.device == "cpu" and all(type(p) is np.ndarray for p in model.params)
    backend._checked_cupy.cache_clear()


def test_the_standin_has_what_the_sequel_reads_of_cupys_arrays(standin):
    # data.ptr (is_transposed_view) and a view through the caller's own Ellipsis (GRU's backward)
    a = standin.asarray(np.arange(6.0).reshape(2, 3))
    assert a.data.ptr == a.T.data.ptr and a[1:].data.ptr == a.data.ptr + 3 * a.itemsize
    view = a[..., :2]
    view[...] = 0
    np.testing.assert_array_equal(as_numpy(a), [[0, 0, 2], [0, 0, 5]])


def test_to_gpu_and_to_cpu_of_the_sequels_util(standin):
    a = np.arange(3.0)
    on = to_gpu(a)
    assert is_cupy_array(on) and to_gpu(on) is on
    assert type(to_cpu(on)) is np.ndarray and to_cpu(a) is a


def test_the_gpu_scripts_sequel_check_runs_its_cupy_path_through_the_stand_in(standin, capsys):
    # benchmarks/gpu.py's (e) runs on a GPU machine only: here it meets CuPy's refusals.
    spec = importlib.util.spec_from_file_location("gpu_script", BENCHMARKS / "gpu.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    report = script.Report()
    script.check_sequel(report, "cuda", dry_run=True)
    out = capsys.readouterr().out
    assert not report.failed and out.count("ok  ") == 3, out


# ---------------------------------------------------------------- on a real GPU (marked)


def _relative(a, b):
    a, b = as_numpy(a).astype(np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gpu_every_layer_equals_numpy(case):
    # float64 on both: CuPy's kernels sum in another order, so equal to rounding, not bits
    cupy = import_cupy()
    cpu = case.layer
    gpu = _on_device(cpu, cupy, case)
    case.prepare(cpu)
    case.prepare(gpu)
    for name, value in case.state.items():
        setattr(gpu, name, cupy.asarray(value))
    outs_cpu = _tuple(cpu.forward(*case.args))
    outs_gpu = _tuple(gpu.forward(*(_on(cupy, a) for a in case.args)))
    for a, b in zip(outs_gpu, outs_cpu, strict=True):
        assert is_cupy_array(a) and _relative(a, b) <= 1e-10
    rng = np.random.default_rng(0)
    douts = [rng.standard_normal(np.shape(o)) for o in outs_cpu if np.ndim(o)]
    cpu.backward(*douts)
    gpu.backward(*(cupy.asarray(d) for d in douts))
    for a, b in zip(gpu.grads, cpu.grads, strict=True):
        assert _relative(a, b) <= 1e-10


@pytest.mark.gpu
@pytest.mark.parametrize("name", MODELS)
def test_gpu_every_model_steps_as_numpy(name):
    cupy = import_cupy()
    make, x, t = MODELS[name]
    cpu, gpu = make(), make().to("cuda")
    loss_cpu = _step(cpu, optimizer.SGD(0.1), x, t)
    loss_gpu = _step(gpu, optimizer.SGD(0.1), cupy.asarray(x), cupy.asarray(t))
    assert abs(float(loss_gpu) - float(loss_cpu)) <= 1e-10 * abs(float(loss_cpu))
    for a, b in zip(gpu.params, cpu.params, strict=True):
        assert is_cupy_array(a) and _relative(a, b) <= 1e-9
