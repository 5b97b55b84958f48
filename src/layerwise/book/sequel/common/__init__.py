"""The sequel's ``common`` package, answered by layerwise (see :mod:`layerwise.book`)."""

from __future__ import annotations
