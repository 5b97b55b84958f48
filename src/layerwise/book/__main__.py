"""``python -m layerwise.book SCRIPT [ARGS]``: ``layerwise book SCRIPT [ARGS]``."""

from __future__ import annotations

import sys

from ..cli import main

sys.exit(main(["book", *sys.argv[1:]]))
