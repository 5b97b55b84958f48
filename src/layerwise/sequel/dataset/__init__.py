"""The sequel's ``dataset`` package: :mod:`~layerwise.sequel.dataset.spiral`."""

from __future__ import annotations
