"""Bridges out of layerwise: a trained network to PyTorch and to ONNX, and PyTorch weights back.

==========================  ====================================================  ============
function                    what it does                                          needs
==========================  ====================================================  ============
:func:`to_torch`            a ``torch.nn.Sequential`` with the network's outputs  ``[torch]``
:func:`save_torch`          its ``state_dict`` in a file ``torch.load`` reads     ``[torch]``
:func:`from_torch`          a layerwise ``Sequential`` from a torch one           ``[torch]``
:func:`to_onnx`             an ONNX model file (opset 13 to the newest)           ``[onnx]``
:func:`load_onnx`           an ONNX model run by onnxruntime, with ``predict``    ``[onnx]``
==========================  ====================================================  ============

``to_torch`` and ``to_onnx`` also take the sequel's language models (SimpleRnnlm, Rnnlm,
BetterRnnlm): see :mod:`.sequel_torch` and :mod:`.sequel_onnx`.

Both directions are exact or refused: a layer without an exact counterpart raises
:class:`ConversionError` naming it and saying why, never an approximate conversion. The
optional packages are imported inside the functions, so ``import layerwise`` needs NumPy only;
a missing one raises :class:`MissingExtraError` with the ``pip install`` to run.
"""

from __future__ import annotations

from .onnx_bridge import OnnxModel, load_onnx, to_onnx
from .plan import ConversionError, MissingExtraError
from .torch_bridge import from_torch, save_torch, to_torch

__all__ = [
    "ConversionError",
    "MissingExtraError",
    "OnnxModel",
    "from_torch",
    "load_onnx",
    "save_torch",
    "to_onnx",
    "to_torch",
]
