"""layerwise.viz: the recorder, and the drawing of the book's chapter-5 figures.

The apple figures are checked number by number against the book (section 5.4), in the DOT text
and in the SVG Graphviz draws from it: each number on the right arrow, the forward value above the
line and the backward value below it in red. No pixels are compared.
"""

import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import layerwise
from layerwise import (
    AddLayer,
    MulLayer,
    MultiLayerNetExtend,
    Relu,
    SimpleConvNet,
    TwoLayerNet,
)
from layerwise.datasets import load_sample
from layerwise.layers import LAYERS
from layerwise.viz import (
    GraphvizNotFoundError,
    Recorder,
    Value,
    apple_graph,
    record,
    record_step,
)

# The book's figures, section 5.4: (from, to): (forward value, backward value). Nodes are
# numbered in forward order: the apples' ×, [the oranges' ×, the +,] the tax's ×.
APPLE = {
    ("apple", 0): ("100", "2.2"),
    ("apple count", 0): ("2", "110"),
    (0, 1): ("200", "1.1"),
    ("tax", 1): ("1.1", "200"),
    (1, "price"): ("220", "1"),
}
APPLE_ORANGE = {
    ("apple", 0): ("100", "2.2"),
    ("apple count", 0): ("2", "110"),
    ("orange", 1): ("150", "3.3"),
    ("orange count", 1): ("3", "165"),
    (0, 2): ("200", "1.1"),
    (1, 2): ("450", "1.1"),
    (2, 3): ("650", "1.1"),
    ("tax", 3): ("1.1", "650"),
    (3, "price"): ("715", "1"),
}
FIGURES = [(False, APPLE, "××"), (True, APPLE_ORANGE, "××+×")]


# ---------------------------------------------------------------------- the apple figures


def _dot_figure(dot):
    """``{(from, to): (forward, backward)}`` read from DOT text, and each node's glyph.

    Each arrow is drawn as ``tail -> eK:m:w`` and ``eK:m:e -> head``, where ``eK`` is the label
    holding the forward value in its first row and the backward value, in red, in its last.
    """
    plain = dict(re.findall(r'^  ([so]\d+) \[shape=plaintext, label="([^"]*)"\];$', dot, re.M))
    glyphs = dict(re.findall(r'^  n(\d+) \[shape=circle, [^\]]*label="([^"]*)"', dot, re.M))
    labels = {
        k: (fwd, bwd)
        for k, fwd, bwd in re.findall(
            r"^  e(\d+) \[shape=plain, label=<<table[^>]*><tr><td>([^<]*)</td></tr>"
            r'<tr><td port="m"[^>]*></td></tr><tr><td>(?:<font color="red">([^<]*)</font>)?',
            dot,
            re.M,
        )
    }
    tails = dict((k, t) for t, k in re.findall(r"^  (\w+) -> e(\d+):m:w ", dot, re.M))
    heads = dict(re.findall(r"^  e(\d+):m:e -> (\w+) ", dot, re.M))

    def end(node_id):
        return int(node_id[1:]) if node_id.startswith("n") else plain[node_id]

    assert set(labels) == set(tails) == set(heads)
    figure = {(end(tails[k]), end(heads[k])): labels[k] for k in labels}
    return figure, "".join(glyphs[str(i)] for i in range(len(glyphs)))


@pytest.mark.parametrize(("oranges", "book", "glyphs"), FIGURES)
def test_apple_figures_dot_every_number_on_its_arrow(oranges, book, glyphs):
    figure, drawn = _dot_figure(apple_graph(oranges).to_dot())
    assert figure == book
    assert drawn == glyphs


def _svg_groups(svg):
    """Graphviz's SVG: ``{title: group}`` of the nodes, and the (tail, head) of each edge."""
    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg)
    nodes, edges = {}, []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        title = group.find("svg:title", ns)
        if group.get("class") == "node":
            nodes[title.text] = group
        elif group.get("class") == "edge":
            tail, head = title.text.split("->")
            has_head = group.find(".//svg:polygon", ns) is not None
            edges.append((tail.split(":")[0], head.split(":")[0], has_head))
    return nodes, edges


def _texts(group):
    """``[(text, fill, x, y)]`` of the text elements in an SVG group."""
    return [
        (t.text, t.get("fill", "black"), float(t.get("x")), float(t.get("y")))
        for t in group.iter("{http://www.w3.org/2000/svg}text")
    ]


def _line_y(group):
    """The y of the arrow's line drawn through an arrow label (the port cell's border)."""
    ys = []
    for shape in group.iter():
        if shape.tag.endswith(("polygon", "polyline")):
            points = [p.split(",") for p in shape.get("points").split()]
            ys += {round(float(y), 1) for _, y in points}
    assert len(set(ys)) == 1, ys  # a horizontal line
    return ys[0]


def _x(group):
    return np.mean([x for _, _, x, _ in _texts(group)])


@pytest.mark.parametrize(("oranges", "book", "glyphs"), FIGURES)
def test_apple_figures_svg_forward_above_backward_below_in_red(dot, oranges, book, glyphs):
    nodes, edges = _svg_groups(apple_graph(oranges).pipe("svg").decode())
    figure = {}
    for k in range(len(book)):
        mid = f"e{k}"
        (tail,) = [t for t, h, _ in edges if h == mid]
        (head,) = [h for t, h, _ in edges if t == mid]
        # The arrowhead is on the half that enters the head; the tail's half has none.
        assert [a for t, h, a in edges if h == mid] == [False]
        assert [a for t, h, a in edges if t == mid] == [True]
        (forward, fwd_fill, _, fwd_y), (backward, bwd_fill, _, bwd_y) = _texts(nodes[mid])
        assert (fwd_fill, bwd_fill) == ("black", "red")
        # SVG's y grows downwards: above the line means a smaller y.
        assert fwd_y < _line_y(nodes[mid]) < bwd_y
        # Left to right in forward order.
        assert _x(nodes[tail]) < _x(nodes[mid]) < _x(nodes[head])
        ends = [int(n[1:]) if n[0] == "n" else _texts(nodes[n])[0][0] for n in (tail, head)]
        figure[tuple(ends)] = (forward, backward)
    assert figure == book
    assert "".join(_texts(nodes[f"n{i}"])[0][0] for i in range(len(glyphs))) == glyphs


def test_apple_graph_is_recorded_from_real_mul_and_add_calls():
    graph = apple_graph(oranges=True)
    assert [(c.direction, c.layer_class) for c in graph.calls] == [
        ("forward", "MulLayer"),
        ("forward", "MulLayer"),
        ("forward", "AddLayer"),
        ("forward", "MulLayer"),
        ("backward", "MulLayer"),
        ("backward", "AddLayer"),
        ("backward", "MulLayer"),
        ("backward", "MulLayer"),
    ]
    # The same numbers as examples/apple_shopping.py computes without a recorder.
    mul_tax = graph.nodes[3]
    assert mul_tax.output.value == pytest.approx(715)
    assert mul_tax.dinputs[1].value == pytest.approx(650)
    assert graph.nodes[0].dinputs[0].value == pytest.approx(2.2)
    assert graph.nodes[1].dinputs[1].value == pytest.approx(165)
    assert all(isinstance(node.layer, (MulLayer, AddLayer)) for node in graph.nodes)


def test_str_lists_the_calls_in_order():
    text = str(apple_graph())
    lines = [line.split() for line in text.splitlines() if line[:3].strip().isdigit()]
    assert lines == [
        ["1", "forward", "MulLayer1"],
        ["2", "forward", "MulLayer2"],
        ["3", "backward", "MulLayer2"],
        ["4", "backward", "MulLayer1"],
    ]
    # The layer's own names: the tax is MulLayer2's input y, whatever the drawing calls it.
    assert "in   y      1.1" in text and "out  dy     200" in text


# ---------------------------------------------------------------------- recording


def _methods():
    return {
        (name, m): cls.__dict__[m] for name, cls in LAYERS.items() for m in ("forward", "backward")
    }


def test_recording_puts_back_the_very_same_functions_even_on_an_exception():
    before = _methods()
    assert {m for _, m in before} == {"forward", "backward"} and len(before) == 2 * len(LAYERS)
    with pytest.raises(ZeroDivisionError):
        with record():
            inside = _methods()
            raise ZeroDivisionError
    for key, function in before.items():
        assert inside[key] is not function and inside[key].__wrapped__ is function
        assert LAYERS[key[0]].__dict__[key[1]] is function
    with record():
        pass
    assert _methods() == before and all(_methods()[k] is f for k, f in before.items())


def _gradients(make, x, t, recorded):
    net = make()
    if recorded:
        with record() as graph:
            loss, grads = net.loss_and_gradient(x, t)
        assert len(graph.calls) == 2 * (len(net.layers) + 1)
    else:
        loss, grads = net.loss_and_gradient(x, t)
    return loss, grads, net.state_dict()


@pytest.mark.parametrize(
    "make",
    [
        lambda: TwoLayerNet(784, 20, 10, seed=3),
        lambda: MultiLayerNetExtend(
            784, [30, 20], 10, use_dropout=True, use_batchnorm=True, weight_decay_lambda=0.1, seed=3
        ),
        lambda: SimpleConvNet(
            conv_param={"filter_num": 4, "filter_size": 5, "pad": 0, "stride": 1},
            hidden_size=20,
            seed=3,
        ),
    ],
    ids=["TwoLayerNet", "MultiLayerNetExtend-dropout-batchnorm", "SimpleConvNet"],
)
def test_recording_on_and_off_gives_bit_identical_gradients(make):
    (x, t), _ = load_sample(flatten=False)
    x, t = x[:16], t[:16]
    if not isinstance(make(), SimpleConvNet):
        x = x.reshape(16, -1)
    off = _gradients(make, x, t, recorded=False)
    on = _gradients(make, x, t, recorded=True)
    assert off[0].tobytes() == on[0].tobytes()
    for a, b in [(off[1], on[1]), (off[2], on[2])]:  # gradients; parameters and buffers
        assert list(a) == list(b)
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


def test_a_network_built_while_recording_still_passes_train_flg():
    (x, t), _ = load_sample()
    x, t = x[:8], t[:8]

    def make():
        return MultiLayerNetExtend(784, [10], 10, use_dropout=True, use_batchnorm=True, seed=1)

    with record() as graph:
        inside = make()  # reads the forward signatures through the wrappers
        grads_inside = inside.gradient(x, t)
    grads = make().gradient(x, t)
    assert all(np.array_equal(grads[k], grads_inside[k]) for k in grads)
    assert [node.name for node in graph.nodes][:4] == [
        "Affine1",
        "BatchNormalization1",
        "Relu1",
        "Dropout1",
    ]


def test_one_recorder_at_a_time_and_each_records_once():
    recorder = Recorder()
    with recorder:
        with pytest.raises(RuntimeError, match="one recorder at a time"):
            with record():
                pass
        MulLayer().forward(2, 3)  # the first one still records
    assert len(recorder.graph.calls) == 1
    with pytest.raises(RuntimeError, match="records once"):
        with recorder:
            pass
    with record() as graph:  # after the first ended, a new one may start
        MulLayer().forward(2, 3)
    assert len(graph.calls) == 1


def test_only_the_recording_threads_calls_are_noted():
    layer = Relu()
    with record() as graph:
        worker = threading.Thread(target=layer.forward, args=(np.ones(3),))
        worker.start()
        worker.join()
        layer.forward(np.ones(4))
    assert [node.inputs[0].value.shape for node in graph.nodes] == [(4,)]


class _Wrapped(Relu):
    """A learner's layer that adds to Relu through ``super()``: one node, not two."""

    def forward(self, x):
        return super().forward(x) * 2

    def backward(self, dout):
        return super().backward(dout) * 2


class _InPlace(Relu):
    """The book's Relu zeroes ``dout`` in place: what was noted is ``dout`` before the call."""

    def backward(self, dout):
        dx = super().backward(dout)
        dout[...] = 0
        return dx


def test_calls_inside_a_noted_call_are_part_of_it_and_inputs_are_noted_before_the_call():
    layer, in_place, earlier = _Wrapped(), _InPlace(), Relu()
    earlier.forward(np.ones(2))
    with record([Relu, _Wrapped, _InPlace]) as graph:
        with pytest.raises(layerwise.BackwardBeforeForwardError):
            layer.backward(np.ones(3))  # raised: not noted
        y = layer.forward(np.array([1.0, -2.0, 3.0]))
        in_place.backward(in_place.forward(y) * 0 + 5)
        earlier.backward(np.ones(2))  # its forward was before recording: a call, no node
    assert [(c.direction, c.name) for c in graph.calls] == [
        ("forward", "_Wrapped1"),
        ("forward", "_InPlace1"),
        ("backward", "_InPlace1"),
        ("backward", "Relu"),
    ]
    assert graph.nodes[0].output.summary == "mean 2.66667, min 0, max 6"
    assert graph.calls[2].inputs["dout"].summary == "mean 5, min 5, max 5"
    assert graph.calls[3].node is None and list(graph.calls[3].outputs) == ["d0"]
    assert len(graph.nodes) == 2 and len(graph.edges()) == 3


def test_edges_follow_the_objects_passed_and_the_latest_forward_takes_the_backward():
    mul, add = MulLayer(), AddLayer()
    with record() as graph:
        y = mul.forward(2.0, 3.0)
        add.forward(y, y)  # a branch: the same output into both inputs
        add.forward(1.0, 2.0)  # a second call of `add`: a node of its own
        dy1, dy2 = add.backward(10.0)  # answers the second call, the latest
    assert [node.name for node in graph.nodes] == ["MulLayer1", "AddLayer1", "AddLayer1#2"]
    edges = [
        (getattr(e.tail, "name", e.tail), getattr(e.head, "name", e.head), e.forward.text)
        for e in graph.edges()
    ]
    assert edges == [
        ("x", "MulLayer1", "2"),
        ("y", "MulLayer1", "3"),
        ("MulLayer1", "AddLayer1", "6"),
        ("MulLayer1", "AddLayer1", "6"),
        ("AddLayer1", "out", "12"),
        ("x", "AddLayer1#2", "1"),
        ("y", "AddLayer1#2", "2"),
        ("AddLayer1#2", "out", "3"),
    ]
    assert graph.nodes[1].dout is None and graph.nodes[2].dout.value == 10.0
    assert [v.value for v in graph.nodes[2].dinputs] == [10.0, 10.0]


def test_label_names_nodes_inputs_and_outputs_and_says_what_is_wrong():
    mul, other = MulLayer(), MulLayer()
    with record() as graph:
        mul.forward(1.0, 2.0)
        mul.forward(3.0, 4.0)
    assert graph.label(mul, name="cost", inputs=["a", "b"], output="c") is graph
    assert [n.name for n in graph.nodes] == ["cost", "cost#2"]
    assert [s.name for s in graph.nodes[1].inputs] == ["a", "b"]
    assert graph.nodes[0].output_name == "c"
    with pytest.raises(ValueError, match=r"2 input\(s\) from outside \(a, b\), got 1 name"):
        graph.label(mul, inputs=["a"])
    with pytest.raises(ValueError, match="made no recorded forward call"):
        graph.label(other, name="x")


def test_value_numbers_arrays_and_other_things():
    assert Value.of(1.1) == Value((), "float64", 1.1, "1.1")
    assert Value.of(np.float32(2.5)).text == "2.5"
    array = Value.of(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert (array.shape, array.dtype, array.text) == ((2, 3), "float32", "(2, 3)")
    assert array.summary == "mean 2.5, min 0, max 5"
    assert Value.of(np.zeros((0, 3))).summary == "empty"
    # inf and NaN are summarised without a warning (warnings are errors here).
    assert Value.of(np.array([np.inf, -np.inf, np.nan])).summary == "mean nan, min nan, max nan"
    assert Value.of(np.array([1e38, 3e38], np.float32)).summary.startswith("mean 2e+38")
    assert Value.of("abc").shape is None and Value.of([[1], [1, 2]]).shape is None


# ---------------------------------------------------------------------- networks


def test_record_step_draws_the_network_as_layers_with_shapes_and_the_loss():
    (x, t), _ = load_sample()
    net = TwoLayerNet(784, 50, 10, seed=0)
    graph = record_step(net, x[:100], t[:100], title="TwoLayerNet")
    loss = TwoLayerNet(784, 50, 10, seed=0).loss(x[:100], t[:100])
    edges = [
        (
            getattr(e.tail, "name", e.tail),
            getattr(e.head, "name", e.head),
            e.forward.text,
            None if e.backward is None else e.backward.text,
        )
        for e in graph.edges()
    ]
    assert edges == [
        ("x", "Affine1", "(100, 784)", None),  # the first layer skips the data's gradient
        ("Affine1", "Relu1", "(100, 50)", "(100, 50)"),
        ("Relu1", "Affine2", "(100, 50)", "(100, 50)"),
        ("Affine2", "SoftmaxWithLoss", "(100, 10)", "(100, 10)"),
        ("t", "SoftmaxWithLoss", "(100,)", None),
        ("SoftmaxWithLoss", "L", f"{loss:.6g}", "1"),
    ]
    affine1 = graph.nodes[0]
    assert {k: v.shape for k, v in affine1.grads.items()} == {"dW": (784, 50), "db": (50,)}
    dot = graph.to_dot()
    assert 'label="TwoLayerNet"' in dot
    assert '<font color="red" point-size="11">dW (784, 50)</font>' in dot


# ---------------------------------------------------------------------- files and Graphviz


def test_save_by_extension(dot, tmp_path):
    graph = apple_graph()
    assert graph.save(tmp_path / "a.gv").read_text() == graph.to_dot()
    assert graph.save(tmp_path / "a.dot").read_text() == graph.to_dot()
    assert graph.save(tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.fromstring(graph.save(tmp_path / "a.SVG").read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    with pytest.raises(ValueError, match=r"one of \.dot, \.gv, \.svg, \.png"):
        graph.save(tmp_path / "a.pdf")


def test_jupyter_displays_the_picture(dot):
    graph = apple_graph()
    assert ET.fromstring(graph._repr_svg_()).tag == "{http://www.w3.org/2000/svg}svg"
    assert graph._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "print() lists them" in repr(graph)


def test_missing_python_binding_says_how_to_get_graphviz(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` fails
    graph = apple_graph()
    with pytest.raises(GraphvizNotFoundError) as info:
        graph.save(tmp_path / "a.svg")
    message = str(info.value)
    assert "pip install 'layerwise[graphviz]'" in message and "apt-get install graphviz" in message
    assert isinstance(info.value, OSError)  # the command line reports it as an error, exit 1
    assert graph._repr_svg_() is None and graph._repr_png_() is None  # Jupyter falls back
    graph.save(tmp_path / "a.dot")  # DOT text needs nothing


def test_missing_dot_program_says_how_to_get_graphviz(graphviz, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without `dot`
    with pytest.raises(GraphvizNotFoundError, match="`dot` program was not found.*apt-get"):
        apple_graph().pipe("png")


# ---------------------------------------------------------------------- the command line


def layerwise_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "layerwise", "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_apple_prints_dot_and_apple_orange_writes_svg(dot, tmp_path):
    result = layerwise_cli("apple")
    assert result.returncode == 0, result.stderr
    assert _dot_figure(result.stdout)[0] == APPLE
    out = tmp_path / "apple-orange.svg"
    result = layerwise_cli("apple-orange", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}\n"
    nodes, _ = _svg_groups(out.read_text())
    texts = {text for group in nodes.values() for text, *_ in _texts(group)}
    assert texts >= {"715", "650", "3.3", "165", "orange count", "price"}


def test_cli_model_draws_one_batch_of_its_dataset(dot, tmp_path):
    net = TwoLayerNet(784, 30, 10, seed=2, dtype=np.float32)
    layerwise.save(net, tmp_path / "model.npz")
    (x, t), _ = load_sample()
    out = tmp_path / "net.dot"
    result = layerwise_cli(str(tmp_path / "model.npz"), "--batch-size", "7", "--out", str(out))
    assert result.returncode == 0, result.stderr
    dot = out.read_text()
    # The network in training mode on the first 7 training images of the sample.
    loss = net.loss(x[:7], t[:7])
    assert f"<tr><td>{loss:.6g}</td></tr>" in dot
    assert "(7, 784)" in dot and "dW (784, 30)" in dot and 'label="L"' in dot
    assert "TwoLayerNet" in dot and "one step on 7 training images of sample" in dot
    png = tmp_path / "net.png"
    result = layerwise_cli(str(tmp_path), "--out", str(png))  # the run folder holding it
    assert result.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "empty").mkdir()
    result = layerwise_cli(str(tmp_path / "empty"))
    assert result.returncode == 1 and "holds no model.npz" in result.stderr


def test_cli_without_graphviz_says_how_to_get_it(graphviz, tmp_path):
    env = {"PATH": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    result = layerwise_cli("apple", "--out", str(tmp_path / "a.svg"), env=env)
    assert result.returncode == 1
    assert "`dot` program was not found" in result.stderr and "apt-get install graphviz" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_regression_a_long_network_is_drawn_top_to_bottom_and_readable(dot, tmp_path):
    """Issue 21, item 7: a DeepConvNet step was one row, a 7598x207 PNG unreadable at normal
    size; past LONG_CHAIN nodes the drawing runs top to bottom (the apple figures stay left to
    right, as the book draws them)."""
    import struct

    from layerwise import DeepConvNet
    from layerwise.viz import record_step
    from layerwise.viz.graph import LONG_CHAIN

    assert "rankdir=LR" in apple_graph(True).to_dot()
    (x, t), _ = load_sample(flatten=False)
    net = DeepConvNet(seed=0, dtype=np.float32).train()
    figure = record_step(net, x[:2], t[:2], title="DeepConvNet")
    assert len(figure.nodes) > LONG_CHAIN and "rankdir=TB" in figure.to_dot()
    assert "rankdir=LR" in figure.to_dot(rankdir="LR")
    png = figure.save(tmp_path / "deep.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert width <= 1000 and height > 3 * width, (width, height)
