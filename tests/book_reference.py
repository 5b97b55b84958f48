"""The book's networks, as ``benchmarks/textbook.py`` writes them, running on layerwise's layers.

``textbook.py`` is the one reference copy of the book's code in this repository: the benchmarks
run it with its own layers (the yardstick), and :func:`on_layerwise` loads a second instance of
the same module whose layer classes and ``numerical_gradient`` are layerwise's. Its networks are
then the book's classes, line for line, built from layerwise's ``Affine``, ``Relu``,
``BatchNormalization``, ``Convolution`` ... exactly as a reader who swaps the book's
``common.layers`` import for layerwise's would run them.

The book draws weights and Dropout masks from NumPy's global generator; :func:`seeded` seeds it
before building, and each Dropout gets a generator of its own seeded from it, so a test is
reproducible and can replay a network's masks (``layer.rng``).
"""

import importlib.util

import numpy as np

import layerwise


class Dropout(layerwise.Dropout):
    """layerwise's Dropout with the book's constructor, seeded from NumPy's global generator."""

    def __init__(self, dropout_ratio=0.5):
        super().__init__(dropout_ratio, seed=int(np.random.randint(2**31)))  # noqa: NPY002


#: The names in textbook.py that become layerwise's.
LAYERWISE = {
    "Affine": layerwise.Affine,
    "Relu": layerwise.Relu,
    "Sigmoid": layerwise.Sigmoid,
    "SoftmaxWithLoss": layerwise.SoftmaxWithLoss,
    "BatchNormalization": layerwise.BatchNormalization,
    "Convolution": layerwise.Convolution,
    "Pooling": layerwise.Pooling,
    "Dropout": Dropout,
    "numerical_gradient": layerwise.numerical_gradient,
}


def on_layerwise():
    """A fresh instance of ``textbook`` whose networks build layerwise's layers."""
    spec = importlib.util.find_spec("textbook")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, value in LAYERWISE.items():
        assert hasattr(module, name), name  # textbook.py still defines what is replaced
        setattr(module, name, value)
    return module


book = on_layerwise()


def seeded(network_class, *args, seed=0, **kwargs):
    """``network_class(*args, **kwargs)`` with NumPy's global generator seeded first."""
    np.random.seed(seed)  # noqa: NPY002 - the book's code draws from the global generator
    return network_class(*args, **kwargs)
