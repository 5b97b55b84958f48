"""The sequel's ``dataset`` package: :mod:`~layerwise.sequel.dataset.spiral` (chapter 1) and
:mod:`~layerwise.sequel.dataset.ptb` (the Penn Treebank, chapters 2-6)."""

from __future__ import annotations
