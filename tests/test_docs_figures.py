"""docs/figures.py's second process (the two longest figures, made beside the site build's own)
ends with the build that started it, even a build killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]

# A build in miniature: starts the second process as make_all does, says its pid, waits on it.
BUILD = """
import os, subprocess, sys
figures, folder = sys.argv[1:]
env = {**os.environ, "LAYERWISE_FIGURES_PARENT": str(os.getpid())}
child = subprocess.Popen([sys.executable, figures, folder, "ch8_misclassified"], env=env)
print(child.pid, flush=True)
child.wait()
"""


def ended(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by its new parent counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.signals
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="follows the process in /proc")
def test_the_second_figures_process_ends_when_the_build_is_killed_outright(tmp_path):
    folder = tmp_path / ".beside-x"
    folder.mkdir()
    build = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(ROOT / "docs" / "figures.py"), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = None
    try:
        child = int(build.stdout.readline())
        time.sleep(3)  # into its imports or its figure (about a minute of training)
        build.send_signal(signal.SIGKILL)  # no finally, no handler runs in the build
        build.wait(timeout=30)
        deadline = time.monotonic() + 60
        while not ended(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ended(child), "the second process outlived the build"
        assert not folder.exists()  # and took its half-made figures with it
        assert not (tmp_path / "numbers.json").exists()
    finally:
        build.kill()
        build.wait()
        build.stdout.close()
        if child is not None and not ended(child):
            os.kill(child, signal.SIGKILL)
