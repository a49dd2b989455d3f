"""Every gallery script runs standalone, in quick mode, under every start method.

A reader downloads ``plot_x.py`` and runs ``python plot_x.py``: that must work under fork, spawn
and forkserver (spawn and forkserver children re-import the script, so any unguarded pool
fails), finish within a bound, and leave no process and nothing in ``/dev/shm`` behind. The
scripts are found by glob, so a new script is tested without editing this file; the coverage
checks fail on anything the docs build would skip or silently ignore.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
SCRIPTS = sorted(GALLERY.glob("**/plot_*.py"))

#: Seconds one script may take in quick mode (they aim for well under a minute).
SCRIPT_TIMEOUT = 300


def _script_id(path: Path) -> str:
    return path.relative_to(GALLERY).as_posix()


def test_every_gallery_script_is_covered() -> None:
    """Each ``.py`` of the gallery is a ``plot_*.py`` (the build executes only those, and this
    file tests only those), and the glob above found all of them."""
    python_files = sorted(p for p in GALLERY.glob("**/*.py") if "__pycache__" not in p.parts)
    not_run = [_script_id(p) for p in python_files if not p.name.startswith("plot_")]
    assert not not_run, f"gallery scripts neither executed nor tested (rename to plot_*.py): " \
                        f"{not_run}"
    assert python_files == SCRIPTS


def test_every_gallery_folder_has_a_header() -> None:
    """sphinx-gallery silently skips a folder without README.txt; so would the reader."""
    assert (GALLERY / "README.txt").is_file()
    folders = {p.parent for p in SCRIPTS} | {p for p in GALLERY.iterdir() if p.is_dir()}
    missing = sorted(f.name for f in folders - {GALLERY} if f.name != "__pycache__"
                     and not (f / "README.txt").is_file())
    assert not missing, f"gallery folders without README.txt (not built): {missing}"


def _shm() -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir()} if shm.is_dir() else set()


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=_script_id)
def test_script_runs_standalone(script: Path, start_method: str, tmp_path: Path) -> None:
    """``python plot_x.py`` in quick mode under ``start_method`` (set by the fixture)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    shm_before = _shm()
    with subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as proc:
        try:
            output, _ = proc.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            pytest.fail(f"{_script_id(script)} under {start_method} ran past {SCRIPT_TIMEOUT} s "
                        f"and was killed; last output:\n{output[-3000:]}")
        finally:
            leftovers = _group_alive(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (f"{_script_id(script)} failed under {start_method} "
                                  f"(exit {proc.returncode}):\n{output[-5000:]}")
    assert not leftovers, f"{_script_id(script)} left processes running under {start_method}"
    leaked = _shm_leaked(shm_before)
    assert not leaked, f"{_script_id(script)} left {sorted(leaked)} in /dev/shm"


def _shm_leaked(before: set[str], grace: float = 10.0) -> set[str]:
    """Entries new since ``before`` that are still there after ``grace`` seconds: other
    programs' pools come and go in /dev/shm too, a leak stays."""
    deadline = time.monotonic() + grace
    while (new := _shm() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return new


def _group_alive(pgid: int, grace: float = 5.0) -> bool:
    """Whether a process of the script's session (a pool worker, the forkserver, the resource
    tracker) is still running ``grace`` seconds after the script exited."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)
