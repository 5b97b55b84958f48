"""The sequel's ``dataset`` package, answered by layerwise (see :mod:`layerwise.book`)."""

from __future__ import annotations
